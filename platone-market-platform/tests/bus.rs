//! The platform on a real Mosquitto broker with mutual TLS and per-participant ACLs: the DSO's
//! validation round trip (a validator answering on the bus cuts an offer, the book is cleared
//! again), each participant's outcome on its own topic (readable by that participant only), a
//! bad response dead-lettered while the rest flow on, delivery through a broker outage; and
//! the fallbacks when no validator answers.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::{caller, operator};
use platone_bus::{
    Bus, MemoryBus, Message, MqttBus, Publisher, QoS, Subscriber, Subscription, TlsConfig,
    TopicFilter,
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
use platone_testkit::{Mosquitto, MosquittoOptions, TestCa};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// Marks one offer red, everything else green.
struct RejectOffer(&'static str);

impl GridValidator for RejectOffer {
    fn validate(&self, _scenario: &Scenario, result: &ClearingResult) -> Vec<Verdict> {
        let verdict = |kind, id: &str| Verdict {
            kind,
            order: id.to_owned(),
            light: if id == self.0 {
                Light::Red
            } else {
                Light::Green
            },
            reason: if id == self.0 {
                "overloads feeder 3".into()
            } else {
                String::new()
            },
            curtail_to: None,
        };
        let offers = result
            .accepted_offers
            .iter()
            .map(|a| verdict(OrderKind::Offer, &a.id));
        let requests = result
            .accepted_requests
            .iter()
            .map(|a| verdict(OrderKind::Request, &a.id));
        offers.chain(requests).collect()
    }
}

fn order(value: Value) -> Vec<Value> {
    vec![value]
}

/// One slot, a request of 2 and two offers of 2: `o-bad` (cheaper, agg-1) and `o-good`
/// (agg-2).
fn open_session(platform: &MarketPlatform, id: &str, network: Option<Value>) {
    let mut spec = json!({"id": id, "kind": "day-ahead", "slots": ["t1"],
        "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339()});
    let location = if let Some(network) = network {
        spec["network"] = network;
        "n2"
    } else {
        "n1"
    };
    platform
        .create_session(&operator(), serde_json::from_value(spec).unwrap())
        .unwrap();
    platform
        .submit(
            &caller("dso-1", MarketRole::Dso),
            id,
            false,
            order(json!({
            "id": "r1", "location": location, "direction": "up", "slot": "t1",
            "quantity": 2.0, "price": 50.0})),
        )
        .unwrap();
    platform
        .submit(
            &caller("agg-1", MarketRole::Aggregator),
            id,
            true,
            order(json!({
            "id": "o-bad", "location": location, "direction": "up", "slot": "t1",
            "quantity": 2.0, "price": 10.0})),
        )
        .unwrap();
    platform
        .submit(
            &caller("agg-2", MarketRole::Aggregator),
            id,
            true,
            order(json!({
            "id": "o-good", "location": location, "direction": "up", "slot": "t1",
            "quantity": 2.0, "price": 20.0})),
        )
        .unwrap();
}

fn platform_on(dir: &std::path::Path, validator: Arc<BusValidation>) -> MarketPlatform {
    let ledger = Arc::new(FileLedger::open(dir.join("ledger")).unwrap());
    MarketPlatform::open(
        Arc::new(SqliteStore::in_memory().unwrap()),
        ledger,
        validator,
    )
    .unwrap()
}

async fn next(sub: &mut Subscription) -> Message {
    tokio::time::timeout(WAIT, sub.next_delivery())
        .await
        .expect("a message in time")
        .expect("subscription open")
        .message
}

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).unwrap()
}

struct Broker {
    broker: Mosquitto,
    ca: TestCa,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// Mosquitto with client certificates required, the certificate's name as user name,
    /// and each participant allowed to read its own outcome topic only.
    fn start() -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new(dir.path(), "market test CA").unwrap();
        let server = ca.server_certificate("localhost").unwrap();
        let acl = dir.path().join("acl");
        std::fs::write(
            &acl,
            "user platform\ntopic readwrite platone/market/#\n\
             user dso-validator\ntopic read platone/market/validation/requests\n\
             topic write platone/market/validation/responses\n\
             user intruder\ntopic write platone/market/validation/responses\n\
             pattern read platone/market/outcomes/%u\n",
        )
        .unwrap();
        let broker = Mosquitto::start_with(MosquittoOptions {
            extra_config: format!(
                "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n\
                 use_identity_as_username true\nacl_file {}\n",
                ca.ca_file().display(),
                server.cert.display(),
                server.key.display(),
                acl.display()
            ),
            ..MosquittoOptions::default()
        })
        .unwrap();
        Broker {
            broker,
            ca,
            _dir: dir,
        }
    }

    fn client(&self, name: &str) -> Arc<MqttBus> {
        let mut config = self.broker.mqtt_config(name);
        config.reconnect_max = Duration::from_millis(300);
        let c = self.ca.client_certificate(name).unwrap();
        config.tls =
            Some(TlsConfig::from_files(&self.ca.ca_file(), Some((&c.cert, &c.key))).unwrap());
        Arc::new(MqttBus::connect(config).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validation_round_trip_and_each_participants_outcome_over_mutual_tls() {
    let broker = Broker::start();
    let topics = BusTopics::default();
    let platform_bus = broker.client("platform");
    let _validator = answer_validations(
        broker.client("dso-validator"),
        topics.clone(),
        Arc::new(RejectOffer("o-bad")),
        "dso-validator".into(),
    )
    .await
    .unwrap();
    let mut dead = platform_bus
        .subscribe(filter(&topics.dead_letter), QoS::AtLeastOnce)
        .await
        .unwrap();
    let validation = BusValidation::start(
        platform_bus.clone(),
        topics.clone(),
        WAIT,
        ValidationFallback::Fail,
    )
    .await
    .unwrap();
    // A response nobody can read: reported and dead-lettered; the round trip below still works.
    broker
        .client("intruder")
        .publish(
            Message::new(topics.validation_responses.clone(), "{not json"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let letter: Value = serde_json::from_slice(&next(&mut dead).await.payload).unwrap();
    assert_eq!(letter["payload"], "{not json");
    assert_eq!(letter["topic"], topics.validation_responses);
    let reason = letter["reason"].as_str().unwrap();
    assert!(reason.starts_with("not a validation response"), "{reason}");

    let dir = tempfile::tempdir().unwrap();
    let platform =
        platform_on(dir.path(), Arc::new(validation)).deliver_outcomes_to(OutcomeTopics::new(
            platform_bus.clone() as Arc<dyn Publisher>,
            topics.outcomes.clone(),
        ));
    open_session(&platform, "da-1", None);
    let session = platform.close_as(&operator(), "da-1").await.unwrap();
    assert_eq!(session.status, SessionStatus::Published);
    let outcome = platform.outcome(&operator(), "da-1").unwrap();
    // The validator cut o-bad; cleared again, o-good serves the request.
    assert_eq!(outcome.result.offer_quantity("o-bad"), 0.0);
    assert_eq!(outcome.result.offer_quantity("o-good"), 2.0);
    assert!(outcome.verdicts.iter().all(|v| v.light == Light::Green));
    let trail = platform.audit_trail(&operator(), "da-1").unwrap();
    let validated = trail.iter().find(|e| e.event == "validated").unwrap();
    assert_eq!(validated.detail, "2 rounds, 1 orders cut");

    // Each participant reads its own topic, and only its own.
    let agg2_client = broker.client("agg-2");
    let mut agg2 = agg2_client
        .subscribe(filter("platone/market/outcomes/+"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let dso_client = broker.client("dso-1");
    let mut dso = dso_client
        .subscribe(filter("platone/market/outcomes/dso-1"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let agg1_client = broker.client("agg-1");
    let mut agg1 = agg1_client
        .subscribe(filter("platone/market/outcomes/agg-1"), QoS::AtLeastOnce)
        .await
        .unwrap();
    assert_eq!(platform.deliver_outcomes().await.unwrap(), 3);
    // Published agg-1 first: agg-2's first message is its own.
    let own: ParticipantOutcome = serde_json::from_slice(&next(&mut agg2).await.payload).unwrap();
    assert_eq!(own.participant, "agg-2");
    assert_eq!(own.status, SessionStatus::Published);
    assert_eq!(own.outcome.awards.len(), 1);
    assert_eq!(own.outcome.awards[0].award.order, "o-good");
    let cut: ParticipantOutcome = serde_json::from_slice(&next(&mut agg1).await.payload).unwrap();
    assert!(cut.outcome.awards.is_empty());
    let all: ParticipantOutcome = serde_json::from_slice(&next(&mut dso).await.payload).unwrap();
    assert_eq!(all.outcome.awards.len(), 2, "o-good and r1");
    // Delivered once: nothing more to send.
    assert_eq!(platform.deliver_outcomes().await.unwrap(), 0);
    let trail = platform.audit_trail(&operator(), "da-1").unwrap();
    assert!(trail.iter().any(|e| e.event == "delivered"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_wait_through_a_broker_outage_and_the_failure_shows() {
    let mut broker = Broker::start();
    let platform_bus = broker.client("platform");
    let dir = tempfile::tempdir().unwrap();
    let validation = BusValidation::start(
        Arc::new(MemoryBus::new()),
        BusTopics::default(),
        Duration::from_millis(200),
        ValidationFallback::Accept,
    )
    .await
    .unwrap();
    let mut topics = OutcomeTopics::new(
        platform_bus as Arc<dyn Publisher>,
        "platone/market/outcomes",
    );
    topics.timeout = Duration::from_secs(1);
    let platform = platform_on(dir.path(), Arc::new(validation)).deliver_outcomes_to(topics);
    open_session(&platform, "da-2", None);
    platform.close_as(&operator(), "da-2").await.unwrap();
    broker.broker.stop();
    assert!(platform.deliver_outcomes().await.is_ok());
    let failure = platform.delivery_failure().expect("the outage shows");
    assert!(failure.contains("da-2"), "{failure}");
    assert!(
        platform
            .audit_trail(&operator(), "da-2")
            .unwrap()
            .iter()
            .all(|e| e.event != "delivered")
    );
    broker.broker.restart().unwrap();
    let agg2_client = broker.client("agg-2");
    let mut agg2 = agg2_client
        .subscribe(filter("platone/market/outcomes/agg-2"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while platform.delivery_failure().is_some()
        || platform
            .audit_trail(&operator(), "da-2")
            .unwrap()
            .iter()
            .all(|e| e.event != "delivered")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered after the broker came back"
        );
        platform.deliver_outcomes().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let own: ParticipantOutcome = serde_json::from_slice(&next(&mut agg2).await.payload).unwrap();
    assert_eq!(own.session, "da-2");
}

fn network() -> Value {
    json!({"slack": "n1", "buses": ["n1", "n2"],
           "branches": [{"id": "l12", "from": "n1", "to": "n2", "x": 0.1, "limit": 50.0}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_answer_the_configured_fallback_applies() {
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let with = |fallback| {
        let bus = bus.clone();
        async move {
            BusValidation::start(
                bus,
                BusTopics::default(),
                Duration::from_millis(300),
                fallback,
            )
            .await
            .unwrap()
        }
    };
    let dir = tempfile::tempdir().unwrap();

    // fail: nothing is published unvalidated.
    let failing = platform_on(
        &dir.path().join("fail"),
        Arc::new(with(ValidationFallback::Fail).await),
    );
    open_session(&failing, "s", None);
    let e = failing
        .close_as(&operator(), "s")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no validation answer within 300ms"), "{e}");
    let session = failing.session("s").unwrap();
    assert_eq!(session.status, SessionStatus::Failed);
    assert!(session.failure.unwrap().contains("no validation answer"));

    // accept: published as cleared, every verdict saying it was not validated.
    let accepting = platform_on(
        &dir.path().join("accept"),
        Arc::new(with(ValidationFallback::Accept).await),
    );
    open_session(&accepting, "s", None);
    accepting.close_as(&operator(), "s").await.unwrap();
    let outcome = accepting.outcome(&operator(), "s").unwrap();
    assert_eq!(outcome.result.offer_quantity("o-bad"), 2.0);
    assert_eq!(outcome.verdicts.len(), 2);
    assert!(
        outcome
            .verdicts
            .iter()
            .all(|v| v.reason.starts_with("not validated: no validation answer"))
    );

    // local: the in-process line-loading check on the session's network.
    let local = platform_on(
        &dir.path().join("local"),
        Arc::new(with(ValidationFallback::Local).await),
    );
    open_session(&local, "s", Some(network()));
    local.close_as(&operator(), "s").await.unwrap();
    let outcome = local.outcome(&operator(), "s").unwrap();
    assert_eq!(outcome.verdicts.len(), 2);
    assert!(
        outcome
            .verdicts
            .iter()
            .all(|v| !v.reason.starts_with("not validated"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_answer_fails_the_session_naming_the_verdict() {
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let topics = BusTopics::default();
    /// Judges an order the result does not hold.
    struct Confused;
    impl GridValidator for Confused {
        fn validate(&self, _: &Scenario, _: &ClearingResult) -> Vec<Verdict> {
            vec![Verdict {
                kind: OrderKind::Offer,
                order: "o-unknown".into(),
                light: Light::Green,
                reason: String::new(),
                curtail_to: None,
            }]
        }
    }
    let _answering = answer_validations(
        bus.clone(),
        topics.clone(),
        Arc::new(Confused),
        "dso-x".into(),
    )
    .await
    .unwrap();
    let validation = BusValidation::start(bus, topics, WAIT, ValidationFallback::Accept)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let platform = platform_on(dir.path(), Arc::new(validation));
    open_session(&platform, "s", None);
    let e = platform
        .close_as(&operator(), "s")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "the validator dso-x answered wrongly: verdicts[0]: offer \"o-unknown\" is not accepted"
        ),
        "{e}"
    );
}
