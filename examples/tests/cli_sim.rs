//! `platone sim`: the BAL configuration it prints, a run against a real Mosquitto whose
//! packets are all received, and the errors for an unreachable broker and bad options.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use platone_bal::BalConfig;
use platone_bus::{MqttBus, QoS, Subscriber, TopicFilter};
use platone_sim::FieldPlan;
use platone_testkit::Mosquitto;

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

#[test]
fn print_config_gives_the_bal_its_pods_and_device_addresses() {
    let out = platone(&[
        "sim",
        "--print-config",
        "--pmus",
        "2",
        "--meters",
        "3",
        "--seed",
        "42",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let config = BalConfig::from_toml(&text(&out.stdout)).unwrap();
    let mut plan = FieldPlan::new(2, 50, 3);
    plan.seed = 42;
    assert_eq!(config.pods, plan.bal_pods());
    assert_eq!(config.devices, plan.bal_devices());
    let ids: Vec<&str> = config.pods.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "POD-MTR-1",
            "POD-MTR-2",
            "POD-MTR-3",
            "POD-PMU-1",
            "POD-PMU-2"
        ]
    );
    assert!(config.devices.iter().all(|d| d.address.is_some()));
    // Another seed, other keys.
    let other = platone(&["sim", "--print-config", "--pmus", "2", "--meters", "3"]);
    let other = BalConfig::from_toml(&text(&other.stdout)).unwrap();
    assert_ne!(other.devices, config.devices);
}

#[test]
fn unreachable_broker_exits_1() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let out = platone(&[
        "sim",
        "--mqtt",
        &url,
        "--duration",
        "1",
        "--connect-timeout",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // The library's connection warnings come first; the error is the last line.
    let stderr = text(&out.stderr);
    let err = stderr.lines().last().unwrap_or_default();
    assert!(
        err.starts_with("error: cannot reach the broker"),
        "{stderr}"
    );
    assert!(err.contains(&port.to_string()), "{err}");
}

#[test]
fn bad_options_exit_1_and_missing_broker_exits_2() {
    let out = platone(&["sim", "--mqtt", "mqtt://127.0.0.1:1", "--rate", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("sim.rate"),
        "{}",
        text(&out.stderr)
    );
    let out = platone(&["sim", "--mqtt", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("expected mqtt"),
        "{}",
        text(&out.stderr)
    );
    let out = platone(&["sim", "--mqtt", "mqtt://127.0.0.1:1", "--duration=-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--duration -1"),
        "{}",
        text(&out.stderr)
    );
    let out = platone(&["sim", "--pmus", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--mqtt"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_run_publishes_everything_it_reports() {
    let broker =
        Mosquitto::start().expect("mosquitto (Debian package `mosquitto`) must be installed");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bus =
        runtime.block_on(async { MqttBus::connect(broker.mqtt_config("cli-sim-test")).unwrap() });
    let mut subscription = runtime
        .block_on(bus.subscribe(
            TopicFilter::new("platone/bal/devices/#").unwrap(),
            QoS::AtLeastOnce,
        ))
        .unwrap();
    let out = platone(&[
        "sim",
        "--mqtt",
        &broker.url(),
        "--pmus",
        "2",
        "--rate",
        "20",
        "--meters",
        "3",
        "--accelerate",
        "900",
        "--duration",
        "1.5",
        "--sign",
        "eip191",
        "--malformed",
        "1",
        "--json",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("sim: 1s packets"),
        "progress each second: {stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 30 frames × 2 PMUs, intervals 0 and 1 with one document each, one malformed packet.
    assert_eq!(summary["scheduled_packets"], 63, "{summary}");
    assert_eq!(summary["packets"], 63, "{summary}");
    assert_eq!(summary["measurements"], 30 * 2 * 13 + 2 * 3, "{summary}");
    assert_eq!(summary["failed"], 0);
    let received = runtime.block_on(async {
        let mut n = 0;
        while n < 63 {
            let delivery =
                tokio::time::timeout(Duration::from_secs(20), subscription.next_delivery())
                    .await
                    .expect("all packets arrive")
                    .unwrap();
            assert!(delivery.message.payload.starts_with(b"{\"payload\""));
            delivery.ack().await.unwrap();
            n += 1;
        }
        n
    });
    assert_eq!(received, 63);
}
