//! `platone lightnode`: a set point published on a real Mosquitto for the node's PoD is
//! acknowledged and read back over the node's HTTP and Modbus interfaces; bad options exit 2.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{platone, text};
use platone_testkit::Mosquitto;

/// A GET of `/` on `address`: the status and the body.
fn get(address: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[test]
fn a_set_point_reaches_the_ems_of_a_running_light_node() {
    let broker = Mosquitto::start().unwrap();
    let mut node = Command::new(env!("CARGO_BIN_EXE_platone"))
        .args([
            "lightnode",
            "--pod",
            "POD-3",
            "--dsotp-mqtt",
            &broker.url(),
            "--http",
            "127.0.0.1:0",
            "--modbus",
            "127.0.0.1:0",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(node.stderr.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    // "… EMS on http://127.0.0.1:P and modbus://127.0.0.1:Q"
    let http = banner
        .split("http://")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(get(&http).0, 404, "no set point yet");

    let now = chrono::Utc::now();
    let set_point = serde_json::json!({
        "id": "sp-1", "target": "ln-POD-3", "pod": "POD-3", "kind": "power", "unit": "W",
        "multiplier": 3, "value": 4.0,
        "valid_from": (now - chrono::TimeDelta::minutes(1)).to_rfc3339(),
        "valid_to": (now + chrono::TimeDelta::minutes(14)).to_rfc3339(),
    });
    // The acknowledgement, as any MQTT client sees it.
    let mut acks = Command::new("mosquitto_sub")
        .args([
            "-p",
            &broker.port().to_string(),
            "-q",
            "1",
            "-C",
            "1",
            "-W",
            "30",
        ])
        .args(["-t", "platone/dsotp/setpoints/POD-3/ack"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Published until answered (the node subscribes as it starts).
    let deadline = Instant::now() + Duration::from_secs(20);
    while acks.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no answer from the Light Node");
        let published = Command::new("mosquitto_pub")
            .args(["-p", &broker.port().to_string(), "-q", "1"])
            .args([
                "-t",
                "platone/dsotp/setpoints/POD-3",
                "-m",
                &set_point.to_string(),
            ])
            .status()
            .unwrap();
        assert!(published.success());
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut ack = String::new();
    acks.stdout
        .take()
        .unwrap()
        .read_to_string(&mut ack)
        .unwrap();
    let ack: serde_json::Value = serde_json::from_str(&ack).unwrap();
    assert_eq!(
        (&ack["set_point"], &ack["outcome"]),
        (&serde_json::json!("sp-1"), &serde_json::json!("accepted"))
    );
    assert_eq!(ack["device"], "ln-POD-3");
    let (status, body) = get(&http);
    assert_eq!(status, 200);
    let targets: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(targets, serde_json::json!({"bspP": 4.0, "bspQ": null}));
    node.kill().unwrap();
    node.wait().unwrap();
}

#[test]
fn bad_options_exit_2() {
    let out = platone(
        &[
            "lightnode",
            "--pod",
            "",
            "--dsotp-mqtt",
            "mqtt://127.0.0.1:1",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--pod"), "{}", text(&out.stderr));
}

#[test]
fn with_bal_mqtt_the_node_publishes_signed_meter_readings_in_sequence() {
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = platone_certify::DeviceKey::generate().unwrap();
    let key_file = dir.path().join("ln.key");
    key.save(&key_file).unwrap();
    let buffer = dir.path().join("buffer");
    // The BAL's side of the broker, as any MQTT client sees it.
    let mut readings = Command::new("mosquitto_sub")
        .args([
            "-p",
            &broker.port().to_string(),
            "-q",
            "1",
            "-C",
            "5",
            "-W",
            "30",
        ])
        .args(["-t", "platone/bal/devices/ln-POD-4/cim"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut node = Command::new(env!("CARGO_BIN_EXE_platone"))
        .args(["lightnode", "--pod", "POD-4", "--dsotp-mqtt", &broker.url()])
        .args(["--bal-mqtt", &broker.url(), "--key"])
        .arg(&key_file)
        .arg("--buffer")
        .arg(&buffer)
        .args([
            "--interval",
            "0.1",
            "--http",
            "127.0.0.1:0",
            "--modbus",
            "127.0.0.1:0",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(node.stderr.take().unwrap());
    let (mut ems, mut bal) = (String::new(), String::new());
    stderr.read_line(&mut ems).unwrap();
    stderr.read_line(&mut bal).unwrap();
    assert!(ems.contains("EMS on http://"), "{ems}");
    assert!(
        bal.contains("meter MTR-POD-4") && bal.contains("platone/bal/devices/ln-POD-4/cim"),
        "{bal}"
    );
    let mut out = String::new();
    readings
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        readings.wait().unwrap().success(),
        "five readings within 30 s"
    );
    node.kill().unwrap();
    node.wait().unwrap();
    let ids: Vec<String> = out
        .lines()
        .map(|line| {
            let envelope = platone_certify::SignedEnvelope::from_json(line.as_bytes()).unwrap();
            assert_eq!(envelope.scheme.as_str(), "eip191");
            assert_eq!(envelope.recover_signer(1).unwrap(), key.address());
            let xml = String::from_utf8(envelope.payload_bytes().unwrap().into_owned()).unwrap();
            assert!(xml.contains("<mRID>MTR-POD-4</mRID>"), "{xml}");
            xml.split("<MessageID>")
                .nth(1)
                .and_then(|rest| rest.split('<').next())
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "ln-POD-4-1",
            "ln-POD-4-2",
            "ln-POD-4-3",
            "ln-POD-4-4",
            "ln-POD-4-5"
        ]
    );
    assert!(buffer.join("state").is_file(), "the buffer is on disk");
}

#[test]
fn the_bal_side_needs_both_its_broker_and_its_key() {
    for args in [
        &["--bal-mqtt", "mqtt://127.0.0.1:1"][..],
        &["--key", "ln.key"][..],
    ] {
        let mut all = vec!["lightnode", "--pod", "POD-4", "--dsotp-mqtt", "memory://"];
        all.extend_from_slice(args);
        let out = platone(&all, "");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    }
    let out = platone(
        &[
            "lightnode",
            "--pod",
            "POD-4",
            "--dsotp-mqtt",
            "memory://",
            "--bal-mqtt",
            "memory://",
            "--key",
            "/nonexistent/ln.key",
        ],
        "",
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("--key"), "{}", text(&out.stderr));
}
