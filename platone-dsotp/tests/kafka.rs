//! The DSOTP's services on Kafka (librdkafka's mock cluster: the real Kafka protocol over
//! TCP): every service reads every message although the filters share Kafka topics (each
//! subscribes in a consumer group of its own), PMU power is calculated and stored, and the
//! Market Platform's validation request is answered.
#![cfg(feature = "kafka")]

use std::sync::Arc;
use std::time::Duration;

use platone_bus::rdkafka::mocking::MockCluster;
use platone_bus::{Bus, KafkaBus, KafkaConfig, Message, Publisher, QoS, Subscriber, TopicFilter};
use platone_dsotp::estimation::EstimatorConfig;
use platone_dsotp::message::DeviceMeasurements;
use platone_dsotp::validation::AcValidatorConfig;
use platone_dsotp::{Dsotp, DsotpParts, DsotpTopics};
use platone_market::validation::{ValidationRequest, ValidationResponse};
use platone_scd::SqliteStore;

const WAIT: Duration = Duration::from_secs(30);

/// Two buses on a 20 kV line; load at bus 2.
const CASE: &str = "mpc.baseMVA = 10;
mpc.bus = [1 3 0 0 0 0 1 1 0 20 1 1.1 0.9; 2 1 0.5 0.1 0 0 1 1 0 20 1 1.05 0.95];
mpc.gen = [1 0 0 100 -100 1.0 100 1 200 0];
mpc.branch = [1 2 0.05 0.05 0 0 0 0 0 0 1 -360 360];";

fn kafka(servers: &str, group: &str) -> Arc<KafkaBus> {
    let mut c = KafkaConfig::new(servers, group);
    c.delivery_timeout = Duration::from_secs(20);
    Arc::new(KafkaBus::connect(c).unwrap())
}

#[test]
fn power_storage_and_validation_over_kafka() {
    let mock = MockCluster::new(1).unwrap();
    for topic in ["platone.dsotp", "platone.market"] {
        mock.create_topic(topic, 1, 1).unwrap();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(services(mock.bootstrap_servers()));
    // Consumers close as their tasks end with the runtime, while the cluster still runs.
    runtime.shutdown_timeout(WAIT);
    drop(mock);
}

async fn services(servers: String) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("dsotp.db"))
        .await
        .unwrap();
    let bus: Arc<dyn Bus> = kafka(&servers, "dsotp");
    let dsotp = Dsotp::start(DsotpParts {
        bus,
        store: Arc::new(store),
        topics: DsotpTopics::default(),
        estimator: Some(EstimatorConfig::new(
            platone_grid::parse_case(CASE).unwrap(),
        )),
        validation: Some(AcValidatorConfig::default()),
        dispatch: None,
    })
    .await
    .unwrap();
    let field = kafka(&servers, "field");
    let mut power = field
        .subscribe(
            TopicFilter::new("platone/dsotp/power/#").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let market = kafka(&servers, "market");
    let mut answers = market
        .subscribe(
            TopicFilter::new("platone/market/validation/responses").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();

    let lag = std::f64::consts::PI / 6.0;
    let pmu = format!(
        r#"{{"device":"pmu-1","timestamp":"2024-03-01T12:00:00Z","readings":[
        {{"component":"BUS2","measurand":"voltmagnitude","phase":"A","data":230.0}},
        {{"component":"BUS2","measurand":"voltangle","phase":"A","data":0.0}},
        {{"component":"BUS2","measurand":"currmagnitude","phase":"A","data":10.0}},
        {{"component":"BUS2","measurand":"currangle","phase":"A","data":{}}}]}}"#,
        -lag
    );
    field
        .publish(
            Message::new("platone/dsotp/devices/pmu-1/pmu", pmu),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let delivery = tokio::time::timeout(WAIT, power.next_delivery())
        .await
        .expect("the enriched message in time")
        .unwrap();
    assert_eq!(delivery.message.topic, "platone/dsotp/power/pmu-1");
    let enriched = DeviceMeasurements::from_json(&delivery.message.payload).unwrap();
    let p = enriched
        .measurements
        .iter()
        .find(|m| m.channel.as_deref() == Some("P"))
        .unwrap();
    assert!((p.value - 2300.0 * lag.cos()).abs() < 1e-6);
    delivery.ack().await.unwrap();

    // The PMU's 4 readings and the 4 power values, each stored once: the readings come on
    // both topics, the second time as duplicates (each recorder subscription read its own).
    let deadline = tokio::time::Instant::now() + WAIT;
    while dsotp.health().stored.inserted < 8 || dsotp.health().stored.duplicates < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            dsotp.health()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let scenario = serde_json::json!({"format": "platone-market-scenario/1", "unit": "MW",
        "slots": ["t1"],
        "requests": [{"id": "r1", "participant": "dso", "role": "dso", "location": "1",
            "direction": "up", "slot": "t1", "quantity": 0.2, "price": 50.0}],
        "offers": [{"id": "o1", "participant": "agg-1", "location": "2", "direction": "up",
            "slot": "t1", "quantity": 0.2, "price": 20.0}]});
    let book: platone_market::scenario::ScenarioFile =
        serde_json::from_value(scenario.clone()).unwrap();
    let parsed = platone_market::Scenario::from_json(&scenario.to_string()).unwrap();
    let result = platone_market::clearing::ClearingAlgorithm::clear(
        &platone_market::clearing::PayAsBid::default(),
        &parsed,
    )
    .unwrap();
    let request = ValidationRequest {
        format: platone_market::validation::VALIDATION_FORMAT.into(),
        request_id: "k-1".into(),
        session: "s-k".into(),
        round: 1,
        book,
        result,
    };
    market
        .publish(
            Message::new(
                "platone/market/validation/requests",
                serde_json::to_vec(&request).unwrap(),
            ),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let delivery = tokio::time::timeout(WAIT, answers.next_delivery())
        .await
        .expect("the validation answer in time")
        .unwrap();
    let answer: ValidationResponse = serde_json::from_slice(&delivery.message.payload).unwrap();
    assert_eq!(answer.request_id, "k-1");
    assert_eq!(answer.verdicts.len(), 2);
    assert_eq!(answer.validator.as_deref(), Some("platone-dsotp"));
    delivery.ack().await.unwrap();
    let stored = dsotp.health().stored;
    assert_eq!((stored.inserted, stored.duplicates), (8, 4));
    // The estimator read both topics too, in groups of its own.
    let estimation = dsotp.health().estimation_bus.unwrap();
    assert!(estimation.received >= 2, "{estimation:?}");
    dsotp.stop();
}
