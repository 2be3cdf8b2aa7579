//! A Light Node against a real Mosquitto: set points published for its PoD are acknowledged
//! (accepted, or rejected with the reason), a message that is not a set point is dead-lettered
//! while the next set point still flows, and the EMS reads the targets back over HTTP
//! (reqwest), over Modbus TCP (tokio-modbus's client) and with pymodbus as an independent
//! client.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use platone_bus::{Bus, Message, MqttBus, QoS, Subscription, TopicFilter};
use platone_model::{DeviceId, MeasurementKind, PodId, SetPoint, Unit};
use platone_sim::lightnode::{LightNode, SetPointBoard, SetPointTopics, serve_http, serve_modbus};
use platone_testkit::Mosquitto;
use serde_json::Value;
use tokio_modbus::client::Reader;

fn set_point(
    id: &str,
    pod: &str,
    unit: Unit,
    watts: f64,
    from: TimeDelta,
    to: TimeDelta,
) -> SetPoint {
    let now = Utc::now().fixed_offset();
    let mut sp = SetPoint::new(
        id,
        DeviceId::new("ln-POD-7").unwrap(),
        MeasurementKind::Power,
        unit,
        watts,
        now + from,
        now + to,
    )
    .unwrap();
    sp.pod = Some(PodId::new(pod).unwrap());
    sp
}

async fn next_json(subscription: &mut Subscription) -> Value {
    let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next_delivery())
        .await
        .expect("an answer within 10 s")
        .expect("the subscription is open");
    let value = serde_json::from_slice(&delivery.message.payload).unwrap();
    delivery.ack().await.unwrap();
    value
}

fn float(words: &[u16]) -> f32 {
    f32::from_bits((u32::from(words[0]) << 16) | u32::from(words[1]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_points_reach_the_ems_over_http_and_modbus() {
    let broker = Mosquitto::start().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(MqttBus::connect(broker.mqtt_config("ln-POD-7")).unwrap());
    let dsotp: Arc<dyn Bus> = Arc::new(MqttBus::connect(broker.mqtt_config("dsotp")).unwrap());
    let mut acks = dsotp
        .subscribe(
            TopicFilter::new("platone/dsotp/setpoints/POD-7/ack").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let mut dead = dsotp
        .subscribe(
            TopicFilter::new("platone/dsotp/dead-letters/lightnode/#").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();

    let pod = PodId::new("POD-7").unwrap();
    let board = Arc::new(Mutex::new(SetPointBoard::new(pod.clone())));
    let node = LightNode {
        device: DeviceId::new("ln-POD-7").unwrap(),
        topics: SetPointTopics::default(),
        board: board.clone(),
    };
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let modbus = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (http_address, modbus_address) = (http.local_addr().unwrap(), modbus.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.changed().await;
    };
    let http_server = tokio::spawn(serve_http(http, board.clone(), until(stopped.clone())));
    let modbus_server = tokio::spawn(serve_modbus(modbus, board.clone(), until(stopped)));
    let running = {
        let bus = bus.clone();
        tokio::spawn(async move { node.run(bus).await })
    };
    let client = reqwest::Client::new();
    let root = format!("http://{http_address}/");
    assert_eq!(
        client.get(&root).send().await.unwrap().status(),
        404,
        "no set point yet"
    );

    let publish = |topic: &str, body: Vec<u8>| {
        let dsotp = dsotp.clone();
        let topic = topic.to_owned();
        async move {
            dsotp
                .publish(Message::new(topic, body), QoS::AtLeastOnce)
                .await
                .unwrap()
        }
    };
    let topic = "platone/dsotp/setpoints/POD-7";
    let to_json = |sp: &SetPoint| serde_json::to_vec(sp).unwrap();
    // Published until the node's subscription takes it (it subscribes as the test starts).
    let now_p = set_point(
        "p-now",
        "POD-7",
        Unit::Watt,
        -2500.0,
        TimeDelta::minutes(-1),
        TimeDelta::minutes(14),
    );
    let ack = loop {
        publish(topic, to_json(&now_p)).await;
        match tokio::time::timeout(Duration::from_millis(500), acks.next_delivery()).await {
            Ok(Some(delivery)) => {
                let ack: Value = serde_json::from_slice(&delivery.message.payload).unwrap();
                delivery.ack().await.unwrap();
                break ack;
            }
            _ => continue,
        }
    };
    assert_eq!(ack["set_point"], "p-now");
    assert_eq!(ack["device"], "ln-POD-7");
    assert_eq!(ack["outcome"], "accepted");
    assert!(ack["at"].as_str().is_some(), "{ack}");

    // Garbage is dead-lettered; the next set points still flow.
    publish(topic, b"{not json".to_vec()).await;
    let letter = next_json(&mut dead).await;
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .starts_with("not a set point"),
        "{letter}"
    );
    assert_eq!(letter["payload"], "{not json");
    let next_p = set_point(
        "p-next",
        "POD-7",
        Unit::Watt,
        1200.0,
        TimeDelta::minutes(14),
        TimeDelta::minutes(29),
    );
    let mut now_q = set_point(
        "q-now",
        "POD-7",
        Unit::Var,
        0.8,
        TimeDelta::minutes(-1),
        TimeDelta::minutes(14),
    );
    now_q.multiplier = platone_model::UnitMultiplier::KILO;
    let elsewhere = set_point(
        "x",
        "POD-8",
        Unit::Watt,
        1.0,
        TimeDelta::zero(),
        TimeDelta::minutes(5),
    );
    for sp in [&next_p, &now_q, &elsewhere] {
        publish(topic, to_json(sp)).await;
    }
    let answers: Vec<Value> = vec![
        next_json(&mut acks).await,
        next_json(&mut acks).await,
        next_json(&mut acks).await,
    ];
    let outcome = |id: &str| {
        answers
            .iter()
            .find(|a| a["set_point"] == id)
            .map(|a| {
                (
                    a["outcome"].as_str().unwrap().to_owned(),
                    a["reason"].clone(),
                )
            })
            .unwrap()
    };
    assert_eq!(outcome("p-next").0, "accepted");
    assert_eq!(outcome("q-now").0, "accepted");
    let (refused, reason) = outcome("x");
    assert_eq!(refused, "rejected");
    assert!(reason.as_str().unwrap().contains("PoD POD-8"), "{reason}");

    // HTTP.
    let targets: Value = client
        .get(&root)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(targets, serde_json::json!({"bspP": -2.5, "bspQ": 0.8}));

    // Modbus, tokio-modbus's client.
    let mut ctx = tokio_modbus::client::tcp::connect(modbus_address)
        .await
        .unwrap();
    let p_now = ctx.read_holding_registers(1000, 2).await.unwrap().unwrap();
    let p_next = ctx.read_holding_registers(1100, 2).await.unwrap().unwrap();
    let q_now = ctx.read_holding_registers(2000, 2).await.unwrap().unwrap();
    let q_next = ctx.read_holding_registers(2100, 2).await.unwrap().unwrap();
    assert_eq!(
        (float(&p_now), float(&p_next), float(&q_now)),
        (-2.5, 1.2, 0.8)
    );
    assert!(float(&q_next).is_nan(), "no next bspQ");
    assert_eq!(
        ctx.read_holding_registers(1002, 1).await.unwrap(),
        Err(tokio_modbus::ExceptionCode::IllegalDataAddress)
    );

    // Modbus, pymodbus as an independent client.
    if let Some(python) = platone_testkit::python("set_points_reach_the_ems_over_http_and_modbus") {
        let script = r#"
import struct, sys
from pymodbus.client import ModbusTcpClient
client = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]))
assert client.connect()
values = []
for address in (1000, 1100, 2000):
    answer = client.read_holding_registers(address, count=2)
    assert not answer.isError(), answer
    values.append(struct.unpack(">f", struct.pack(">HH", *answer.registers))[0])
bad = client.read_holding_registers(1500, count=1)
assert bad.isError() and bad.exception_code == 2, bad
print(" ".join("%.3f" % v for v in values))
"#;
        let out = std::process::Command::new(python)
            .args(["-c", script, &modbus_address.port().to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "-2.500 1.200 0.800"
        );
    }

    running.abort();
    stop.send(true).unwrap();
    http_server.await.unwrap().unwrap();
    modbus_server.await.unwrap().unwrap();
    drop(broker);
}
