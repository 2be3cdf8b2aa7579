//! `platone grid pf|se`: the JSON contract and located errors.

mod common;
use common::{platone, text};

const CASE: &str = "function mpc = three
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
  1 3 0 0 0 0 1 1 0 230 1 1.1 0.9;
  2 2 20 5 0 0 1 1 0 230 1 1.1 0.9;
  3 1 60 20 0 4 1 1 0 230 1 1.1 0.9;
];
mpc.gen = [
  1 0 0 100 -100 1.02 100 1 200 0;
  2 40 0 10 -1 1.01 100 1 200 0;
];
mpc.branch = [
  1 2 0.01 0.08 0.02 100 100 100 0 0 1 -360 360;
  2 3 0.02 0.10 0.02 100 100 100 0 0 1 -360 360;
  1 3 0.02 0.12 0.02 100 100 100 0 0 1 -360 360;
];
";

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort_unstable();
    k
}

#[test]
fn pf_prints_the_contract_and_q_limits_switch_buses() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("three.m");
    std::fs::write(&case, CASE).unwrap();
    let case = case.to_str().unwrap();
    let ac = json(&platone(&["grid", "pf", case, "--format", "json"], ""));
    assert_eq!(keys(&ac), ["branches", "buses", "converged", "iterations"]);
    assert_eq!(ac["converged"], true);
    assert_eq!(keys(&ac["buses"][0]), ["bus", "va", "vm"]);
    assert_eq!(keys(&ac["branches"][0]), ["index", "pf", "pt", "qf", "qt"]);
    assert_eq!(ac["buses"][1]["vm"].as_f64().unwrap(), 1.01);
    assert_eq!(ac["branches"][2]["index"], 3);
    // Bus 2's generator must absorb more than 1 Mvar to hold 1.01 p.u.; limited to -1 Mvar it
    // cannot, and the voltage rises.
    let limited = json(&platone(
        &["grid", "pf", case, "--enforce-q-limits", "--format", "json"],
        "",
    ));
    assert!(limited["buses"][1]["vm"].as_f64().unwrap() > 1.01 + 1e-4);
    let dc = json(&platone(
        &["grid", "pf", case, "--dc", "--format", "json"],
        "",
    ));
    let flows: f64 = dc["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["pf"].as_f64().unwrap() + b["pt"].as_f64().unwrap())
        .sum();
    assert!(flows.abs() < 1e-9, "a DC flow is lossless");
}

#[test]
fn se_prints_the_contract_and_names_unobservable_buses() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("three.m");
    std::fs::write(&case, CASE).unwrap();
    let case = case.to_str().unwrap();
    let pf = json(&platone(&["grid", "pf", case], ""));
    let mut entries = Vec::new();
    for (k, b) in pf["buses"].as_array().unwrap().iter().enumerate() {
        entries.push(
            serde_json::json!({"kind": "vm", "bus": b["bus"], "value": b["vm"], "sigma": 0.001}),
        );
        if k > 0 {
            entries.push(
                serde_json::json!({"kind": "va", "bus": b["bus"], "value": b["va"], "sigma": 0.01}),
            );
        }
    }
    for b in pf["branches"].as_array().unwrap() {
        entries.push(serde_json::json!({"kind": "pf", "branch": b["index"], "side": "from", "value": b["pf"], "sigma": 0.1}));
        entries.push(serde_json::json!({"kind": "qf", "branch": b["index"], "side": "to", "value": b["qt"], "sigma": 0.1}));
    }
    let file = dir.path().join("m.json");
    let write = |entries: &[serde_json::Value]| {
        std::fs::write(
            &file,
            serde_json::json!({"format": "platone-grid-measurements/1", "measurements": entries})
                .to_string(),
        )
        .unwrap();
    };
    write(&entries);
    let m = file.to_str().unwrap();
    let se = json(&platone(
        &["grid", "se", case, "--measurements", m, "--format", "json"],
        "",
    ));
    assert_eq!(
        keys(&se),
        [
            "bad_data",
            "buses",
            "converged",
            "iterations",
            "objective",
            "unobservable"
        ]
    );
    assert_eq!(se["converged"], true);
    for (e, t) in se["buses"]
        .as_array()
        .unwrap()
        .iter()
        .zip(pf["buses"].as_array().unwrap())
    {
        assert!((e["vm"].as_f64().unwrap() - t["vm"].as_f64().unwrap()).abs() < 1e-6);
        assert!((e["va"].as_f64().unwrap() - t["va"].as_f64().unwrap()).abs() < 1e-4);
    }
    // Only bus 1's magnitude and the flows of branch 1: bus 3 cannot be seen.
    let thin: Vec<serde_json::Value> = entries
        .iter()
        .filter(|e| e["bus"] == 1 || e["branch"] == 1)
        .cloned()
        .collect();
    write(&thin);
    let se = json(&platone(&["grid", "se", case, "--measurements", m], ""));
    assert_eq!(se["unobservable"], serde_json::json!([3]));
    // A malformed measurement: exit 1 naming the place.
    entries[2]["sigma"] = serde_json::json!(-1.0);
    write(&entries);
    let out = platone(&["grid", "se", case, "--measurements", m], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("measurements[2].sigma"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn malformed_cases_exit_1_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("bad.m");
    std::fs::write(&case, CASE.replace("0.08 0.02", "0.08 x0.02")).unwrap();
    let out = platone(&["grid", "pf", case.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bad.m:14:"), "{err}");
}

#[test]
fn pf_reads_a_market_scenario_network() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.json");
    std::fs::write(
        &scenario,
        r#"{"format": "platone-market-scenario/1", "unit": "kW", "slots": ["t1", "t2"],
        "network": {"slack": "a", "buses": ["a", "b"],
          "branches": [{"id": "ab", "from": "a", "to": "b", "x": 0.1, "limit": 900}],
          "baseline": {"t2": {"b": -400}}}}"#,
    )
    .unwrap();
    let s = scenario.to_str().unwrap();
    let out = json(&platone(&["grid", "pf", s, "--dc", "--slot", "t2"], ""));
    assert_eq!(out["branches"][0]["id"], "ab");
    assert_eq!(out["buses"][1]["name"], "b");
    assert!((out["branches"][0]["pf"].as_f64().unwrap() - 0.4).abs() < 1e-12);
    let out = platone(&["grid", "pf", s], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--dc"), "{}", text(&out.stderr));
}
