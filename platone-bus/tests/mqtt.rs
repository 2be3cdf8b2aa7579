//! The MQTT adapter against real Mosquitto brokers.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use platone_bus::{
    BusError, Message, MqttBus, MqttConfig, Publisher, QoS, Subscriber, TlsConfig, TopicFilter,
};
use support::{Mosquitto, TestCa};

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
    let broker = Mosquitto::start();
    let sub_bus = MqttBus::connect(config(broker.port, "rt-sub")).unwrap();
    let pub_bus = MqttBus::connect(config(broker.port, "rt-pub")).unwrap();
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
    let ca = TestCa::new(dir.path());
    let server = ca.server();
    let acl = dir.path().join("acl");
    std::fs::write(
        &acl,
        "pattern write platone/bal/devices/%u/#\nuser observer\ntopic read platone/#\n",
    )
    .unwrap();
    let (ca_path, cert, key) = (ca.ca_path(), server.cert.clone(), server.key.clone());
    let broker = Mosquitto::start_with(move |_| {
        format!(
            "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n\
             use_identity_as_username true\nacl_file {}\n",
            ca_path.display(),
            cert.display(),
            key.display(),
            acl.display()
        )
    });
    let tls_for = |name: &str| {
        let c = ca.client(name);
        TlsConfig::from_files(&ca.ca_path(), Some((&c.cert, &c.key))).unwrap()
    };
    let mut obs_cfg = config(broker.port, "observer");
    obs_cfg.tls = Some(tls_for("observer"));
    let observer = MqttBus::connect(obs_cfg).unwrap();
    let mut seen = observer
        .subscribe(filter("platone/bal/devices/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut dev_cfg = config(broker.port, "pmu-a");
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
    let mut anon = config(broker.port, "anon");
    anon.tls = Some(TlsConfig::from_files(&ca.ca_path(), None).unwrap());
    let anon = MqttBus::connect(anon).unwrap();
    assert!(
        anon.wait_connected(Duration::from_millis(700))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn persistent_session_receives_what_was_published_offline() {
    let broker = Mosquitto::start();
    let publisher = MqttBus::connect(config(broker.port, "ps-pub")).unwrap();
    {
        let sub = MqttBus::connect(config(broker.port, "ps-sub")).unwrap();
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
    let sub = MqttBus::connect(config(broker.port, "ps-sub")).unwrap();
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
    let mut broker = Mosquitto::start();
    let sub_bus = MqttBus::connect(config(broker.port, "rs-sub")).unwrap();
    let mut sub = sub_bus
        .subscribe(filter("rs/+"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let pub_bus = MqttBus::connect(config(broker.port, "rs-pub")).unwrap();
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
            broker.restart();
        }
    }
    publisher.await.unwrap();
    assert!(restarted);
    assert_eq!(got, (0..n).collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn resubscribes_when_the_broker_lost_the_session() {
    let mut broker = Mosquitto::start_forgetful();
    let sub_bus = MqttBus::connect(config(broker.port, "fs-sub")).unwrap();
    let mut sub = sub_bus
        .subscribe(filter("fs/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    broker.restart();
    // The new broker knows nothing of `fs-sub`: the bus subscribes again after reconnecting.
    sub_bus.wait_connected(WAIT).await.unwrap();
    let publisher = MqttBus::connect(config(broker.port, "fs-pub")).unwrap();
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
    let broker = Mosquitto::start_with(|dir| {
        let file = dir.join("passwd");
        let status = std::process::Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&file)
            .args(["dsotp", "s3cret"])
            .status()
            .expect("mosquitto_passwd (Debian package mosquitto)");
        assert!(status.success());
        format!("allow_anonymous false\npassword_file {}\n", file.display())
    });
    let mut good = config(broker.port, "pw-good");
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
    let mut bad = config(broker.port, "pw-bad");
    bad.credentials = Some(("dsotp".into(), "wrong".into()));
    let bad = MqttBus::connect(bad).unwrap();
    assert!(
        bad.wait_connected(Duration::from_millis(700))
            .await
            .is_err()
    );
}
