//! The Light Node's BAL side: the PoD's meter read every [`BalSide::interval`], each reading
//! signed as `platone sim` signs its packets, buffered on disk ([`Outbox`]) and delivered to
//! the BAL's broker oldest first.
//!
//! **What is measured.** Each reading is one MeterReadings document (IEC 61968-9, in an
//! IEC 61968-100 `EventMessage` whose `MessageID` is `{device}-{seq}`, the packet's sequence
//! number in the buffer: its stable id) with six instantaneous readings of the PoD's meter:
//! active power (kW, net: positive imported), reactive power (kvar), the three phase voltages
//! (V) and the frequency (Hz). The voltages and the frequency are the simulated PMU's
//! ([`crate::pmu::pmu_values`]); the power follows the household day of the simulated meters
//! ([`crate::meters::interval_energy`], the quarter hour's energy as its mean power) with ±2 %
//! noise — or, while a set point is active, its target exactly (`bspP`, and `bspQ` for the
//! reactive power; without `bspQ` the power factor stays 0.955): the customer's EMS follows the
//! set point, and the metered data shows it.
//!
//! **Signing.** EIP-191 by default, at the time of the reading. An EIP-712 envelope claims
//! that time as its `timestamp`, which the BAL accepts only within its `signature_skew_secs`
//! (300 s by default) of receipt: a packet buffered through a longer outage would be refused,
//! so a Light Node signing EIP-712 needs a BAL whose skew covers the outage.
//!
//! **Delivery.** Packets go to `{prefix}/{device}/cim` at QoS 1, at most
//! [`BalSide::max_in_flight`] awaiting the broker's acknowledgement; each is confirmed in the
//! buffer once acknowledged. While the broker is unreachable the MQTT bus holds the publishes
//! in flight (and sends them again, same session, on reconnect) and the rest waits in the
//! buffer; a publish that fails outright (the broker lost the session, the bus closed) is sent
//! again after a back-off ([`BalSide::retry_min`] doubling to [`BalSide::retry_max`]), once
//! everything then in flight has been answered. Publishes are never abandoned on a timeout:
//! the bus would still send them, and they would arrive twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use platone_bus::{Message, Publisher, QoS};
use platone_certify::DeviceKey;
use platone_model::{
    Accumulation, DeviceId, FlowDirection, Measurement, MeasurementKind, MeterId, PhaseSet, PodId,
    Timestamp, Unit, UnitMultiplier, UsagePointId,
};
use tokio::sync::Notify;

use super::board::BspQuantity;
use super::buffer::{Outbox, OutboxRecord, RECORD_HEADER};
use super::ems::SharedBoard;
use crate::Signing;
use crate::error::{Result, SimError};
use crate::meters::{INTERVAL_SECS, interval_energy, meter_readings_xml};
use crate::pmu::{noise, pmu_values};

/// The default prefix of the BAL's device topics (as `platone sim` and the BAL use).
pub const BAL_DEVICE_PREFIX: &str = "platone/bal/devices";
/// How often the Light Node reads its meter by default (the PGUI Light Node: every second).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// The outage the default buffer bound covers: 48 hours.
pub const OUTAGE: Duration = Duration::from_secs(48 * 3600);
/// The power factor of the simulated load when no `bspQ` is set: cos 0.3 ≈ 0.955, the
/// simulated PMUs' current lag.
const LOAD_ANGLE: f64 = 0.3;

/// A buffer shared by the side that reads the meter (appending) and the one that delivers
/// (confirming).
pub type SharedOutbox = Arc<Mutex<Outbox>>;

/// The BAL side of one Light Node: what it measures, how it signs, where it publishes.
#[derive(Debug, Clone)]
pub struct BalSide {
    /// The Light Node's device id: the `{device}` of its topic, the `Source` of its documents.
    pub device: DeviceId,
    /// The meter it reads (one of its PoD's meters in the BAL's configuration).
    pub meter: MeterId,
    /// Its signing key (its address registered for its PoD in the BAL).
    pub key: DeviceKey,
    /// How packets are signed (default EIP-191; see the module docs on EIP-712).
    pub signing: Signing,
    /// The chain id of EIP-712 signatures (the BAL's `chain_id`).
    pub chain_id: u64,
    /// Packets go to `{topic_prefix}/{device}/cim`.
    pub topic_prefix: String,
    /// Time between two readings.
    pub interval: Duration,
    /// Largest number of publishes awaiting the broker's acknowledgement (keep it within the
    /// broker's `max_inflight_messages`, 20 for Mosquitto).
    pub max_in_flight: usize,
    /// First wait after a failed publish.
    pub retry_min: Duration,
    /// Longest wait after failed publishes.
    pub retry_max: Duration,
    /// The seed of the simulated values' noise.
    pub seed: u64,
}

impl BalSide {
    /// The side of `device` reading `meter`, signing with `key`: EIP-191, chain 1, prefix
    /// `platone/bal/devices`, a reading a second, 16 publishes in flight, retries after 100 ms
    /// up to 30 s, seed 1.
    pub fn new(device: DeviceId, meter: MeterId, key: DeviceKey) -> Self {
        BalSide {
            device,
            meter,
            key,
            signing: Signing::Eip191,
            chain_id: 1,
            topic_prefix: BAL_DEVICE_PREFIX.into(),
            interval: DEFAULT_INTERVAL,
            max_in_flight: 16,
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(30),
            seed: 1,
        }
    }

    /// Checks the settings; the error names the one that is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.interval.is_zero() {
            return Err(SimError::config("lightnode.interval", "must be positive"));
        }
        if self.max_in_flight == 0 {
            return Err(SimError::config(
                "lightnode.max_in_flight",
                "must be at least 1",
            ));
        }
        platone_bus::validate_topic(&self.topic())
            .map_err(|e| SimError::config("lightnode.topic_prefix", e))
    }

    /// The topic packets go to: `{prefix}/{device}/cim`.
    pub fn topic(&self) -> String {
        format!("{}/{}/cim", self.topic_prefix, self.device)
    }

    /// The readings of `pod`'s meter at `at`, given the targets of the set points active then
    /// (kW, kvar): active and reactive power, the phase voltages, the frequency.
    pub fn measurements(
        &self,
        pod: &PodId,
        at: Timestamp,
        bsp_p: Option<f64>,
        bsp_q: Option<f64>,
    ) -> Result<Vec<Measurement>> {
        let model = |e: platone_model::ModelError| SimError::config("lightnode", e);
        let secs = at.timestamp();
        let t = secs as f64 + f64::from(at.timestamp_subsec_micros()) / 1e6;
        let tick = (t * 1000.0) as u64;
        let quarter_end = (secs.div_euclid(INTERVAL_SECS as i64) + 1) * INTERVAL_SECS as i64;
        let base_kw = interval_energy(self.seed, 0, quarter_end) * 3600.0 / INTERVAL_SECS as f64
            * (1.0 + 0.02 * noise(self.seed, 7, tick, 3));
        let p = bsp_p.unwrap_or(base_kw);
        let q = bsp_q.unwrap_or(p * LOAD_ANGLE.tan());
        let pmu = pmu_values(self.seed, 0, tick, t);
        let usage_point = UsagePointId::new(pod.as_str()).map_err(model)?;
        let reading = |kind, unit, value: f64, phases| -> Result<Measurement> {
            Ok(Measurement::new(self.device.clone(), at, kind, unit, value)
                .map_err(model)?
                .with_meter(self.meter.clone())
                .with_usage_point(usage_point.clone())
                .with_phases(phases)
                .with_accumulation(Accumulation::Instantaneous, None))
        };
        let round = |v: f64, digits: i32| {
            let scale = 10f64.powi(digits);
            (v * scale).round() / scale
        };
        let mut out = vec![
            reading(
                MeasurementKind::Power,
                Unit::Watt,
                round(p, 3),
                PhaseSet::ABC,
            )?
            .with_multiplier(UnitMultiplier::KILO)
            .with_direction(FlowDirection::Net),
            reading(
                MeasurementKind::Power,
                Unit::Var,
                round(q, 3),
                PhaseSet::ABC,
            )?
            .with_multiplier(UnitMultiplier::KILO)
            .with_direction(FlowDirection::Net),
        ];
        for (i, phase) in [PhaseSet::A, PhaseSet::B, PhaseSet::C]
            .into_iter()
            .enumerate()
        {
            if let Some(Some(v)) = pmu.phasors.get(i) {
                out.push(reading(
                    MeasurementKind::Voltage,
                    Unit::Volt,
                    round(v.magnitude(), 2),
                    phase,
                )?);
            }
        }
        if let Some(f) = pmu.frequency {
            out.push(reading(
                MeasurementKind::Frequency,
                Unit::Hertz,
                round(f, 4),
                PhaseSet::NONE,
            )?);
        }
        Ok(out)
    }

    /// The packet of reading number `seq` at `at`: the MeterReadings document of
    /// `measurements` (its `MessageID` `{device}-{seq}`), signed at `at`.
    pub fn packet(&self, seq: u64, at: Timestamp, measurements: &[Measurement]) -> Result<Vec<u8>> {
        let message_id = format!("{}-{seq}", self.device);
        let xml = meter_readings_xml(self.device.as_str(), &message_id, at, measurements);
        let payload = xml.into_bytes();
        let signed_at = u64::try_from(at.timestamp()).unwrap_or(0);
        self.signing.seal(
            &self.key,
            self.device.as_str(),
            payload,
            signed_at,
            self.chain_id,
        )
    }

    /// Reads the meter at `at` with the set points of `board`, and buffers the signed packet;
    /// gives its sequence number.
    pub fn read_into(
        &self,
        board: &SharedBoard,
        outbox: &SharedOutbox,
        at: Timestamp,
    ) -> Result<u64> {
        let (pod, bsp_p, bsp_q) = {
            let board = board
                .lock()
                .map_err(|_| SimError::Io("the set-point board's lock is poisoned".into()))?;
            (
                board.pod().clone(),
                board.current(BspQuantity::Active, &at),
                board.current(BspQuantity::Reactive, &at),
            )
        };
        let measurements = self.measurements(&pod, at, bsp_p, bsp_q)?;
        let mut outbox = lock(outbox)?;
        outbox.append_with(&self.topic(), |seq| self.packet(seq, at, &measurements))
    }

    /// The bytes one buffered reading takes (record header and topic included), measured on a
    /// reading with a ten-digit sequence number.
    pub fn record_bytes(&self, pod: &PodId) -> Result<u64> {
        let at = super::ems::now();
        let measurements = self.measurements(pod, at, None, None)?;
        let packet = self.packet(4_000_000_000, at, &measurements)?;
        Ok(RECORD_HEADER + 10 + self.topic().len() as u64 + packet.len() as u64)
    }

    /// The buffer bound that holds `outage` of readings: readings in the outage × bytes per
    /// reading ([`record_bytes`](Self::record_bytes)) × 1.25 (room for longer values and the
    /// segments' slack), rounded up to a MiB.
    pub fn buffer_bytes_for(&self, pod: &PodId, outage: Duration) -> Result<u64> {
        let readings = outage.as_secs_f64() / self.interval.as_secs_f64();
        let bytes = readings.ceil() * self.record_bytes(pod)? as f64 * 1.25;
        let mib = 1024.0 * 1024.0;
        Ok(((bytes / mib).ceil() * mib) as u64)
    }

    /// Runs both halves until one fails: a reading every [`interval`](Self::interval) into
    /// `outbox`, and delivery of `outbox` to `publisher` oldest first.
    pub async fn run(
        &self,
        board: SharedBoard,
        outbox: SharedOutbox,
        publisher: Arc<dyn Publisher>,
    ) -> Result<()> {
        self.validate()?;
        let more = Arc::new(Notify::new());
        tokio::try_join!(
            self.read_meter(board, outbox.clone(), more.clone()),
            self.deliver_woken(outbox, publisher, more),
        )?;
        Ok(())
    }

    /// Reads the meter every interval into `outbox`, waking the deliverer through `more`. A
    /// reading that cannot be buffered (a full disk) is logged and the next one tried.
    async fn read_meter(
        &self,
        board: SharedBoard,
        outbox: SharedOutbox,
        more: Arc<Notify>,
    ) -> Result<()> {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let side = self.clone();
            let (board, outbox) = (board.clone(), outbox.clone());
            let read = tokio::task::spawn_blocking(move || {
                side.read_into(&board, &outbox, super::ems::now())
            })
            .await
            .map_err(|e| SimError::Io(format!("the meter reading stopped: {e}")))?;
            match read {
                Ok(_) => more.notify_one(),
                Err(e) => tracing::warn!("lightnode: a meter reading was not buffered: {e}"),
            }
        }
    }

    /// Delivers `outbox` to `publisher` until the buffer fails: oldest first, each record
    /// confirmed once the broker acknowledged it (see the module docs). With everything
    /// delivered it looks for new records every [`interval`](Self::interval); [`run`](Self::run)
    /// wakes it at once when a reading is buffered.
    pub async fn deliver(&self, outbox: SharedOutbox, publisher: Arc<dyn Publisher>) -> Result<()> {
        self.validate()?;
        self.deliver_woken(outbox, publisher, Arc::new(Notify::new()))
            .await
    }

    /// [`deliver`](Self::deliver), woken through `more` when records are added.
    async fn deliver_woken(
        &self,
        outbox: SharedOutbox,
        publisher: Arc<dyn Publisher>,
        more: Arc<Notify>,
    ) -> Result<()> {
        let mut in_flight = FuturesUnordered::new();
        // The newest record handed to the bus in this pass.
        let mut sent = 0u64;
        let mut failing = false;
        let mut backoff = self.retry_min;
        loop {
            let room = self.max_in_flight.saturating_sub(in_flight.len());
            if !failing && room > 0 {
                let batch = blocking(&outbox, move |o| o.unconfirmed_after(sent, room)).await?;
                for record in batch {
                    sent = record.seq;
                    in_flight.push(publish(publisher.clone(), record));
                }
            }
            if in_flight.is_empty() {
                if failing {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.retry_max);
                    failing = false;
                    // From the oldest unconfirmed record again; confirmed ones are skipped.
                    sent = 0;
                } else {
                    let _ = tokio::time::timeout(self.interval, more.notified()).await;
                }
                continue;
            }
            tokio::select! {
                Some(first) = in_flight.next() => {
                    let mut answers = vec![first];
                    while let Some(Some(answer)) = futures::FutureExt::now_or_never(in_flight.next()) {
                        answers.push(answer);
                    }
                    let mut confirmed = Vec::with_capacity(answers.len());
                    for (seq, result) in answers {
                        match result {
                            Ok(()) => confirmed.push(seq),
                            Err(e) => {
                                if !failing {
                                    tracing::warn!(
                                        "lightnode: packet {seq} not confirmed by the BAL's \
                                         broker ({e}); sent again in {backoff:?}"
                                    );
                                }
                                failing = true;
                            }
                        }
                    }
                    if !confirmed.is_empty() {
                        if !failing {
                            backoff = self.retry_min;
                        }
                        blocking(&outbox, move |o| o.confirm(&confirmed)).await?;
                    }
                }
                () = more.notified(), if !failing && in_flight.len() < self.max_in_flight => {}
            }
        }
    }
}

fn lock(outbox: &SharedOutbox) -> Result<std::sync::MutexGuard<'_, Outbox>> {
    outbox
        .lock()
        .map_err(|_| SimError::Io("the buffer's lock is poisoned".into()))
}

/// Runs `f` on the outbox on the blocking pool (it reads, writes and syncs files).
async fn blocking<T: Send + 'static>(
    outbox: &SharedOutbox,
    f: impl FnOnce(&mut Outbox) -> Result<T> + Send + 'static,
) -> Result<T> {
    let outbox = outbox.clone();
    tokio::task::spawn_blocking(move || f(&mut *lock(&outbox)?))
        .await
        .map_err(|e| SimError::Io(format!("the buffer task stopped: {e}")))?
}

/// Publishes one record at QoS 1; its sequence number comes back with the outcome.
async fn publish(
    publisher: Arc<dyn Publisher>,
    record: OutboxRecord,
) -> (u64, platone_bus::BusResult<()>) {
    let message = Message::new(record.topic, record.payload);
    (
        record.seq,
        publisher.publish(message, QoS::AtLeastOnce).await,
    )
}

#[cfg(test)]
mod tests {
    use platone_bus::{MemoryBus, Subscriber, TopicFilter};
    use platone_certify::SignedEnvelope;
    use platone_cim::meter_readings::{Mode, parse_slice};
    use platone_model::{SetPoint, parse_timestamp};

    use super::*;
    use crate::lightnode::{OutboxConfig, SetPointBoard};

    fn side() -> BalSide {
        BalSide::new(
            DeviceId::new("ln-POD-1").unwrap(),
            MeterId::new("MTR-POD-1").unwrap(),
            crate::device_key(1, "ln-POD-1"),
        )
    }

    fn pod() -> PodId {
        PodId::new("POD-1").unwrap()
    }

    fn at(t: &str) -> Timestamp {
        parse_timestamp(t).unwrap()
    }

    /// The measurements and the message id of a packet, after checking its signature.
    fn open(side: &BalSide, packet: &[u8]) -> (Vec<Measurement>, String) {
        let envelope = SignedEnvelope::detect(packet).unwrap().unwrap();
        assert_eq!(
            envelope.recover_signer(side.chain_id).unwrap(),
            side.key.address()
        );
        let parsed = parse_slice(&envelope.payload_bytes().unwrap(), Mode::Strict).unwrap();
        let header = parsed.document.envelope.clone().unwrap().header;
        assert_eq!(header.source.as_deref(), Some("ln-POD-1"));
        let measurements = parsed
            .document
            .measurements()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        (measurements, header.message_id.unwrap())
    }

    #[test]
    fn readings_follow_the_active_set_point_and_read_back_from_the_packet() {
        let side = side();
        let now = at("2026-12-07T18:05:00.250Z");
        let free = side.measurements(&pod(), now, None, None).unwrap();
        assert_eq!(free.len(), 6);
        assert!((0.1..=2.0).contains(&free[0].value), "{}", free[0].value);
        assert!((free[2].value - 230.0).abs() < 3.0);
        assert!((free[5].value - 50.0).abs() < 0.1);
        let held = side
            .measurements(&pod(), now, Some(-2.5), Some(1.0))
            .unwrap();
        assert_eq!((held[0].value, held[1].value), (-2.5, 1.0));
        assert_eq!(held[0].unit, Unit::Watt);
        assert_eq!(held[1].unit, Unit::Var);

        let packet = side.packet(42, now, &held).unwrap();
        let (back, id) = open(&side, &packet);
        assert_eq!(id, "ln-POD-1-42");
        assert_eq!(back.len(), held.len());
        for (b, h) in back.iter().zip(&held) {
            assert_eq!((b.kind, b.unit, b.phases), (h.kind, h.unit, h.phases));
            assert!((b.value - h.value).abs() < 1e-9, "{} {}", b.value, h.value);
            assert_eq!(b.meter.as_ref().map(|m| m.as_str()), Some("MTR-POD-1"));
            assert_eq!(b.usage_point.as_ref().map(|u| u.as_str()), Some("POD-1"));
            assert_eq!(b.timestamp, now);
        }
    }

    #[test]
    fn the_default_bound_holds_48_hours_of_readings() {
        let side = side();
        let record = side.record_bytes(&pod()).unwrap();
        assert!((1000..4000).contains(&record), "{record} bytes per reading");
        let bound = side.buffer_bytes_for(&pod(), OUTAGE).unwrap();
        assert!(bound >= 48 * 3600 * record, "{bound}");
        assert_eq!(bound % (1 << 20), 0);
    }

    #[test]
    fn settings_are_checked_by_name() {
        let mut s = side();
        s.interval = Duration::ZERO;
        assert!(s.validate().unwrap_err().to_string().contains("interval"));
        let mut s = side();
        s.topic_prefix = "a/+".into();
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("topic_prefix")
        );
    }

    #[tokio::test]
    async fn readings_reach_the_bus_and_are_confirmed_in_the_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let bus = Arc::new(MemoryBus::new());
        let mut sub = bus
            .subscribe(
                TopicFilter::new("platone/bal/devices/+/cim").unwrap(),
                QoS::AtLeastOnce,
            )
            .await
            .unwrap();
        let board: SharedBoard = Arc::new(Mutex::new(SetPointBoard::new(pod())));
        let now = super::super::ems::now();
        let mut sp = SetPoint::new(
            "sp-1",
            DeviceId::new("ln-POD-1").unwrap(),
            MeasurementKind::Power,
            Unit::Watt,
            -1500.0,
            now - chrono::TimeDelta::minutes(1),
            now + chrono::TimeDelta::minutes(14),
        )
        .unwrap();
        sp.pod = Some(pod());
        board.lock().unwrap().accept(sp, &now).unwrap();
        let outbox: SharedOutbox = Arc::new(Mutex::new(
            Outbox::open(dir.path(), OutboxConfig::new(1 << 20)).unwrap(),
        ));
        let mut s = side();
        s.interval = Duration::from_millis(20);
        let running = {
            let (board, outbox, bus) = (board.clone(), outbox.clone(), bus.clone());
            tokio::spawn(async move { s.run(board, outbox, bus).await })
        };
        let side = side();
        for expect in 1..=5u64 {
            let delivery = sub.next_delivery().await.unwrap();
            let (measurements, id) = open(&side, &delivery.message.payload);
            assert_eq!(id, format!("ln-POD-1-{expect}"));
            assert_eq!(measurements[0].value, -1.5, "the meter follows bspP");
        }
        // Confirmed once the bus has taken them (the subscriber may see them first).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while outbox.lock().unwrap().stats().confirmed < 5 {
            assert!(tokio::time::Instant::now() < deadline, "not confirmed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        running.abort();
        let _ = running.await;
    }
}
