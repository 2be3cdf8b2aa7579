//! `platone dsotp`: the platform on embedded defaults with a MATPOWER grid model estimates on
//! measurements given over its REST API with a token of its embedded issuer; bad options and
//! files are named.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{platone, text};
use serde_json::Value;

#[test]
fn the_platform_estimates_over_its_api() {
    let Some(reference) = platone_testkit::reference_dir("platone dsotp (IEEE 14-bus case)") else {
        return;
    };
    let case = reference.join("grid/pglib_opf_case14_ieee.m");
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_platone"))
        .args([
            "dsotp",
            "--grid",
            case.to_str().unwrap(),
            "--insecure-http",
            "--client",
            "dso-1=s1:dso",
            "--http",
            "127.0.0.1:0",
            "--data",
            dir.path().join("data").to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut banner = String::new();
    while !banner.contains("DSO Technical Platform on") {
        banner.clear();
        assert!(stderr.read_line(&mut banner).unwrap() > 0, "no banner");
    }
    let base = banner
        .split(" on ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let token: Value = http
            .post(format!("{base}/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=dso-1&client_secret=s1")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_owned();
        let document = serde_json::json!({"format": "platone-grid-measurements/1", "measurements": [
            {"kind": "vm", "bus": 1, "value": 1.06, "sigma": 0.001},
            {"kind": "va", "bus": 1, "value": 0.0, "sigma": 0.01}
        ]});
        let created = http
            .post(format!("{base}/api/estimations"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"measurements": document}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let id = created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let estimation: Value = http
            .get(format!("{base}/api/estimations/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // Two measurements cannot observe 14 buses: the answer names them.
        assert_eq!(estimation["converged"], false);
        assert_eq!(estimation["unobservable"].as_array().unwrap().len(), 13);
        let unauthenticated = http
            .get(format!("{base}/api/estimations"))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthenticated.status(), 401);
    });
    server.kill().unwrap();
    let _ = server.wait();
}

#[test]
fn bad_options_and_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.m");
    let out = platone(
        &[
            "dsotp",
            "--insecure-http",
            "--http",
            "127.0.0.1:0",
            "--data",
            dir.path().join("data").to_str().unwrap(),
            "--grid",
            missing.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nowhere.m"),
        "{}",
        text(&out.stderr)
    );

    let out = platone(
        &[
            "dsotp",
            "--insecure-http",
            "--http",
            "127.0.0.1:0",
            "--data",
            dir.path().join("data").to_str().unwrap(),
            "--bus",
            "mqtt://broker:18x3",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--bus"), "{}", text(&out.stderr));

    let config = dir.path().join("dsotp.toml");
    std::fs::write(&config, "[estimation]\nperiod = 5\n").unwrap();
    let out = platone(&["dsotp", "--config", config.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("period"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_whole_framework_demo_runs_from_pmus_to_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let out = platone(
        &["demo", "--platform", "--data", dir.path().to_str().unwrap()],
        "",
    );
    let report = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report}\n{}",
        text(&out.stderr)
    );
    assert!(report.contains("result: every check held"), "{report}");
    for step in [
        "voltage problem detected by state estimation",
        "cleared and validated by the DSOTP",
        "EMS reads the set points back",
        "voltage restored after activation",
        "metered delivery settled from the SCD",
    ] {
        assert!(report.contains(&format!("ok   {step}")), "{step}: {report}");
    }
}
