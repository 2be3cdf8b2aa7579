//! The dispatcher on the in-memory bus with the simulator's Light Nodes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use platone_bus::{Bus, MemoryBus, Message, QoS, Subscription, TopicFilter};
use platone_market::Direction;
use platone_model::{DeviceId, PodId};
use platone_scd::{AckOutcome, Principal, SqliteStore, Store};
use platone_sim::lightnode::{LightNode, SetPointBoard, SetPointTopics};

use super::*;
use crate::DsotpError;
use crate::topics::DsotpTopics;

fn activation(id: &str, pods: &[&str]) -> Activation {
    let now = platone_certify::now();
    Activation {
        id: id.into(),
        session: "s-1".into(),
        order: "offer-1".into(),
        participant: "agg-1".into(),
        direction: Direction::Up,
        quantity: 6.0,
        unit: PowerUnit::Kw,
        valid_from: now - TimeDelta::minutes(1),
        valid_to: now + TimeDelta::minutes(14),
        issued_by: None,
        pods: pods
            .iter()
            .map(|p| PodShare {
                pod: PodId::new(*p).unwrap(),
                device: DeviceId::new(format!("ln-{p}")).unwrap(),
                share: Some(1.0 / pods.len() as f64),
                quantity: None,
                baseline: None,
            })
            .collect(),
    }
}

/// A Light Node for `pod`, subscribed when this returns.
async fn light_node(
    bus: Arc<dyn Bus>,
    pod: &str,
) -> tokio::task::JoinHandle<platone_sim::Result<()>> {
    let node = LightNode {
        device: DeviceId::new(format!("ln-{pod}")).unwrap(),
        topics: SetPointTopics::default(),
        board: Arc::new(Mutex::new(SetPointBoard::new(PodId::new(pod).unwrap()))),
    };
    node.start(bus).await.unwrap()
}

async fn next_json(sub: &mut Subscription) -> serde_json::Value {
    let d = tokio::time::timeout(Duration::from_secs(5), sub.next_delivery())
        .await
        .unwrap()
        .unwrap();
    serde_json::from_slice(&d.message.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_points_are_acknowledged_retried_reported_and_certified() {
    let dir = tempfile::tempdir().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("scd.db")).await.unwrap());
    let certifier = Arc::new(LedgerCertifier::open(dir.path()).unwrap());
    let config = DispatchConfig {
        ack_timeout_ms: 100,
        backoff: 1.5,
        max_attempts: 3,
        ..DispatchConfig::default()
    };
    let mut reports = bus
        .subscribe(
            TopicFilter::new("platone/dsotp/activations/#").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let mut dead = bus
        .subscribe(
            TopicFilter::new("platone/dsotp/dead-letters/dispatch").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let dispatcher = Dispatcher::start(
        bus.clone(),
        store.clone(),
        certifier.clone(),
        DsotpTopics::default(),
        config,
    )
    .await
    .unwrap();
    let nodes = [
        light_node(bus.clone(), "P1").await,
        light_node(bus.clone(), "P2").await,
    ];

    let a = activation("act-1", &["P1", "P2", "P3"]);
    let first = dispatcher.dispatch(a.clone()).await.unwrap();
    assert_eq!(first.counts.total, 3);
    assert!(first.set_points.iter().all(|s| s.attempts == 1));
    let status = dispatcher
        .wait("act-1", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(status.settled, "{status:#?}");
    assert_eq!((status.counts.accepted, status.counts.undelivered), (2, 1));
    for pod in ["P1", "P2"] {
        let s = status.pod(pod).unwrap();
        assert_eq!(s.status, DeliveryStatus::Accepted);
        assert_eq!(s.ack.as_ref().unwrap().outcome, AckOutcome::Accepted);
        assert_eq!(s.ack.as_ref().unwrap().device.as_str(), format!("ln-{pod}"));
        assert!((s.set_point.value + 2000.0).abs() < 1e-9);
        let proof = s.certification.as_ref().unwrap();
        let json = serde_json::to_value(&s.set_point).unwrap();
        let verified = platone_certify::verify_with_ledger(&json, proof, &**certifier.ledger())
            .await
            .unwrap();
        assert!(verified.is_verified(), "{verified:?}");
        let proof = s.ack_certification.as_ref().unwrap();
        let json = serde_json::to_value(s.ack.as_ref().unwrap()).unwrap();
        let verified = platone_certify::verify_with_ledger(&json, proof, &**certifier.ledger())
            .await
            .unwrap();
        assert!(verified.is_verified(), "{verified:?}");
        let stored = store
            .set_points(&Principal::Operator, &s.pod, a.valid_from, a.valid_to)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].set_point, s.set_point);
        assert_eq!(stored[0].acks.len(), 1);
    }
    let p3 = status.pod("P3").unwrap();
    assert_eq!(p3.status, DeliveryStatus::Undelivered);
    assert_eq!(p3.attempts, 3);
    assert_eq!(
        p3.reason.as_deref(),
        Some("no acknowledgement after 3 attempts")
    );
    assert!(
        p3.certification.is_some(),
        "the set point is certified all the same"
    );
    assert_eq!(status.undelivered(), [&PodId::new("P3").unwrap()]);

    let report = next_json(&mut reports).await;
    assert_eq!(report["activation"]["id"], "act-1");
    assert_eq!(report["counts"]["undelivered"], 1);
    assert_eq!(report["set_points"][2]["status"], "undelivered");

    let summary = dispatcher.activations();
    assert_eq!(summary.len(), 1);
    assert!(summary[0].settled);

    // An unreadable acknowledgement is dead-lettered; so is one for an unknown set point.
    bus.publish(
        Message::new("platone/dsotp/setpoints/P1/ack", "{not json"),
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
    assert_eq!(letter["topic"], "platone/dsotp/setpoints/P1/ack");
    let stray = serde_json::json!({"set_point": "nope", "device": "ln-P1",
        "at": "2026-01-01T00:00:00Z", "outcome": "accepted"});
    bus.publish(
        Message::new("platone/dsotp/setpoints/P1/ack", stray.to_string()),
        QoS::AtLeastOnce,
    )
    .await
    .unwrap();
    let letter = next_json(&mut dead).await;
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .contains("unknown set point nope"),
        "{letter}"
    );
    // Counted once the dead letter's publication returned.
    for _ in 0..100 {
        if dispatcher.listener_status().dead_lettered == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(dispatcher.listener_status().dead_lettered, 2);

    // The same id again is refused; an unknown one is not found; forgotten is gone.
    assert!(matches!(
        dispatcher.dispatch(a).await,
        Err(DsotpError::Invalid { at, .. }) if at == "id"
    ));
    assert!(matches!(
        dispatcher.status("nope"),
        Err(DsotpError::NotFound { .. })
    ));
    dispatcher.forget("act-1").unwrap();
    assert!(dispatcher.activations().is_empty());
    dispatcher.shutdown();
    for n in nodes {
        n.abort();
    }
}

#[tokio::test]
async fn an_invalid_activation_is_refused_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("scd.db")).await.unwrap());
    let certifier = Arc::new(LedgerCertifier::open(dir.path()).unwrap());
    let dispatcher = Dispatcher::start(
        bus,
        store.clone(),
        certifier,
        DsotpTopics::default(),
        DispatchConfig::default(),
    )
    .await
    .unwrap();
    let mut a = activation("act-2", &["P1", "P2"]);
    a.pods[1].share = Some(0.2);
    assert!(matches!(
        dispatcher.dispatch(a.clone()).await,
        Err(DsotpError::Invalid { at, .. }) if at == "pods"
    ));
    let stored = store
        .set_points(
            &Principal::Operator,
            &a.pods[0].pod,
            a.valid_from,
            a.valid_to,
        )
        .await
        .unwrap();
    assert!(stored.is_empty());
    assert!(dispatcher.activations().is_empty());
    let bad = DispatchConfig {
        max_attempts: 0,
        ..DispatchConfig::default()
    };
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let certifier = Arc::new(LedgerCertifier::open(dir.path().join("other")).unwrap());
    assert!(
        Dispatcher::start(bus, store, certifier, DsotpTopics::default(), bad)
            .await
            .is_err()
    );
}

/// The performance goal's shape (10,000 Light Nodes acknowledged within 5 s) on the memory
/// bus, one task answering for every Light Node. Run with
/// `cargo test --release -p platone-dsotp ten_thousand -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a timing smoke test; the benchmark measures it properly"]
async fn ten_thousand_light_nodes() {
    use futures::StreamExt;

    let dir = tempfile::tempdir().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("scd.db")).await.unwrap());
    let certifier = Arc::new(LedgerCertifier::open(dir.path()).unwrap());
    let dispatcher = Dispatcher::start(
        bus.clone(),
        store,
        certifier,
        DsotpTopics::default(),
        DispatchConfig::default(),
    )
    .await
    .unwrap();
    let mut set_points = bus
        .subscribe(
            TopicFilter::new("platone/dsotp/setpoints/+").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let answering = {
        let bus = bus.clone();
        tokio::spawn(async move {
            while let Some(d) = set_points.next().await {
                let sp: platone_model::SetPoint =
                    serde_json::from_slice(&d.message.payload).unwrap();
                let ack = platone_scd::SetPointAck {
                    set_point: sp.id.clone(),
                    device: sp.target.clone(),
                    at: platone_certify::now(),
                    outcome: AckOutcome::Accepted,
                    reason: None,
                };
                let topic = format!("{}/ack", d.message.topic);
                bus.publish(
                    Message::new(topic, serde_json::to_vec(&ack).unwrap()),
                    QoS::AtLeastOnce,
                )
                .await
                .unwrap();
            }
        })
    };
    let pods: Vec<String> = (0..10_000).map(|i| format!("P{i:05}")).collect();
    let names: Vec<&str> = pods.iter().map(String::as_str).collect();
    let a = activation("big", &names);
    let started = std::time::Instant::now();
    dispatcher.dispatch(a).await.unwrap();
    let published = started.elapsed();
    let status = dispatcher
        .wait("big", Duration::from_secs(120))
        .await
        .unwrap();
    println!(
        "10,000 set points: published in {published:?}, all acknowledged and certified in {:?}",
        started.elapsed()
    );
    assert!(status.settled);
    assert_eq!(status.counts.accepted, 10_000);
    answering.abort();
}

/// The dispatcher's futures can be spawned and served by axum handlers.
#[test]
fn futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn check(d: &Dispatcher, a: Activation) {
        send(&d.dispatch(a));
        send(&d.wait("x", Duration::ZERO));
    }
    let _ = check;
    fn shared<T: Send + Sync>() {}
    shared::<Dispatcher>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_settled_activations_are_forgotten_beyond_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("scd.db")).await.unwrap());
    let certifier = Arc::new(LedgerCertifier::open(dir.path()).unwrap());
    let config = DispatchConfig {
        keep_activations: 2,
        ..DispatchConfig::default()
    };
    let dispatcher = Dispatcher::start(
        bus.clone(),
        store,
        certifier,
        DsotpTopics::default(),
        config,
    )
    .await
    .unwrap();
    let _node = light_node(bus.clone(), "P1").await;
    for n in 1..=3 {
        let id = format!("act-{n}");
        dispatcher.dispatch(activation(&id, &["P1"])).await.unwrap();
        let status = dispatcher.wait(&id, Duration::from_secs(10)).await.unwrap();
        assert!(status.settled, "{status:?}");
        // The final report goes out just after settling.
        tokio::time::timeout(Duration::from_secs(10), async {
            while dispatcher.activations().len() > 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
    }
    let kept: Vec<String> = dispatcher.activations().into_iter().map(|a| a.id).collect();
    assert_eq!(kept, ["act-2", "act-3"]);
    assert!(matches!(
        dispatcher.status("act-1"),
        Err(DsotpError::NotFound { .. })
    ));
}
