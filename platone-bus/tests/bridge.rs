//! The bridge: remapping, at-least-once across broker restarts, loops, dead letters.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use platone_bus::{
    Bridge, BridgeConfig, Bus, DEAD_LETTER_REASON, MemoryBus, Message, MqttBus, MqttConfig,
    Publisher, QoS, Route, Subscriber, Subscription, TopicFilter, TopicMap,
};

const WAIT: Duration = Duration::from_secs(10);

fn config(port: u16, id: &str) -> MqttConfig {
    let mut c = MqttConfig::new("127.0.0.1", port, id);
    c.reconnect_max = Duration::from_millis(300);
    c
}

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).unwrap()
}

fn quick() -> BridgeConfig {
    BridgeConfig {
        retry_max: Duration::from_millis(300),
        drain_timeout: Duration::from_secs(2),
        ..BridgeConfig::default()
    }
}

async fn next(sub: &mut Subscription) -> platone_bus::Delivery {
    tokio::time::timeout(WAIT, sub.next_delivery())
        .await
        .expect("delivery in time")
        .expect("subscription open")
}

async fn nothing_more(sub: &mut Subscription) {
    assert!(
        tokio::time::timeout(Duration::from_millis(150), sub.next_delivery())
            .await
            .is_err(),
        "unexpected delivery"
    );
}

#[tokio::test]
async fn two_way_memory_bridge_prevents_loops_and_dead_letters_unroutable() {
    let a = MemoryBus::new();
    let b = MemoryBus::new();
    let (source, sink): (Arc<dyn Bus>, Arc<dyn Bus>) = (Arc::new(a.clone()), Arc::new(b.clone()));
    let routes = vec![
        Route {
            source: source.clone(),
            sink: sink.clone(),
            map: "# both 1 platone/dsotp/ /bal/".parse().unwrap(),
        },
        Route {
            source,
            sink,
            map: "# out 1 platone/market/ \"\"".parse().unwrap(),
        },
    ];
    let mut on_a = a.subscribe(filter("#"), QoS::AtLeastOnce).await.unwrap();
    let mut on_b = b.subscribe(filter("#"), QoS::AtLeastOnce).await.unwrap();
    let bridge = Bridge::start(quick(), routes).await.unwrap();
    a.publish(
        Message::new("platone/dsotp/meter/1", "a1"),
        QoS::AtLeastOnce,
    )
    .await
    .unwrap();
    b.publish(Message::new("/bal/meter/2", "b2"), QoS::AtLeastOnce)
        .await
        .unwrap();
    // The parent of the prefix maps level for level.
    a.publish(Message::new("platone/dsotp", "parent"), QoS::AtLeastOnce)
        .await
        .unwrap();
    // `platone/market` matches `platone/market/#` but has no remote name: dead letter.
    a.publish(Message::new("platone/market", "orphan"), QoS::AtLeastOnce)
        .await
        .unwrap();

    let mut b_topics = BTreeSet::new();
    let mut dead = None;
    for _ in 0..4 {
        let d = next(&mut on_b).await;
        if d.message.topic.starts_with("platone/bridge/dead-letter/") {
            dead = Some(d.message.clone());
        }
        b_topics.insert(d.message.topic.clone());
    }
    nothing_more(&mut on_b).await;
    let dead = dead.expect("dead letter");
    assert_eq!(dead.topic, "platone/bridge/dead-letter/unroutable");
    assert!(
        dead.headers
            .get(DEAD_LETTER_REASON)
            .unwrap()
            .contains("platone/market")
    );
    assert_eq!(
        b_topics,
        [
            "/bal/meter/1",
            "/bal/meter/2",
            "/bal",
            "platone/bridge/dead-letter/unroutable"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    let mut a_topics = BTreeSet::new();
    for _ in 0..4 {
        a_topics.insert(next(&mut on_a).await.message.topic);
    }
    nothing_more(&mut on_a).await;
    assert_eq!(
        a_topics,
        [
            "platone/dsotp/meter/1",
            "platone/dsotp/meter/2",
            "platone/dsotp",
            "platone/market"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    let c = bridge.shutdown().await;
    assert_eq!((c.forwarded, c.dead_lettered, c.errors), (3, 1, 0), "{c}");
    assert_eq!(c.dropped, 3, "three echoes suppressed: {c}");
}

#[tokio::test]
async fn mosquitto_to_mosquitto_with_remapping_survives_sink_restart() {
    let bal = support::mosquitto();
    let mut dsotp = support::mosquitto();
    let bal_bus = MqttBus::connect(config(bal.port(), "bal-device")).unwrap();
    let dsotp_bus = MqttBus::connect(config(dsotp.port(), "dsotp-app")).unwrap();
    let mut received = dsotp_bus
        .subscribe(filter("/bal/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let source: Arc<dyn Bus> =
        Arc::new(MqttBus::connect(config(bal.port(), "bridge-src")).unwrap());
    let sink: Arc<dyn Bus> =
        Arc::new(MqttBus::connect(config(dsotp.port(), "bridge-sink")).unwrap());
    let map: TopicMap = "# out 1 platone/dsotp/ /bal/".parse().unwrap();
    let bridge = Bridge::start(quick(), vec![Route { source, sink, map }])
        .await
        .unwrap();
    // Not covered by the route: never forwarded.
    bal_bus
        .publish(Message::new("platone/other/x", "no"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let n = 200u32;
    let publisher = tokio::spawn(async move {
        for i in 0..n {
            bal_bus
                .publish(
                    Message::new(format!("platone/dsotp/meters/{}", i % 7), i.to_string()),
                    QoS::AtLeastOnce,
                )
                .await
                .unwrap();
        }
    });
    let mut got = BTreeSet::new();
    let mut restarted = false;
    while got.len() < n as usize {
        let d = next(&mut received).await;
        assert!(
            d.message.topic.starts_with("/bal/meters/"),
            "{}",
            d.message.topic
        );
        let i: u32 = std::str::from_utf8(&d.message.payload)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(d.message.topic, format!("/bal/meters/{}", i % 7));
        got.insert(i);
        d.ack().await.unwrap();
        if !restarted && got.len() == 60 {
            restarted = true;
            dsotp.restart().unwrap();
        }
    }
    publisher.await.unwrap();
    assert_eq!(got, (0..n).collect::<BTreeSet<_>>());
    let c = bridge.shutdown().await;
    assert!(c.forwarded >= n as u64, "{c}");
    assert_eq!((c.errors, c.dead_lettered), (0, 0), "{c}");
}

#[tokio::test]
async fn bridge_survives_source_restart() {
    let mut bal = support::mosquitto();
    let dsotp = MemoryBus::new();
    let mut received = dsotp
        .subscribe(filter("in/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let source: Arc<dyn Bus> =
        Arc::new(MqttBus::connect(config(bal.port(), "src-bridge")).unwrap());
    let sink: Arc<dyn Bus> = Arc::new(dsotp.clone());
    let bridge = Bridge::start(
        quick(),
        vec![Route {
            source,
            sink,
            map: "# out 1 dev/ in/".parse().unwrap(),
        }],
    )
    .await
    .unwrap();
    let device = MqttBus::connect(config(bal.port(), "src-device")).unwrap();
    let n = 100u32;
    let mut got = BTreeSet::new();
    for i in 0..n {
        if i == n / 2 {
            bal.restart().unwrap();
        }
        loop {
            match device
                .publish(Message::new("dev/x", i.to_string()), QoS::AtLeastOnce)
                .await
            {
                Ok(()) => break,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    while got.len() < n as usize {
        let d = next(&mut received).await;
        got.insert(String::from_utf8(d.message.payload.to_vec()).unwrap());
    }
    assert_eq!(got.len(), n as usize);
    assert_eq!(got, (0..n).map(|i| i.to_string()).collect::<BTreeSet<_>>());
    let c = bridge.shutdown().await;
    assert_eq!(c.errors, 0, "{c}");
    let _ = Bytes::new();
}

#[tokio::test]
async fn bridge_with_a_shared_source_subscription_forwards_everything_once() {
    let bal = support::mosquitto();
    let dsotp = MemoryBus::new();
    let mut received = dsotp
        .subscribe(filter("shared-in/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let source: Arc<dyn Bus> =
        Arc::new(MqttBus::connect(config(bal.port(), "shared-src")).unwrap());
    let sink: Arc<dyn Bus> = Arc::new(dsotp.clone());
    let bridge = Bridge::start(
        BridgeConfig {
            source_connections: 3,
            ..quick()
        },
        vec![Route {
            source,
            sink,
            // Topics of its own: other tests of this binary publish on the same broker.
            map: "# out 1 shared-dev/ shared-in/".parse().unwrap(),
        }],
    )
    .await
    .unwrap();
    let device = MqttBus::connect(config(bal.port(), "shared-device")).unwrap();
    let n = 150u32;
    let publisher = tokio::spawn(async move {
        for i in 0..n {
            device
                .publish(
                    Message::new(format!("shared-dev/meters/{}", i % 4), i.to_string()),
                    QoS::AtLeastOnce,
                )
                .await
                .unwrap();
        }
    });
    let mut got = BTreeSet::new();
    while got.len() < n as usize {
        let d = next(&mut received).await;
        let i: u32 = std::str::from_utf8(&d.message.payload)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(d.message.topic, format!("shared-in/meters/{}", i % 4));
        assert!(got.insert(i), "message {i} forwarded twice");
        d.ack().await.unwrap();
    }
    publisher.await.unwrap();
    nothing_more(&mut received).await;
    let c = bridge.shutdown().await;
    assert_eq!(c.forwarded, n as u64, "{c}");
    assert_eq!((c.errors, c.dead_lettered, c.dropped), (0, 0, 0), "{c}");
}
