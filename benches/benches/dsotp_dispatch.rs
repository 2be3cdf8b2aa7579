//! platone-dsotp: set-point dispatch to 10,000 Light Nodes on Mosquitto. One activation split
//! over 10,000 PoDs is dispatched (each set point stored in the SQLite SCD, certified, published
//! on `platone/dsotp/setpoints/{pod}` at QoS 1) to 10,000 `platone_sim::lightnode::LightNode`s,
//! each with its own subscription, which acknowledge on `…/{pod}/ack`; the dispatcher stores and
//! certifies every acknowledgement. One iteration is one activation, from `dispatch` until
//! `wait` reports it settled (every set point acknowledged, stored and certified). The goal is
//! at most 5 s.
//!
//! The Light Nodes share `PLATONE_BENCH_LN_CONNECTIONS` MQTT connections (default 100, each
//! carrying 100 Light Nodes' subscriptions); `=10000` gives every Light Node its own
//! connection (and client id), as in the field. Needs mosquitto (`apt-get install mosquitto`);
//! skipped without it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use criterion::{Criterion, criterion_group, criterion_main};
use platone_bus::{Bus, MqttBus};
use platone_dsotp::DsotpTopics;
use platone_dsotp::dispatch::{
    Activation, DispatchConfig, Dispatcher, LedgerCertifier, PodShare, PowerUnit,
};
use platone_market::Direction;
use platone_model::{DeviceId, PodId};
use platone_scd::SqliteStore;
use platone_sim::lightnode::{LightNode, SetPointBoard, SetPointTopics};
use platone_testkit::{Mosquitto, MosquittoOptions};

const NODES: usize = 10_000;

fn pod(i: usize) -> String {
    format!("POD-{i:05}")
}

fn activation(id: &str) -> Activation {
    let now = platone_certify::now();
    Activation {
        id: id.into(),
        session: "s-bench".into(),
        order: "offer-bench".into(),
        participant: "agg-1".into(),
        direction: Direction::Up,
        quantity: NODES as f64,
        unit: PowerUnit::Kw,
        valid_from: now - TimeDelta::minutes(1),
        valid_to: now + TimeDelta::minutes(14),
        issued_by: None,
        pods: (0..NODES)
            .map(|i| PodShare {
                pod: PodId::new(pod(i)).expect("pod"),
                device: DeviceId::new(format!("ln-{}", pod(i))).expect("device"),
                share: Some(1.0 / NODES as f64),
                quantity: None,
                baseline: None,
            })
            .collect(),
    }
}

fn dispatch(c: &mut Criterion) {
    let broker = match Mosquitto::start_with(MosquittoOptions {
        persistence: false,
        max_inflight: Some(1000),
        max_queued: Some(1_000_000),
        extra_config: String::new(),
    }) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let connections: usize = std::env::var("PLATONE_BENCH_LN_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .clamp(1, NODES);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let (dispatcher, nodes) = runtime.block_on(async {
        // The Light Nodes: `connections` MQTT clients, node i on client i % connections.
        let buses: Vec<Arc<dyn Bus>> = (0..connections)
            .map(|k| {
                let bus: Arc<dyn Bus> = Arc::new(
                    MqttBus::connect(broker.mqtt_config(&format!("ln-bench-{k}")))
                        .expect("connect"),
                );
                bus
            })
            .collect();
        let nodes: Vec<_> = (0..NODES)
            .map(|i| {
                let node = LightNode {
                    device: DeviceId::new(format!("ln-{}", pod(i))).expect("device"),
                    topics: SetPointTopics::default(),
                    board: Arc::new(Mutex::new(SetPointBoard::new(
                        PodId::new(pod(i)).expect("pod"),
                    ))),
                };
                let bus = buses[i % connections].clone();
                tokio::spawn(async move {
                    let _ = node.run(bus).await;
                })
            })
            .collect();
        let store = SqliteStore::open(dir.path().join("scd.db"))
            .await
            .expect("store");
        let certifier = Arc::new(LedgerCertifier::open(dir.path()).expect("certifier"));
        let bus: Arc<dyn Bus> =
            Arc::new(MqttBus::connect(broker.mqtt_config("dsotp-bench")).expect("connect"));
        let dispatcher = Dispatcher::start(
            bus,
            Arc::new(store),
            certifier,
            DsotpTopics::default(),
            DispatchConfig::default(),
        )
        .await
        .expect("dispatcher");
        // Every Light Node subscribed: a first activation all of them acknowledge (set points
        // published before a node subscribed are retried).
        let started = Instant::now();
        dispatcher
            .dispatch(activation("warm-up"))
            .await
            .expect("dispatch");
        let status = dispatcher
            .wait("warm-up", Duration::from_secs(300))
            .await
            .expect("wait");
        assert!(status.settled, "the warm-up activation did not settle");
        assert_eq!(status.counts.accepted, NODES, "{:?}", status.counts);
        eprintln!(
            "{NODES} Light Nodes on {connections} connections; the first activation settled in \
             {:.2} s",
            started.elapsed().as_secs_f64()
        );
        (dispatcher, nodes)
    });

    let mut group = c.benchmark_group("dsotp/dispatch");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    let mut next = 0u64;
    let mut published = Duration::ZERO;
    let mut runs = 0u32;
    group.bench_function(
        format!("10000 set points → 10000 Light Nodes ({connections} MQTT connections) → acknowledged, stored, certified"),
        |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        next += 1;
                        let id = format!("bench-{next}");
                        let started = Instant::now();
                        dispatcher.dispatch(activation(&id)).await.expect("dispatch");
                        published += started.elapsed();
                        let status = dispatcher
                            .wait(&id, Duration::from_secs(120))
                            .await
                            .expect("wait");
                        total += started.elapsed();
                        runs += 1;
                        assert!(status.settled, "{id} did not settle");
                        assert_eq!(status.counts.accepted, NODES, "{:?}", status.counts);
                    }
                    total
                })
            })
        },
    );
    group.finish();
    eprintln!(
        "{runs} activations; publishing all set points took {:.2} s of each on average",
        published.as_secs_f64() / f64::from(runs.max(1))
    );
    for n in nodes {
        n.abort();
    }
    drop(dispatcher);
    drop(broker);
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
