//! `platone bridge` against two real Mosquitto brokers: remapping, counters, SIGTERM drain,
//! config files and usage errors.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use platone_testkit::Mosquitto;

fn broker() -> Mosquitto {
    Mosquitto::start().unwrap()
}

fn platone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_platone"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Starts `platone bridge`, waits for its "running" line; returns the child and its stderr lines.
fn start_bridge(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_platone"))
        .arg("bridge")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("bridge did not report running");
        if line.starts_with("bridge: running") {
            break;
        }
    }
    (child, rx)
}

fn subscribe(port: u16, topic: &str, count: usize) -> Child {
    let child = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-v",
            "-W",
            "15",
        ])
        .args(["-C", &count.to_string(), "-t", topic])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child
}

fn publish(port: u16, topic: &str, message: &str) {
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", topic, "-m", message])
        .status()
        .unwrap();
    assert!(status.success());
}

fn terminate(mut child: Child, lines: mpsc::Receiver<String>) -> (i32, Vec<String>) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let mut rest = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        rest.push(line);
    }
    (status.code().unwrap_or(-1), rest)
}

#[test]
fn forwards_with_mosquitto_remapping_and_drains_on_sigterm() {
    let bal = broker();
    let dsotp = broker();
    let (bridge, lines) = start_bridge(&[
        "--source",
        &bal.url(),
        "--sink",
        &dsotp.url(),
        "--topic",
        "# out 1 platone/dsotp/ /bal/",
        "--stats-interval",
        "1",
    ]);
    let mut sub = subscribe(dsotp.port(), "/bal/#", 3);
    publish(bal.port(), "platone/dsotp/meters/1", "a");
    publish(bal.port(), "platone/other/x", "not bridged");
    publish(bal.port(), "platone/dsotp/meters/2", "b");
    publish(bal.port(), "platone/dsotp", "parent");
    let mut out = String::new();
    sub.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(sub.wait().unwrap().success(), "{out}");
    assert_eq!(out, "/bal/meters/1 a\n/bal/meters/2 b\n/bal parent\n");
    std::thread::sleep(Duration::from_millis(1200));
    let (code, rest) = terminate(bridge, lines);
    assert_eq!(code, 0, "{rest:?}");
    let last = rest.last().cloned().unwrap_or_default();
    assert!(last.contains("stopped forwarded=3"), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("bridge: forwarded=")),
        "periodic counters: {rest:?}"
    );
}

#[test]
fn config_file_holds_routes_both_ways() {
    let a = broker();
    let b = broker();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bridge.toml");
    std::fs::write(
        &conf,
        format!(
            "[source]\nurl = \"mqtt://127.0.0.1:{}\"\n\n[sink]\nurl = \"mqtt://127.0.0.1:{}\"\n\n\
             [bridge]\nmax_in_flight = 8\n\n\
             [[route]]\ntopic = \"# both 1 site/ remote/\"\n\n[[route]]\ntopic = \"alarms/# in 1 \\\"\\\" \\\"\\\"\"\n",
            a.port(), b.port()
        ),
    )
    .unwrap();
    let (bridge, lines) = start_bridge(&["--config", conf.to_str().unwrap()]);
    let mut on_b = subscribe(b.port(), "remote/x", 1);
    let mut on_a = subscribe(a.port(), "#", 3);
    publish(a.port(), "site/x", "1");
    publish(b.port(), "remote/y", "2");
    publish(b.port(), "alarms/z", "3");
    let mut out_b = String::new();
    on_b.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out_b)
        .unwrap();
    assert_eq!(out_b, "remote/x 1\n");
    on_b.wait().unwrap();
    let mut out_a = String::new();
    on_a.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out_a)
        .unwrap();
    on_a.wait().unwrap();
    let mut got: Vec<&str> = out_a.lines().collect();
    got.sort();
    assert_eq!(got, vec!["alarms/z 3", "site/x 1", "site/y 2"]);
    std::thread::sleep(Duration::from_millis(300));
    let (code, rest) = terminate(bridge, lines);
    assert_eq!(code, 0, "{rest:?}");
    // Echoes of the two-way route are suppressed, not forwarded back.
    let last = rest.last().cloned().unwrap_or_default();
    assert!(
        last.contains("forwarded=3") && last.contains("dropped=2"),
        "{rest:?}"
    );
}

#[test]
fn usage_and_input_errors() {
    let out = platone(&["bridge", "--sink", "memory://", "--topic", "a/# out 1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("error: --source"));
    let out = platone(&["bridge", "--source", "memory://", "--sink", "memory://"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no route"));
    let out = platone(&[
        "bridge",
        "--source",
        "memory://",
        "--sink",
        "memory://",
        "--topic",
        "a/#/b out 1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("field pattern"),
        "{}",
        text(&out.stderr)
    );
    let out = platone(&[
        "bridge",
        "--source",
        "amqp://x",
        "--sink",
        "memory://",
        "--topic",
        "a/# out 1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown scheme"),
        "{}",
        text(&out.stderr)
    );
    let out = platone(&[
        "bridge",
        "--source",
        "mqtts://127.0.0.1:1",
        "--sink",
        "memory://",
        "--topic",
        "a/#",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--ca"), "{}", text(&out.stderr));
    let out = platone(&["bridge", "--config", "/nonexistent/bridge.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let out = platone(&["bridge", "--cert", "c.pem", "--source", "memory://"]);
    assert_eq!(out.status.code(), Some(2), "clap: --cert requires --key");
}

/// Reads `count` messages printed by `mosquitto_sub -F '%t %x'` (topic, hex payload).
fn hex_messages(child: Child) -> Vec<(String, Vec<u8>)> {
    let out = child.wait_with_output().unwrap();
    text(&out.stdout)
        .lines()
        .map(|line| {
            let (topic, hex) = line.split_once(' ').unwrap_or((line, ""));
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (topic.to_owned(), bytes)
        })
        .collect()
}

#[test]
fn to_jsonld_publishes_saref_jsonld_and_dead_letters_what_does_not_decode() {
    let bal = broker();
    let dsotp = broker();
    let (bridge, lines) = start_bridge(&[
        "--source",
        &bal.url(),
        "--sink",
        &dsotp.url(),
        "--topic",
        "# out 1 meters/ ld/meters/",
        "--to-jsonld",
        "measurements",
        "--saref-base",
        "https://dso.example/grid/",
    ]);
    let sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &dsotp.port().to_string()])
        .args(["-q", "1", "-W", "15", "-C", "3", "-t", "#", "-F", "%t %x"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let readings = meter_lines(3);
    publish(bal.port(), "meters/m1", &readings[0]);
    publish(bal.port(), "meters/m2", "{\"source\": 5}");
    publish(
        bal.port(),
        "meters/m3",
        &format!("{}\n{}", readings[1], readings[2]),
    );
    let got = hex_messages(sub);
    let topics: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        topics,
        [
            "ld/meters/m1",
            "platone/bridge/dead-letter/untransformable",
            "ld/meters/m3"
        ]
    );
    assert_eq!(got[1].1, b"{\"source\": 5}", "the original payload");
    let expected: Vec<platone_model::Measurement> = readings
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let options = platone_saref::MappingOptions {
        base: platone_saref::Base::new("https://dso.example/grid/").unwrap(),
        ..Default::default()
    };
    let mut back = Vec::new();
    for ((_, payload), source) in [&got[0], &got[2]]
        .into_iter()
        .zip([&expected[..1], &expected[1..]])
    {
        let text = String::from_utf8(payload.clone()).unwrap();
        assert!(
            text.contains("https://dso.example/grid/meter/meter-1"),
            "{text}"
        );
        // The published graph is the mapping of the source payload, triple for triple.
        let published =
            platone_saref::read_graph(payload.as_slice(), platone_saref::Format::JsonLd)
                .unwrap_or_else(|e| panic!("{e}: {text}"));
        let mapped = platone_saref::write_measurements(
            Vec::new(),
            platone_saref::Format::NTriples,
            &options,
            source.iter().map(|m| (m, None)),
        )
        .unwrap();
        let mapped =
            platone_saref::read_graph(mapped.as_slice(), platone_saref::Format::NTriples).unwrap();
        assert!(published.len() > 8 * source.len(), "{published}");
        assert_eq!(
            published, mapped,
            "published:\n{published}\nmapped:\n{mapped}"
        );
        back.extend(
            platone_saref::read_measurements(payload.as_slice(), platone_saref::Format::JsonLd)
                .unwrap_or_else(|e| panic!("{e}: {text}")),
        );
    }
    assert_eq!(back, expected);
    let (code, rest) = terminate(bridge, lines);
    assert_eq!(code, 0, "{rest:?}");
    let last = rest.last().cloned().unwrap_or_default();
    assert!(
        last.contains("forwarded=2") && last.contains("dead_lettered=1"),
        "{rest:?}"
    );
    // Only `out` routes: a two-way route is a usage error.
    let out = platone(&[
        "bridge",
        "--source",
        "memory://",
        "--sink",
        "memory://",
        "--topic",
        "# both 1 a/ b/",
        "--to-jsonld",
        "cim",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--to-jsonld"),
        "{}",
        text(&out.stderr)
    );
    let out = platone(&[
        "bridge",
        "--source",
        "memory://",
        "--sink",
        "memory://",
        "--topic",
        "# out 1 a/ b/",
        "--to-jsonld",
        "cim",
        "--saref-base",
        "no-slash",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--saref-base"),
        "{}",
        text(&out.stderr)
    );
}

/// Measurement JSON lines of meter `meter-1` (kWh, 15-minute intervals).
fn meter_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"source":"meter-1","meter":"meter-1","pod":"GR-POD-1","timestamp":"2021-06-30T0{}:15:00+02:00","kind":"energy","phases":"ABC","direction":"forward","accumulation":"delta","interval":900,"aggregate":"sum","unit":"Wh","multiplier":3,"value":{}.25,"quality":[]}}"#,
                i, i
            )
        })
        .collect()
}

/// `--to-jsonld cim`: a MeterReadings document (in its message envelope) becomes the JSON-LD of its measurements; a
/// document that is not well-formed is dead-lettered and the next document still flows.
#[test]
fn to_jsonld_cim_maps_meter_readings_and_dead_letters_a_broken_document() {
    let xml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../platone-cim/tests/fixtures/meter_readings/event-message.xml"
    ))
    .unwrap();
    let bal = broker();
    let dsotp = broker();
    let (bridge, lines) = start_bridge(&[
        "--source",
        &bal.url(),
        "--sink",
        &dsotp.url(),
        "--topic",
        "cim/# out 1 bal/ ld/",
        "--to-jsonld",
        "cim",
    ]);
    let sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &dsotp.port().to_string()])
        .args(["-q", "1", "-W", "15", "-C", "3", "-t", "#", "-F", "%t %x"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let broken = &xml[..xml.len() / 2];
    publish(bal.port(), "bal/cim/1", &xml);
    publish(bal.port(), "bal/cim/2", broken);
    publish(bal.port(), "bal/cim/3", &xml);
    let got = hex_messages(sub);
    let topics: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        topics,
        [
            "ld/cim/1",
            "platone/bridge/dead-letter/untransformable",
            "ld/cim/3"
        ]
    );
    assert_eq!(got[1].1, broken.as_bytes(), "the original payload");
    // What the bridge should publish: the mapping (default base) of the fixture's readings.
    let parsed = platone_cim::meter_readings::parse_slice_limited(
        xml.as_bytes(),
        platone_cim::meter_readings::Mode::Strict,
        1 << 20,
    )
    .unwrap();
    let source: Vec<platone_model::Measurement> = parsed
        .document
        .measurements()
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!source.is_empty());
    let mapped = platone_saref::write_measurements(
        Vec::new(),
        platone_saref::Format::NTriples,
        &platone_saref::MappingOptions::default(),
        source.iter().map(|m| (m, None)),
    )
    .unwrap();
    let mapped =
        platone_saref::read_graph(mapped.as_slice(), platone_saref::Format::NTriples).unwrap();
    for (_, payload) in [&got[0], &got[2]] {
        let text = String::from_utf8(payload.clone()).unwrap();
        let published =
            platone_saref::read_graph(payload.as_slice(), platone_saref::Format::JsonLd)
                .unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(
            published, mapped,
            "published:\n{published}\nmapped:\n{mapped}"
        );
        let back =
            platone_saref::read_measurements(payload.as_slice(), platone_saref::Format::JsonLd)
                .unwrap();
        assert_eq!(back.len(), source.len());
        assert!(back.iter().all(|m| source.contains(m)), "{back:?}");
    }
    let (code, rest) = terminate(bridge, lines);
    assert_eq!(code, 0, "{rest:?}");
    let last = rest.last().cloned().unwrap_or_default();
    assert!(
        last.contains("forwarded=2") && last.contains("dead_lettered=1"),
        "{rest:?}"
    );
}
