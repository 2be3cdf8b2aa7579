//! Activation and set-point dispatch against a real Mosquitto and the simulator's Light Nodes:
//! an activation split over three PoDs is acknowledged by each Light Node, stored in the SCD
//! and certified, and its targets are read back over each Light Node's HTTP and Modbus
//! interfaces; a PoD without a Light Node ends undelivered (and reported), one whose Light
//! Node starts late gets its set point by a retry, and a malformed acknowledgement is
//! dead-lettered while the others flow.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use platone_bus::{Bus, Message, MqttBus, QoS, Subscription, TopicFilter};
use platone_dsotp::DsotpTopics;
use platone_dsotp::dispatch::{
    Activation, DeliveryStatus, DispatchConfig, Dispatcher, LedgerCertifier, PodShare, PowerUnit,
};
use platone_market::Direction;
use platone_model::{DeviceId, PodId};
use platone_scd::{AckOutcome, Principal, SqliteStore, Store};
use platone_sim::lightnode::{LightNode, SetPointBoard, SetPointTopics, serve_http, serve_modbus};
use platone_testkit::Mosquitto;
use serde_json::Value;
use tokio::sync::watch;
use tokio_modbus::client::Reader;

/// A running Light Node: its bus, its EMS interfaces' addresses, and its tasks.
struct Node {
    http: SocketAddr,
    modbus: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts the Light Node of `pod` (device `ln-{pod}`) on its own MQTT connection, with its
/// HTTP and Modbus interfaces on free ports.
async fn start_node(broker: &Mosquitto, pod: &str, stop: &watch::Receiver<bool>) -> Node {
    let device = format!("ln-{pod}");
    let bus: Arc<dyn Bus> = Arc::new(MqttBus::connect(broker.mqtt_config(&device)).unwrap());
    let board = Arc::new(Mutex::new(SetPointBoard::new(PodId::new(pod).unwrap())));
    let node = LightNode {
        device: DeviceId::new(device).unwrap(),
        topics: SetPointTopics::default(),
        board: board.clone(),
    };
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let modbus = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (http_address, modbus_address) = (http.local_addr().unwrap(), modbus.local_addr().unwrap());
    let until = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.changed().await;
    };
    let tasks = vec![
        // Subscribed before the node is handed back: nothing published after is missed.
        {
            let answering = node.start(bus).await.unwrap();
            tokio::spawn(async move {
                let _ = answering.await;
            })
        },
        tokio::spawn({
            let s = serve_http(http, board.clone(), until(stop.clone()));
            async move {
                let _ = s.await;
            }
        }),
        tokio::spawn({
            let s = serve_modbus(modbus, board, until(stop.clone()));
            async move {
                let _ = s.await;
            }
        }),
    ];
    Node {
        http: http_address,
        modbus: modbus_address,
        tasks,
    }
}

fn activation(id: &str, pods: &[(&str, f64)]) -> Activation {
    let now = platone_certify::now();
    Activation {
        id: id.into(),
        session: "s-2026-12-07".into(),
        order: "offer-17".into(),
        participant: "agg-1".into(),
        direction: Direction::Up,
        quantity: pods.iter().map(|(_, q)| q).sum(),
        unit: PowerUnit::Kw,
        valid_from: now - TimeDelta::minutes(1),
        valid_to: now + TimeDelta::minutes(14),
        issued_by: Some(platone_model::ParticipantId::new("dso-1").unwrap()),
        pods: pods
            .iter()
            .map(|(pod, quantity)| PodShare {
                pod: PodId::new(*pod).unwrap(),
                device: DeviceId::new(format!("ln-{pod}")).unwrap(),
                share: None,
                quantity: Some(*quantity),
                baseline: None,
            })
            .collect(),
    }
}

async fn next_json(subscription: &mut Subscription) -> Value {
    let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next_delivery())
        .await
        .expect("a message within 10 s")
        .expect("the subscription is open");
    let value = serde_json::from_slice(&delivery.message.payload).unwrap();
    delivery.ack().await.unwrap();
    value
}

fn float(words: &[u16]) -> f32 {
    f32::from_bits((u32::from(words[0]) << 16) | u32::from(words[1]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activations_reach_light_nodes_and_come_back_acknowledged_stored_and_certified() {
    let broker = Mosquitto::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(data.path().join("scd.db")).await.unwrap());
    let certifier = Arc::new(LedgerCertifier::open(data.path()).unwrap());
    let bus: Arc<dyn Bus> = Arc::new(MqttBus::connect(broker.mqtt_config("dsotp")).unwrap());
    let observer: Arc<dyn Bus> =
        Arc::new(MqttBus::connect(broker.mqtt_config("observer")).unwrap());
    let mut reports = observer
        .subscribe(
            TopicFilter::new("platone/dsotp/activations/+").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let mut dead = observer
        .subscribe(
            TopicFilter::new("platone/dsotp/dead-letters/dispatch").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let config = DispatchConfig {
        ack_timeout_ms: 300,
        backoff: 1.5,
        max_attempts: 4,
        ..DispatchConfig::default()
    };
    let dispatcher = Dispatcher::start(
        bus,
        store.clone(),
        certifier.clone(),
        DsotpTopics::default(),
        config,
    )
    .await
    .unwrap();
    let (stop, stopped) = watch::channel(false);
    let nodes = [
        start_node(&broker, "POD-1", &stopped).await,
        start_node(&broker, "POD-2", &stopped).await,
        start_node(&broker, "POD-3", &stopped).await,
    ];

    // Three PoDs, three Light Nodes: all accepted.
    let a = activation("act-1", &[("POD-1", 2.0), ("POD-2", 3.0), ("POD-3", 4.0)]);
    let sent = dispatcher.dispatch(a.clone()).await.unwrap();
    assert_eq!(sent.counts.total, 3);
    assert_eq!(
        sent.counts.pending, 0,
        "every set point published: {sent:#?}"
    );
    let status = dispatcher
        .wait("act-1", Duration::from_secs(15))
        .await
        .unwrap();
    assert!(status.settled, "{status:#?}");
    assert_eq!(status.counts.accepted, 3, "{status:#?}");
    let expected_kw = [-2.0, -3.0, -4.0];
    for ((node, pod), kw) in nodes
        .iter()
        .zip(["POD-1", "POD-2", "POD-3"])
        .zip(expected_kw)
    {
        let s = status.pod(pod).unwrap();
        assert_eq!(s.status, DeliveryStatus::Accepted);
        assert_eq!(s.set_point.id, format!("act-1/{pod}"));
        assert_eq!(s.set_point.value, kw * 1000.0);
        let ack = s.ack.as_ref().unwrap();
        assert_eq!(ack.device.as_str(), format!("ln-{pod}"));
        assert_eq!(ack.outcome, AckOutcome::Accepted);

        // Stored in the SCD, with the acknowledgement.
        let stored = store
            .set_points(&Principal::Operator, &s.pod, a.valid_from, a.valid_to)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].set_point, s.set_point);
        assert!(stored[0].acks.contains(ack), "{stored:?}");

        // Certified: both proofs verify against the ledger.
        for (json, proof) in [
            (
                serde_json::to_value(&s.set_point).unwrap(),
                &s.certification,
            ),
            (serde_json::to_value(ack).unwrap(), &s.ack_certification),
        ] {
            let proof = proof.as_ref().expect("a certification reference");
            assert!(
                proof.anchor.anchor().is_some(),
                "anchored on the file ledger"
            );
            let verified = platone_certify::verify_with_ledger(&json, proof, &**certifier.ledger())
                .await
                .unwrap();
            assert!(verified.is_verified(), "{verified:?}");
        }

        // The target, read back from the Light Node's EMS interfaces.
        let targets: Value = reqwest::get(format!("http://{}/", node.http))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(targets, serde_json::json!({"bspP": kw, "bspQ": null}));
        let mut ctx = tokio_modbus::client::tcp::connect(node.modbus)
            .await
            .unwrap();
        let p_now = ctx.read_holding_registers(1000, 2).await.unwrap().unwrap();
        let p_next = ctx.read_holding_registers(1100, 2).await.unwrap().unwrap();
        let q_now = ctx.read_holding_registers(2000, 2).await.unwrap().unwrap();
        let q_next = ctx.read_holding_registers(2100, 2).await.unwrap().unwrap();
        assert_eq!(f64::from(float(&p_now)), kw);
        assert!(float(&p_next).is_nan() && float(&q_now).is_nan() && float(&q_next).is_nan());
    }
    let report = next_json(&mut reports).await;
    assert_eq!(report["activation"]["id"], "act-1");
    assert_eq!(report["counts"]["accepted"], 3);

    // A PoD whose Light Node starts after the first attempt gets its set point by a retry; a
    // PoD without one ends undelivered after every attempt, and is reported.
    let b = activation("act-2", &[("POD-4", 1.0), ("POD-5", 1.5)]);
    let sent = dispatcher.dispatch(b).await.unwrap();
    assert!(sent.set_points.iter().all(|s| s.attempts == 1));
    let late = start_node(&broker, "POD-4", &stopped).await;
    let status = dispatcher
        .wait("act-2", Duration::from_secs(20))
        .await
        .unwrap();
    assert!(status.settled, "{status:#?}");
    let p4 = status.pod("POD-4").unwrap();
    assert_eq!(p4.status, DeliveryStatus::Accepted, "{p4:#?}");
    assert!(p4.attempts >= 2, "taken on a retry: {p4:#?}");
    assert!(p4.ack_certification.is_some());
    let p5 = status.pod("POD-5").unwrap();
    assert_eq!(p5.status, DeliveryStatus::Undelivered);
    assert_eq!(p5.attempts, 4);
    assert_eq!(
        p5.reason.as_deref(),
        Some("no acknowledgement after 4 attempts")
    );
    assert!(p5.ack.is_none() && p5.certification.is_some());
    let report = next_json(&mut reports).await;
    assert_eq!(report["activation"]["id"], "act-2");
    assert_eq!(report["counts"]["undelivered"], 1);
    assert_eq!(report["counts"]["accepted"], 1);
    let undelivered: Vec<&Value> = report["set_points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "undelivered")
        .collect();
    assert_eq!(undelivered.len(), 1);
    assert_eq!(undelivered[0]["pod"], "POD-5");
    let targets: Value = reqwest::get(format!("http://{}/", late.http))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(targets["bspP"], -1.0);

    // A malformed acknowledgement is dead-lettered; the next one still flows.
    observer
        .publish(
            Message::new("platone/dsotp/setpoints/POD-1/ack", "{\"set_point\": 7"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let letter = next_json(&mut dead).await;
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .starts_with("not a set-point acknowledgement"),
        "{letter}"
    );
    assert_eq!(letter["topic"], "platone/dsotp/setpoints/POD-1/ack");
    let c = activation("act-3", &[("POD-1", 0.5)]);
    dispatcher.dispatch(c).await.unwrap();
    let status = dispatcher
        .wait("act-3", Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(status.counts.accepted, 1, "{status:#?}");
    assert_eq!(dispatcher.listener_status().dead_lettered, 1);
    assert_eq!(dispatcher.activations().len(), 3);

    dispatcher.shutdown();
    stop.send(true).unwrap();
    drop(late);
    drop(nodes);
    drop(broker);
}
