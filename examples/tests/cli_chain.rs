//! `platone chain deploy|grant|devices` against a real anvil.
#![cfg(feature = "chain")]

mod common;

use std::process::{Command, Output};

use platone_testkit::{ANVIL_KEYS, Anvil};

fn platone(args: &[&str]) -> Output {
    common::platone(args, "")
}

/// `platone chain deploy` on `node` with the key file `key`, writing `out`.
fn deploy(node: &Anvil, key: &str, out: &str) {
    ok(&platone(&[
        "chain",
        "deploy",
        "--rpc",
        &node.url(),
        "--key",
        key,
        "--out",
        out,
    ]));
}

fn ok(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "failed:\n{stdout}\n{stderr}");
    stdout
}

#[test]
fn deploy_writes_the_deployment_file_and_the_registry_answers_for_any_time() {
    let node = Anvil::start().expect("anvil (npm ci installs it)");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dso.key");
    std::fs::write(&key, format!("{}\n", ANVIL_KEYS[0])).unwrap();
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, ANVIL_KEYS[1]).unwrap();
    let deployment = dir.path().join("deployment.json");
    let (key, other_key, deployment) = (
        key.to_str().unwrap(),
        other_key.to_str().unwrap(),
        deployment.to_str().unwrap(),
    );

    deploy(&node, key, deployment);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deployment).unwrap()).unwrap();
    assert_eq!(written["chain_id"], 31337);
    assert_eq!(written["rpc"], node.url());
    let contracts = written["contracts"].as_object().unwrap();
    let mut names: Vec<&str> = contracts.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "CertificationAnchor",
            "DeviceRegistry",
            "FlexToken",
            "MarketRegistry",
            "SubscriptionRegistry"
        ]
    );
    assert!(contracts.values().all(|a| a.as_str().unwrap().len() == 42));

    let device = "0x00000000000000000000000000000000000000aa";
    let rotated = "0x00000000000000000000000000000000000000bb";
    // The second key has no DSO role until granted.
    let refused = platone(&[
        "chain",
        "devices",
        "register",
        "--deployment",
        deployment,
        "--key",
        other_key,
        "--pod",
        "IT001E0001",
        "--device",
        device,
        "--from",
        "1700000000",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("AccessControlUnauthorizedAccount"),
        "{message}"
    );
    let other_address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    ok(&platone(&[
        "chain",
        "grant",
        "--deployment",
        deployment,
        "--key",
        key,
        "dso",
        other_address,
    ]));
    ok(&platone(&[
        "chain",
        "devices",
        "register",
        "--deployment",
        deployment,
        "--key",
        other_key,
        "--pod",
        "IT001E0001",
        "--device",
        device,
        "--from",
        "1700000000",
    ]));
    ok(&platone(&[
        "chain",
        "devices",
        "rotate",
        "--deployment",
        deployment,
        "--key",
        key,
        "--pod",
        "IT001E0001",
        "--device",
        rotated,
        "--from",
        "2024-01-01T00:00:00Z",
    ]));
    let at = |time: &str| -> serde_json::Value {
        let out = ok(&platone(&[
            "chain",
            "devices",
            "at",
            "--deployment",
            deployment,
            "--pod",
            "IT001E0001",
            "--time",
            time,
        ]));
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(
        at("1700000000")["device"].as_str().unwrap().to_lowercase(),
        device
    );
    assert_eq!(
        at("2024-06-01T00:00:00Z")["device"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        rotated
    );
    assert!(at("1600000000")["device"].is_null());
    assert_eq!(at("1700000000")["history"].as_array().unwrap().len(), 2);

    // Bad input: a role that does not exist, an address that is not one, a node that is down.
    let bad_role = platone(&[
        "chain",
        "grant",
        "--deployment",
        deployment,
        "--key",
        key,
        "owner",
        other_address,
    ]);
    assert_eq!(bad_role.status.code(), Some(2));
    let bad_address = platone(&[
        "chain",
        "grant",
        "--deployment",
        deployment,
        "--key",
        key,
        "dso",
        "0x12",
    ]);
    assert_eq!(bad_address.status.code(), Some(2));
    drop(node);
    let down = platone(&[
        "chain",
        "devices",
        "at",
        "--deployment",
        deployment,
        "--pod",
        "IT001E0001",
    ]);
    assert_eq!(down.status.code(), Some(1));
    let message = String::from_utf8_lossy(&down.stderr);
    assert!(message.contains("unavailable"), "{message}");
}

/// Rewrites line `line` (from 1) of `path` with `edit`.
fn edit_line(path: &std::path::Path, line: usize, edit: impl FnOnce(&mut serde_json::Value)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut value: serde_json::Value = serde_json::from_str(&lines[line - 1]).unwrap();
    edit(&mut value);
    lines[line - 1] = value.to_string();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn certify_on_chain_writes_proofs_that_verify_from_the_chain_alone() {
    let mut node = Anvil::start().expect("anvil (npm ci installs it)");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("anchorer.key");
    std::fs::write(&key, ANVIL_KEYS[0]).unwrap();
    let deployment = dir.path().join("deployment.json");
    let records = dir.path().join("records.jsonl");
    let lines: String = (0..25)
        .map(|i| format!("{{\"pod\":\"IT001E{i:04}\",\"kwh\":{}.5}}\n", i * 3))
        .collect();
    std::fs::write(&records, lines).unwrap();
    let (key, deployment_path, records) = (
        key.to_str().unwrap(),
        deployment.to_str().unwrap(),
        records.to_str().unwrap(),
    );
    deploy(&node, key, deployment_path);
    let ledger = format!("eth:{deployment_path}");
    let certify = |out: &str, key: Option<&str>| {
        let out = dir.path().join(out);
        let mut args = vec![
            "certify",
            "batch",
            "--input",
            records,
            "--scheme",
            "keccak",
            "--batch-size",
            "4",
            "--ledger",
            &ledger,
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(key) = key {
            args.extend(["--chain-key", key]);
        }
        (platone(&args), out)
    };
    let (refused, _) = certify("none", None);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--chain-key"));

    let (output, out) = certify("first", Some(key));
    ok(&output);
    let proofs = out.join("proofs.jsonl");
    let text = std::fs::read_to_string(&proofs).unwrap();
    let anchors: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["anchor"].clone())
        .collect();
    assert_eq!(anchors.len(), 25);
    for anchor in &anchors {
        assert_eq!(anchor["status"], "anchored");
        assert_eq!(anchor["chain_id"], 31337);
        assert_eq!(anchor["position"], 0, "the 7 batches share one anchor");
        for field in ["contract", "root", "certificate_hash", "transaction"] {
            assert!(anchor[field].as_str().unwrap().starts_with("0x"), "{field}");
        }
        assert!(anchor["path"].as_array().unwrap().len() >= 2);
        assert!(anchor["block"].as_u64().unwrap() > 0);
    }
    assert!(
        anchors
            .iter()
            .all(|a| a["transaction"] == anchors[0]["transaction"])
    );
    // The local state sits beside the deployment file.
    assert!(dir.path().join("deployment.ledger/anchors.jsonl").exists());

    let verify = |proofs: &std::path::Path| {
        platone(&[
            "verify",
            "--records",
            records,
            "--proofs",
            proofs.to_str().unwrap(),
            "--ledger",
            &ledger,
        ])
    };
    let stdout = ok(&verify(&proofs));
    assert!(stdout.contains("verified 25, failed 0"), "{stdout}");

    // A second run continues the source's chain in the next anchor.
    let (output, second) = certify("second", Some(key));
    ok(&output);
    let first_line = std::fs::read_to_string(second.join("proofs.jsonl")).unwrap();
    let proof: serde_json::Value =
        serde_json::from_str(first_line.lines().next().unwrap()).unwrap();
    assert_eq!(proof["anchor"]["position"], 1);
    assert_eq!(proof["anchor"]["certificate"]["sequence"], 7);

    // Tampered path, root and position are each named on their line; the rest verify.
    let tampered = dir.path().join("tampered.jsonl");
    std::fs::copy(&proofs, &tampered).unwrap();
    edit_line(&tampered, 2, |p| {
        p["anchor"]["path"][0] = serde_json::json!(format!("0x{}", "11".repeat(32)));
    });
    edit_line(&tampered, 9, |p| {
        p["anchor"]["root"] = serde_json::json!(format!("0x{}", "22".repeat(32)));
    });
    edit_line(&tampered, 17, |p| p["anchor"]["position"] = 9.into());
    edit_line(&tampered, 21, |p| {
        p["siblings"][0] = serde_json::json!(format!("0x{}", "33".repeat(32)));
    });
    let output = verify(&tampered);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("line 2: FAILED: anchor: the anchor path"),
        "{stdout}"
    );
    assert!(stdout.contains("line 9: FAILED: anchor"), "{stdout}");
    assert!(
        stdout.contains("line 17: FAILED: anchor: the contract holds no anchor at position 9"),
        "{stdout}"
    );
    assert!(stdout.contains("line 21: FAILED: path"), "{stdout}");
    assert!(stdout.contains("verified 21, failed 4"), "{stdout}");
    // A tampered record.
    let altered = dir.path().join("altered.jsonl");
    let text = std::fs::read_to_string(records)
        .unwrap()
        .replacen("\"kwh\":3.5", "\"kwh\":3.6", 1);
    std::fs::write(&altered, text).unwrap();
    let output = platone(&[
        "verify",
        "--records",
        altered.to_str().unwrap(),
        "--proofs",
        proofs.to_str().unwrap(),
        "--ledger",
        &ledger,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("line 2: FAILED: content"));

    // The documented Python verifier gives the same verdicts from the node alone.
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&deployment).unwrap()).unwrap();
    let contract = written["contracts"]["CertificationAnchor"]
        .as_str()
        .unwrap()
        .to_owned();
    let python = |records: &str, proofs: &std::path::Path| {
        Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../docs/verify_on_chain.py"
            ))
            .args(["--rpc", &node.url(), "--contract", &contract, records])
            .arg(proofs)
            .output()
            .expect("python3, which scripts/test needs anyway")
    };
    let output = python(records, &proofs);
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("verified 25, failed 0"));
    let output = python(records, &tampered);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in [2, 9, 17, 21] {
        assert!(stdout.contains(&format!("line {line}: FAILED")), "{stdout}");
    }
    assert!(stdout.contains("verified 21, failed 4"), "{stdout}");
    let output = python(altered.to_str().unwrap(), &proofs);
    assert!(String::from_utf8_lossy(&output.stdout).contains("line 2: FAILED: content"));

    // A node that cannot be reached: a clear error and a non-zero exit, no verdict.
    node.stop();
    let output = verify(&proofs);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unavailable"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("verified"));
}

#[test]
fn the_demo_anchors_on_chain_and_its_proofs_verify_from_the_chain_alone() {
    // The demo finds anvil as the tests do (PLATONE_ANVIL, node_modules, PATH).
    platone_testkit::find_anvil().expect("anvil (npm ci installs it)");
    let mut args = vec!["demo", "--chain"];
    args.extend_from_slice(common::SHORT_DEMO);
    let out = platone(&args);
    let stdout = ok(&out);
    for line in [
        "batches certified and anchored",
        "proofs verified through the REST API",
        "batches anchored on chain",
        "proofs verified from the chain alone",
        "result: every check held",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from\n{stdout}");
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn the_bal_on_chain_needs_its_key() {
    let out = platone(&["bal", "--ledger", "eth:deployment.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--chain-key"));
    let out = platone(&["bal", "--ledger", "some/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("eth:DEPLOYMENT.json"));
}
