//! `platone certify batch`, `platone verify` and `platone keys`.

use std::path::Path;
use std::process::{Command, Output};

fn platone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_platone"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn records(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"source\":\"pmu-1\",\"timestamp\":\"2024-01-01T00:{:02}:{:02}Z\",\"kind\":\"voltage\",\"value\":{}}}\n",
                i / 60,
                i % 60,
                230.0 + i as f64 / 8.0
            )
        })
        .collect()
}

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new(input: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("records.jsonl"), input).unwrap();
        Run { dir }
    }
    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
    fn batch(&self, scheme: &str, size: &str, extra: &[&str]) -> Output {
        let (input, out, ledger) = (self.p("records.jsonl"), self.p("out"), self.p("ledger"));
        let mut args = vec![
            "certify",
            "batch",
            "--input",
            &input,
            "--scheme",
            scheme,
            "--batch-size",
            size,
            "--out",
            &out,
            "--ledger",
            &ledger,
        ];
        args.extend_from_slice(extra);
        platone(&args)
    }
    fn verify(&self, records: &str, proofs: &str) -> Output {
        platone(&[
            "verify",
            "--records",
            &self.p(records),
            "--proofs",
            &self.p(proofs),
            "--ledger",
            &self.p("ledger"),
        ])
    }
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }
    fn write(&self, name: &str, content: &str) {
        std::fs::write(self.dir.path().join(name), content).unwrap();
    }
}

#[test]
fn certify_then_verify_in_both_schemes() {
    for scheme in ["sha256", "keccak"] {
        let run = Run::new(&records(400));
        let out = run.batch(scheme, "180", &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let certs = run.read("out/certificates.jsonl");
        let certs: Vec<serde_json::Value> = certs
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(certs.len(), 3);
        assert!(certs[0]["root"].as_str().unwrap().starts_with("0x"));
        assert_eq!(certs[2]["leaf_count"], 40);
        assert_eq!(certs[1]["previous"], certs[0]["certificate_hash"]);
        assert_eq!(certs[0]["anchor"]["status"], "anchored");
        let proofs = run.read("out/proofs.jsonl");
        assert_eq!(proofs.lines().count(), 400);
        let p: serde_json::Value = serde_json::from_str(proofs.lines().nth(181).unwrap()).unwrap();
        assert_eq!(p["leaf_index"], 1);
        assert_eq!(p["scheme"], scheme);
        let out = run.verify("records.jsonl", "out/proofs.jsonl");
        assert!(
            out.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("verified 400, failed 0"));
    }
}

#[test]
fn verify_notices_altered_records_proofs_and_ledger() {
    let run = Run::new(&records(10));
    assert!(run.batch("sha256", "4", &[]).status.success());
    let original = run.read("records.jsonl");

    // An altered record.
    run.write("altered.jsonl", &original.replacen("230.375", "230.376", 1));
    let out = run.verify("altered.jsonl", "out/proofs.jsonl");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("line 4: FAILED: content:"), "{stdout}");
    assert!(stdout.contains("verified 9, failed 1"), "{stdout}");
    assert!(text(&out.stderr).starts_with("error: "));

    // An altered proof (one sibling).
    let proofs = run.read("out/proofs.jsonl");
    let mut lines: Vec<String> = proofs.lines().map(str::to_owned).collect();
    let mut p: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    p["siblings"][0] = serde_json::Value::String(format!("0x{}", "ab".repeat(32)));
    lines[1] = p.to_string();
    run.write("bad-proofs.jsonl", &(lines.join("\n") + "\n"));
    let out = run.verify("records.jsonl", "bad-proofs.jsonl");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("line 2: FAILED: path:"),
        "{}",
        text(&out.stdout)
    );

    // An altered ledger entry: batch 1's root.
    let ledger_path = run.dir.path().join("ledger/ledger.jsonl");
    let ledger = std::fs::read_to_string(&ledger_path).unwrap();
    let entries: Vec<&str> = ledger.lines().collect();
    let root =
        serde_json::from_str::<serde_json::Value>(entries[1]).unwrap()["certificate"]["root"]
            .as_str()
            .unwrap()
            .to_owned();
    let forged_root = format!("0x{}", "00".repeat(32));
    std::fs::write(&ledger_path, ledger.replace(&root, &forged_root)).unwrap();
    let out = run.verify("records.jsonl", "out/proofs.jsonl");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("line 5: FAILED: anchor:"), "{stdout}");
    assert!(stdout.contains("line 9: FAILED: chain:"), "{stdout}");
    assert!(stdout.contains("verified 4, failed 6"), "{stdout}");
    assert!(text(&out.stderr).contains("warning: ledger"));

    // A missing ledger entry: the last batch's line removed.
    let kept: String = entries[..2].iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&ledger_path, kept).unwrap();
    let out = run.verify("records.jsonl", "out/proofs.jsonl");
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("line 10: FAILED: anchor: batch records:2 is not in the ledger"),
        "{stdout}"
    );
    assert!(stdout.contains("verified 8, failed 2"), "{stdout}");

    // More records than proofs.
    std::fs::write(&ledger_path, &ledger).unwrap();
    run.write(
        "more.jsonl",
        &(original.clone() + records(11).lines().last().unwrap() + "\n"),
    );
    let out = run.verify("more.jsonl", "out/proofs.jsonl");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("line 11: FAILED: no proof"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn window_closes_batches_and_chain_continues_across_runs() {
    let run = Run::new(&records(130));
    // 60 s windows on the records' own timestamps (one record a second): 60 + 60 + 10.
    let out = run.batch("keccak", "1000", &["--window", "60"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let counts: Vec<u64> = run
        .read("out/certificates.jsonl")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["leaf_count"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(counts, [60, 60, 10]);
    // A second run on the same ledger continues the chain.
    let out = run.batch("keccak", "100", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first: serde_json::Value =
        serde_json::from_str(run.read("out/certificates.jsonl").lines().next().unwrap()).unwrap();
    assert_eq!(first["batch_id"], "records:3");
    assert!(
        run.verify("records.jsonl", "out/proofs.jsonl")
            .status
            .success()
    );
}

#[test]
fn invalid_records_certify_nothing() {
    let run = Run::new(&(records(3) + "{not json\n" + &records(2)));
    let out = run.batch("sha256", "180", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("records.jsonl:4:"), "{stderr}");
    assert!(stderr.contains("nothing was certified"), "{stderr}");
    let ledger = run.dir.path().join("ledger/ledger.jsonl");
    assert_eq!(std::fs::read(ledger).unwrap_or_default().len(), 0);
    assert!(!Path::new(&run.p("out/proofs.jsonl")).exists());
}

#[test]
fn usage_errors_exit_2() {
    let run = Run::new(&records(1));
    assert_eq!(run.batch("md5", "10", &[]).status.code(), Some(2));
    assert_eq!(run.batch("sha256", "0", &[]).status.code(), Some(2));
    assert_eq!(
        platone(&["verify", "--records", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(
        platone(&["keys", "sign", "--key", "k"]).status.code(),
        Some(2)
    );
}

#[test]
fn keys_generate_address_sign_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("device.key");
    let key = key.to_str().unwrap();
    let out = platone(&["keys", "generate", "--out", key]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let address = text(&out.stdout).trim().to_owned();
    assert!(
        address.starts_with("0x") && address.len() == 42,
        "{address}"
    );
    // The secret is readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
    }
    // Refuses to overwrite a key.
    assert_eq!(
        platone(&["keys", "generate", "--out", key]).status.code(),
        Some(1)
    );
    let out = platone(&["keys", "address", "--key", key]);
    assert_eq!(text(&out.stdout).trim(), address);

    let out = platone(&["keys", "sign", "--key", key, "--message", "hello grid"]);
    assert!(out.status.success());
    let sig = text(&out.stdout).trim().to_owned();
    assert_eq!(sig.len(), 132);
    let ok = platone(&[
        "keys",
        "verify",
        "--address",
        &address,
        "--signature",
        &sig,
        "--message",
        "hello grid",
    ]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let bad = platone(&[
        "keys",
        "verify",
        "--address",
        &address,
        "--signature",
        &sig,
        "--message",
        "hello grit",
    ]);
    assert_eq!(bad.status.code(), Some(1));

    // EIP-712 device packet over the payload bytes exactly as given: the same record written
    // differently is another payload.
    let record = dir.path().join("r.json");
    std::fs::write(&record, r#"{"value": 1.50, "source": "ln-1"}"#).unwrap();
    let same = dir.path().join("s.json");
    std::fs::write(&same, r#"{"source":"ln-1","value":1.5}"#).unwrap();
    let typed = [
        "--typed",
        "--device",
        "ln-1",
        "--timestamp",
        "1700000000",
        "--chain-id",
        "2020",
    ];
    let mut args = vec![
        "keys",
        "sign",
        "--key",
        key,
        "--file",
        record.to_str().unwrap(),
    ];
    args.extend_from_slice(&typed);
    let out = platone(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sig = text(&out.stdout).trim().to_owned();
    let mut args = vec![
        "keys",
        "verify",
        "--address",
        &address,
        "--signature",
        &sig,
        "--file",
        same.to_str().unwrap(),
    ];
    args.extend_from_slice(&typed);
    assert_eq!(platone(&args).status.code(), Some(1));
    let mut args = vec![
        "keys",
        "verify",
        "--address",
        &address,
        "--signature",
        &sig,
        "--file",
        record.to_str().unwrap(),
    ];
    args.extend_from_slice(&typed);
    assert!(platone(&args).status.success());
    // Bound to the deployment: another verifying contract is another domain.
    args.extend_from_slice(&[
        "--verifying-contract",
        "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    ]);
    assert_eq!(platone(&args).status.code(), Some(1));

    // The EIP-191 vector of web3.js, through the command line.
    let known = dir.path().join("known.key");
    std::fs::write(
        &known,
        "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318\n",
    )
    .unwrap();
    let out = platone(&[
        "keys",
        "sign",
        "--key",
        known.to_str().unwrap(),
        "--message",
        "Some data",
    ]);
    assert_eq!(
        text(&out.stdout).trim(),
        "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c"
    );
}

/// The first EIP-712 vector of docs/certification.md, through the command line: the signature
/// covers the payload bytes exactly as given.
#[test]
fn keys_sign_typed_matches_the_documented_vector() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("vector.key");
    std::fs::write(
        &key,
        "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318\n",
    )
    .unwrap();
    let payload = r#"{"device":"ln-1","timestamp":"2024-03-01T12:00:00Z","readings":[{"meter":"M-1","value":230.1}]}"#;
    let out = platone(&[
        "keys",
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--message",
        payload,
        "--typed",
        "--device",
        "ln-1",
        "--timestamp",
        "1709294400",
        "--chain-id",
        "2020",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "0x45072fd94f67204e250d970cd41286098a9ab6d522815778ed7fa2c22b7b7b8602c36fd05bcb118cbf174d7dcf1c13140c74178761c1abedb58523293bd803341b"
    );
    let out = platone(&[
        "keys",
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--message",
        payload,
        "--typed",
        "--device",
        "ln-1",
        "--timestamp",
        "1709294400",
        "--chain-id",
        "2020",
        "--verifying-contract",
        "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    ]);
    assert_eq!(
        text(&out.stdout).trim(),
        "0x58390841985b201df887e73a3e339033e9e31ff4bbb38b410ecb892093f93c137dd1d207bd6fad08aa55fecdb82d1b9fd92d301da3b7f033241694351bb903ee1b"
    );
}
