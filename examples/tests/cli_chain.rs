//! `platone chain deploy|grant|devices` against a real anvil.
#![cfg(feature = "chain")]

use std::process::{Command, Output};

use platone_testkit::{ANVIL_KEYS, Anvil};

fn platone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_platone"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
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

    ok(&platone(&[
        "chain",
        "deploy",
        "--rpc",
        &node.url(),
        "--key",
        key,
        "--out",
        deployment,
    ]));
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
