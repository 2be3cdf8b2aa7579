//! The bridge: forwards messages between any two buses, remapping topics, losing nothing.
//!
//! Each [`Route`] joins a *source* (mosquitto's *local* side) and a *sink* (*remote*) with a
//! [`TopicMap`]; `out` forwards source → sink, `in` sink → source, `both` both ways. For each
//! direction the bridge subscribes to the mapped filter and, per delivery:
//!
//! 1. an undecodable delivery, or one whose topic cannot be mapped, goes to the dead-letter
//!    topic `{dead_letter_topic}/{reason}` on the target bus, with the reason in the
//!    [`DEAD_LETTER_REASON`] header and the original topic in [`ORIGINAL_TOPIC`] (headers are
//!    lost on MQTT 3.1.1, the reason code stays in the topic);
//! 2. otherwise [`BridgeConfig::transform`], when set, rewrites it (a [`PayloadTransform`]
//!    that refuses it sends the original to `{dead_letter_topic}/untransformable`);
//! 3. then it is published under the mapped topic at the route's QoS, retried with
//!    exponential back-off until the target confirms (a broker restart only delays it);
//! 4. only then is the source delivery acknowledged: at least once, end to end.
//!
//! At most [`BridgeConfig::max_in_flight`] deliveries per direction are being forwarded at a time
//! (publishes are issued in arrival order, so per-topic order is kept unless a publish has to be
//! retried). With [`BridgeConfig::source_connections`] above 1 the source is read through that
//! many connections sharing the subscription: more in flight on the source broker, but no
//! per-topic order. **Loops**: when a forwarded message would come back through another
//! direction of the same bridge (two-way routes, or overlapping routes), the
//! echo is recognised by its bus, topic and payload and acknowledged without forwarding
//! (counted in `dropped`); messages carrying this bridge's [`BRIDGE_ORIGIN`] header (which
//! survives on Kafka and in memory) are never forwarded again either. **Shutdown** stops reading,
//! lets in-flight messages finish for up to [`BridgeConfig::drain_timeout`], and leaves whatever
//! is still unconfirmed unacknowledged at its source, to be delivered again.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bus::{Bus, Subscription};
use crate::error::{BusError, BusResult};
use crate::message::{Delivery, Message, QoS};
use crate::topic::TopicFilter;
use crate::topic_map::TopicMap;

/// Header carrying why a message was dead-lettered.
pub const DEAD_LETTER_REASON: &str = "platone-dead-letter-reason";
/// Header carrying the topic a dead-lettered message had.
pub const ORIGINAL_TOPIC: &str = "platone-original-topic";
/// Header naming the bridge that forwarded a message.
pub const BRIDGE_ORIGIN: &str = "platone-bridge";

/// The broker-session identity of a bridge between `source` and `sink` (bus URLs as given):
/// `platone-bridge-` and eight hex digits, the same for the same pair of URLs in every build
/// and on every platform, so that a restarted bridge resumes its persistent sessions (and the
/// messages its source broker kept for it). Only the exact URL strings count (`mqtt://h:1883`
/// and `mqtt://h:1883/` are different pairs).
///
/// The digits are the first four bytes of SHA-256 over the two URLs, each preceded by its
/// length as a 64-bit big-endian number, so that no two pairs share an encoding.
///
/// ```
/// assert_eq!(
///     platone_bus::bridge_identity("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1884"),
///     platone_bus::bridge_identity("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1884"),
/// );
/// ```
pub fn bridge_identity(source: &str, sink: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for url in [source, sink] {
        h.update((url.len() as u64).to_be_bytes());
        h.update(url.as_bytes());
    }
    let digest = h.finalize();
    let mut id = String::from("platone-bridge-");
    for b in &digest[..4] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// Why a [`PayloadTransform`] refused a message; its text becomes the dead letter's
/// [`DEAD_LETTER_REASON`].
pub type TransformError = Box<dyn std::error::Error + Send + Sync>;

/// A hook that rewrites each message the bridge forwards, e.g. to publish JSON-LD instead of
/// the source format. The bridge itself stays format-agnostic: it only calls the hook.
///
/// # Contract
///
/// - [`transform`](Self::transform) is called once per delivery that is forwarded, in every
///   direction of every route, after the topic was mapped (`message.topic` is the target
///   topic, [`BRIDGE_ORIGIN`] is set) and before the publish. It is not called for echoes,
///   undecodable or unroutable deliveries, nor for dead letters.
/// - It may change the payload and headers (and the key). It should leave the topic alone:
///   a changed topic is published as changed, past the route's mapping.
/// - An `Err` dead-letters the *original* delivery (untransformed, under its source topic)
///   to `{dead_letter_topic}/untransformable` with the error's text as the reason; the
///   delivery is acknowledged and the bridge goes on with the next one.
/// - It runs on the bridge's task: keep it quick and non-blocking (no I/O). It must not
///   panic. The result is published, and retried, as returned; a redelivered message is
///   transformed again, so the hook should be deterministic.
pub trait PayloadTransform: Send + Sync + fmt::Debug {
    /// Rewrites `message` in place, or says why it cannot be forwarded.
    fn transform(&self, message: &mut Message) -> Result<(), TransformError>;
}

/// One route: a source bus, a sink bus and a mosquitto-style topic mapping.
#[derive(Clone)]
pub struct Route {
    /// The *local* side.
    pub source: Arc<dyn Bus>,
    /// The *remote* side.
    pub sink: Arc<dyn Bus>,
    /// Pattern, direction, QoS and prefixes.
    pub map: TopicMap,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {}: {}",
            self.source.describe(),
            self.sink.describe(),
            self.map
        )
    }
}

/// Bridge settings.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Name put in the [`BRIDGE_ORIGIN`] header (unique per bridge by default, so that a chain
    /// of bridges still forwards).
    pub name: String,
    /// Deliveries being forwarded at a time, per direction of each route.
    pub max_in_flight: usize,
    /// Prefix of the dead-letter topics.
    pub dead_letter_topic: String,
    /// First retry delay.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long shutdown waits for in-flight messages.
    pub drain_timeout: Duration,
    /// Connections reading each direction's source (default 1). Above 1 the bridge subscribes
    /// with [`Subscriber::subscribe_shared`](crate::Subscriber::subscribe_shared): on MQTT
    /// that many connections share the subscription (`$share/…`), so the source broker keeps
    /// that many in-flight windows (`max_inflight_messages` each) for the bridge — more
    /// throughput when the window is the limit, **at the cost of per-topic order**: messages
    /// of one topic may be forwarded out of order. Still at least once. Keep it at 1 when
    /// order matters; the memory and Kafka buses ignore it.
    pub source_connections: usize,
    /// A hook applied to every forwarded message before it is published (none by default);
    /// see [`PayloadTransform`] for its contract.
    pub transform: Option<Arc<dyn PayloadTransform>>,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            name: format!(
                "platone-bridge-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or_default()
            ),
            max_in_flight: 64,
            dead_letter_topic: "platone/bridge/dead-letter".into(),
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(10),
            source_connections: 1,
            transform: None,
        }
    }
}

/// Running totals of a bridge.
#[derive(Debug, Default)]
pub struct BridgeCounters {
    forwarded: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    dead_lettered: AtomicU64,
    errors: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Messages forwarded and acknowledged at their source.
    pub forwarded: u64,
    /// Publish attempts that failed and were retried.
    pub retried: u64,
    /// Messages not forwarded on purpose (loop echoes).
    pub dropped: u64,
    /// Messages sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// Failures that lost a message or an acknowledgement (logged).
    pub errors: u64,
}

impl fmt::Display for CounterSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "forwarded={} retried={} dropped={} dead_lettered={} errors={}",
            self.forwarded, self.retried, self.dropped, self.dead_lettered, self.errors
        )
    }
}

impl BridgeCounters {
    /// The current values.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            forwarded: self.forwarded.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn bus_id(bus: &Arc<dyn Bus>) -> usize {
    Arc::as_ptr(bus) as *const () as usize
}

fn fingerprint(topic: &str, payload: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    topic.hash(&mut h);
    payload.hash(&mut h);
    h.finish()
}

/// Messages this bridge published that one of its own subscriptions will see again.
#[derive(Default)]
struct Echoes {
    expected: Mutex<HashMap<(usize, u64), (u32, Instant)>>,
}

const ECHO_TTL: Duration = Duration::from_secs(300);

impl Echoes {
    fn expect(&self, bus: usize, fp: u64) {
        let mut e = self.expected.lock().unwrap_or_else(|p| p.into_inner());
        if e.len() > 100_000 {
            e.retain(|_, (_, at)| at.elapsed() < ECHO_TTL);
        }
        let entry = e.entry((bus, fp)).or_insert((0, Instant::now()));
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    fn take(&self, bus: usize, fp: u64) -> bool {
        let mut e = self.expected.lock().unwrap_or_else(|p| p.into_inner());
        match e.get_mut(&(bus, fp)) {
            Some((n, _)) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                e.remove(&(bus, fp));
                true
            }
            None => false,
        }
    }
}

/// One direction of one route.
struct Leg {
    from: Arc<dyn Bus>,
    to: Arc<dyn Bus>,
    filter: TopicFilter,
    qos: QoS,
    map: TopicMap,
    outbound: bool,
    /// Whether another leg publishes into this leg's source bus, so that a delivery may be an
    /// echo of the bridge's own publish (otherwise the echo check, which hashes the payload, is
    /// skipped).
    may_echo: bool,
}

impl Leg {
    fn target(&self, topic: &str) -> Option<String> {
        if self.outbound {
            self.map.to_remote(topic)
        } else {
            self.map.to_local(topic)
        }
    }
}

struct Shared {
    config: BridgeConfig,
    counters: Arc<BridgeCounters>,
    echoes: Echoes,
    /// (bus, filter) of every leg's subscription, to know which publishes will echo.
    watched: Vec<(usize, TopicFilter)>,
}

/// A running bridge.
pub struct Bridge {
    counters: Arc<BridgeCounters>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge")
            .field("counters", &self.counters.snapshot())
            .finish()
    }
}

impl Bridge {
    /// Subscribes every direction of every route (each subscription is confirmed by its broker
    /// before this returns) and starts forwarding.
    pub async fn start(config: BridgeConfig, routes: Vec<Route>) -> BusResult<Bridge> {
        if routes.is_empty() {
            return Err(BusError::Config {
                field: "routes".into(),
                reason: "a bridge needs at least one route".into(),
            });
        }
        let mut legs = Vec::new();
        for r in &routes {
            let d = r.map.direction();
            if d.outbound() {
                legs.push(Leg {
                    from: r.source.clone(),
                    to: r.sink.clone(),
                    filter: r.map.local_filter().clone(),
                    qos: r.map.qos(),
                    map: r.map.clone(),
                    outbound: true,
                    may_echo: false,
                });
            }
            if d.inbound() {
                legs.push(Leg {
                    from: r.sink.clone(),
                    to: r.source.clone(),
                    filter: r.map.remote_filter().clone(),
                    qos: r.map.qos(),
                    map: r.map.clone(),
                    outbound: false,
                    may_echo: false,
                });
            }
        }
        let targets: Vec<usize> = legs.iter().map(|l| bus_id(&l.to)).collect();
        for leg in &mut legs {
            leg.may_echo = targets.contains(&bus_id(&leg.from));
        }
        let counters = Arc::new(BridgeCounters::default());
        let shared = Arc::new(Shared {
            config: BridgeConfig {
                max_in_flight: config.max_in_flight.max(1),
                ..config
            },
            counters: counters.clone(),
            echoes: Echoes::default(),
            watched: legs
                .iter()
                .map(|l| (bus_id(&l.from), l.filter.clone()))
                .collect(),
        });
        let mut subscribed = Vec::new();
        for leg in legs {
            let sub = leg
                .from
                .subscribe_shared(
                    leg.filter.clone(),
                    leg.qos,
                    shared.config.source_connections,
                )
                .await?;
            tracing::info!(from = %leg.from.describe(), to = %leg.to.describe(), filter = %leg.filter, qos = %leg.qos, "bridging");
            subscribed.push((Arc::new(leg), sub));
        }
        let (stop, _) = watch::channel(false);
        let tasks = subscribed
            .into_iter()
            .map(|(leg, sub)| tokio::spawn(run_leg(shared.clone(), leg, sub, stop.subscribe())))
            .collect();
        Ok(Bridge {
            counters,
            stop,
            tasks,
        })
    }

    /// The live counters.
    pub fn counters(&self) -> Arc<BridgeCounters> {
        self.counters.clone()
    }

    /// Stops reading, drains in-flight messages (up to the drain timeout) and returns the
    /// final counters.
    pub async fn shutdown(self) -> CounterSnapshot {
        self.stop.send_replace(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.counters.snapshot()
    }
}

async fn run_leg(
    shared: Arc<Shared>,
    leg: Arc<Leg>,
    mut sub: Subscription,
    mut stop: watch::Receiver<bool>,
) {
    let mut in_flight = FuturesUnordered::new();
    let max = shared.config.max_in_flight;
    // A target that is down does not fail its publishes: its connection holds them until the
    // broker is back, and the bridge waits (the source keeps the deliveries unacknowledged).
    // Say so while nothing completes, so that a paused bridge is visible.
    let mut check = tokio::time::interval(WAITING_REPORT);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut progress = Instant::now();
    let mut paused = false;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {
                progress = Instant::now();
                if std::mem::take(&mut paused) {
                    tracing::info!(from = %leg.from.describe(), to = %leg.to.describe(), "forwarding resumed");
                }
            }
            d = sub.next_delivery(), if in_flight.len() < max => match d {
                Some(d) => {
                    if in_flight.is_empty() {
                        progress = Instant::now();
                    }
                    in_flight.push(forward(shared.clone(), leg.clone(), d, stop.clone()));
                }
                None => break,
            },
            _ = check.tick() => {
                if !in_flight.is_empty() && progress.elapsed() >= WAITING_REPORT {
                    paused = true;
                    tracing::warn!(
                        from = %leg.from.describe(),
                        to = %leg.to.describe(),
                        waiting = in_flight.len(),
                        since = ?progress.elapsed(),
                        "forwarding paused: the target has confirmed nothing lately; the deliveries stay unacknowledged at the source and go on when it does"
                    );
                }
            }
        }
    }
    let drain = async { while in_flight.next().await.is_some() {} };
    if tokio::time::timeout(shared.config.drain_timeout, drain)
        .await
        .is_err()
    {
        tracing::warn!(from = %leg.from.describe(), "drain timed out; unconfirmed messages stay unacknowledged at their source");
    }
}

/// Publishes until confirmed; `Err` for a permanent refusal; `None` if stopped while waiting.
async fn publish_confirmed(
    shared: &Shared,
    to: &Arc<dyn Bus>,
    message: Message,
    qos: QoS,
    stop: &mut watch::Receiver<bool>,
) -> Option<Result<(), BusError>> {
    let mut delay = shared.config.retry_min;
    let mut stopping_since: Option<Instant> = None;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let result = to.publish(message.clone(), qos).await;
        if attempt > 1 && result.is_ok() {
            tracing::info!(to = %to.describe(), topic = %message.topic, attempt, "forwarded after retrying");
        }
        match result {
            Ok(()) => return Some(Ok(())),
            Err(
                e @ (BusError::InvalidTopic { .. }
                | BusError::TooLarge { .. }
                | BusError::KafkaName { .. }
                | BusError::UnsupportedQos { .. }),
            ) => {
                tracing::warn!(to = %to.describe(), topic = %message.topic, error = %e, "the target refuses the message for good");
                return Some(Err(e));
            }
            Err(e) => {
                BridgeCounters::add(&shared.counters.retried);
                tracing::warn!(to = %to.describe(), topic = %message.topic, error = %e, attempt, retry_in = ?delay, "forwarding failed; retrying");
                if *stop.borrow() {
                    let since = *stopping_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= shared.config.drain_timeout {
                        return None;
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(shared.config.retry_max);
            }
        }
    }
}

/// How long a direction may go without a confirmed publish, while some wait, before it is
/// reported as paused (and how often it is reported again).
const WAITING_REPORT: Duration = Duration::from_secs(5);

async fn forward(shared: Arc<Shared>, leg: Arc<Leg>, d: Delivery, mut stop: watch::Receiver<bool>) {
    let counters = &shared.counters;
    let from = bus_id(&leg.from);
    let topic = d.message.topic.clone();
    // Loop prevention.
    let echo = leg.may_echo
        && d.decode_error.is_none()
        && shared
            .echoes
            .take(from, fingerprint(&topic, &d.message.payload));
    let own = d.message.headers.get(BRIDGE_ORIGIN) == Some(shared.config.name.as_str());
    if echo || own {
        BridgeCounters::add(&counters.dropped);
        if let Err(e) = d.ack().await {
            BridgeCounters::add(&counters.errors);
            tracing::error!(%topic, error = %e, "acknowledging an echo");
        }
        return;
    }
    let (message, dead_reason) = match (&d.decode_error, leg.target(&topic)) {
        (Some(err), _) => (d.message.clone(), Some(("undecodable", err.clone()))),
        (None, None) => (
            d.message.clone(),
            Some((
                "unroutable",
                format!("topic {topic:?} has no mapping under `{}`", leg.map),
            )),
        ),
        (None, Some(target)) => {
            let mut m = d.message.clone();
            m.topic = target;
            m.headers.insert(BRIDGE_ORIGIN, shared.config.name.clone());
            match shared
                .config
                .transform
                .as_ref()
                .map(|t| t.transform(&mut m))
            {
                Some(Err(e)) => (
                    d.message.clone(),
                    Some(("untransformable", format!("transform: {e}"))),
                ),
                _ => (m, None),
            }
        }
    };
    let outcome = match dead_reason {
        None => {
            let to = bus_id(&leg.to);
            let echoes = shared
                .watched
                .iter()
                .any(|(bus, f)| *bus == to && f.matches(&message.topic));
            let fp = fingerprint(&message.topic, &message.payload);
            if echoes {
                shared.echoes.expect(to, fp);
            }
            let r = publish_confirmed(&shared, &leg.to, message.clone(), leg.qos, &mut stop).await;
            if echoes && !matches!(r, Some(Ok(()))) {
                shared.echoes.take(to, fp);
            }
            match r {
                Some(Ok(())) => Some(Ok(false)),
                Some(Err(e)) => {
                    // Refused for good by the target (too large, bad name…): dead letter.
                    let m = d.message.clone();
                    dead_letter(&shared, &leg, m, "refused", &e.to_string(), &mut stop).await
                }
                None => None,
            }
        }
        Some((code, reason)) => dead_letter(&shared, &leg, message, code, &reason, &mut stop).await,
    };
    match outcome {
        None => {} // Stopped: left unacknowledged at the source.
        Some(result) => {
            match result {
                Ok(true) => BridgeCounters::add(&counters.dead_lettered),
                Ok(false) => {}
                Err(()) => BridgeCounters::add(&counters.errors),
            }
            match d.ack().await {
                Ok(()) => {
                    if matches!(result, Ok(false)) {
                        BridgeCounters::add(&counters.forwarded);
                    }
                }
                Err(e) => {
                    BridgeCounters::add(&counters.errors);
                    tracing::error!(%topic, error = %e, "acknowledging at the source");
                }
            }
        }
    }
}

/// `Some(Ok(true))` once dead-lettered, `Some(Err(()))` if even that was refused (logged).
async fn dead_letter(
    shared: &Shared,
    leg: &Leg,
    mut message: Message,
    code: &str,
    reason: &str,
    stop: &mut watch::Receiver<bool>,
) -> Option<Result<bool, ()>> {
    tracing::warn!(topic = %message.topic, code, reason, "dead-lettered");
    message.headers.insert(DEAD_LETTER_REASON, reason);
    message
        .headers
        .insert(ORIGINAL_TOPIC, message.topic.clone());
    message
        .headers
        .insert(BRIDGE_ORIGIN, shared.config.name.clone());
    message.topic = format!("{}/{code}", shared.config.dead_letter_topic);
    match publish_confirmed(shared, &leg.to, message, leg.qos, stop).await? {
        Ok(()) => Some(Ok(true)),
        Err(e) => {
            tracing::error!(error = %e, "dead-letter topic refused the message; it is lost");
            Some(Err(()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bridge_identity;

    /// The identity names persistent sessions on the brokers: it must not change between
    /// builds. The value was computed independently (Python's hashlib over the same bytes).
    #[test]
    fn bridge_identity_is_pinned() {
        assert_eq!(
            bridge_identity("mqtt://bal.example:1883", "mqtts://dsotp.example:8883"),
            "platone-bridge-e56322d7"
        );
    }

    #[test]
    fn bridge_identity_separates_the_two_urls() {
        assert_ne!(bridge_identity("ab", "c"), bridge_identity("a", "bc"));
        assert_ne!(bridge_identity("a", "b"), bridge_identity("b", "a"));
    }
}
