//! The bridge's payload-transform hook between two real Mosquitto brokers: transformed
//! messages are forwarded in order, a refused one is dead-lettered with its reason and the
//! rest flows on; on the memory bus the reason header arrives too.

mod support;

use std::sync::Arc;
use std::time::Duration;

use platone_bus::{
    Bridge, BridgeConfig, Bus, DEAD_LETTER_REASON, MemoryBus, Message, MqttBus, MqttConfig,
    ORIGINAL_TOPIC, PayloadTransform, Publisher, QoS, Route, Subscriber, Subscription, TopicFilter,
    TransformError,
};

const WAIT: Duration = Duration::from_secs(10);

/// Upper-cases the payload and tags it; refuses payloads that start with `bad`.
#[derive(Debug)]
struct Shout;

impl PayloadTransform for Shout {
    fn transform(&self, message: &mut Message) -> Result<(), TransformError> {
        if message.payload.starts_with(b"bad") {
            return Err(format!("payload {:?} is refused", message.payload).into());
        }
        let mut loud = message.payload.to_ascii_uppercase();
        loud.extend_from_slice(b"!");
        message.payload = loud.into();
        message.headers.insert("content-type", "text/x-shout");
        Ok(())
    }
}

fn config() -> BridgeConfig {
    BridgeConfig {
        retry_max: Duration::from_millis(300),
        drain_timeout: Duration::from_secs(2),
        transform: Some(Arc::new(Shout)),
        ..BridgeConfig::default()
    }
}

fn mqtt(port: u16, id: &str) -> MqttBus {
    let mut c = MqttConfig::new("127.0.0.1", port, id);
    c.reconnect_max = Duration::from_millis(300);
    MqttBus::connect(c).unwrap()
}

async fn next(sub: &mut Subscription) -> platone_bus::Delivery {
    tokio::time::timeout(WAIT, sub.next_delivery())
        .await
        .expect("delivery in time")
        .expect("subscription open")
}

#[tokio::test]
async fn transformed_between_two_mosquittos_and_a_refusal_is_dead_lettered() {
    let (a, b) = (support::mosquitto(), support::mosquitto());
    let source: Arc<dyn Bus> = Arc::new(mqtt(a.port(), "xf-src"));
    let sink: Arc<dyn Bus> = Arc::new(mqtt(b.port(), "xf-sink"));
    let publisher = mqtt(a.port(), "xf-pub");
    let reader = mqtt(b.port(), "xf-read");
    let mut out = reader
        .subscribe(TopicFilter::new("#").unwrap(), QoS::AtLeastOnce)
        .await
        .unwrap();
    let bridge = Bridge::start(
        config(),
        vec![Route {
            source,
            sink,
            map: "# out 1 dev/ ld/".parse().unwrap(),
        }],
    )
    .await
    .unwrap();
    for payload in ["one", "two", "bad three", "four"] {
        publisher
            .publish(Message::new("dev/m1", payload), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    let mut forwarded = Vec::new();
    let mut dead = Vec::new();
    while forwarded.len() + dead.len() < 4 {
        let d = next(&mut out).await;
        let m = d.message.clone();
        d.ack().await.unwrap();
        if m.topic == "ld/m1" {
            forwarded.push(String::from_utf8(m.payload.to_vec()).unwrap());
        } else {
            dead.push(m);
        }
    }
    assert_eq!(
        forwarded,
        ["ONE!", "TWO!", "FOUR!"],
        "in order, transformed"
    );
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].topic, "platone/bridge/dead-letter/untransformable");
    assert_eq!(&dead[0].payload[..], b"bad three", "the original payload");
    let c = bridge.shutdown().await;
    assert_eq!((c.forwarded, c.dead_lettered, c.errors), (3, 1, 0), "{c}");
}

#[tokio::test]
async fn the_reason_and_original_topic_travel_in_headers_on_the_memory_bus() {
    let (a, b) = (MemoryBus::new(), MemoryBus::new());
    let mut out = b
        .subscribe(TopicFilter::new("#").unwrap(), QoS::AtLeastOnce)
        .await
        .unwrap();
    let bridge = Bridge::start(
        config(),
        vec![Route {
            source: Arc::new(a.clone()),
            sink: Arc::new(b.clone()),
            map: "# out 1 dev/ ld/".parse().unwrap(),
        }],
    )
    .await
    .unwrap();
    a.publish(Message::new("dev/x", "bad"), QoS::AtLeastOnce)
        .await
        .unwrap();
    a.publish(Message::new("dev/y", "ok"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let dead = next(&mut out).await.message;
    assert_eq!(dead.topic, "platone/bridge/dead-letter/untransformable");
    let reason = dead.headers.get(DEAD_LETTER_REASON).unwrap();
    assert!(reason.starts_with("transform: payload"), "{reason}");
    assert_eq!(dead.headers.get(ORIGINAL_TOPIC), Some("dev/x"));
    let ok = next(&mut out).await.message;
    assert_eq!((ok.topic.as_str(), &ok.payload[..]), ("ld/y", &b"OK!"[..]));
    assert_eq!(ok.headers.get("content-type"), Some("text/x-shout"));
    let c = bridge.shutdown().await;
    assert_eq!((c.forwarded, c.dead_lettered), (1, 1), "{c}");
}
