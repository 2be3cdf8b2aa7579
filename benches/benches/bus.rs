//! platone-bus: MemoryBus fan-out, MQTT through a real Mosquitto at QoS 0 and 1, the bridge
//! against a plain subscriber measured the same way, and (feature `kafka`) Kafka through
//! librdkafka's mock cluster.
//!
//! Every figure is end to end: an iteration publishes a batch of numbered 256-byte messages
//! and ends when the last one has been received (and acknowledged). At QoS 1 every batch must
//! arrive whole, each message exactly once (the benchmark panics otherwise: zero loss is part of
//! the result).
//!
//! `BUS_BENCH_RATIO=1` then alternates the plain subscriber and the three bridge paths batch by
//! batch (`BUS_BENCH_ROUNDS` rounds, default 15; `BUS_BENCH_VERBOSE=1` prints every round) and
//! prints each bridge's rate as a share of the plain subscriber's in the same round, with the
//! CPU time per message of this process and of the brokers (from /proc).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use platone_bus::{
    Bridge, BridgeConfig, Bus, MemoryBus, Message, MqttBus, Publisher, QoS, Route, Subscriber,
    Subscription, TopicFilter,
};
use platone_testkit::{Mosquitto, MosquittoOptions};
use tokio::runtime::Runtime;

const PAYLOAD: usize = 256;
/// Messages per MQTT / Kafka iteration.
const BATCH: usize = 2_000;
/// Publishes awaiting their acknowledgement at a time (the client's in-flight window of 20
/// stays full; the rest wait in its queue).
const WINDOW: usize = 64;
/// Connections of the bridge's shared source subscription (`BUS_BENCH_SOURCE_CONNECTIONS`).
const SOURCE_CONNECTIONS: usize = 4;

fn filter(f: &str) -> TopicFilter {
    TopicFilter::new(f).unwrap()
}

/// A 256-byte payload numbered `seq` (first 8 bytes, big endian).
fn numbered(seq: u64) -> Bytes {
    let mut p = vec![0u8; PAYLOAD];
    p[..8].copy_from_slice(&seq.to_be_bytes());
    Bytes::from(p)
}

fn number(payload: &[u8]) -> u64 {
    u64::from_be_bytes(payload[..8].try_into().unwrap())
}

/// One publish → receive path and the numbers it has used so far.
struct Path<'a> {
    /// Message `i` goes through publisher `i % len`.
    publishers: Vec<&'a dyn Publisher>,
    topic: &'static str,
    sub: Subscription,
    qos: QoS,
    next: u64,
    published: u64,
}

impl Path<'_> {
    /// Publishes `n` messages (`window` at a time) and returns the time until the last one was
    /// received. At QoS 1 every message must arrive exactly once; at QoS 0 losses are counted
    /// (the batch ends after 2 s of silence) and reported.
    async fn run(&mut self, n: usize, window: usize) -> Duration {
        let base = self.next;
        self.next += n as u64;
        self.published += n as u64;
        let (publishers, topic, qos) = (&self.publishers, self.topic, self.qos);
        let sub = &mut self.sub;
        let start = Instant::now();
        let publish =
            futures::stream::iter(0..n as u64).for_each_concurrent(window, |i| async move {
                publishers[i as usize % publishers.len()]
                    .publish(Message::new(topic, numbered(base + i)), qos)
                    .await
                    .unwrap();
            });
        let receive = async {
            let mut seen = vec![false; n];
            let mut got = 0;
            let mut last = start;
            let quiet = if qos == QoS::AtMostOnce {
                Duration::from_secs(2)
            } else {
                Duration::from_secs(60)
            };
            while got < n {
                let Ok(d) = tokio::time::timeout(quiet, sub.next_delivery()).await else {
                    assert_eq!(qos, QoS::AtMostOnce, "{topic}: {} of {n} lost", n - got);
                    eprintln!("{topic}: QoS 0 lost {} of {n}", n - got);
                    break;
                };
                let d = d.expect("subscription open");
                let i = number(&d.message.payload)
                    .checked_sub(base)
                    .unwrap_or(u64::MAX) as usize;
                assert!(i < n && !seen[i], "{topic}: duplicate or stray message {i}");
                seen[i] = true;
                got += 1;
                last = Instant::now();
                d.ack().await.unwrap();
            }
            last
        };
        let ((), last) = tokio::join!(publish, receive);
        last - start
    }
}

/// User + system CPU time of a process (`self` or a pid) in clock ticks, from /proc.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3;
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum()
}

/// Clock ticks per second of /proc times (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Waits until mosquitto's own bridge forwards: probes (numbered `u64::MAX`, which no batch
/// uses) until one arrives, then drains late ones, so that no probe reaches a timed batch.
fn wait_for_native_bridge(rt: &Runtime, publisher: &MqttBus, sub: &mut Subscription) {
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                Instant::now() < deadline,
                "mosquitto's bridge did not forward"
            );
            publisher
                .publish(Message::new("fwd/x", numbered(u64::MAX)), QoS::AtLeastOnce)
                .await
                .unwrap();
            let probe = tokio::time::timeout(Duration::from_millis(200), sub.next_delivery());
            if let Ok(Some(d)) = probe.await {
                d.ack().await.unwrap();
                break;
            }
        }
        let late = Duration::from_millis(500);
        while let Ok(Some(d)) = tokio::time::timeout(late, sub.next_delivery()).await {
            d.ack().await.unwrap();
        }
    });
}

/// The first `n` buses as publishers.
fn first(buses: &[MqttBus], n: usize) -> Vec<&dyn Publisher> {
    buses[..n].iter().map(|p| p as &dyn Publisher).collect()
}

fn timed(rt: &Runtime, path: &mut Path<'_>, window: usize, iters: u64) -> Duration {
    (0..iters)
        .map(|_| rt.block_on(path.run(BATCH, window)))
        .sum()
}

fn memory(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let payload = Bytes::from(vec![0u8; PAYLOAD]);
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
                rt.block_on(async {
                    let publish = async {
                        for _ in 0..n {
                            bus.publish(Message::new("bench/x", payload.clone()), QoS::AtLeastOnce)
                                .await
                                .unwrap();
                        }
                    };
                    // Interleaved: with back-pressure, draining one subscriber at a time would
                    // stall the publisher on another's full queue.
                    let receive = async {
                        for _ in 0..n {
                            for s in subs.iter_mut() {
                                let d = s.next_delivery().await.unwrap();
                                d.ack().await.unwrap();
                            }
                        }
                    };
                    tokio::join!(publish, receive);
                })
            })
        });
    }
    group.finish();
}

/// The broker settings every MQTT benchmark uses, peers included
/// (benches/peers/bus_mosquitto.sh): mosquitto's default in-flight window of 20, no
/// persistence, a queue that never drops. `extra` follows the listener line.
fn broker(extra: String) -> Mosquitto {
    Mosquitto::start_with(MosquittoOptions {
        persistence: false,
        max_inflight: Some(20),
        max_queued: Some(0),
        extra_config: extra,
    })
    .unwrap()
}

fn mqtt(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let a = broker(String::new());
    let b = broker(String::new());
    // The peer: mosquitto's own bridge, from broker C into B, same route.
    let c_broker = broker(format!(
        "\nconnection to-b\naddress 127.0.0.1:{}\ncleansession true\n\
         topic # out 1 fwd/ native/\n",
        b.port()
    ));
    let _guard = rt.enter();
    let connect = |broker: &Mosquitto, id: &str| MqttBus::connect(broker.mqtt_config(id)).unwrap();
    let connect_four = |broker: &Mosquitto, name: &str| -> Vec<MqttBus> {
        (0..4)
            .map(|i| connect(broker, &format!("{name}-{i}")))
            .collect()
    };
    let on_a = connect_four(&a, "pub-a");
    let on_c = connect_four(&c_broker, "pub-c");
    let subscribe =
        |bus: &MqttBus, f: &str, qos: QoS| rt.block_on(bus.subscribe(filter(f), qos)).unwrap();
    let sub_bus = connect(&a, "bench-sub");
    let plain_bus = connect(&a, "plain-sub");
    let bridged_bus = connect(&b, "bridged-sub");
    let mut qos0 = Path {
        publishers: first(&on_a, 1),
        topic: "q0/x",
        sub: subscribe(&sub_bus, "q0/#", QoS::AtMostOnce),
        qos: QoS::AtMostOnce,
        next: 0,
        published: 0,
    };
    let mut qos1 = Path {
        publishers: first(&on_a, 1),
        topic: "q1/x",
        sub: subscribe(&sub_bus, "q1/#", QoS::AtLeastOnce),
        qos: QoS::AtLeastOnce,
        next: 0,
        published: 0,
    };
    // The baseline and the bridges: same publishers, broker settings, batch, payload and
    // window; only the topic differs, so each path carries only its own messages.
    let mut plain = Path {
        publishers: first(&on_a, 1),
        topic: "plain/x",
        sub: subscribe(&plain_bus, "plain/#", QoS::AtLeastOnce),
        qos: QoS::AtLeastOnce,
        next: 0,
        published: 0,
    };
    let mut bridged = Path {
        publishers: first(&on_a, 1),
        topic: "fwd/x",
        sub: subscribe(&bridged_bus, "remote/#", QoS::AtLeastOnce),
        qos: QoS::AtLeastOnce,
        next: 0,
        published: 0,
    };
    // The same bridge reading its source through SOURCE_CONNECTIONS connections sharing the
    // subscription (BridgeConfig::source_connections: more in-flight windows on broker A, no
    // per-topic order).
    let mut bridged_shared = Path {
        publishers: first(&on_a, 1),
        topic: "par/x",
        sub: subscribe(&bridged_bus, "remote-par/#", QoS::AtLeastOnce),
        qos: QoS::AtLeastOnce,
        next: 0,
        published: 0,
    };
    let mut native = Path {
        publishers: first(&on_c, 1),
        topic: "fwd/x",
        sub: subscribe(&bridged_bus, "native/#", QoS::AtLeastOnce),
        qos: QoS::AtLeastOnce,
        next: 0,
        published: 0,
    };
    let source: Arc<dyn Bus> = Arc::new(connect(&a, "bridge-src"));
    let sink: Arc<dyn Bus> = Arc::new(connect(&b, "bridge-sink"));
    let bridge = rt
        .block_on(Bridge::start(
            BridgeConfig::default(),
            vec![Route {
                source,
                sink,
                map: "# out 1 fwd/ remote/".parse().unwrap(),
            }],
        ))
        .unwrap();
    let source_connections = std::env::var("BUS_BENCH_SOURCE_CONNECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SOURCE_CONNECTIONS);
    let shared_bridge = rt
        .block_on(Bridge::start(
            BridgeConfig {
                source_connections,
                ..BridgeConfig::default()
            },
            vec![Route {
                source: Arc::new(connect(&a, "bridge-par-src")),
                sink: Arc::new(connect(&b, "bridge-par-sink")),
                map: "# out 1 par/ remote-par/".parse().unwrap(),
            }],
        ))
        .unwrap();
    // Mosquitto's bridge connects by itself (what C receives before that is not forwarded).
    wait_for_native_bridge(&rt, &on_c[0], &mut native.sub);

    let mut group = c.benchmark_group("bus/mqtt");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    group.bench_function("publish_receive_qos0", |b| {
        b.iter_custom(|iters| timed(&rt, &mut qos0, WINDOW, iters))
    });
    group.bench_function("publish_receive_qos1", |b| {
        b.iter_custom(|iters| timed(&rt, &mut qos1, WINDOW, iters))
    });
    group.bench_function("publish_receive_qos1_one_at_a_time", |b| {
        b.iter_custom(|iters| timed(&rt, &mut qos1, 1, iters))
    });
    for (name, publishers, window) in [("", 1, WINDOW), ("_4_publishers", 4, 4 * WINDOW)] {
        // Four publishing connections: more than one subscribing connection can take (the
        // broker keeps 20 messages in flight per client), so the receiving side sets the pace.
        plain.publishers = first(&on_a, publishers);
        bridged.publishers = first(&on_a, publishers);
        bridged_shared.publishers = first(&on_a, publishers);
        native.publishers = first(&on_c, publishers);
        group.bench_function(format!("plain_subscriber_qos1{name}"), |b| {
            b.iter_custom(|iters| timed(&rt, &mut plain, window, iters))
        });
        group.bench_function(format!("bridge_forward_qos1{name}"), |b| {
            b.iter_custom(|iters| timed(&rt, &mut bridged, window, iters))
        });
        group.bench_function(format!("bridge_forward_shared_qos1{name}"), |b| {
            b.iter_custom(|iters| timed(&rt, &mut bridged_shared, window, iters))
        });
        group.bench_function(format!("mosquitto_bridge_qos1{name}"), |b| {
            b.iter_custom(|iters| timed(&rt, &mut native, window, iters))
        });
    }
    group.finish();

    // On a shared machine the load changes between benchmarks: alternate the paths batch by
    // batch and compare each bridge with the plain subscriber of the same round. Also measure
    // the CPU time each path costs (this process and the three brokers).
    if std::env::var_os("BUS_BENCH_RATIO").is_some() {
        let rounds: usize = std::env::var("BUS_BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(15)
            .max(1);
        let window = 4 * WINDOW;
        let verbose = std::env::var_os("BUS_BENCH_VERBOSE").is_some();
        let pids: Vec<u32> = [&a, &b, &c_broker].iter().filter_map(|m| m.pid()).collect();
        let cpu = || {
            let own = cpu_ticks("self");
            let brokers: u64 = pids.iter().map(|p| cpu_ticks(&p.to_string())).sum();
            (own, brokers)
        };
        let names = [
            "plain subscriber".to_string(),
            "platone bridge".to_string(),
            format!("platone bridge, {source_connections} source connections"),
            "mosquitto bridge".to_string(),
        ];
        // Per path: rate of every round, ratio to the plain subscriber of the same round, and
        // CPU ticks (this process, brokers).
        let mut rates: [Vec<f64>; 4] = Default::default();
        let mut ratios: [Vec<f64>; 4] = Default::default();
        let mut ticks = [(0u64, 0u64); 4];
        for _ in 0..rounds {
            let mut times = [0.0; 4];
            let paths: [&mut Path<'_>; 4] =
                [&mut plain, &mut bridged, &mut bridged_shared, &mut native];
            for (i, path) in paths.into_iter().enumerate() {
                let before = cpu();
                times[i] = rt.block_on(path.run(BATCH, window)).as_secs_f64();
                let after = cpu();
                ticks[i].0 += after.0 - before.0;
                ticks[i].1 += after.1 - before.1;
            }
            for i in 0..4 {
                rates[i].push(BATCH as f64 / times[i]);
                ratios[i].push(times[0] / times[i]);
            }
            if verbose {
                let r: Vec<String> = times
                    .iter()
                    .map(|t| format!("{:.1}", BATCH as f64 / t / 1e3))
                    .collect();
                eprintln!("round (K msgs/s, paths as below): {}", r.join(" / "));
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let tick_us = 1e6 / clock_ticks_per_second();
        let messages = (rounds * BATCH) as f64;
        eprintln!(
            "{rounds} alternating rounds of {BATCH} messages, 4 publishers, window {window}:"
        );
        for i in 0..4 {
            let (own, brokers) = ticks[i];
            let ratio = if i == 0 {
                String::new()
            } else {
                let m = median(&mut ratios[i]);
                let v = &ratios[i];
                format!(
                    ", {:.0} % of the plain subscriber (min {:.0} %, max {:.0} %)",
                    100.0 * m,
                    100.0 * v[0],
                    100.0 * v[v.len() - 1]
                )
            };
            eprintln!(
                "  {}: median {:.1} K msgs/s{ratio}; CPU per message {:.1} µs (this process \
                 {:.1} µs, brokers {:.1} µs)",
                names[i],
                median(&mut rates[i]) / 1e3,
                (own + brokers) as f64 * tick_us / messages,
                own as f64 * tick_us / messages,
                brokers as f64 * tick_us / messages,
            );
        }
    }
    for (name, bridge, path) in [
        ("platone bridge", bridge, &bridged),
        (
            "platone bridge, shared source subscription",
            shared_bridge,
            &bridged_shared,
        ),
    ] {
        let counters = rt.block_on(bridge.shutdown());
        assert_eq!(counters.forwarded, path.published, "{name}: {counters}");
        assert_eq!(
            counters.errors + counters.dead_lettered,
            0,
            "{name}: {counters}"
        );
        eprintln!("{name}: {counters}, every one received once on the other broker");
    }
    eprintln!("plain subscriber: {} received once", plain.published);
}

#[cfg(feature = "kafka")]
fn kafka(c: &mut Criterion) {
    use platone_bus::rdkafka::mocking::MockCluster;
    use platone_bus::{KafkaBus, KafkaConfig};
    let rt = Runtime::new().unwrap();
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic("bench.kafka", 1, 1).unwrap();
    let bus = {
        let _guard = rt.enter();
        let mut config = KafkaConfig::new(mock.bootstrap_servers(), "bench");
        // The mock cluster holds every fetch for fetch.wait.max.ms (librdkafka's default,
        // 500 ms) even when records are waiting, which a real broker does not: each batch
        // would take 500 ms whatever the client does. `BUS_BENCH_FETCH_WAIT_MS=500` shows it.
        let wait = std::env::var("BUS_BENCH_FETCH_WAIT_MS").unwrap_or_else(|_| "10".into());
        config.extra.push(("fetch.wait.max.ms".into(), wait));
        KafkaBus::connect(config).unwrap()
    };
    let sub = rt
        .block_on(bus.subscribe(filter("bench/kafka/#"), QoS::AtLeastOnce))
        .unwrap();
    let mut path = Path {
        publishers: vec![&bus],
        topic: "bench/kafka/x",
        sub,
        qos: QoS::AtLeastOnce,
        next: 0,
        published: 0,
    };
    let mut group = c.benchmark_group("bus/kafka_mock");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    // Many publishes awaiting at once: the producer batches them.
    group.bench_function("produce_consume", |b| {
        b.iter_custom(|iters| timed(&rt, &mut path, BATCH, iters))
    });
    group.finish();
}

#[cfg(not(feature = "kafka"))]
fn kafka(_: &mut Criterion) {}

criterion_group!(benches, memory, mqtt, kafka);
criterion_main!(benches);
