//! The DSOTP's databus services against a real broker (Mosquitto) and the in-memory bus: the
//! power calculation against known phasor values, storage and read-back of everything on the
//! bus, the state estimator's output against `platone-grid` called directly, and the REST API.

mod common;

use std::sync::Arc;
use std::time::Duration;

use platone_bus::{Bus, MemoryBus, Message, MqttBus, QoS, Subscription, TopicFilter};
use platone_dsotp::estimation::EstimatorConfig;
use platone_dsotp::message::DeviceMeasurements;
use platone_dsotp::{Dsotp, DsotpConfig, DsotpEngines, DsotpParts, DsotpServer, DsotpTopics};
use platone_grid::{EstimationOptions, Network, PowerFlowOptions, run_ac};
use platone_model::PhaseSet;
use platone_scd::{Principal, SqliteStore, Store};
use platone_service::{Identity, StaticTokens};
use platone_sim::grid_field::GridPmus;
use platone_testkit::Mosquitto;
use serde_json::Value;

use common::Api;

async fn next_message(subscription: &mut Subscription) -> Message {
    let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next_delivery())
        .await
        .expect("a message within 10 s")
        .expect("the subscription is open");
    let message = delivery.message.clone();
    delivery.ack().await.unwrap();
    message
}

async fn store_in(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(dir.path().join("dsotp.db"))
            .await
            .unwrap(),
    )
}

fn pmu_message(device: &str, time: &str, phases: &[(&str, f64, f64, f64, f64)]) -> String {
    let readings: Vec<String> = phases
        .iter()
        .flat_map(|(p, vm, va, im, ia)| {
            [
                ("voltmagnitude", vm),
                ("voltangle", va),
                ("currmagnitude", im),
                ("currangle", ia),
            ]
            .map(|(m, d)| {
                format!(r#"{{"component":"BUS-1","measurand":"{m}","phase":"{p}","data":{d}}}"#)
            })
        })
        .collect();
    format!(
        r#"{{"device":"{device}","timestamp":"{time}","readings":[{}]}}"#,
        readings.join(",")
    )
}

fn case14() -> Option<Network> {
    let dir = platone_testkit::reference_dir("dsotp services (IEEE 14-bus case)")?;
    let bytes = std::fs::read(dir.join("grid/pglib_opf_case14_ieee.m")).unwrap();
    Some(platone_grid::parse_case_bytes(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_is_calculated_stored_and_bad_messages_are_dead_lettered_on_mosquitto() {
    let broker = Mosquitto::start().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(MqttBus::connect(broker.mqtt_config("dsotp")).unwrap());
    let field: Arc<dyn Bus> = Arc::new(MqttBus::connect(broker.mqtt_config("field")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let dsotp = Dsotp::start(DsotpParts {
        bus: bus.clone(),
        store: store.clone(),
        topics: DsotpTopics::default(),
        estimator: None,
        validation: None,
        dispatch: None,
    })
    .await
    .unwrap();
    let mut power = field
        .subscribe(
            TopicFilter::new("platone/dsotp/power/#").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let mut dead = field
        .subscribe(
            TopicFilter::new("platone/dsotp/dead-letters/#").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();

    // Known phasors: 230 V, 10 A lagging 30° on each phase of a balanced set.
    let lag = std::f64::consts::PI / 6.0;
    let third = 2.0 * std::f64::consts::PI / 3.0;
    let good = pmu_message(
        "pmu-1",
        "2024-03-01T12:00:00Z",
        &[
            ("A", 230.0, 0.0, 10.0, -lag),
            ("B", 230.0, -third, 10.0, -third - lag),
            ("C", 230.0, third, 10.0, third - lag),
        ],
    );
    let topic = "platone/dsotp/devices/pmu-1/pmu";
    field
        .publish(Message::new(topic, "{not json"), QoS::AtLeastOnce)
        .await
        .unwrap();
    field
        .publish(Message::new(topic, good.clone()), QoS::AtLeastOnce)
        .await
        .unwrap();

    let letter: Value = serde_json::from_slice(&next_message(&mut dead).await.payload).unwrap();
    assert_eq!(letter["topic"], topic);
    assert!(letter["reason"].as_str().unwrap().contains("line 1"));

    let enriched = next_message(&mut power).await;
    assert_eq!(enriched.topic, "platone/dsotp/power/pmu-1");
    let enriched = DeviceMeasurements::from_json(&enriched.payload).unwrap();
    assert_eq!(enriched.measurements.len(), 12 + 16);
    let find = |channel: &str, phases: PhaseSet| {
        enriched
            .measurements
            .iter()
            .find(|m| m.channel.as_deref() == Some(channel) && m.phases == phases)
            .unwrap()
    };
    let p = 2300.0 * lag.cos();
    assert!((find("P", PhaseSet::B).value - p).abs() < 1e-6);
    assert!((find("Q", PhaseSet::C).value - 1150.0).abs() < 1e-6);
    assert!((find("3P:P", PhaseSet::ABC).value - 3.0 * p).abs() < 1e-6);
    assert!((find("3P:S", PhaseSet::ABC).value - 6900.0).abs() < 1e-6);
    assert!((find("3P:PF", PhaseSet::ABC).value - lag.cos()).abs() < 1e-9);

    // Stored: the PMU's 12 readings and the 16 power values (the input readings come on
    // both topics; the second copy is a duplicate).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stored = dsotp.health().stored;
        if stored.inserted == 28 && stored.duplicates == 12 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "stored {stored:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = dsotp.health();
    assert_eq!(health.status, "ok");
    assert_eq!(health.power.dead_lettered, 1);
    let query = platone_dsotp::timeseries::SeriesQuery {
        device: Some("pmu-1".into()),
        kind: Some("power_factor".into()),
        ..Default::default()
    };
    let answer = serde_json::to_value(
        query
            .run(store.as_ref(), &Principal::Operator)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["items"].as_array().unwrap().len(), 4);
    dsotp.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downsampled_series_read_back_by_range() {
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let dsotp = Dsotp::start(DsotpParts {
        bus: bus.clone(),
        store: store.clone(),
        topics: DsotpTopics::default(),
        estimator: None,
        validation: None,
        dispatch: None,
    })
    .await
    .unwrap();
    // 60 messages one second apart, values 0..59.
    for s in 0..60 {
        let body = format!(
            r#"{{"device":"mtr-1","measurements":[{{"source":"mtr-1","timestamp":"2024-03-01T12:00:{s:02}Z","kind":"power","unit":"W","value":{s}}}]}}"#
        );
        bus.publish(
            Message::new("platone/dsotp/devices/mtr-1/cim", body),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while dsotp.health().stored.inserted < 60 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let query = platone_dsotp::timeseries::SeriesQuery {
        device: Some("mtr-1".into()),
        from: Some("2024-03-01T12:00:10Z".into()),
        to: Some("2024-03-01T12:00:40Z".into()),
        every: Some(10),
        ..Default::default()
    };
    let answer = serde_json::to_value(
        query
            .run(store.as_ref(), &Principal::Operator)
            .await
            .unwrap(),
    )
    .unwrap();
    let intervals = answer["intervals"].as_array().unwrap();
    // (start, end] intervals: 10 alone, 11..=20, 21..=30, 31..=39.
    let counts: Vec<u64> = intervals
        .iter()
        .map(|i| i["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [1, 10, 10, 9]);
    assert_eq!(intervals[1]["mean"], 15.5);
    let bad = platone_dsotp::timeseries::SeriesQuery {
        every: Some(0),
        ..Default::default()
    };
    let e = bad
        .run(store.as_ref(), &Principal::Operator)
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("every:"), "{e}");
    let unbounded = platone_dsotp::timeseries::SeriesQuery {
        every: Some(10),
        from: Some("2024-03-01T12:00:00Z".into()),
        ..Default::default()
    };
    let e = unbounded
        .run(store.as_ref(), &Principal::Operator)
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("to:"), "{e}");
    dsotp.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_estimator_service_matches_platone_grid_and_publishes_sogno_states() {
    let Some(net) = case14() else { return };
    let flow = run_ac(&net, &PowerFlowOptions::default()).unwrap();
    let pmus = GridPmus::new(&net);
    let map = pmus.measurement_map(0.001, 0.01);
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let dir = tempfile::tempdir().unwrap();
    let mut config = EstimatorConfig::new(net.clone());
    config.map = map.clone();
    let dsotp = Dsotp::start(DsotpParts {
        bus: bus.clone(),
        store: store_in(&dir).await,
        topics: DsotpTopics::default(),
        estimator: Some(config),
        validation: None,
        dispatch: None,
    })
    .await
    .unwrap();
    let mut states = bus
        .subscribe(
            TopicFilter::new("platone/dsotp/estimates/+").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let now = chrono::Utc::now().fixed_offset();
    let messages = pmus.messages(&flow, now, 0.0, 1);
    let mut all = Vec::new();
    for m in &messages {
        bus.publish(
            Message::new(
                format!("platone/dsotp/devices/{}/pmu", m.device),
                m.to_json(),
            ),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
        all.extend(m.to_measurements().unwrap());
    }
    // Every route has its value once the power service's output has been observed.
    let estimator = dsotp.estimator().unwrap().clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while estimator.status().series < map.routes.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            estimator.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let estimation = estimator.trigger(None).await.unwrap();
    assert!(estimation.converged, "{:?}", estimation.error);
    assert_eq!(estimation.measurement_count, map.routes.len());

    // platone-grid directly, on the same platform measurements and map.
    all.extend(platone_dsotp::power::power_measurements(&all));
    let direct_set = map.map(&all).measurements;
    let direct = platone_grid::estimate(&net, &direct_set, &EstimationOptions::default()).unwrap();
    for (a, b) in estimation.buses.iter().zip(&direct.buses) {
        assert_eq!(a.bus, b.bus);
        assert!(
            (a.vm - b.vm).abs() < 1e-9,
            "bus {}: {} vs {}",
            a.bus,
            a.vm,
            b.vm
        );
        assert!(
            (a.va - b.va).abs() < 1e-7,
            "bus {}: {} vs {}",
            a.bus,
            a.va,
            b.va
        );
    }
    // And the estimate is the power flow's state.
    for (a, b) in estimation.buses.iter().zip(&flow.buses) {
        assert!((a.vm - b.vm).abs() < 1e-6);
        assert!((a.va - b.va).abs() < 1e-4);
    }
    assert!(estimation.residuals.iter().all(|r| r.weighted.abs() < 1e-3));

    // One SOGNO message per node.
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < net.buses.len() {
        let message = next_message(&mut states).await;
        let state: Value = serde_json::from_slice(&message.payload).unwrap();
        let component = state["component"].as_str().unwrap().to_owned();
        assert_eq!(
            message.topic,
            format!("platone/dsotp/estimates/{component}")
        );
        let readings = state["readings"].as_array().unwrap();
        assert_eq!(readings.len(), 6);
        assert_eq!(readings[0]["measurand"], "voltmagnitude");
        assert_eq!(readings[1]["measurand"], "voltangle");
        seen.insert(component);
    }
    assert!(seen.contains("BUS14"));
    dsotp.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimations_over_rest_on_given_measurements() {
    let Some(net) = case14() else { return };
    let flow = run_ac(&net, &PowerFlowOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut tokens = StaticTokens::new();
    tokens.insert("dso-token", Identity::new("dso-1", ["dso".to_owned()]));
    tokens.insert(
        "agg-token",
        Identity::new("agg-1", ["aggregator".to_owned()]),
    );
    let config = DsotpConfig::from_toml(&format!(
        "data = {:?}\nhttp = \"127.0.0.1:0\"\n[estimation]\nperiod_ms = 0\n[api]\ninsecure_http = true\n",
        dir.path()
    ))
    .unwrap();
    let mut engines = DsotpEngines::on_bus(Arc::new(MemoryBus::new()));
    engines.network = Some(net.clone());
    engines.static_tokens = tokens;
    let server = DsotpServer::start(config, engines).await.unwrap();
    let dso = Api::new(server.api_url(), "dso-token");

    // Voltage magnitudes and angles at every bus, injections where there is load.
    let mut measurements = Vec::new();
    for b in &flow.buses {
        measurements
            .push(serde_json::json!({"kind": "vm", "bus": b.bus, "value": b.vm, "sigma": 0.001}));
        measurements
            .push(serde_json::json!({"kind": "va", "bus": b.bus, "value": b.va, "sigma": 0.01}));
        measurements
            .push(serde_json::json!({"kind": "p", "bus": b.bus, "value": b.p, "sigma": 0.01}));
        measurements
            .push(serde_json::json!({"kind": "q", "bus": b.bus, "value": b.q, "sigma": 0.01}));
    }
    let document =
        serde_json::json!({"format": "platone-grid-measurements/1", "measurements": measurements});
    let body = serde_json::json!({"measurements": document});
    let (status, _) = dso
        .as_caller("agg-token")
        .post("/api/estimations", &body)
        .await;
    assert_eq!(status, 403);
    let (status, created) = dso.post("/api/estimations", &body).await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let (_, estimation) = dso.get(&format!("/api/estimations/{id}")).await;
    let given =
        platone_grid::parse_measurement_file(&serde_json::to_vec(&document).unwrap()).unwrap();
    let direct = platone_grid::estimate(&net, &given, &EstimationOptions::default()).unwrap();
    assert_eq!(
        estimation["buses"],
        serde_json::to_value(&direct.buses).unwrap(),
        "the same buses array as `platone grid se`"
    );
    assert_eq!(estimation["given"], true);

    let (_, list) = dso.get("/api/estimations").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let bad = serde_json::json!({"measurements": {"format": "platone-grid-measurements/1",
        "measurements": [{"kind": "vx", "bus": 1, "value": 1.0, "sigma": 0.1}]}});
    let (status, problem) = dso.post("/api/estimations", &bad).await;
    assert_eq!(status, 400);
    assert_eq!(problem["at"], "measurements");
    assert_eq!(dso.get("/api/estimations/se-99").await.0, 404);
    let (_, health) = dso.as_caller("").get("/health").await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["estimation"]["estimations"], 1);
    let (_, grid) = dso.get("/api/grid").await;
    assert_eq!(grid["buses"].as_array().unwrap().len(), 14);
    server.shutdown().await.unwrap();
}
