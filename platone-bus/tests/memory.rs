//! The in-process bus: routing, back-pressure, shared subscriptions, zero copy.

use std::time::Duration;

use bytes::Bytes;
use platone_bus::{MemoryBus, Message, Publisher, QoS, Subscriber, TopicFilter};

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).unwrap()
}

#[tokio::test]
async fn wildcard_routing_and_zero_copy() {
    let bus = MemoryBus::new();
    let mut all = bus
        .subscribe(filter("platone/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut one = bus
        .subscribe(
            filter("platone/bal/devices/+/measurements"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let mut sys = bus.subscribe(filter("#"), QoS::AtLeastOnce).await.unwrap();
    let payload = Bytes::from(vec![7u8; 4096]);
    bus.publish(
        Message::new("platone/bal/devices/pmu-1/measurements", payload.clone()),
        QoS::AtLeastOnce,
    )
    .await
    .unwrap();
    bus.publish(Message::new("platone/market/results", "r"), QoS::AtMostOnce)
        .await
        .unwrap();
    bus.publish(Message::new("$SYS/uptime", "1"), QoS::AtMostOnce)
        .await
        .unwrap();
    let d = one.next_delivery().await.unwrap();
    assert_eq!(
        d.message.payload.as_ptr(),
        payload.as_ptr(),
        "payload copied"
    );
    d.ack().await.unwrap();
    assert_eq!(
        all.next_delivery().await.unwrap().message.topic,
        "platone/bal/devices/pmu-1/measurements"
    );
    assert_eq!(
        all.next_delivery().await.unwrap().message.topic,
        "platone/market/results"
    );
    // `#` does not match `$SYS`: the wildcard-only subscriber sees the two platone messages only.
    assert_eq!(
        sys.next_delivery().await.unwrap().message.topic,
        "platone/bal/devices/pmu-1/measurements"
    );
    assert_eq!(
        sys.next_delivery().await.unwrap().message.topic,
        "platone/market/results"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(50), sys.next_delivery())
            .await
            .is_err()
    );
    assert!(
        bus.publish(Message::new("bad/+", "x"), QoS::AtMostOnce)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn slow_subscriber_gets_back_pressure_not_loss() {
    let bus = MemoryBus::with_capacity(2);
    let mut slow = bus.subscribe(filter("t/#"), QoS::AtMostOnce).await.unwrap();
    for i in 0..2 {
        bus.publish(Message::new("t/a", format!("{i}")), QoS::AtMostOnce)
            .await
            .unwrap();
    }
    // The queue is full: the third publish waits instead of dropping.
    let bus2 = bus.clone();
    let third = tokio::spawn(async move {
        bus2.publish(Message::new("t/a", "2"), QoS::AtMostOnce)
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !third.is_finished(),
        "publish should wait for the slow subscriber"
    );
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(slow.next_delivery().await.unwrap().message.payload);
    }
    third.await.unwrap().unwrap();
    assert_eq!(
        got,
        vec![Bytes::from("0"), Bytes::from("1"), Bytes::from("2")]
    );
    assert_eq!(slow.lagged(), 0);
}

#[tokio::test]
async fn shared_subscriptions_split_and_dropping_unsubscribes() {
    let bus = MemoryBus::new();
    let mut a = bus
        .subscribe(filter("$share/g/jobs/+"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut b = bus
        .subscribe(filter("$share/g/jobs/+"), QoS::AtLeastOnce)
        .await
        .unwrap();
    for i in 0..10 {
        bus.publish(Message::new("jobs/x", format!("{i}")), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    let mut na = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(20), a.next_delivery()).await
    {
        na += 1;
    }
    let mut nb = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(20), b.next_delivery()).await
    {
        nb += 1;
    }
    assert_eq!((na, nb), (5, 5));
    drop(a);
    drop(b);
    assert_eq!(bus.subscriber_count(), 0);
}

#[tokio::test]
async fn eight_subscribers_each_get_everything() {
    let bus = MemoryBus::new();
    let mut subs = Vec::new();
    for _ in 0..8 {
        subs.push(
            bus.subscribe(filter("m/+"), QoS::AtLeastOnce)
                .await
                .unwrap(),
        );
    }
    let n = 500;
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move {
            for i in 0..n {
                bus.publish(Message::new("m/x", format!("{i}")), QoS::AtLeastOnce)
                    .await
                    .unwrap();
            }
        })
    };
    for s in subs.iter_mut() {
        for i in 0..n {
            let d = s.next_delivery().await.unwrap();
            assert_eq!(d.message.payload, Bytes::from(format!("{i}")));
        }
    }
    publisher.await.unwrap();
}

#[tokio::test]
async fn shared_subscription_request_is_one_ordinary_subscription_in_process() {
    let bus = MemoryBus::new();
    let mut sub = bus
        .subscribe_shared(filter("m/#"), QoS::AtLeastOnce, 4)
        .await
        .unwrap();
    for i in 0..10u32 {
        bus.publish(Message::new("m/x", i.to_string()), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    for i in 0..10u32 {
        let d = tokio::time::timeout(Duration::from_secs(5), sub.next_delivery())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.message.payload, Bytes::from(i.to_string()), "in order");
        d.ack().await.unwrap();
    }
}
