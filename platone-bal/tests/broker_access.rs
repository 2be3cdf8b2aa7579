//! Broker access with a real Mosquitto and its dynamic-security plugin: a consumer reads a
//! subscription's topics only once the provider accepted it and no longer once it is
//! declined; a device publishes only under its own topic; the BAL connects with its client
//! certificate (mutual TLS). Needs the Debian package `mosquitto` (the test launcher fails
//! saying so when it is missing).

use std::path::Path;
use std::time::Duration;

use platone_bal::config::DynsecConfig;
use platone_bal::{Bal, BalConfig, BalError};
use platone_bus::{
    BusError, Message, MqttBus, MqttConfig, Publisher, QoS, Subscriber, Subscription, TopicFilter,
};
use platone_testkit::{DynsecMosquitto, DynsecOptions};
use serde_json::{Value, json};

const BAL_USER: &str = "bal";
const BAL_PASSWORD: &str = "bal-password";
const FORWARDED: &str = "platone/dsotp/devices/pmu-1/#";

fn sogno(device: &str, second: u32) -> String {
    format!(
        r#"{{"device":"{device}","timestamp":"2024-03-01T12:00:{second:02}Z","readings":[
        {{"component":"BUS-1","measurand":"voltmagnitude","phase":"A","data":230.{second}}}]}}"#
    )
}

/// The broker with the accounts an operator makes by hand: the BAL's own (reads the device
/// topics, writes the forward and dead-letter topics), two devices and a consumer, each with
/// a password and no rights yet.
fn broker(options: DynsecOptions) -> DynsecMosquitto {
    let broker = DynsecMosquitto::start(options).unwrap();
    broker
        .add_client(
            BAL_USER,
            BAL_PASSWORD,
            &[
                ("subscribePattern", "platone/bal/devices/#"),
                ("publishClientReceive", "platone/bal/devices/#"),
                ("publishClientSend", "platone/dsotp/#"),
                ("publishClientSend", "platone/bal/dlq/#"),
            ],
        )
        .unwrap();
    for account in ["pmu-1", "pmu-2", "agg-1"] {
        broker
            .ctrl(&["createClient", account, "-p", &format!("{account}-pw")])
            .unwrap();
    }
    broker
}

fn config(data: &Path, url: String, broker: &DynsecMosquitto, timeout_secs: u64) -> BalConfig {
    let text = format!(
        "http = \"127.0.0.1:0\"\ndata = {data:?}\n\
         [api]\ninsecure_http = true\n[tokens]\ndso = \"dso-token\"\ncust-1 = \"c1\"\nagg-1 = \"a1\"\n\
         [[pods]]\nid = \"POD-1\"\ncustomer = \"cust-1\"\ndevices = [\"pmu-1\"]\n\
         [[pods]]\nid = \"POD-2\"\ncustomer = \"cust-2\"\ndevices = [\"pmu-2\"]\n"
    );
    let mut config = BalConfig::from_toml(&text).unwrap();
    config.mqtt = Some(url);
    config.dynsec = Some(DynsecConfig {
        user: platone_testkit::dynsec::ADMIN.into(),
        password_file: broker.admin_password_file(),
        timeout_secs,
    });
    config
}

fn plain_url(broker: &DynsecMosquitto) -> String {
    format!(
        "mqtt://{BAL_USER}:{BAL_PASSWORD}@127.0.0.1:{}",
        broker.broker().port()
    )
}

async fn client(broker: &DynsecMosquitto, id: &str, user: &str) -> MqttBus {
    let mut config = MqttConfig::new("127.0.0.1", broker.broker().port(), id);
    config.clean_session = true;
    config.credentials = Some((user.into(), format!("{user}-pw")));
    let bus = MqttBus::connect(config).unwrap();
    bus.wait_connected(Duration::from_secs(10)).await.unwrap();
    bus
}

/// Whether the account has the role, as the plugin says.
fn has_role(broker: &DynsecMosquitto, account: &str, role: &str) -> bool {
    broker
        .ctrl(&["getClient", account])
        .is_ok_and(|answer| answer.contains(role))
}

async fn eventually(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post(bal: &Bal, path: &str, token: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}{path}", bal.http_addr()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Requests agg-1's subscription to POD-1 (as agg-1) and returns its id.
async fn request(bal: &Bal) -> i64 {
    let (status, answer) = post(
        bal,
        "/api/certification",
        "a1",
        json!({"providerId": "cust-1", "consumerId": "agg-1", "topic": "pod/POD-1"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer["id"].as_i64().unwrap()
}

async fn decide(bal: &Bal, id: i64, action: &str) -> Value {
    let (status, answer) = post(
        bal,
        &format!("/api/certification/{id}/{action}"),
        "c1",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn subscribe(bus: &MqttBus, filter: &str) -> Result<Subscription, BusError> {
    bus.subscribe(TopicFilter::new(filter).unwrap(), QoS::AtLeastOnce)
        .await
}

/// The next message on `subscription` within `wait`, acknowledged.
async fn next(subscription: &mut Subscription, wait: Duration) -> Option<Message> {
    let delivery = tokio::time::timeout(wait, subscription.next_delivery())
        .await
        .ok()
        .flatten()?;
    let message = delivery.message.clone();
    delivery.ack().await.unwrap();
    Some(message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_reads_a_subscription_only_while_it_is_accepted() {
    let broker = broker(DynsecOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let bal = Bal::start(config(dir.path(), plain_url(&broker), &broker, 5))
        .await
        .unwrap();
    // The BAL gives each configured device the right to publish under its own topic.
    eventually("device rights", Duration::from_secs(10), || {
        has_role(&broker, "pmu-1", "platone-device-pmu-1")
            && has_role(&broker, "pmu-2", "platone-device-pmu-2")
    })
    .await;
    let device = client(&broker, "pmu-1", "pmu-1").await;
    let consumer = client(&broker, "agg-1-before", "agg-1").await;

    // Requested, not accepted: the consumer may not subscribe.
    let id = request(&bal).await;
    let refused = subscribe(&consumer, FORWARDED).await;
    assert!(
        matches!(refused, Err(BusError::SubscribeRefused { .. })),
        "{:?}",
        refused.map(|_| ())
    );
    assert!(!has_role(&broker, "agg-1", "platone-subscription-"));

    // Accepted: it subscribes and receives the device's data as the BAL forwards it.
    let accepted = decide(&bal, id, "accept").await;
    assert_eq!(accepted["status"], "Accepted");
    assert!(has_role(
        &broker,
        "agg-1",
        &format!("platone-subscription-{id}")
    ));
    let consumer = client(&broker, "agg-1-after", "agg-1").await;
    let mut data = subscribe(&consumer, FORWARDED).await.unwrap();
    device
        .publish(
            Message::new("platone/bal/devices/pmu-1/pmu", sogno("pmu-1", 1)),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let forwarded = next(&mut data, Duration::from_secs(10))
        .await
        .expect("the accepted consumer receives the forwarded data");
    assert_eq!(forwarded.topic, "platone/dsotp/devices/pmu-1/pmu");
    let body: Value = serde_json::from_slice(&forwarded.payload).unwrap();
    assert_eq!(body["device"], "pmu-1");

    // Declined (withdrawn): the open subscription receives nothing more, and a new one is
    // refused.
    let declined = decide(&bal, id, "decline").await;
    assert_eq!(declined["status"], "Declined");
    assert!(!has_role(
        &broker,
        "agg-1",
        &format!("platone-subscription-{id}")
    ));
    device
        .publish(
            Message::new("platone/bal/devices/pmu-1/pmu", sogno("pmu-1", 2)),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    eventually(
        "the BAL forwards the second packet",
        Duration::from_secs(10),
        || bal.metrics().messages_forwarded >= 2,
    )
    .await;
    assert!(
        next(&mut data, Duration::from_secs(2)).await.is_none(),
        "a withdrawn consumer still receives"
    );
    let consumer = client(&broker, "agg-1-withdrawn", "agg-1").await;
    assert!(matches!(
        subscribe(&consumer, FORWARDED).await,
        Err(BusError::SubscribeRefused { .. })
    ));
    assert_eq!(bal.metrics().broker_access_failures, 0);
    bal.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cannot_publish_on_another_devices_topic() {
    let broker = broker(DynsecOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let bal = Bal::start(config(dir.path(), plain_url(&broker), &broker, 5))
        .await
        .unwrap();
    eventually("device rights", Duration::from_secs(10), || {
        has_role(&broker, "pmu-1", "platone-device-pmu-1")
    })
    .await;
    // The plugin's administrator reads everything: it watches what reaches the device topics.
    let mut config = MqttConfig::new("127.0.0.1", broker.broker().port(), "watcher");
    config.clean_session = true;
    config.credentials = Some(("admin".into(), broker.admin_password().into()));
    let watcher = MqttBus::connect(config).unwrap();
    watcher
        .wait_connected(Duration::from_secs(10))
        .await
        .unwrap();
    let mut seen = subscribe(&watcher, "platone/bal/devices/#").await.unwrap();

    let device = client(&broker, "pmu-1", "pmu-1").await;
    // MQTT 3.1.1 has no way to refuse a publish: the broker acknowledges and drops it.
    device
        .publish(
            Message::new("platone/bal/devices/pmu-2/pmu", sogno("pmu-2", 3)),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    device
        .publish(
            Message::new("platone/bal/devices/pmu-1/pmu", sogno("pmu-1", 4)),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let first = next(&mut seen, Duration::from_secs(10)).await.unwrap();
    assert_eq!(first.topic, "platone/bal/devices/pmu-1/pmu");
    assert!(next(&mut seen, Duration::from_secs(1)).await.is_none());
    eventually(
        "the BAL takes its own packet",
        Duration::from_secs(10),
        || bal.metrics().packets_received >= 1,
    )
    .await;
    assert_eq!(bal.metrics().packets_received, 1, "only pmu-1's own packet");
    // Nor anywhere outside the device topics.
    device
        .publish(
            Message::new("platone/dsotp/devices/pmu-1/pmu", "{}"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    assert!(next(&mut seen, Duration::from_millis(500)).await.is_none());
    bal.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_is_recorded_while_the_broker_is_unreachable_and_applied_later() {
    let mut broker = broker(DynsecOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let bal = Bal::start(config(dir.path(), plain_url(&broker), &broker, 1))
        .await
        .unwrap();
    eventually("device rights", Duration::from_secs(10), || {
        has_role(&broker, "pmu-1", "platone-device-pmu-1")
    })
    .await;
    let id = request(&bal).await;

    broker.broker_mut().pause().unwrap();
    let accepted = decide(&bal, id, "accept").await;
    assert_eq!(accepted["status"], "Accepted", "recorded all the same");
    assert!(bal.metrics().broker_access_failures >= 1);
    let health = bal.health();
    assert_eq!(health.status, "degraded");
    let access = &health.engines["broker_access"];
    assert_eq!(access.status, "unavailable");
    assert!(
        access
            .error
            .as_deref()
            .unwrap_or("")
            .contains("1 access changes waiting"),
        "{access:?}"
    );

    broker.broker_mut().resume().unwrap();
    eventually("the grant is retried", Duration::from_secs(20), || {
        has_role(&broker, "agg-1", &format!("platone-subscription-{id}"))
    })
    .await;
    eventually("health recovers", Duration::from_secs(10), || {
        bal.health().engines["broker_access"].status == "ok"
    })
    .await;
    let consumer = client(&broker, "agg-1-late", "agg-1").await;
    subscribe(&consumer, FORWARDED).await.unwrap();
    bal.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bal_connects_with_its_client_certificate_and_not_without() {
    let broker = broker(DynsecOptions { tls: true });
    let url = broker
        .tls_url()
        .unwrap()
        .replace("mqtts://", &format!("mqtts://{BAL_USER}:{BAL_PASSWORD}@"));
    let cert = broker.client_certificate("bal").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), url, &broker, 5);
    config.mqtt_ca = broker.ca_file();
    config.mqtt_cert = Some(cert.cert.clone());
    config.mqtt_key = Some(cert.key.clone());

    // Without the certificate the broker refuses the BAL.
    let mut without = config.clone();
    without.mqtt_cert = None;
    without.mqtt_key = None;
    without.data = dir.path().join("without");
    match Bal::start(without).await {
        Err(BalError::Bus(BusError::Connection { .. })) => {}
        other => panic!("expected a refused connection, got {:?}", other.map(|_| ())),
    }

    // With it, the BAL takes packets and changes the broker's access over mqtts.
    let bal = Bal::start(config).await.unwrap();
    assert!(bal.mqtt_url().starts_with("mqtts://"));
    eventually("device rights over mqtts", Duration::from_secs(10), || {
        has_role(&broker, "pmu-1", "platone-device-pmu-1")
    })
    .await;
    let device = client(&broker, "pmu-1", "pmu-1").await;
    device
        .publish(
            Message::new("platone/bal/devices/pmu-1/pmu", sogno("pmu-1", 5)),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    eventually("the BAL takes the packet", Duration::from_secs(10), || {
        bal.metrics().measurements_stored >= 1
    })
    .await;
    bal.shutdown().await.unwrap();
}
