//! `platone pmu`: decode (hex, raw, pcap, count, json), connect and simulate.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn reference(rel: &str) -> PathBuf {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/reference/pmu/"
    ))
    .join(rel);
    assert!(
        p.exists(),
        "reference file {} is missing (needs /work/shared/reference/pmu)",
        p.display()
    );
    p
}

fn platone(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_platone"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn annex_d_hex() -> String {
    reference("ieee_annexD/annexD_and_pypmu_vectors.hex")
        .display()
        .to_string()
}

fn hex_frames(rel: &str) -> Vec<Vec<u8>> {
    std::fs::read_to_string(reference(rel))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| unhex(l.trim()))
        .collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn decode_hex_annex_d() {
    let out = platone(&["pmu", "decode", &annex_d_hex(), "--hex"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = lines(&out);
    assert_eq!(v.len(), 6);
    assert_eq!(v[0]["type"], "cfg2");
    assert_eq!(v[0]["offset"], 4);
    assert_eq!(v[0]["config"]["time_base"], 1_000_000);
    assert_eq!(v[0]["config"]["pmus"][0]["station"], "Station A");
    assert_eq!(v[0]["config"]["pmus"][0]["cfgcnt"], 22);
    assert_eq!(v[0]["config"]["pmus"][0]["nominal_frequency"], 60.0);
    let d = &v[1];
    assert_eq!(d["type"], "data");
    assert_eq!(d["version"], 1);
    assert_eq!(d["idcode"], 7734);
    assert_eq!(d["soc"], 1_149_580_800u64);
    assert_eq!(d["fracsec"], 16817);
    assert_eq!(d["time"], "2006-06-06T08:00:00.016817Z");
    assert_eq!(d["crc_ok"], true);
    assert_eq!(d["time_quality"]["message_time_quality"], 0);
    let pmu = &d["pmus"][0];
    assert_eq!(pmu["station"], "Station A");
    assert_eq!(pmu["stat"]["raw"], 0);
    assert_eq!(pmu["stat"]["data_error"], "good");
    assert_eq!(pmu["phasors"][0]["name"], "VA");
    assert!((pmu["phasors"][0]["magnitude"].as_f64().unwrap() - 133_987.376).abs() < 0.01);
    assert!((pmu["phasors"][1]["angle"].as_f64().unwrap().to_degrees() + 120.0).abs() < 0.01);
    assert_eq!(pmu["frequency"], 62.5);
    assert_eq!(pmu["rocof"], 0.0);
    assert_eq!(pmu["analogs"][2]["name"], "ANALOG3");
    assert_eq!(pmu["analogs"][2]["value"], 10000.0);
    assert_eq!(pmu["digitals"][0]["value"], 0x3C12);
    assert_eq!(pmu["digitals"][0]["names"][0], "BREAKER 1 STATUS");
    assert_eq!(v[2]["type"], "command");
    assert_eq!(v[2]["command"]["name"], "turn_on");
    assert_eq!(v[3]["type"], "header");
    assert_eq!(v[3]["text"], "Hello I'm Header Frame.");
}

#[test]
fn decode_cfg3_fragments_and_json_array() {
    let file = reference("synthetic/S3_cfg3_fragmented_3_parts.hex");
    let out = platone(
        &["pmu", "decode", file.to_str().unwrap(), "--format", "json"],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let frames = v.as_array().unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0]["type"], "cfg3");
    assert_eq!(frames[0]["fragment"], 1);
    let cfg = &frames[2]["config"];
    assert_eq!(cfg["pmus"][0]["station"], "Umspannwerk Süd");
    assert_eq!(cfg["pmus"][0]["service_class"], "P");
    assert_eq!(cfg["pmus"][1]["latitude"], Value::Null);
    assert_eq!(
        cfg["pmus"][1]["phasors"][1]["component"],
        "positive_sequence"
    );
}

#[test]
fn decode_raw_stream_reports_corrupt_frames_and_exits_1() {
    let f = hex_frames("ieee_annexD/annexD_and_pypmu_vectors.hex");
    let mut stream = b"noise".to_vec();
    stream.extend_from_slice(&f[0]);
    stream.extend_from_slice(&f[1]);
    let bad_at = stream.len();
    let mut bad = f[1].clone();
    bad[40] ^= 1;
    stream.extend_from_slice(&bad);
    stream.extend_from_slice(&f[1]);
    let out = platone(&["pmu", "decode", "-", "--raw"], &stream);
    assert_eq!(out.status.code(), Some(1));
    let v = lines(&out);
    assert_eq!(v.len(), 3, "the good frames are printed");
    assert_eq!(v[0]["offset"], 5);
    assert_eq!(v[2]["type"], "data");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("byte {bad_at}: ")), "{err}");
    assert!(err.contains("CHK"), "{err}");

    let out = platone(&["pmu", "decode", "-", "--raw", "--count"], &stream);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");

    let clean: Vec<u8> = [f[0].clone(), f[1].clone(), f[1].clone()].concat();
    let out = platone(&["pmu", "decode", "-", "--raw", "--count"], &clean);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
}

#[test]
fn decode_pcap_with_channel_map() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("map.json");
    std::fs::write(
        &map,
        r#"{"channels":[{"name":"I1","kind":"current","phase":"A","component":"LINE1"}]}"#,
    )
    .unwrap();
    let file = reference("synthetic/S5_annexD_sync_variants.pcap");
    let out = platone(
        &[
            "pmu",
            "decode",
            file.to_str().unwrap(),
            "--pcap",
            "--channels",
            map.to_str().unwrap(),
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = lines(&out);
    assert_eq!(
        v.iter()
            .map(|f| f["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["cfg1", "cfg2", "data"]
    );
    assert_eq!(v[1]["version"], 2);
    let i1 = &v[2]["pmus"][0]["phasors"][3];
    assert_eq!(i1["phase"], "phase_a");
    assert_eq!(i1["component"], "LINE1");
    assert!(v[2]["flow"].as_str().unwrap().ends_with("/udp"));
}

#[test]
fn usage_and_input_errors() {
    let out = platone(&["pmu", "decode", "x", "--hex", "--raw"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = platone(&["pmu", "decode"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = platone(&["pmu", "decode", "-", "--hex"], b"# c\nzz\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
    let out = platone(&["pmu", "decode", "/no/such/file", "--raw"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    let out = platone(&["pmu", "simulate", "--rate", "0"], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn connect_to_simulate() {
    let mut sim = Command::new(env!("CARGO_BIN_EXE_platone"))
        .args([
            "pmu",
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--rate",
            "100",
            "--pmus",
            "3",
            "--idcode",
            "9",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sim.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let out = platone(
        &[
            "pmu", "connect", &addr, "--idcode", "9", "--frames", "5", "--cfg3",
        ],
        b"",
    );
    sim.kill().unwrap();
    sim.wait().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = lines(&out);
    assert_eq!(v[0]["type"], "cfg2");
    let data: Vec<_> = v.iter().filter(|f| f["type"] == "data").collect();
    assert_eq!(data.len(), 5);
    assert_eq!(data[0]["pmus"].as_array().unwrap().len(), 3);
    let f = data[0]["pmus"][2]["frequency"].as_f64().unwrap();
    assert!((49.9..50.1).contains(&f));
    assert_eq!(data[0]["pmus"][0]["phasors"][3]["phase"], "phase_a");
}
