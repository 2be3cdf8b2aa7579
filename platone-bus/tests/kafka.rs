//! The Kafka adapter against librdkafka's mock cluster (real Kafka protocol over TCP), and the
//! bridge from Mosquitto into Kafka.
#![cfg(feature = "kafka")]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use platone_bus::{
    Bridge, BridgeConfig, Bus, DEAD_LETTER_REASON, KafkaBus, KafkaConfig, MemoryBus, Message,
    MqttBus, MqttConfig, Publisher, QoS, Route, Subscriber, Subscription, TOPIC_HEADER,
    TopicFilter,
};
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};

const WAIT: Duration = Duration::from_secs(20);

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).unwrap()
}

async fn next(sub: &mut Subscription) -> platone_bus::Delivery {
    tokio::time::timeout(WAIT, sub.next_delivery())
        .await
        .expect("delivery in time")
        .expect("subscription open")
}

fn bus(mock: &MockCluster<'_, rdkafka::producer::DefaultProducerContext>, group: &str) -> KafkaBus {
    let mut c = KafkaConfig::new(mock.bootstrap_servers(), group);
    c.delivery_timeout = Duration::from_secs(15);
    KafkaBus::connect(c).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_names_keys_headers_and_undecodable_records() {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("platone.dsotp", 2, 1).unwrap();
    let kafka = bus(&mock, "rt");
    let mut sub = kafka
        .subscribe(
            filter("platone/dsotp/devices/+/measurements"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    kafka
        .publish(
            Message::new("platone/dsotp/devices/other/status", "skipped"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    kafka
        .publish(
            Message::new("platone/dsotp/devices/pmu-1/measurements", "m1")
                .with_header("content-type", "application/json"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let d = next(&mut sub).await;
    assert_eq!(d.message.topic, "platone/dsotp/devices/pmu-1/measurements");
    assert_eq!(
        d.message.key.as_deref(),
        Some(&b"platone/dsotp/devices/pmu-1/measurements"[..])
    );
    assert_eq!(
        d.message.headers.get("content-type"),
        Some("application/json")
    );
    assert_eq!(d.message.payload, Bytes::from("m1"));
    assert!(d.decode_error.is_none());
    d.ack().await.unwrap();
    // A record written by a foreign producer, without topic header and with a binary key.
    let raw: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", mock.bootstrap_servers())
        .create()
        .unwrap();
    raw.send(
        FutureRecord::to("platone.dsotp")
            .key(&[0xffu8, 0xfe][..])
            .payload("??"),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let d = next(&mut sub).await;
    let reason = d.decode_error.clone().expect("undecodable");
    assert!(reason.contains(TOPIC_HEADER), "{reason}");
    assert_eq!(d.message.topic, "platone.dsotp");
    d.ack().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_acknowledged_offsets_are_committed() {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("acks.t", 1, 1).unwrap();
    let kafka = bus(&mock, "committer");
    for i in 0..5 {
        kafka
            .publish(
                Message::new(format!("acks/t/{i}"), i.to_string()),
                QoS::AtLeastOnce,
            )
            .await
            .unwrap();
    }
    {
        let mut sub = kafka
            .subscribe(filter("acks/t/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        let mut held = Vec::new();
        for i in 0..5 {
            let d = next(&mut sub).await;
            assert_eq!(d.message.payload, Bytes::from(i.to_string()));
            held.push(d);
        }
        // Acknowledge 0, 1 and 3: only up to 1 may be committed.
        let d3 = held.remove(3);
        let d1 = held.remove(1);
        let d0 = held.remove(0);
        d0.ack().await.unwrap();
        d1.ack().await.unwrap();
        d3.ack().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = kafka
        .subscribe(filter("acks/t/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let d = next(&mut again).await;
    assert_eq!(
        d.message.payload,
        Bytes::from("2"),
        "resumes at the oldest unacknowledged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_wait_out_a_broker_going_down_and_up() {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("platone.down", 1, 1).unwrap();
    let kafka = bus(&mock, "down");
    kafka
        .publish(Message::new("platone/down/warm", "w"), QoS::AtLeastOnce)
        .await
        .unwrap();
    mock.broker_down(1).unwrap();
    let publisher = {
        let kafka = kafka.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                kafka
                    .publish(
                        Message::new("platone/down/x", i.to_string()),
                        QoS::AtLeastOnce,
                    )
                    .await
                    .unwrap();
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !publisher.is_finished(),
        "nothing can be confirmed while the broker is down"
    );
    mock.broker_up(1).unwrap();
    tokio::time::timeout(WAIT, publisher)
        .await
        .unwrap()
        .unwrap();
    let mut sub = kafka
        .subscribe(filter("platone/down/x"), QoS::AtLeastOnce)
        .await
        .unwrap();
    for i in 0..20 {
        let d = next(&mut sub).await;
        assert_eq!(
            d.message.payload,
            Bytes::from(i.to_string()),
            "in order, no gap"
        );
        d.ack().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_to_kafka_bridge_and_kafka_dead_letters() {
    let broker = support::mosquitto();
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("platone.dsotp", 2, 1).unwrap();
    mock.create_topic("platone.bridge", 1, 1).unwrap();
    let mqtt: Arc<dyn Bus> = Arc::new(
        MqttBus::connect(MqttConfig::new("127.0.0.1", broker.port(), "to-kafka")).unwrap(),
    );
    let kafka = bus(&mock, "bridge-test");
    let sink: Arc<dyn Bus> = Arc::new(kafka.clone());
    let bridge = Bridge::start(
        BridgeConfig::default(),
        vec![Route {
            source: mqtt,
            sink,
            map: "# out 1 platone/bal/ platone/dsotp/".parse().unwrap(),
        }],
    )
    .await
    .unwrap();
    let device = MqttBus::connect(MqttConfig::new("127.0.0.1", broker.port(), "dev")).unwrap();
    let n = 50;
    for i in 0..n {
        device
            .publish(
                Message::new(format!("platone/bal/devices/d{}/m", i % 5), i.to_string()),
                QoS::AtLeastOnce,
            )
            .await
            .unwrap();
    }
    let mut sub = kafka
        .subscribe(filter("platone/dsotp/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut got = BTreeSet::new();
    while got.len() < n {
        let d = next(&mut sub).await;
        let i: usize = std::str::from_utf8(&d.message.payload)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            d.message.topic,
            format!("platone/dsotp/devices/d{}/m", i % 5)
        );
        got.insert(i);
        d.ack().await.unwrap();
    }
    let c = bridge.shutdown().await;
    assert_eq!(c.errors, 0, "{c}");

    // Kafka → memory: an undecodable record is dead-lettered with its reason.
    let raw: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", mock.bootstrap_servers())
        .create()
        .unwrap();
    raw.send(
        FutureRecord::to("platone.dsotp")
            .key(&[0xffu8][..])
            .payload("bad"),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let memory = MemoryBus::new();
    let mut dead = memory
        .subscribe(filter("platone/bridge/dead-letter/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut cfg = KafkaConfig::new(mock.bootstrap_servers(), "to-memory");
    cfg.delivery_timeout = Duration::from_secs(5);
    let bridge = Bridge::start(
        BridgeConfig::default(),
        vec![Route {
            source: Arc::new(KafkaBus::connect(cfg).unwrap()),
            sink: Arc::new(memory.clone()),
            map: "# out 1 platone/dsotp/ local/".parse().unwrap(),
        }],
    )
    .await
    .unwrap();
    let d = next(&mut dead).await;
    assert_eq!(d.message.topic, "platone/bridge/dead-letter/undecodable");
    assert!(
        d.message
            .headers
            .get(DEAD_LETTER_REASON)
            .unwrap()
            .contains(TOPIC_HEADER)
    );
    let c = bridge.shutdown().await;
    assert_eq!(c.dead_lettered, 1, "{c}");
}
