//! The Light Node's BAL side against a real Mosquitto: readings buffered on disk while the
//! BAL's broker is down (seconds standing in for the 48 hours) are all delivered, oldest
//! first, none twice — through a restart of the Light Node too; a full buffer drops the oldest
//! and counts them; and a BAL accepts the signed packets and stores their measurements.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platone_bal::config::{DeviceConfig, PodConfig};
use platone_bal::{Bal, BalConfig};
use platone_bus::{Bus, MqttBus, QoS, Subscriber, TopicFilter};
use platone_certify::{DeviceKey, SignedEnvelope};
use platone_cim::meter_readings::{Mode, parse_slice};
use platone_model::{DeviceId, MeasurementKind, MeterId, PodId, SetPoint, Unit};
use platone_scd::{MeasurementQuery, Principal, Store};
use platone_sim::lightnode::{
    BalSide, Outbox, OutboxConfig, SetPointBoard, SharedBoard, SharedOutbox,
};
use platone_testkit::{Mosquitto, MosquittoOptions};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

const POD: &str = "POD-LN";
const DEVICE: &str = "ln-POD-LN";
const METER: &str = "MTR-POD-LN";
const FILTER: &str = "platone/bal/devices/+/cim";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn side(key: &DeviceKey) -> BalSide {
    let mut side = BalSide::new(
        DeviceId::new(DEVICE).unwrap(),
        MeterId::new(METER).unwrap(),
        key.clone(),
    );
    side.interval = Duration::from_millis(20);
    side.retry_max = Duration::from_millis(500);
    side
}

fn board() -> SharedBoard {
    Arc::new(Mutex::new(SetPointBoard::new(PodId::new(POD).unwrap())))
}

/// A broker that queues everything for an offline subscriber.
fn broker() -> Mosquitto {
    Mosquitto::start_with(MosquittoOptions {
        max_queued: Some(0),
        ..MosquittoOptions::default()
    })
    .unwrap()
}

/// The collector's persistent session: subscribed once, then offline, so that the broker
/// queues every packet for it (through its restarts: the queue is persisted) and it reads them
/// all at the end — its own acknowledgements can then never race a broker stop.
fn register_collector(rt: &Runtime, broker: &Mosquitto) {
    rt.block_on(async {
        let bus = MqttBus::connect(broker.mqtt_config("collector")).unwrap();
        bus.wait_connected(Duration::from_secs(10)).await.unwrap();
        let _sub = bus
            .subscribe(TopicFilter::new(FILTER).unwrap(), QoS::AtLeastOnce)
            .await
            .unwrap();
        bus.disconnect().await.unwrap();
    });
}

/// Every packet the collector was queued, in arrival order, as (sequence number, active power
/// in kW), each signature checked against `key`. Reads until `expected` arrived, then for half
/// a second more (anything sent twice would show).
fn collect(rt: &Runtime, broker: &Mosquitto, key: &DeviceKey, expected: usize) -> Vec<(u64, f64)> {
    rt.block_on(async {
        let bus = MqttBus::connect(broker.mqtt_config("collector")).unwrap();
        let mut sub = bus
            .subscribe(TopicFilter::new(FILTER).unwrap(), QoS::AtLeastOnce)
            .await
            .unwrap();
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let wait = if out.len() >= expected {
                Duration::from_millis(500)
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            let Ok(Some(delivery)) = tokio::time::timeout(wait, sub.next_delivery()).await else {
                break;
            };
            assert_eq!(
                delivery.message.topic,
                format!("platone/bal/devices/{DEVICE}/cim")
            );
            let envelope = SignedEnvelope::detect(&delivery.message.payload)
                .expect("signed")
                .unwrap();
            assert_eq!(envelope.recover_signer(1).unwrap(), key.address());
            let parsed = parse_slice(&envelope.payload_bytes().unwrap(), Mode::Strict).unwrap();
            let id = parsed
                .document
                .envelope
                .as_ref()
                .unwrap()
                .header
                .message_id
                .clone();
            let seq = id
                .unwrap()
                .strip_prefix(&format!("{DEVICE}-"))
                .unwrap()
                .parse()
                .unwrap();
            let power = parsed
                .document
                .measurements()
                .into_iter()
                .map(Result::unwrap)
                .find(|m| m.kind == MeasurementKind::Power && m.unit == Unit::Watt)
                .unwrap();
            out.push((seq, power.value));
            delivery.ack().await.unwrap();
        }
        out
    })
}

/// One Light Node "process": its buffer and its connection to the BAL's broker, delivering.
struct Node {
    outbox: SharedOutbox,
    bus: MqttBus,
    delivering: JoinHandle<platone_sim::Result<()>>,
}

impl Node {
    fn start(
        rt: &Runtime,
        broker: &Mosquitto,
        side: &BalSide,
        dir: &std::path::Path,
        config: OutboxConfig,
    ) -> Node {
        let _guard = rt.enter();
        let outbox: SharedOutbox = Arc::new(Mutex::new(Outbox::open(dir, config).unwrap()));
        let bus = MqttBus::connect(broker.mqtt_config(DEVICE)).unwrap();
        let delivering = {
            let (side, outbox, bus) = (side.clone(), outbox.clone(), bus.clone());
            rt.spawn(async move { side.deliver(outbox, Arc::new(bus)).await })
        };
        Node {
            outbox,
            bus,
            delivering,
        }
    }

    /// Takes `n` meter readings, `every` apart.
    fn read(&self, side: &BalSide, board: &SharedBoard, n: usize, every: Duration) {
        for _ in 0..n {
            side.read_into(board, &self.outbox, chrono::Utc::now().fixed_offset())
                .unwrap();
            std::thread::sleep(every);
        }
    }

    fn pending(&self) -> u64 {
        self.outbox.lock().unwrap().stats().pending
    }

    /// Waits until everything up to `seq` is confirmed.
    fn wait_confirmed(&self, seq: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.outbox.lock().unwrap().confirmed() < seq {
            assert!(
                Instant::now() < deadline,
                "not confirmed: {:?}",
                self.outbox.lock().unwrap().stats()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops, as a process would: nothing more is delivered; the buffer is closed.
    fn stop(self, rt: &Runtime) {
        self.delivering.abort();
        let _ = rt.block_on(self.delivering);
        {
            let _runtime = rt.enter();
            drop(self.bus);
        }
        // A buffer operation already on the blocking pool finishes first, then the buffer
        // closes (its lock released with it).
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&self.outbox) > 1 {
            assert!(Instant::now() < deadline, "the buffer is still in use");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn assert_exactly_once_in_order(got: &[(u64, f64)], want: &[u64]) {
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    let unique: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), seqs.len(), "a packet arrived twice: {seqs:?}");
    assert_eq!(seqs, want, "every packet, oldest first");
}

#[test]
fn an_outage_of_the_bal_broker_delivers_everything_buffered_and_nothing_twice() {
    let rt = runtime();
    let mut broker = broker();
    register_collector(&rt, &broker);
    let key = DeviceKey::generate().unwrap();
    let side = side(&key);
    let board = board();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&rt, &broker, &side, dir.path(), OutboxConfig::new(64 << 20));
    let every = Duration::from_millis(30);

    node.read(&side, &board, 10, every);
    node.wait_confirmed(10);
    assert_eq!(node.pending(), 0);

    // The outage: the broker is down while the Light Node goes on reading its meter.
    broker.stop();
    node.read(&side, &board, 40, every);
    assert!(
        node.pending() >= 40,
        "buffered: {:?}",
        node.outbox.lock().unwrap().stats()
    );
    broker.restart().unwrap();
    node.read(&side, &board, 10, every);
    node.wait_confirmed(60);
    node.stop(&rt);

    let got = collect(&rt, &broker, &key, 60);
    assert_exactly_once_in_order(&got, &(1..=60).collect::<Vec<_>>());
    assert!(
        got.iter().all(|(_, kw)| (0.05..=3.0).contains(kw)),
        "household power: {got:?}"
    );
}

#[test]
fn a_light_node_restarted_with_a_full_buffer_delivers_it_all_once() {
    let rt = runtime();
    let mut broker = broker();
    register_collector(&rt, &broker);
    let key = DeviceKey::generate().unwrap();
    let side = side(&key);
    let board = board();
    let dir = tempfile::tempdir().unwrap();
    let config = OutboxConfig::new(64 << 20);
    let every = Duration::from_millis(20);

    let node = Node::start(&rt, &broker, &side, dir.path(), config);
    node.read(&side, &board, 10, every);
    node.wait_confirmed(10);
    broker.stop();
    node.read(&side, &board, 20, every);
    // The Light Node stops (power cut, update) with 20 packets buffered, and comes back while
    // the broker is still unreachable.
    node.stop(&rt);
    let node = Node::start(&rt, &broker, &side, dir.path(), config);
    assert_eq!(node.pending(), 20, "the buffer survived the restart");
    node.read(&side, &board, 10, every);
    broker.restart().unwrap();
    node.read(&side, &board, 10, every);
    node.wait_confirmed(50);
    node.stop(&rt);

    // And a third start has nothing left to send.
    let node = Node::start(&rt, &broker, &side, dir.path(), config);
    assert_eq!(node.pending(), 0);
    node.stop(&rt);

    let got = collect(&rt, &broker, &key, 50);
    assert_exactly_once_in_order(&got, &(1..=50).collect::<Vec<_>>());
}

#[test]
fn a_full_buffer_drops_the_oldest_and_counts_them() {
    let rt = runtime();
    let mut broker = broker();
    register_collector(&rt, &broker);
    let key = DeviceKey::generate().unwrap();
    let side = side(&key);
    let board = board();
    let dir = tempfile::tempdir().unwrap();
    // Room for about eight readings of ~1.7 KB: two to a segment, four segments.
    let config = OutboxConfig {
        max_bytes: 16 * 1024,
        segment_bytes: 4096,
        sync: true,
    };
    broker.stop();
    let node = Node::start(&rt, &broker, &side, dir.path(), config);
    node.read(&side, &board, 30, Duration::from_millis(5));
    let stats = node.outbox.lock().unwrap().stats();
    assert!(stats.dropped >= 20, "{stats:?}");
    assert!(stats.bytes <= config.max_bytes);
    let kept = 30 - stats.dropped;
    assert_eq!(stats.pending, kept);
    broker.restart().unwrap();
    node.wait_confirmed(30);
    node.stop(&rt);

    // The broker was down from the start. It gets the newest `kept`, in order, after what
    // the bus had already taken from the buffer when those were dropped (at most its window,
    // the oldest): `dropped` counts them as lost, an upper bound.
    let got = collect(&rt, &broker, &key, kept as usize);
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    let newest: Vec<u64> = ((30 - kept + 1)..=30).collect();
    let (early, rest) = seqs.split_at(seqs.len() - newest.len());
    assert_eq!(rest, newest, "{seqs:?}");
    assert!(early.len() <= side.max_in_flight, "{seqs:?}");
    assert_eq!(
        early,
        (1..=early.len() as u64).collect::<Vec<_>>(),
        "{seqs:?}"
    );
}

#[test]
fn a_bal_accepts_the_signed_packets_and_stores_the_set_point_in_the_metered_power() {
    let rt = runtime();
    rt.block_on(async {
        let data = tempfile::tempdir().unwrap();
        let key = DeviceKey::generate().unwrap();
        let mut config = BalConfig::from_toml(&format!(
            "embedded_broker = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\ndata = {:?}\n\
             require_signatures = true\n[api]\ninsecure_http = true\n",
            data.path()
        ))
        .unwrap();
        config.pods.push(PodConfig {
            id: POD.into(),
            customer: Some("cust-ln".into()),
            aggregator: None,
            meters: vec![METER.into()],
            devices: vec![DEVICE.into()],
        });
        config.devices.push(DeviceConfig {
            id: DEVICE.into(),
            address: Some(key.address().to_checksum(None)),
            revoked_at: None,
        });
        let bal = Bal::start(config).await.unwrap();

        // The EMS holds -2 kW from now on.
        let board = board();
        let now = chrono::Utc::now().fixed_offset();
        let mut sp = SetPoint::new(
            "sp-1",
            DeviceId::new(DEVICE).unwrap(),
            MeasurementKind::Power,
            Unit::Watt,
            -2000.0,
            now - chrono::TimeDelta::minutes(1),
            now + chrono::TimeDelta::minutes(14),
        )
        .unwrap();
        sp.pod = Some(PodId::new(POD).unwrap());
        board.lock().unwrap().accept(sp, &now).unwrap();

        let url = platone_bal::MqttUrl::parse(bal.mqtt_url()).unwrap();
        let bus: Arc<dyn Bus> = Arc::new(MqttBus::connect(url.client_config(DEVICE)).unwrap());
        let outbox: SharedOutbox = Arc::new(Mutex::new(
            Outbox::open(data.path().join("ln-buffer"), OutboxConfig::new(1 << 20)).unwrap(),
        ));
        let mut side = side(&key);
        side.interval = Duration::from_millis(100);
        let running = {
            let (side, board, outbox) = (side.clone(), board.clone(), outbox.clone());
            tokio::spawn(async move { side.run(board, outbox, bus).await })
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while bal.metrics().measurements_stored < 18 {
            assert!(Instant::now() < deadline, "{:?}", bal.metrics());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        running.abort();
        let metrics = bal.metrics();
        assert_eq!(metrics.packets_unsigned, 0);
        assert_eq!(metrics.packets_dead_lettered, 0, "{metrics:?}");
        assert!(metrics.packets_signed >= 3);
        let page = bal
            .context()
            .store
            .query_measurements(
                &Principal::Operator,
                &MeasurementQuery::pod(PodId::new(POD).unwrap()),
            )
            .await
            .unwrap();
        let power: Vec<f64> = page
            .items
            .iter()
            .map(|s| &s.measurement)
            .filter(|m| m.kind == MeasurementKind::Power && m.unit == Unit::Watt)
            .map(|m| m.value * m.multiplier.factor())
            .collect();
        assert!(power.len() >= 3, "{power:?}");
        assert!(
            power.iter().all(|w| *w == -2000.0),
            "the meter follows bspP: {power:?}"
        );
        bal.shutdown().await.unwrap();
    });
}
