//! The bridge against real Mosquitto brokers that go away: nothing published while the sink,
//! the source or the bridge itself is down may be lost.
//!
//! Messages go in with `mosquitto_pub` (one process each, QoS 1) and come out at a durable
//! `mosquitto_sub -q 1 -c` on the sink, as a user of the brokers would see them. Each payload
//! is its index, so the check counts every index: each must arrive at least once (zero loss);
//! duplicates are allowed where at-least-once permits them and are counted.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use platone_bus::{Bridge, BridgeConfig, Bus, MqttBus, MqttConfig, Route};
use support::outage::{Received, durable_subscriber, publish_range};

fn bridge_config() -> BridgeConfig {
    BridgeConfig {
        retry_max: Duration::from_millis(500),
        drain_timeout: Duration::from_secs(2),
        ..BridgeConfig::default()
    }
}

fn mqtt(port: u16, id: &str) -> MqttConfig {
    let mut c = MqttConfig::new("127.0.0.1", port, id);
    c.reconnect_max = Duration::from_millis(500);
    c
}

/// Starts a bridge `# out 1 platone/dsotp/ /bal/` from `source` to `sink` inside `rt`.
fn start_bridge(rt: &tokio::runtime::Runtime, source: u16, sink: u16) -> Bridge {
    start_bridge_holding(rt, source, sink, Duration::ZERO).0
}

/// [`start_bridge`] whose sink connection holds its publishes for `hold` after finding that the
/// sink broker lost its state; also returns that connection.
fn start_bridge_holding(
    rt: &tokio::runtime::Runtime,
    source: u16,
    sink: u16,
    hold: Duration,
) -> (Bridge, MqttBus) {
    let _enter = rt.enter();
    let source: Arc<dyn Bus> =
        Arc::new(MqttBus::connect(mqtt(source, "outage-bridge-src")).unwrap());
    let mut sink_config = mqtt(sink, "outage-bridge-sink");
    sink_config.hold_after_state_loss = hold;
    let sink_bus = MqttBus::connect(sink_config).unwrap();
    let sink: Arc<dyn Bus> = Arc::new(sink_bus.clone());
    let map = "# out 1 platone/dsotp/ /bal/".parse().unwrap();
    let bridge = rt
        .block_on(Bridge::start(
            bridge_config(),
            vec![Route { source, sink, map }],
        ))
        .unwrap();
    (bridge, sink_bus)
}

fn report(what: &str, received: &BTreeMap<u32, u32>, n: u32) -> u32 {
    let missing: Vec<u32> = (0..n).filter(|i| !received.contains_key(i)).collect();
    let duplicates: u32 = received.values().map(|c| c - 1).sum();
    eprintln!(
        "{what}: {} of {n} distinct messages arrived, {} missing, {duplicates} duplicates",
        n as usize - missing.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "{what}: {} messages lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    duplicates
}

/// The scenario of the report: a source broker without persistence, a sink with persistence and
/// a durable QoS 1 subscriber; 1,000 messages, the sink stopped with SIGTERM, 200 more, the
/// sink started again on the same persistence file, 800 more. All 2,000 must arrive. (This also
/// held before the reconnect fix of the vendored client, in every run so far: the loss of the
/// report was not reproduced; the test guards the promise.)
#[test]
fn messages_published_while_the_sink_is_down_arrive_once_it_is_back() {
    let source = support::mosquitto_forgetful();
    let mut sink = support::mosquitto();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let subscriber = durable_subscriber(sink.port(), "sub", "/bal/#");
    let bridge = start_bridge(&rt, source.port(), sink.port());

    publish_range(source.port(), 0..1000);
    sink.stop();
    publish_range(source.port(), 1000..1200);
    sink.restart().unwrap();
    publish_range(source.port(), 1200..2000);

    let received = subscriber.wait_for(2000, Duration::from_secs(20));
    let counters = rt.block_on(bridge.shutdown());
    eprintln!("bridge: {counters}");
    let duplicates = report("sink stopped for 200", &received.counts, 2000);
    // Only publishes caught in flight by the stop may be repeated.
    assert!(duplicates <= 64, "{duplicates} duplicates");
    assert_eq!(counters.errors, 0, "{counters}");
    received.assert_topics();
}

/// The report's scenario on a sink broker that loses its state when it stops, as a Mosquitto
/// started by root with a persistence directory only root can write does (it drops to its own
/// user and fails to save, logging "Error saving in-memory database … Permission denied"): the
/// restarted sink has neither the bridge's session nor the durable subscriber's subscription,
/// and acknowledges and discards whatever is published before the subscriber subscribes again.
/// Without a hold the bridge, whose back-off is capped at 500 ms here, often reconnects first
/// and delivers the backlog into nothing — the loss of the report (289 of 1,000 in one of two
/// runs with the hold at zero). With the hold the sink connection sends nothing for 3 s after
/// finding the state lost, and everything arrives.
#[test]
fn a_sink_that_lost_its_state_gets_the_backlog_once_its_subscribers_are_back() {
    let source = support::mosquitto_forgetful();
    let mut sink = support::mosquitto_forgetful();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let subscriber = durable_subscriber(sink.port(), "sub", "/bal/#");
    let (bridge, sink_bus) =
        start_bridge_holding(&rt, source.port(), sink.port(), Duration::from_secs(3));

    publish_range(source.port(), 0..500);
    sink.stop();
    publish_range(source.port(), 500..700);
    sink.restart().unwrap();
    publish_range(source.port(), 700..1000);

    let received = subscriber.wait_for(1000, Duration::from_secs(20));
    let counters = rt.block_on(bridge.shutdown());
    eprintln!("bridge: {counters}");
    assert_eq!(sink_bus.sessions_lost(), 1, "the state loss is seen once");
    report("sink lost its state", &received.counts, 1000);
    received.assert_topics();
}

/// The sink is killed (SIGKILL: nothing saved since the last autosave, one second at most here)
/// and started again while messages keep coming.
#[test]
fn sink_killed_and_restarted_loses_nothing() {
    let source = support::mosquitto_forgetful();
    let mut sink = support::mosquitto();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let subscriber = durable_subscriber(sink.port(), "sub", "/bal/#");
    let bridge = start_bridge(&rt, source.port(), sink.port());

    publish_range(source.port(), 0..300);
    // The sessions (the subscriber's subscription, the bridge's) are in the sink's persistence
    // file only from its first autosave, one second after they were made: on an idle machine
    // the 300 publishes take less than that, and a kill before it loses the sessions — the
    // state-loss case tested above, not this one.
    std::thread::sleep(Duration::from_millis(1500));
    sink.kill();
    publish_range(source.port(), 300..400);
    sink.restart().unwrap();
    publish_range(source.port(), 400..600);

    let received = subscriber.wait_for(600, Duration::from_secs(20));
    let counters = rt.block_on(bridge.shutdown());
    eprintln!("bridge: {counters}");
    report("sink killed", &received.counts, 600);
    received.assert_topics();
}

/// The source broker restarts (with persistence, so the bridge's session and the messages
/// queued for it survive) while messages keep coming.
#[test]
fn source_restart_loses_nothing() {
    let mut source = support::mosquitto();
    let sink = support::mosquitto();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let subscriber = durable_subscriber(sink.port(), "sub", "/bal/#");
    let bridge = start_bridge(&rt, source.port(), sink.port());

    publish_range(source.port(), 0..300);
    source.restart().unwrap();
    publish_range(source.port(), 300..600);

    let received = subscriber.wait_for(600, Duration::from_secs(20));
    let counters = rt.block_on(bridge.shutdown());
    eprintln!("bridge: {counters}");
    report("source restarted", &received.counts, 600);
    received.assert_topics();
}

/// Environment variable that makes [`bridge_child_process`] run a bridge: `SOURCE_PORT,SINK_PORT`.
const CHILD_ENV: &str = "PLATONE_OUTAGE_BRIDGE";

/// The bridge as a process of its own, for [`bridge_killed_and_restarted_loses_nothing`] to
/// kill: this test binary run again with `--exact bridge_child_process --ignored`. Runs the
/// bridge until killed.
#[test]
#[ignore = "a bridge process started by bridge_killed_and_restarted_loses_nothing"]
fn bridge_child_process() {
    let spec = std::env::var(CHILD_ENV).unwrap_or_else(|_| {
        panic!("only run as a child process, with {CHILD_ENV}=SOURCE_PORT,SINK_PORT")
    });
    let (source, sink) = spec.split_once(',').unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _bridge = start_bridge(&rt, source.parse().unwrap(), sink.parse().unwrap());
    println!("bridge running");
    rt.block_on(std::future::pending::<()>());
}

struct BridgeProcess(std::process::Child);

impl BridgeProcess {
    fn start(source: u16, sink: u16) -> BridgeProcess {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "bridge_child_process",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_ENV, format!("{source},{sink}"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line == "bridge running" => break,
                Some(Ok(_)) => {}
                _ => panic!("the bridge process ended before running"),
            }
        }
        // Keep reading so that the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        BridgeProcess(child)
    }

    /// SIGKILL: no drain, no goodbye to either broker.
    fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bridge process killed with SIGKILL in the middle of a stream and started again: its
/// persistent session on the source keeps what arrives meanwhile, and what it had received but
/// not yet confirmed is delivered again (duplicates allowed, loss not).
#[test]
fn bridge_killed_and_restarted_loses_nothing() {
    let source = support::mosquitto_forgetful();
    let sink = support::mosquitto();
    let subscriber = durable_subscriber(sink.port(), "sub", "/bal/#");
    let bridge = BridgeProcess::start(source.port(), sink.port());
    let port = source.port();
    let publisher = std::thread::spawn(move || publish_range(port, 0..600));
    std::thread::sleep(Duration::from_secs(2));
    bridge.kill();
    std::thread::sleep(Duration::from_secs(1));
    let bridge = BridgeProcess::start(source.port(), sink.port());
    publisher.join().unwrap();
    publish_range(source.port(), 600..700);
    let received = subscriber.wait_for(700, Duration::from_secs(20));
    drop(bridge);
    report("bridge killed", &received.counts, 700);
    received.assert_topics();
}

impl Received {
    fn assert_topics(&self) {
        assert!(self.bad.is_empty(), "unexpected lines: {:?}", self.bad);
    }
}
