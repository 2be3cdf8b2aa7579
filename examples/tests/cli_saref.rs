//! `platone saref map` and `platone saref read`: the CLI contract.

mod common;
use common::{platone, text};

use std::path::Path;

const READING: &str = r#"{"source":"MTR-0001","meter":"MTR-0001","usage_point":"UP-4711","timestamp":"2024-05-01T10:15:00Z","kind":"energy","unit":"Wh","multiplier":3,"value":1.234,"direction":"forward","phases":"ABC"}"#;

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

#[test]
fn measurements_map_to_every_format_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    for (to, ext) in [("turtle", "ttl"), ("ntriples", "nt"), ("jsonld", "jsonld")] {
        let out_path = dir.path().join(format!("m.{ext}"));
        let out_str = out_path.display().to_string();
        let out = platone(
            &[
                "saref",
                "map",
                "-",
                "--from",
                "measurements",
                "--to",
                to,
                "--base",
                "https://grid.example/",
                "--out",
                &out_str,
            ],
            &format!("{READING}\n"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let written = std::fs::read_to_string(&out_path).unwrap();
        assert!(
            written.contains("https://grid.example/meter/MTR-0001") || written.contains("KiloW-HR"),
            "{written}"
        );
        let back = platone(&["saref", "read", &out_str, "--to", "measurements"], "");
        assert!(back.status.success(), "{}", text(&back.stderr));
        let line = text(&back.stdout);
        let a: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        let b: serde_json::Value = serde_json::from_str(READING).unwrap();
        for key in [
            "source",
            "meter",
            "usage_point",
            "timestamp",
            "kind",
            "unit",
            "multiplier",
            "value",
            "direction",
            "phases",
        ] {
            assert_eq!(a[key], b[key], "{to}: {key}");
        }
    }
}

#[test]
fn turtle_goes_to_stdout_by_default() {
    let out = platone(
        &["saref", "map", "-", "--from", "measurements"],
        &format!("{READING}\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ttl = text(&out.stdout);
    assert!(ttl.starts_with("@prefix "), "{ttl}");
    assert!(
        ttl.lines()
            .any(|l| l == "@prefix saref: <https://saref.etsi.org/core/> ."),
        "{ttl}"
    );
    assert!(ttl.contains("saref:isMeasuredIn unit:KiloW-HR"), "{ttl}");
}

#[test]
fn cim_fixture_maps_and_bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("cim.nt");
    let out_str = out_path.display().to_string();
    let xml = fixture("../platone-cim/tests/fixtures/meter_readings/seed-figure1.xml");
    let out = platone(
        &[
            "saref",
            "map",
            &xml,
            "--from",
            "cim",
            "--to",
            "ntriples",
            "--lenient",
            "--out",
            &out_str,
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let nt = std::fs::read_to_string(&out_path).unwrap();
    assert!(nt.lines().count() > 10);
    assert!(nt.contains("<https://saref.etsi.org/core/Measurement>"));

    let bad_path = dir.path().join("bad.ttl");
    let bad_str = bad_path.display().to_string();
    let input = format!("{READING}\n{{\"source\":\"x\"}}\n");
    let out = platone(
        &[
            "saref",
            "map",
            "-",
            "--from",
            "measurements",
            "--out",
            &bad_str,
        ],
        &input,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("-:2:"), "{}", text(&out.stderr));
    assert!(
        !bad_path.exists(),
        "nothing is written for a failed document"
    );
    let out = platone(&["saref", "map", "-", "--from", "measurements"], &input);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn pmu_json_maps_as_a_sargon_pmu() {
    let Some(reference) = std::env::var_os("PLATONE_REFERENCE")
        .map(std::path::PathBuf::from)
        .or_else(|| Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference")))
        .filter(|p| p.is_dir())
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "reference data missing under CI"
        );
        eprintln!("skipped: reference data not found");
        return;
    };
    let json = reference.join("pmu/sogno/villasnode_sogno_format_example.json");
    let out = platone(
        &[
            "saref",
            "map",
            &json.display().to_string(),
            "--from",
            "pmu-json",
            "--to",
            "turtle",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ttl = text(&out.stdout);
    assert!(ttl.contains("sgc:PMU"), "{ttl}");
    let hex = reference.join("pmu/synthetic/S1_cfg3_annexD_station_a.hex");
    let out = platone(
        &[
            "saref",
            "map",
            &hex.display().to_string(),
            "--from",
            "c37118",
            "--to",
            "ntriples",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("https://sargon-n5geh.netlify.app/ontology/1.0/classes/PMU")
    );
}

#[test]
fn read_errors_name_the_subject_and_predicate() {
    let nt = "<https://g/m> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://saref.etsi.org/core/Measurement> .\n";
    let out = platone(&["saref", "read", "-", "--format", "ntriples"], nt);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("<https://g/m> has no <https://saref.etsi.org/core/hasValue>"),
        "{err}"
    );
    let out = platone(&["saref", "read", "-"], nt);
    assert_eq!(out.status.code(), Some(2));
}
