//! The MQTT adapter against real Mosquitto brokers.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use platone_bus::{
    BusError, Message, MqttBus, MqttConfig, Publisher, QoS, Subscriber, TlsConfig, TopicFilter,
};
use platone_testkit::TestCa;

const WAIT: Duration = Duration::from_secs(10);

fn config(port: u16, id: &str) -> MqttConfig {
    let mut c = MqttConfig::new("127.0.0.1", port, id);
    c.reconnect_max = Duration::from_millis(300);
    c.keep_alive = Duration::from_secs(5);
    c
}

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).unwrap()
}

async fn next(sub: &mut platone_bus::Subscription) -> platone_bus::Delivery {
    tokio::time::timeout(WAIT, sub.next_delivery())
        .await
        .expect("delivery in time")
        .expect("subscription open")
}

#[tokio::test]
async fn qos0_and_qos1_round_trips_with_large_payloads() {
    let broker = support::mosquitto();
    let sub_bus = MqttBus::connect(config(broker.port(), "rt-sub")).unwrap();
    let pub_bus = MqttBus::connect(config(broker.port(), "rt-pub")).unwrap();
    let mut s0 = sub_bus
        .subscribe(filter("rt/q0/+"), QoS::AtMostOnce)
        .await
        .unwrap();
    let mut s1 = sub_bus
        .subscribe(filter("rt/q1/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    for i in 0..20 {
        pub_bus
            .publish(Message::new("rt/q0/a", format!("{i}")), QoS::AtMostOnce)
            .await
            .unwrap();
        pub_bus
            .publish(
                Message::new(format!("rt/q1/{i}"), format!("{i}")),
                QoS::AtLeastOnce,
            )
            .await
            .unwrap();
    }
    for i in 0..20 {
        let d = next(&mut s0).await;
        assert_eq!(d.message.payload, Bytes::from(format!("{i}")));
        d.ack().await.unwrap();
        let d = next(&mut s1).await;
        assert_eq!(d.message.topic, format!("rt/q1/{i}"));
        d.ack().await.unwrap();
    }
    // Well above rumqttc's 10 KiB default packet limit.
    let big = Bytes::from(vec![0x5a; 512 * 1024]);
    pub_bus
        .publish(Message::new("rt/q1/big", big.clone()), QoS::AtLeastOnce)
        .await
        .unwrap();
    let d = next(&mut s1).await;
    assert_eq!(d.message.payload, big);
    d.ack().await.unwrap();
    // QoS 2 within the in-flight window.
    let mut s2 = sub_bus
        .subscribe(filter("rt/q2"), QoS::ExactlyOnce)
        .await
        .unwrap();
    for i in 0..30 {
        pub_bus
            .publish(Message::new("rt/q2", format!("{i}")), QoS::ExactlyOnce)
            .await
            .unwrap();
    }
    for i in 0..30 {
        let d = next(&mut s2).await;
        assert_eq!(d.message.payload, Bytes::from(format!("{i}")));
        d.ack().await.unwrap();
    }
    let err = pub_bus
        .publish(Message::new("rt/+", "x"), QoS::AtLeastOnce)
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::InvalidTopic { .. }), "{err}");
}

#[tokio::test]
async fn tls_client_certificates_and_per_device_write_acl() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "Platone test CA").unwrap();
    let server = ca.server_certificate("server").unwrap();
    let acl = dir.path().join("acl");
    std::fs::write(
        &acl,
        "pattern write platone/bal/devices/%u/#\nuser observer\ntopic read platone/#\n",
    )
    .unwrap();
    let (ca_path, cert, key) = (ca.ca_file(), server.cert.clone(), server.key.clone());
    let broker = support::mosquitto_with(format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n\
         use_identity_as_username true\nacl_file {}\n",
        ca_path.display(),
        cert.display(),
        key.display(),
        acl.display()
    ));
    let tls_for = |name: &str| {
        let c = ca.client_certificate(name).unwrap();
        TlsConfig::from_files(&ca.ca_file(), Some((&c.cert, &c.key))).unwrap()
    };
    let mut obs_cfg = config(broker.port(), "observer");
    obs_cfg.tls = Some(tls_for("observer"));
    let observer = MqttBus::connect(obs_cfg).unwrap();
    let mut seen = observer
        .subscribe(filter("platone/bal/devices/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut dev_cfg = config(broker.port(), "pmu-a");
    dev_cfg.tls = Some(tls_for("pmu-a"));
    let device = MqttBus::connect(dev_cfg).unwrap();
    // MQTT 3.1.1 cannot refuse a publish: the broker acknowledges and discards it.
    device
        .publish(
            Message::new("platone/bal/devices/pmu-b/measurements", "forged"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    device
        .publish(
            Message::new("platone/bal/devices/pmu-a/measurements", "own"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let d = next(&mut seen).await;
    assert_eq!(d.message.topic, "platone/bal/devices/pmu-a/measurements");
    assert_eq!(d.message.payload, Bytes::from("own"));
    d.ack().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(200), seen.next_delivery())
            .await
            .is_err(),
        "the forged message must not be delivered"
    );
    // Without a client certificate the broker refuses the connection.
    let mut anon = config(broker.port(), "anon");
    anon.tls = Some(TlsConfig::from_files(&ca.ca_file(), None).unwrap());
    let anon = MqttBus::connect(anon).unwrap();
    assert!(
        anon.wait_connected(Duration::from_millis(700))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn persistent_session_receives_what_was_published_offline() {
    let broker = support::mosquitto();
    let publisher = MqttBus::connect(config(broker.port(), "ps-pub")).unwrap();
    {
        let sub = MqttBus::connect(config(broker.port(), "ps-sub")).unwrap();
        let _s = sub
            .subscribe(filter("ps/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        sub.disconnect().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..10 {
        publisher
            .publish(Message::new("ps/x", format!("{i}")), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    // Same client id, persistent session: the queued messages arrive even before (and without
    // waiting for) a new SUBSCRIBE; they are held until a matching subscription exists.
    let sub = MqttBus::connect(config(broker.port(), "ps-sub")).unwrap();
    sub.wait_connected(WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut s = sub
        .subscribe(filter("ps/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    for i in 0..10 {
        let d = next(&mut s).await;
        assert_eq!(d.message.payload, Bytes::from(format!("{i}")));
        d.ack().await.unwrap();
    }
}

#[tokio::test]
async fn broker_restart_mid_qos1_stream_loses_nothing() {
    let mut broker = support::mosquitto();
    let sub_bus = MqttBus::connect(config(broker.port(), "rs-sub")).unwrap();
    let mut sub = sub_bus
        .subscribe(filter("rs/+"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let pub_bus = MqttBus::connect(config(broker.port(), "rs-pub")).unwrap();
    let n = 300u32;
    let publisher = tokio::spawn(async move {
        let mut retried = 0;
        for i in 0..n {
            loop {
                match pub_bus
                    .publish(Message::new("rs/x", i.to_string()), QoS::AtLeastOnce)
                    .await
                {
                    Ok(()) => break,
                    Err(_) => {
                        retried += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            if i % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        retried
    });
    let mut got = BTreeSet::new();
    let mut restarted = false;
    while got.len() < n as usize {
        let d = next(&mut sub).await;
        let i: u32 = std::str::from_utf8(&d.message.payload)
            .unwrap()
            .parse()
            .unwrap();
        got.insert(i);
        d.ack().await.unwrap();
        if !restarted && got.len() == 100 {
            restarted = true;
            broker.restart().unwrap();
        }
    }
    publisher.await.unwrap();
    assert!(restarted);
    assert_eq!(got, (0..n).collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn resubscribes_when_the_broker_lost_the_session() {
    let mut broker = support::mosquitto_forgetful();
    let sub_bus = MqttBus::connect(config(broker.port(), "fs-sub")).unwrap();
    let mut sub = sub_bus
        .subscribe(filter("fs/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    broker.restart().unwrap();
    // The new broker knows nothing of `fs-sub`: the bus subscribes again after reconnecting.
    sub_bus.wait_connected(WAIT).await.unwrap();
    let publisher = MqttBus::connect(config(broker.port(), "fs-pub")).unwrap();
    let mut got = None;
    for _ in 0..50 {
        publisher
            .publish(Message::new("fs/x", "after"), QoS::AtLeastOnce)
            .await
            .unwrap();
        if let Ok(Some(d)) =
            tokio::time::timeout(Duration::from_millis(100), sub.next_delivery()).await
        {
            got = Some(d);
            break;
        }
    }
    let d = got.expect("delivery after the resubscription");
    assert_eq!(d.message.payload, Bytes::from("after"));
    d.ack().await.unwrap();
}

#[tokio::test]
async fn username_and_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    let status = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&file)
        .args(["dsotp", "s3cret"])
        .status()
        .expect("mosquitto_passwd (Debian package mosquitto)");
    assert!(status.success());
    // The later `allow_anonymous false` overrides the launcher's default.
    let broker = support::mosquitto_with(format!(
        "allow_anonymous false\npassword_file {}\n",
        file.display()
    ));
    let mut good = config(broker.port(), "pw-good");
    good.credentials = Some(("dsotp".into(), "s3cret".into()));
    let good = MqttBus::connect(good).unwrap();
    let mut s = good
        .subscribe(filter("pw"), QoS::AtLeastOnce)
        .await
        .unwrap();
    good.publish(Message::new("pw", "ok"), QoS::AtLeastOnce)
        .await
        .unwrap();
    next(&mut s).await.ack().await.unwrap();
    let mut bad = config(broker.port(), "pw-bad");
    bad.credentials = Some(("dsotp".into(), "wrong".into()));
    let bad = MqttBus::connect(bad).unwrap();
    assert!(
        bad.wait_connected(Duration::from_millis(700))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn qos1_publishes_caught_in_flight_by_a_lost_session_are_not_confirmed() {
    let mut broker = support::mosquitto_forgetful();
    let bus = MqttBus::connect(config(broker.port(), "lost-pub")).unwrap();
    bus.publish(Message::new("lost/x", "before"), QoS::AtLeastOnce)
        .await
        .unwrap();
    // A hung broker: the publishes leave (20 in flight, the rest queued in the client) and no
    // PUBACK comes back.
    broker.pause().unwrap();
    let n = 30;
    let mut pending = Vec::new();
    for i in 0..n {
        let bus = bus.clone();
        pending.push(tokio::spawn(async move {
            bus.publish(Message::new("lost/x", format!("{i}")), QoS::AtLeastOnce)
                .await
        }));
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        pending.iter().all(|p| !p.is_finished()),
        "nothing can be confirmed by a frozen broker"
    );
    // It crashes and comes back without the session: every one of those publishes must fail
    // with NotConfirmed (never hang, never report success).
    broker.kill();
    broker.restart().unwrap();
    for (i, p) in pending.into_iter().enumerate() {
        let result = tokio::time::timeout(WAIT, p)
            .await
            .unwrap_or_else(|_| panic!("publish {i} hangs after the session was lost"))
            .unwrap();
        match result {
            Err(BusError::NotConfirmed { topic, reason }) => {
                assert_eq!(topic, "lost/x");
                assert!(reason.contains("session"), "{reason}");
            }
            other => panic!("publish {i}: {other:?}"),
        }
    }
    // The caller may retry: on the new session the same publish is confirmed and delivered.
    let sub_bus = MqttBus::connect(config(broker.port(), "lost-sub")).unwrap();
    let mut sub = sub_bus
        .subscribe(filter("lost/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    bus.publish(Message::new("lost/x", "retried"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let d = next(&mut sub).await;
    assert_eq!(d.message.payload, Bytes::from("retried"));
    d.ack().await.unwrap();
}

#[tokio::test]
async fn publishes_made_while_the_broker_is_down_are_confirmed_after_it_returns() {
    let mut broker = support::mosquitto_forgetful();
    let bus = MqttBus::connect(config(broker.port(), "down-pub")).unwrap();
    bus.wait_connected(WAIT).await.unwrap();
    broker.stop();
    // Let the client notice the broker is gone before publishing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move {
            for i in 0..5 {
                bus.publish(Message::new("down/x", format!("{i}")), QoS::AtLeastOnce)
                    .await?;
            }
            Ok::<(), BusError>(())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!publisher.is_finished(), "no broker, no confirmation");
    broker.restart().unwrap();
    // Never sent before the session was lost, so not lost with it: sent and confirmed now.
    tokio::time::timeout(WAIT, publisher)
        .await
        .expect("publishes complete once the broker is back")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shared_subscription_reads_through_several_connections_each_message_once() {
    let broker = support::mosquitto();
    let bus = MqttBus::connect(config(broker.port(), "lanes")).unwrap();
    let publisher = MqttBus::connect(config(broker.port(), "lanes-pub")).unwrap();
    let mut sub = bus
        .subscribe_shared(filter("lanes/#"), QoS::AtLeastOnce, 3)
        .await
        .unwrap();
    // More than two connections can hold unacknowledged: the broker keeps at most 20 QoS 1
    // messages in flight per connection, so receiving all 50 before acknowledging any needs
    // the three connections.
    let n = 50u32;
    for i in 0..n {
        publisher
            .publish(
                Message::new(format!("lanes/{}", i % 5), i.to_string()),
                QoS::AtLeastOnce,
            )
            .await
            .unwrap();
    }
    let mut held = Vec::new();
    let mut got = BTreeSet::new();
    for _ in 0..n {
        let d = next(&mut sub).await;
        let i: u32 = std::str::from_utf8(&d.message.payload)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(d.message.topic, format!("lanes/{}", i % 5));
        assert!(got.insert(i), "message {i} delivered twice");
        held.push(d);
    }
    assert_eq!(got, (0..n).collect::<BTreeSet<_>>());
    for d in held {
        d.ack().await.unwrap();
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next_delivery())
            .await
            .is_err(),
        "a message came twice"
    );
}

#[tokio::test]
async fn one_connection_holds_only_the_broker_window_unacknowledged() {
    // The counterpart of the test above: an ordinary subscription (or a shared one through a
    // single connection) stops at the broker's in-flight window of 20.
    let broker = support::mosquitto();
    let mut config_nodelay = config(broker.port(), "one-lane");
    config_nodelay.tcp_nodelay = true;
    let bus = MqttBus::connect(config_nodelay).unwrap();
    let publisher = MqttBus::connect(config(broker.port(), "one-lane-pub")).unwrap();
    let mut sub = bus
        .subscribe_shared(filter("one/#"), QoS::AtLeastOnce, 1)
        .await
        .unwrap();
    for i in 0..30u32 {
        publisher
            .publish(Message::new("one/x", i.to_string()), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    let mut held = Vec::new();
    for i in 0..20u32 {
        let d = next(&mut sub).await;
        assert_eq!(d.message.payload, Bytes::from(i.to_string()), "in order");
        held.push(d);
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next_delivery())
            .await
            .is_err(),
        "more than the broker's window arrived unacknowledged"
    );
    for d in held {
        d.ack().await.unwrap();
    }
    for i in 20..30u32 {
        let d = next(&mut sub).await;
        assert_eq!(d.message.payload, Bytes::from(i.to_string()), "in order");
        d.ack().await.unwrap();
    }
}
