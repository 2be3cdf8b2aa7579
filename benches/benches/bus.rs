//! platone-bus: MemoryBus fan-out, MQTT through a real Mosquitto at QoS 0 and 1, the bridge
//! against a plain subscriber, and (feature `kafka`) Kafka through librdkafka's mock cluster.
//!
//! Each iteration publishes a batch and waits until every message has been received, so the
//! figure is end-to-end messages per second.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use platone_bus::{
    Bridge, BridgeConfig, Bus, MemoryBus, Message, MqttBus, MqttConfig, Publisher, QoS, Route,
    Subscriber, Subscription, TopicFilter,
};
use tokio::runtime::Runtime;

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

struct Broker {
    port: u16,
    _dir: tempfile::TempDir,
    child: Child,
}

impl Broker {
    fn start() -> Broker {
        assert!(
            Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} missing: install mosquitto"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let root = std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false);
        let conf = dir.path().join("m.conf");
        std::fs::write(
            &conf,
            format!(
                "{}listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000000\n",
                if root { "user root\n" } else { "" }
            ),
        )
        .unwrap();
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Broker {
            port,
            _dir: dir,
            child,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).unwrap()
}

/// Publishes `n` messages of `payload` on `topic` and waits until every subscription got them.
async fn round(
    publisher: &dyn Bus,
    subs: &mut [Subscription],
    topic: &str,
    n: usize,
    payload: &Bytes,
    qos: QoS,
) {
    let publish = async {
        for _ in 0..n {
            publisher
                .publish(Message::new(topic, payload.clone()), qos)
                .await
                .unwrap();
        }
    };
    // Interleaved: with back-pressure, draining one subscriber at a time would stall the
    // publisher on another's full queue.
    let receive = async {
        for _ in 0..n {
            for s in subs.iter_mut() {
                let d = s.next_delivery().await.unwrap();
                d.ack().await.unwrap();
            }
        }
    };
    tokio::join!(publish, receive);
}

fn memory(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let payload = Bytes::from(vec![0u8; 256]);
    let n = 10_000;
    let mut group = c.benchmark_group("bus/memory");
    group.throughput(Throughput::Elements(n as u64));
    for subscribers in [1usize, 8] {
        let bus = MemoryBus::new();
        let mut subs: Vec<Subscription> = rt.block_on(async {
            let mut v = Vec::new();
            for _ in 0..subscribers {
                v.push(
                    bus.subscribe(filter("bench/+"), QoS::AtLeastOnce)
                        .await
                        .unwrap(),
                );
            }
            v
        });
        group.bench_function(format!("{subscribers}_subscribers"), |b| {
            b.iter(|| {
                rt.block_on(round(
                    &bus,
                    &mut subs,
                    "bench/x",
                    n,
                    &payload,
                    QoS::AtLeastOnce,
                ))
            })
        });
    }
    group.finish();
}

fn mqtt(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let broker = Broker::start();
    let payload = Bytes::from(vec![0u8; 256]);
    let n = 2_000;
    let mut group = c.benchmark_group("bus/mqtt");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    for (qos, name) in [(QoS::AtMostOnce, "qos0"), (QoS::AtLeastOnce, "qos1")] {
        let (publisher, mut subs) = rt.block_on(async {
            let p = MqttBus::connect(MqttConfig::new(
                "127.0.0.1",
                broker.port,
                format!("bp-{name}"),
            ))
            .unwrap();
            let s = MqttBus::connect(MqttConfig::new(
                "127.0.0.1",
                broker.port,
                format!("bs-{name}"),
            ))
            .unwrap();
            let sub = s
                .subscribe(filter(&format!("bench/{name}")), qos)
                .await
                .unwrap();
            (p, vec![(sub, s)])
        });
        group.bench_function(format!("publish_receive_{name}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut only: Vec<Subscription> = Vec::new();
                    let (sub, bus) = subs.pop().unwrap();
                    only.push(sub);
                    round(
                        &publisher,
                        &mut only,
                        &format!("bench/{name}"),
                        n,
                        &payload,
                        qos,
                    )
                    .await;
                    subs.push((only.pop().unwrap(), bus));
                })
            })
        });
    }
    // The bridge against a plain subscriber, QoS 1: A → bridge → B versus A → subscriber.
    let other = Broker::start();
    let (publisher, mut plain, mut bridged, bridge) = rt.block_on(async {
        let p = MqttBus::connect(MqttConfig::new("127.0.0.1", broker.port, "bridge-pub")).unwrap();
        let plain_bus =
            MqttBus::connect(MqttConfig::new("127.0.0.1", broker.port, "plain-sub")).unwrap();
        let plain = plain_bus
            .subscribe(filter("fwd/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        let sink_sub =
            MqttBus::connect(MqttConfig::new("127.0.0.1", other.port, "bridged-sub")).unwrap();
        let bridged = sink_sub
            .subscribe(filter("remote/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        let source: Arc<dyn Bus> = Arc::new(
            MqttBus::connect(MqttConfig::new("127.0.0.1", broker.port, "bridge-src")).unwrap(),
        );
        let sink: Arc<dyn Bus> = Arc::new(
            MqttBus::connect(MqttConfig::new("127.0.0.1", other.port, "bridge-sink")).unwrap(),
        );
        let bridge = Bridge::start(
            BridgeConfig::default(),
            vec![Route {
                source,
                sink,
                map: "# out 1 fwd/ remote/".parse().unwrap(),
            }],
        )
        .await
        .unwrap();
        (p, (plain, plain_bus), (bridged, sink_sub), bridge)
    });
    let run = |rt: &Runtime, target: &mut Subscription, other: &mut Subscription| {
        rt.block_on(async {
            let publish = async {
                for _ in 0..n {
                    publisher
                        .publish(Message::new("fwd/x", payload.clone()), QoS::AtLeastOnce)
                        .await
                        .unwrap();
                }
            };
            // Both subscribers receive everything; the measured side is the one awaited last.
            let recv = async {
                for _ in 0..n {
                    target.next_delivery().await.unwrap().ack().await.unwrap();
                }
            };
            let drain = async {
                for _ in 0..n {
                    other.next_delivery().await.unwrap().ack().await.unwrap();
                }
            };
            tokio::join!(publish, recv, drain);
        })
    };
    group.bench_function("plain_subscriber_qos1", |b| {
        b.iter(|| run(&rt, &mut plain.0, &mut bridged.0))
    });
    group.bench_function("bridge_forward_qos1", |b| {
        b.iter(|| run(&rt, &mut bridged.0, &mut plain.0))
    });
    group.finish();
    let counters = rt.block_on(bridge.shutdown());
    assert_eq!(counters.errors, 0, "{counters}");
    drop(plain.1);
    drop(bridged.1);
}

#[cfg(feature = "kafka")]
fn kafka(c: &mut Criterion) {
    use platone_bus::rdkafka::mocking::MockCluster;
    use platone_bus::{KafkaBus, KafkaConfig};
    let rt = Runtime::new().unwrap();
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("bench.kafka", 1, 1).unwrap();
    let payload = Bytes::from(vec![0u8; 256]);
    let n = 2_000;
    let (bus, mut subs) = rt.block_on(async {
        let bus = KafkaBus::connect(KafkaConfig::new(mock.bootstrap_servers(), "bench")).unwrap();
        let sub = bus
            .subscribe(filter("bench/kafka/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        (bus, vec![sub])
    });
    let mut group = c.benchmark_group("bus/kafka_mock");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function("produce_consume", |b| {
        b.iter(|| {
            rt.block_on(async {
                // Publishes concurrently: the producer batches while each waits for its ack.
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..n {
                    let bus = bus.clone();
                    let m = Message::new("bench/kafka/x", payload.clone());
                    set.spawn(async move { bus.publish(m, QoS::AtLeastOnce).await });
                }
                let publish = async {
                    while let Some(r) = set.join_next().await {
                        r.unwrap().unwrap();
                    }
                };
                let receive = async {
                    for _ in 0..n {
                        subs[0].next_delivery().await.unwrap().ack().await.unwrap();
                    }
                };
                tokio::join!(publish, receive);
            })
        })
    });
    group.finish();
}

#[cfg(not(feature = "kafka"))]
fn kafka(_: &mut Criterion) {}

criterion_group!(benches, memory, mqtt, kafka);
criterion_main!(benches);
