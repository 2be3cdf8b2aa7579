//! The market validation service on a real Mosquitto broker: a validation request published
//! as the Market Platform does comes back with the red verdict naming the violated bus; a
//! malformed request is dead-lettered while the next good one is answered.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use platone_bus::{Bus, Message, MqttBus, Publisher, QoS, Subscriber, Subscription, TopicFilter};
use platone_dsotp::DsotpTopics;
use platone_dsotp::validation::{
    AcValidator, AcValidatorConfig, ValidationService, ValidationStats,
};
use platone_grid::BusState;
use platone_market::clearing::{ClearingAlgorithm, PayAsBid};
use platone_market::validation::{
    Light, OrderKind, VALIDATION_FORMAT, ValidationRequest, ValidationResponse,
};
use platone_market::{Scenario, ScenarioFile};
use platone_testkit::Mosquitto;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// A 5-bus radial feeder (10 MVA base, substation at bus 1, limits 0.95–1.05 p.u.). The PoDs
/// of the market are mapped to its buses.
const FEEDER: &str = "mpc.baseMVA = 10;
mpc.bus = [
  1 3 0   0   0 0 1 1 0 20 1 1.1  0.9;
  2 1 0.5 0.1 0 0 1 1 0 20 1 1.05 0.95;
  3 1 0.5 0.1 0 0 1 1 0 20 1 1.05 0.95;
  4 1 0.5 0.1 0 0 1 1 0 20 1 1.05 0.95;
  5 1 0.5 0.1 0 0 1 1 0 20 1 1.05 0.95;
];
mpc.gen = [1 0 0 100 -100 1.0 10 1 100 0];
mpc.branch = [
  1 2 0.02 0.02 0 20 20 20 0 0 1 -360 360;
  2 3 0.02 0.02 0 20 20 20 0 0 1 -360 360;
  3 4 0.02 0.02 0 20 20 20 0 0 1 -360 360;
  4 5 0.02 0.02 0 20 20 20 0 0 1 -360 360;
];";

fn validator() -> Arc<RwLock<AcValidator>> {
    let config = AcValidatorConfig {
        locations: [("substation", 1), ("pod-pv-end", 5), ("pod-mid", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ..AcValidatorConfig::default()
    };
    Arc::new(RwLock::new(AcValidator::from_case(FEEDER, config).unwrap()))
}

/// The book the Market Platform would send: a TSO request at the substation, an aggregator's
/// PV plant at the feeder end offering 10 MW more generation, a small offer mid-feeder.
fn book() -> ScenarioFile {
    serde_json::from_value(json!({
        "format": "platone-market-scenario/1", "unit": "MW", "slots": ["t1"],
        "requests": [{"id": "r1", "participant": "tso-1", "role": "tso",
                      "location": "substation", "direction": "up", "slot": "t1",
                      "quantity": 11.0, "price": 90.0}],
        "offers": [
            {"id": "o-pv", "participant": "agg-1", "location": "pod-pv-end",
             "direction": "up", "slot": "t1", "quantity": 10.0, "price": 10.0},
            {"id": "o-mid", "participant": "agg-2", "location": "pod-mid",
             "direction": "up", "slot": "t1", "quantity": 1.0, "price": 20.0}]
    }))
    .unwrap()
}

/// A request as `BusValidation` builds it: the book and the provisional result.
fn request(id: &str) -> ValidationRequest {
    let book = book();
    let scenario = Scenario::from_file(book.clone()).unwrap();
    let result = PayAsBid::default().clear(&scenario).unwrap();
    assert_eq!(result.accepted_offers.len(), 2, "{result:?}");
    ValidationRequest {
        format: VALIDATION_FORMAT.into(),
        request_id: id.into(),
        session: "da-2024-06-01".into(),
        round: 1,
        book,
        result,
    }
}

async fn client(broker: &Mosquitto, id: &str) -> Arc<MqttBus> {
    let bus = MqttBus::connect(broker.mqtt_config(id)).unwrap();
    bus.wait_connected(WAIT).await.unwrap();
    Arc::new(bus)
}

async fn subscribe(bus: &MqttBus, filter: &str) -> Subscription {
    bus.subscribe(TopicFilter::new(filter).unwrap(), QoS::AtLeastOnce)
        .await
        .unwrap()
}

async fn next(sub: &mut Subscription) -> Message {
    let delivery = tokio::time::timeout(WAIT, sub.next_delivery())
        .await
        .expect("a message in time")
        .expect("subscription open");
    let message = delivery.message.clone();
    delivery.ack().await.unwrap();
    message
}

async fn publish(bus: &MqttBus, topic: &str, payload: Vec<u8>) {
    bus.publish(Message::new(topic, payload), QoS::AtLeastOnce)
        .await
        .unwrap();
}

/// The service's counters once `done` holds (the answer may arrive before the service has
/// counted it: it counts once the broker acknowledged the publication).
async fn settled(
    service: &ValidationService,
    done: impl Fn(&ValidationStats) -> bool,
) -> ValidationStats {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stats = service.stats();
        if done(&stats) || tokio::time::Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn response(message: &Message) -> ValidationResponse {
    serde_json::from_slice(&message.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_violating_a_voltage_limit_comes_back_red_naming_the_bus() {
    let broker = Mosquitto::start().unwrap();
    let topics = DsotpTopics::default();
    let dsotp: Arc<dyn Bus> = client(&broker, "dsotp-validation").await;
    let service = ValidationService::start(dsotp, &topics, validator(), "dsotp-test")
        .await
        .unwrap();
    let market = client(&broker, "market-platform").await;
    let mut responses = subscribe(&market, &topics.validation_responses).await;

    let payload = serde_json::to_vec(&request("session-1:1:0")).unwrap();
    publish(&market, &topics.validation_requests, payload).await;
    let answer = response(&next(&mut responses).await);
    assert_eq!(answer.request_id, "session-1:1:0");
    assert_eq!(answer.validator.as_deref(), Some("dsotp-test"));
    let lights: Vec<_> = answer
        .verdicts
        .iter()
        .map(|v| (v.kind, v.order.as_str(), v.light))
        .collect();
    assert_eq!(
        lights,
        [
            (OrderKind::Offer, "o-pv", Light::Red),
            (OrderKind::Offer, "o-mid", Light::Red),
            (OrderKind::Request, "r1", Light::Green),
        ],
        "{answer:?}"
    );
    let pv = &answer.verdicts[0];
    assert!(
        pv.reason.contains("voltage at bus 5") && pv.reason.contains("above Vmax 1.05"),
        "{}",
        pv.reason
    );

    // The estimation service lowers the operating point: the feeder end is measured at
    // 0.95 p.u., and the same result now passes.
    let state: Vec<BusState> = [(1, 1.0), (2, 0.975), (3, 0.96), (4, 0.955), (5, 0.95)]
        .into_iter()
        .map(|(bus, vm)| BusState { bus, vm, va: 0.0 })
        .collect();
    service
        .validator()
        .write()
        .unwrap()
        .set_operating_point(&state)
        .unwrap();
    let payload = serde_json::to_vec(&request("session-1:2:1")).unwrap();
    publish(&market, &topics.validation_requests, payload).await;
    let answer = response(&next(&mut responses).await);
    assert_eq!(answer.request_id, "session-1:2:1");
    assert!(
        answer.verdicts.iter().all(|v| v.light != Light::Red),
        "{answer:?}"
    );

    let stats = settled(&service, |s| s.answered == 2).await;
    assert_eq!((stats.answered, stats.red, stats.dead_lettered), (2, 2, 0));
    assert!(service.is_running());
    service.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_is_dead_lettered_and_the_next_is_answered() {
    let broker = Mosquitto::start().unwrap();
    let topics = DsotpTopics::default();
    let dsotp: Arc<dyn Bus> = client(&broker, "dsotp-validation").await;
    let service = ValidationService::start(dsotp, &topics, validator(), "dsotp-test")
        .await
        .unwrap();
    let market = client(&broker, "market-platform").await;
    let mut responses = subscribe(&market, &topics.validation_responses).await;
    let dead_topic = format!("{}/validation", topics.dead_letters);
    let mut dead = subscribe(&market, &dead_topic).await;

    publish(&market, &topics.validation_requests, b"{not json".to_vec()).await;
    let mut wrong_format = serde_json::to_value(request("old")).unwrap();
    wrong_format["format"] = Value::from("platone-market-validation/0");
    publish(
        &market,
        &topics.validation_requests,
        serde_json::to_vec(&wrong_format).unwrap(),
    )
    .await;
    let payload = serde_json::to_vec(&request("good")).unwrap();
    publish(&market, &topics.validation_requests, payload).await;

    let letter: Value = serde_json::from_slice(&next(&mut dead).await.payload).unwrap();
    assert_eq!(letter["topic"], topics.validation_requests.as_str());
    assert_eq!(letter["payload"], "{not json");
    let reason = letter["reason"].as_str().unwrap();
    assert!(reason.contains("not a validation request"), "{reason}");
    let letter: Value = serde_json::from_slice(&next(&mut dead).await.payload).unwrap();
    let reason = letter["reason"].as_str().unwrap();
    assert!(reason.contains("platone-market-validation/0"), "{reason}");

    let answer = response(&next(&mut responses).await);
    assert_eq!(answer.request_id, "good");
    assert_eq!(answer.verdicts.len(), 3);
    assert_eq!(answer.verdicts[0].light, Light::Red);

    let stats = settled(&service, |s| s.answered == 1).await;
    assert_eq!(
        (stats.answered, stats.dead_lettered, stats.failed),
        (1, 2, 0)
    );
    service.shutdown();
}
