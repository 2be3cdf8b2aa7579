//! `platone demo`, `platone bal` and offline verification of what the BAL serves.

mod common;

use std::time::Duration;

use common::{platone, text};
use platone_bal::{Bal, BalConfig};
use platone_bus::MqttBus;
use platone_sim::{FieldPlan, Signing, SimStats};

#[test]
fn the_demo_runs_end_to_end_and_reports_every_check() {
    let mut args = vec!["demo"];
    args.extend_from_slice(common::SHORT_DEMO);
    let out = platone(&args, "");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for line in [
        "packets sent / received",
        "malformed packet dead-lettered",
        "batches certified and anchored",
        "proofs verified through the REST API",
        "tampered copy refused",
        "access policy",
        "result: every check held",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from\n{stdout}");
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn bal_options_are_checked() {
    let out = platone(&["bal", "--token", "nobody"], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("PARTICIPANT=TOKEN"));
    let out = platone(&["bal", "--mqtt", "http://x"], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("mqtt"), "{}", text(&out.stderr));
}

/// Measurements read back through the REST API verify offline with `platone verify`.
#[test]
fn served_proofs_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (records, proofs) = runtime.block_on(async {
        let mut plan = FieldPlan::new(1, 20, 0);
        plan.signing = Signing::Eip191;
        let mut config = BalConfig {
            embedded_broker: Some("127.0.0.1:0".parse().unwrap()),
            http: "127.0.0.1:0".parse().unwrap(),
            data: dir.path().join("data"),
            pods: plan.bal_pods(),
            devices: plan.bal_devices(),
            ..BalConfig::default()
        };
        config.tokens.insert("dso".into(), "t".into());
        config.api.insecure_http = true;
        let bal = Bal::start(config).await.unwrap();
        let url = platone_bal::MqttUrl::parse(bal.mqtt_url()).unwrap();
        let field = MqttBus::connect(url.client_config("offline-field")).unwrap();
        field.wait_connected(Duration::from_secs(10)).await.unwrap();
        let stats = SimStats::new();
        let report = platone_sim::run(&field, &plan, Some(Duration::from_secs(1)), &stats)
            .await
            .unwrap();
        while bal.metrics().measurements_batched < report.stats.measurements {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bal.flush().await.unwrap();
        let page: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "http://{}/api/measurements?device=pmu-1&limit=1000",
                bal.http_addr()
            ))
            .bearer_auth("t")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        bal.shutdown().await.unwrap();
        let items = page["items"].as_array().unwrap().clone();
        assert_eq!(items.len() as u64, report.stats.measurements);
        let line = |v: &serde_json::Value| format!("{}\n", serde_json::to_string(v).unwrap());
        let records: String = items.iter().map(|i| line(&i["measurement"])).collect();
        let proofs: String = items.iter().map(|i| line(&i["proof"])).collect();
        (records, proofs)
    });
    let records_path = dir.path().join("records.jsonl");
    let proofs_path = dir.path().join("proofs.jsonl");
    std::fs::write(&records_path, &records).unwrap();
    std::fs::write(&proofs_path, &proofs).unwrap();
    let ledger = dir.path().join("data").join("ledger");
    let args = |records: &std::path::Path| {
        vec![
            "verify".to_owned(),
            "--records".into(),
            records.display().to_string(),
            "--proofs".into(),
            proofs_path.display().to_string(),
            "--ledger".into(),
            ledger.display().to_string(),
        ]
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        platone(&args, "")
    };
    let out = run(args(&records_path));
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // One value changed in a copy: verification fails and says which record.
    let tampered = records.replacen("\"value\":", "\"value\":1", 1);
    assert_ne!(tampered, records);
    let tampered_path = dir.path().join("tampered.jsonl");
    std::fs::write(&tampered_path, tampered).unwrap();
    let out = run(args(&tampered_path));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
}
