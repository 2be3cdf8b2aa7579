//! The validation round trip and the participants' outcomes over Kafka (librdkafka's mock
//! cluster: the real Kafka protocol over TCP), each participant's outcomes on its own Kafka
//! topic (four MQTT levels name a Kafka topic).
#![cfg(feature = "kafka")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::caller;
use platone_bus::{
    Bus, KafkaBus, KafkaConfig, KafkaNaming, Publisher, QoS, Subscriber, TopicFilter,
};
use platone_certify::FileLedger;
use platone_market::MarketRole;
use platone_market::clearing::ClearingResult;
use platone_market::scenario::Scenario;
use platone_market::validation::{GridValidator, Light, OrderKind, Verdict};
use platone_market_platform::bus::{
    BusTopics, BusValidation, OutcomeTopics, ValidationFallback, answer_validations,
};
use platone_market_platform::{MarketPlatform, ParticipantOutcome, SessionStatus, SqliteStore};
use rdkafka::mocking::MockCluster;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Green for everything but `o-bad`.
struct RejectBad;

impl GridValidator for RejectBad {
    fn validate(&self, _: &Scenario, result: &ClearingResult) -> Vec<Verdict> {
        let offers = result.accepted_offers.iter().map(|a| (OrderKind::Offer, a));
        let requests = result
            .accepted_requests
            .iter()
            .map(|a| (OrderKind::Request, a));
        offers
            .chain(requests)
            .map(|(kind, a)| Verdict {
                kind,
                order: a.id.clone(),
                light: if a.id == "o-bad" {
                    Light::Red
                } else {
                    Light::Green
                },
                reason: String::new(),
                curtail_to: None,
            })
            .collect()
    }
}

fn kafka(servers: &str, group: &str) -> Arc<KafkaBus> {
    let mut c = KafkaConfig::new(servers, group);
    c.naming = KafkaNaming::new(4);
    c.delivery_timeout = Duration::from_secs(20);
    Arc::new(KafkaBus::connect(c).unwrap())
}

#[test]
fn validation_and_outcomes_over_kafka() {
    let mock = MockCluster::new(1).unwrap();
    for topic in [
        "platone.market.validation.requests",
        "platone.market.validation.responses",
        "platone.market.outcomes.agg-1",
        "platone.market.outcomes.agg-2",
        "platone.market.outcomes.dso-1",
        "platone.market.dead-letter",
    ] {
        mock.create_topic(topic, 1, 1).unwrap();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(round_trip(mock.bootstrap_servers()));
    // The consumers' tasks end with the runtime, and each consumer closes as it is dropped:
    // while the cluster still runs (one closing after its cluster is gone waits for it, and
    // held the runtime's shutdown forever).
    runtime.shutdown_timeout(WAIT);
    drop(mock);
}

async fn round_trip(servers: String) {
    let topics = BusTopics::default();
    let _validator = answer_validations(
        kafka(&servers, "dso-validator"),
        topics.clone(),
        Arc::new(RejectBad),
        "dso-validator".into(),
    )
    .await
    .unwrap();
    let platform_bus: Arc<dyn Bus> = kafka(&servers, "platform");
    let validation = BusValidation::start(
        platform_bus.clone(),
        topics.clone(),
        WAIT,
        ValidationFallback::Fail,
    )
    .await
    .unwrap();
    let agg2 = kafka(&servers, "agg-2");
    let mut own = agg2
        .subscribe(
            TopicFilter::new("platone/market/outcomes/agg-2").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(FileLedger::open(dir.path().join("ledger")).unwrap());
    let platform = MarketPlatform::open(
        Arc::new(SqliteStore::in_memory().unwrap()),
        ledger,
        Arc::new(validation),
    )
    .unwrap()
    .deliver_outcomes_to(OutcomeTopics::new(
        platform_bus as Arc<dyn Publisher>,
        topics.outcomes.clone(),
    ));
    let operator = caller("mo", MarketRole::MarketOperator);
    let spec = json!({"id": "da-k", "kind": "day-ahead", "slots": ["t1"],
        "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339()});
    platform
        .create_session(&operator, serde_json::from_value(spec).unwrap())
        .unwrap();
    let order = |id: &str, price: f64| {
        vec![
            json!({"id": id, "location": "n1", "direction": "up", "slot": "t1",
            "quantity": 2.0, "price": price}),
        ]
    };
    platform
        .submit(
            &caller("dso-1", MarketRole::Dso),
            "da-k",
            false,
            order("r1", 50.0),
        )
        .unwrap();
    platform
        .submit(
            &caller("agg-1", MarketRole::Aggregator),
            "da-k",
            true,
            order("o-bad", 10.0),
        )
        .unwrap();
    platform
        .submit(
            &caller("agg-2", MarketRole::Aggregator),
            "da-k",
            true,
            order("o-good", 20.0),
        )
        .unwrap();
    let session = platform.close_as(&operator, "da-k").await.unwrap();
    assert_eq!(session.status, SessionStatus::Published);
    let outcome = platform.outcome(&operator, "da-k").unwrap();
    assert_eq!(outcome.result.offer_quantity("o-good"), 2.0);
    assert_eq!(outcome.result.offer_quantity("o-bad"), 0.0);

    assert_eq!(platform.deliver_outcomes().await.unwrap(), 3);
    let delivery = tokio::time::timeout(WAIT, own.next_delivery())
        .await
        .expect("agg-2's outcome in time")
        .unwrap();
    let message: ParticipantOutcome = serde_json::from_slice(&delivery.message.payload).unwrap();
    assert_eq!(message.participant, "agg-2");
    assert_eq!(message.outcome.awards.len(), 1);
    assert_eq!(message.outcome.awards[0].award.order, "o-good");
}
