//! Publishing on schedule: a bounded window of publishes in flight, deadlines computed from
//! the start (no drift), counters shared with whoever watches, and a cancellation switch.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use platone_bus::{BusResult, Message, Publisher, QoS};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::field::{Field, Packet, PacketKind};
use super::schedule::{frame_offset, frames_within, interval_offset, intervals_within};
use crate::FieldPlan;
use crate::error::Result;

/// A run whose packets went out later than this behind their schedule did not keep up.
pub const BEHIND_THRESHOLD: Duration = Duration::from_millis(250);

/// How long the end of a run waits for the broker to acknowledge what is still in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Counters of a run, readable while it goes on, and its cancellation switch. Share it (by
/// reference or in an `Arc`) between [`run`] and whoever reports progress or stops the run.
#[derive(Debug)]
pub struct SimStats {
    packets: AtomicU64,
    measurements: AtomicU64,
    failed: AtomicU64,
    malformed: AtomicU64,
    in_flight: AtomicU64,
    lag_micros: AtomicU64,
    max_lag_micros: AtomicU64,
    cancel: watch::Sender<bool>,
}

impl Default for SimStats {
    fn default() -> Self {
        SimStats {
            packets: AtomicU64::new(0),
            measurements: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            lag_micros: AtomicU64::new(0),
            max_lag_micros: AtomicU64::new(0),
            cancel: watch::Sender::new(false),
        }
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SimSnapshot {
    /// Packets the broker acknowledged (CFG-2 and malformed packets included).
    pub packets: u64,
    /// Measurements in the acknowledged packets.
    pub measurements: u64,
    /// Publishes that failed or were never acknowledged.
    pub failed: u64,
    /// Malformed packets acknowledged.
    pub malformed: u64,
    /// Publishes awaiting acknowledgement now.
    pub in_flight: u64,
    /// How far behind its schedule the latest packet went out (µs).
    pub lag_micros: u64,
    /// The most any packet was behind (µs).
    pub max_lag_micros: u64,
}

impl SimStats {
    /// Fresh counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters now.
    pub fn snapshot(&self) -> SimSnapshot {
        SimSnapshot {
            packets: self.packets.load(Ordering::Relaxed),
            measurements: self.measurements.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            lag_micros: self.lag_micros.load(Ordering::Relaxed),
            max_lag_micros: self.max_lag_micros.load(Ordering::Relaxed),
        }
    }

    /// Stops the run: nothing more is scheduled; what is in flight is still awaited.
    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    fn record(&self, outcome: Outcome) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        match outcome.result {
            Ok(()) => {
                self.packets.fetch_add(1, Ordering::Relaxed);
                self.measurements
                    .fetch_add(outcome.measurements as u64, Ordering::Relaxed);
                if outcome.kind == PacketKind::Malformed {
                    self.malformed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic = %outcome.topic, error = %e, "sim: publish failed");
            }
        }
    }

    fn lag(&self, lag: Duration) {
        let micros = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
        self.lag_micros.store(micros, Ordering::Relaxed);
        self.max_lag_micros.fetch_max(micros, Ordering::Relaxed);
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// Packets the schedule held for the run's duration (CFG-2 and malformed ones included);
    /// `None` for a run without a duration.
    pub scheduled_packets: Option<u64>,
    /// Packets handed to the publisher.
    pub attempted_packets: u64,
    /// The counters at the end.
    pub stats: SimSnapshot,
    /// Real time from the start to the last acknowledgement.
    pub elapsed: Duration,
    /// The run was cancelled before its duration was over.
    pub cancelled: bool,
    /// Every scheduled packet went out no more than [`BEHIND_THRESHOLD`] late.
    pub kept_up: bool,
}

impl RunReport {
    /// Acknowledged packets per second over the run.
    pub fn packets_per_second(&self) -> f64 {
        per_second(self.stats.packets, self.elapsed)
    }

    /// Acknowledged measurements per second over the run.
    pub fn measurements_per_second(&self) -> f64 {
        per_second(self.stats.measurements, self.elapsed)
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

struct Outcome {
    result: BusResult<()>,
    measurements: usize,
    kind: PacketKind,
    topic: String,
}

fn publish<'a, P: Publisher + ?Sized>(
    publisher: &'a P,
    packet: Packet,
) -> impl Future<Output = Outcome> + Send + 'a {
    let Packet {
        topic,
        payload,
        kind,
        measurements,
        ..
    } = packet;
    let message = Message::new(topic.clone(), payload);
    async move {
        let result = publisher.publish(message, QoS::AtLeastOnce).await;
        Outcome {
            result,
            measurements,
            kind,
            topic,
        }
    }
}

/// What is due next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    /// PMU frame `k` of every PMU (preceded by CFG-2 frames and, at frame 0, the malformed
    /// packets).
    Frame(u64),
    /// Meter interval `i`.
    Interval(u64),
}

/// The schedule of a plan: PMU frames and meter intervals merged by due time (frames first on
/// a tie), up to an optional end.
struct Schedule<'p> {
    plan: &'p FieldPlan,
    next_frame: u64,
    next_interval: u64,
    frames_end: Option<u64>,
    intervals_end: Option<u64>,
}

impl<'p> Schedule<'p> {
    fn new(plan: &'p FieldPlan, duration: Option<Duration>) -> Self {
        let pmus = plan.pmus > 0;
        let meters = plan.meters > 0;
        Schedule {
            plan,
            next_frame: 0,
            next_interval: 0,
            frames_end: match (pmus, duration) {
                (false, _) => Some(0),
                (true, Some(d)) => Some(frames_within(plan.rate, d)),
                (true, None) => None,
            },
            intervals_end: match (meters, duration) {
                (false, _) => Some(0),
                (true, Some(d)) => Some(intervals_within(plan.accelerate, d)),
                (true, None) => None,
            },
        }
    }

    /// Packets the whole schedule holds (for a run with a duration).
    fn packets(&self) -> Option<u64> {
        let frames = self.frames_end?;
        let intervals = self.intervals_end?;
        let c37: u64 = (0..self.plan.pmus)
            .filter(|i| self.plan.sends_c37118(*i))
            .count() as u64;
        let config_rounds = if frames == 0 {
            0
        } else {
            (frames - 1) / self.config_period() + 1
        };
        let meter_packets = self.plan.meters.div_ceil(self.plan.meters_per_packet) as u64;
        let malformed = if frames > 0 || intervals > 0 {
            u64::from(self.plan.malformed)
        } else {
            0
        };
        Some(
            frames * self.plan.pmus as u64
                + config_rounds * c37
                + intervals * meter_packets
                + malformed,
        )
    }

    fn config_period(&self) -> u64 {
        u64::from(self.plan.rate) * u64::from(self.plan.config_every_secs)
    }

    fn next(&mut self) -> Option<(Due, Duration)> {
        let frame = self
            .frames_end
            .is_none_or(|end| self.next_frame < end)
            .then(|| frame_offset(self.plan.rate, self.next_frame));
        let interval = self
            .intervals_end
            .is_none_or(|end| self.next_interval < end)
            .then(|| interval_offset(self.plan.accelerate, self.next_interval));
        match (frame, interval) {
            (Some(f), Some(i)) if i < f => self.take_interval(i),
            (Some(f), _) => {
                self.next_frame += 1;
                Some((Due::Frame(self.next_frame - 1), f))
            }
            (None, Some(i)) => self.take_interval(i),
            (None, None) => None,
        }
    }

    fn take_interval(&mut self, offset: Duration) -> Option<(Due, Duration)> {
        self.next_interval += 1;
        Some((Due::Interval(self.next_interval - 1), offset))
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Publishes `plan`'s packets to `publisher` at QoS 1 on schedule for `duration` (`None`: until
/// cancelled), counting in `stats`, and returns what it did.
///
/// Each packet is due at a fixed offset from the start (see [`schedule`](super::schedule));
/// at most `plan.max_in_flight` publishes await their acknowledgement at a time, so a slow
/// broker slows the run down (back-pressure) rather than filling memory. A packet that goes
/// out late is still sent (nothing is skipped); the lag is counted and the report says whether
/// the run kept up. [`SimStats::cancel`] stops scheduling; what is in flight is awaited for up
/// to 30 s, after which it counts as failed. A failed publish is counted and the run goes on.
/// The error is only for a plan that does not validate or a packet that cannot be built.
pub async fn run<P: Publisher + ?Sized>(
    publisher: &P,
    plan: &FieldPlan,
    duration: Option<Duration>,
    stats: &SimStats,
) -> Result<RunReport> {
    let field = Field::new(plan)?;
    let mut schedule = Schedule::new(plan, duration);
    let scheduled_packets = schedule.packets();
    let mut cancel = stats.cancel.subscribe();
    let start = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut attempted = 0u64;
    let mut cancelled = false;
    let mut malformed_sent = false;
    let config_period = schedule.config_period();

    'schedule: while let Some((due, offset)) = schedule.next() {
        let deadline = start + offset;
        loop {
            if *cancel.borrow() {
                cancelled = true;
                break 'schedule;
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::select! {
                biased;
                _ = cancel.changed() => {}
                Some(outcome) = in_flight.next(), if !in_flight.is_empty() => stats.record(outcome),
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        stats.lag(Instant::now().saturating_duration_since(deadline));
        let signed_at = unix_seconds();
        let mut packets = Vec::new();
        match due {
            Due::Frame(k) => {
                if k % config_period == 0 {
                    let configs = (0..plan.pmus)
                        .filter_map(|i| field.pmu_config(i, signed_at).transpose())
                        .collect::<Result<Vec<_>>>()?;
                    // Data frames must not overtake their configuration: wait for it.
                    let sent = configs.len() as u64;
                    stats.in_flight.fetch_add(sent, Ordering::Relaxed);
                    attempted += sent;
                    let outcomes = futures::future::join_all(
                        configs.into_iter().map(|p| publish(publisher, p)),
                    )
                    .await;
                    outcomes.into_iter().for_each(|o| stats.record(o));
                }
                for i in 0..plan.pmus {
                    packets.push(field.pmu_frame(i, k, signed_at)?);
                }
            }
            Due::Interval(i) => packets.extend(field.meter_readings(i, signed_at)?),
        }
        if !malformed_sent {
            malformed_sent = true;
            for n in 0..plan.malformed {
                packets.push(field.malformed(n, signed_at)?);
            }
        }
        for packet in packets {
            while in_flight.len() >= plan.max_in_flight {
                match in_flight.next().await {
                    Some(outcome) => stats.record(outcome),
                    None => break,
                }
            }
            stats.in_flight.fetch_add(1, Ordering::Relaxed);
            attempted += 1;
            in_flight.push(publish(publisher, packet));
        }
    }

    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Some(outcome) = in_flight.next().await {
            stats.record(outcome);
        }
    })
    .await;
    if drained.is_err() {
        let lost = in_flight.len() as u64;
        stats.failed.fetch_add(lost, Ordering::Relaxed);
        stats.in_flight.fetch_sub(lost, Ordering::Relaxed);
        tracing::warn!(
            lost,
            "sim: publishes not acknowledged within {DRAIN_TIMEOUT:?}"
        );
    }
    let elapsed = start.elapsed();
    let snapshot = stats.snapshot();
    let kept_up = !cancelled
        && scheduled_packets.is_none_or(|n| n == attempted)
        && Duration::from_micros(snapshot.max_lag_micros) <= BEHIND_THRESHOLD;
    Ok(RunReport {
        scheduled_packets,
        attempted_packets: attempted,
        stats: snapshot,
        elapsed,
        cancelled,
        kept_up,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_merges_frames_and_intervals_in_time_order() {
        let mut plan = FieldPlan::new(1, 2, 1);
        plan.accelerate = 900.0 * 0.8; // one interval every 1.25 s
        let mut s = Schedule::new(&plan, Some(Duration::from_millis(2600)));
        let mut seen = Vec::new();
        while let Some((due, at)) = s.next() {
            seen.push((due, at.as_millis()));
        }
        assert_eq!(
            seen,
            [
                (Due::Frame(0), 0),
                (Due::Interval(0), 0),
                (Due::Frame(1), 500),
                (Due::Frame(2), 1000),
                (Due::Interval(1), 1250),
                (Due::Frame(3), 1500),
                (Due::Frame(4), 2000),
                (Due::Frame(5), 2500),
                (Due::Interval(2), 2500),
            ]
        );
    }

    #[test]
    fn scheduled_packet_count_includes_configs_and_malformed() {
        let mut plan = FieldPlan::new(2, 10, 2500);
        plan.pmu_format = super::super::PmuFormat::Mixed;
        plan.config_every_secs = 1;
        plan.malformed = 2;
        plan.accelerate = 900.0;
        let s = Schedule::new(&plan, Some(Duration::from_millis(2500)));
        // 25 frames × 2 PMUs, configs at frames 0, 10, 20 for the one C37.118 PMU,
        // 3 intervals × 3 documents, 2 malformed.
        assert_eq!(s.packets(), Some(50 + 3 + 9 + 2));
        assert_eq!(Schedule::new(&plan, None).packets(), None);
    }
}
