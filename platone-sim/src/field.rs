//! The plan's devices, ready to produce packets: keys derived, C37.118 configurations built,
//! the start time fixed. Every packet is a pure function of (plan, start, index), so tests can
//! regenerate exactly what a run sent.

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use platone_certify::DeviceKey;
use platone_model::Timestamp;

use super::meters::{interval_energy, interval_measurement, meter_readings_xml};
use super::pmu::{C37Stream, pmu_values, sogno_message};
use super::schedule::{frame_time, interval_end};
use crate::error::{Result, SimError};
use crate::{DATA_SERVER, FieldPlan};

/// What a packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PacketKind {
    /// A SOGNO/LOCO JSON device message.
    Sogno,
    /// A C37.118.2 data frame.
    C37118Data,
    /// A C37.118.2 CFG-2 frame.
    C37118Config,
    /// A MeterReadings document in an `EventMessage`.
    MeterReadings,
    /// A deliberately malformed packet.
    Malformed,
}

/// One packet to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The topic.
    pub topic: String,
    /// The bytes: the payload, or its signed envelope (JSON).
    pub payload: Bytes,
    /// The device that sends it.
    pub device: String,
    /// What it carries.
    pub kind: PacketKind,
    /// How many measurements it decodes to.
    pub measurements: usize,
}

struct PmuDevice {
    id: String,
    component: String,
    key: DeviceKey,
    c37: Option<C37Stream>,
}

/// The devices of a [`FieldPlan`], ready to produce packets from a fixed start second.
pub struct Field {
    plan: FieldPlan,
    t0: i64,
    pmus: Vec<PmuDevice>,
    server_key: DeviceKey,
}

impl std::fmt::Debug for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Field")
            .field("plan", &self.plan)
            .field("t0", &self.t0)
            .finish_non_exhaustive()
    }
}

fn pmu_error(device: &str) -> impl Fn(platone_cim::pmu::PmuError) -> SimError + '_ {
    move |e| SimError::config(format!("sim {device}"), e)
}

impl Field {
    /// Prepares the devices of `plan` (checked first), starting at `plan.start` or now, in
    /// whole seconds.
    pub fn new(plan: &FieldPlan) -> Result<Self> {
        plan.validate()?;
        let t0 = plan.start.unwrap_or_else(Utc::now).timestamp();
        let soc = u32::try_from(t0)
            .map_err(|_| SimError::config("sim.start", format!("{t0} is outside C37.118 time")))?;
        let pmus = (0..plan.pmus)
            .map(|i| {
                let id = FieldPlan::pmu_id(i);
                let idcode = u16::try_from(i + 1).unwrap_or(u16::MAX);
                PmuDevice {
                    component: format!("BUS-{}", FieldPlan::pmu_pod(i)),
                    key: plan.device_key(&id),
                    c37: plan
                        .sends_c37118(i)
                        .then(|| C37Stream::new(&id, idcode, plan.rate, soc)),
                    id,
                }
            })
            .collect();
        Ok(Field {
            plan: plan.clone(),
            t0,
            pmus,
            server_key: plan.device_key(DATA_SERVER),
        })
    }

    /// The plan.
    pub fn plan(&self) -> &FieldPlan {
        &self.plan
    }

    /// The start second (Unix time) frame 0 carries.
    pub fn start_second(&self) -> i64 {
        self.t0
    }

    /// The time PMU frame `frame` carries.
    pub fn frame_time(&self, frame: u64) -> Timestamp {
        let (secs, micros) = frame_time(self.t0, self.plan.rate, frame);
        timestamp(secs, micros)
    }

    /// The end of meter interval `interval` (simulated time).
    pub fn interval_end(&self, interval: u64) -> Timestamp {
        timestamp(interval_end(self.t0, interval), 0)
    }

    fn pmu(&self, index: usize) -> Result<&PmuDevice> {
        self.pmus.get(index).ok_or_else(|| {
            SimError::config(
                "sim.pmus",
                format!("no PMU number {index} in a field of {}", self.pmus.len()),
            )
        })
    }

    fn seal(
        &self,
        key: &DeviceKey,
        device: &str,
        payload: Vec<u8>,
        signed_at: u64,
    ) -> Result<Bytes> {
        let sealed = self
            .plan
            .signing
            .seal(key, device, payload, signed_at, self.plan.chain_id)?;
        Ok(Bytes::from(sealed))
    }

    /// The packet of PMU number `pmu` (0-based) for frame `frame`: a SOGNO device message or a
    /// C37.118 data frame, signed (when the plan says so) at `signed_at` (Unix seconds, the
    /// EIP-712 timestamp).
    pub fn pmu_frame(&self, pmu: usize, frame: u64, signed_at: u64) -> Result<Packet> {
        let device = self.pmu(pmu)?;
        let (secs, micros) = frame_time(self.t0, self.plan.rate, frame);
        let t = secs as f64 + f64::from(micros) / 1e6;
        let data = pmu_values(self.plan.seed, pmu, frame, t);
        let (payload, kind, measurements) = match &device.c37 {
            Some(stream) => {
                let soc = u32::try_from(secs).map_err(|_| {
                    SimError::config("sim.start", format!("{secs} is outside C37.118 time"))
                })?;
                let bytes = stream
                    .data_frame(soc, micros, data)
                    .map_err(pmu_error(&device.id))?;
                (
                    bytes,
                    PacketKind::C37118Data,
                    super::pmu::C37118_MEASUREMENTS,
                )
            }
            None => {
                let message = sogno_message(
                    &device.id,
                    &device.component,
                    timestamp(secs, micros),
                    &data,
                );
                let n = message.readings.len();
                (message.to_json().into_bytes(), PacketKind::Sogno, n)
            }
        };
        Ok(Packet {
            topic: self.plan.pmu_topic(&device.id),
            payload: self.seal(&device.key, &device.id, payload, signed_at)?,
            device: device.id.clone(),
            kind,
            measurements,
        })
    }

    /// The CFG-2 packet of PMU number `pmu`, or `None` when it sends SOGNO JSON.
    pub fn pmu_config(&self, pmu: usize, signed_at: u64) -> Result<Option<Packet>> {
        let device = self.pmu(pmu)?;
        let Some(stream) = &device.c37 else {
            return Ok(None);
        };
        let bytes = stream.config_frame().map_err(pmu_error(&device.id))?;
        Ok(Some(Packet {
            topic: self.plan.pmu_topic(&device.id),
            payload: self.seal(&device.key, &device.id, bytes, signed_at)?,
            device: device.id.clone(),
            kind: PacketKind::C37118Config,
            measurements: 0,
        }))
    }

    /// The data server's packets for meter interval `interval`: every meter's reading, at most
    /// `meters_per_packet` meters per MeterReadings document.
    pub fn meter_readings(&self, interval: u64, signed_at: u64) -> Result<Vec<Packet>> {
        let end = self.interval_end(interval);
        let mut packets = Vec::new();
        let mut first = 0;
        while first < self.plan.meters {
            let last = (first + self.plan.meters_per_packet).min(self.plan.meters);
            let readings = (first..last)
                .map(|i| {
                    let kwh = interval_energy(self.plan.seed, i, end.timestamp());
                    interval_measurement(
                        &FieldPlan::meter_id(i),
                        &FieldPlan::meter_pod(i),
                        end,
                        kwh,
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            let message_id = format!("{DATA_SERVER}-{interval}-{}", packets.len() + 1);
            let xml = meter_readings_xml(DATA_SERVER, &message_id, end, &readings);
            packets.push(Packet {
                topic: self.plan.cim_topic(DATA_SERVER),
                payload: self.seal(&self.server_key, DATA_SERVER, xml.into_bytes(), signed_at)?,
                device: DATA_SERVER.to_owned(),
                kind: PacketKind::MeterReadings,
                measurements: readings.len(),
            });
            first = last;
        }
        Ok(packets)
    }

    /// Malformed packet number `n`: from the first PMU (or the data server when there is no
    /// PMU), a SOGNO message cut off in the middle (or a MeterReadings document whose value is
    /// not a number), signed like every other packet so that it fails at decoding, not at the
    /// signature check.
    pub fn malformed(&self, n: u32, signed_at: u64) -> Result<Packet> {
        let (topic, device, key, payload) = match self.pmus.first() {
            Some(pmu) => {
                let time = self.frame_time(0).to_rfc3339();
                let payload = format!(
                    r#"{{"device":"{}","timestamp":"{time}","readings":[{{"component":"{}","measurand":"voltmagnitude","phase":"A","data":"#,
                    pmu.id, pmu.component
                );
                (
                    self.plan.pmu_topic(&pmu.id),
                    pmu.id.as_str(),
                    &pmu.key,
                    payload,
                )
            }
            None => {
                let payload = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><MeterReadings xmlns=\"http://iec.ch/TC57/2011/MeterReadings#\"><MeterReading><Meter><mRID>{}</mRID></Meter><Readings><timeStamp>{}</timeStamp><value>malformed-{n}</value><ReadingType ref=\"{}\"/></Readings></MeterReading></MeterReadings>",
                    FieldPlan::meter_id(0),
                    self.interval_end(0).to_rfc3339(),
                    platone_cim::meter_readings::generate::INTERVAL_READING_TYPE
                );
                (
                    self.plan.cim_topic(DATA_SERVER),
                    DATA_SERVER,
                    &self.server_key,
                    payload,
                )
            }
        };
        Ok(Packet {
            topic,
            payload: self.seal(key, device, payload.into_bytes(), signed_at)?,
            device: device.to_owned(),
            kind: PacketKind::Malformed,
            measurements: 0,
        })
    }
}

fn timestamp(secs: i64, micros: u32) -> Timestamp {
    Utc.timestamp_opt(secs, micros.saturating_mul(1000))
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .fixed_offset()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PmuFormat, Signing};
    use platone_certify::SignedEnvelope;
    use platone_cim::meter_readings::{Mode, parse_slice};
    use platone_cim::pmu::c37118::{Decoded, Decoder};
    use platone_cim::pmu::convert::data_to_measurements;
    use platone_cim::pmu::sogno::SognoMessage;
    use platone_model::Measurement;

    const START: &str = "2026-01-01T00:07:13Z";

    fn plan(pmus: usize, meters: usize, signing: Signing) -> FieldPlan {
        let mut plan = FieldPlan::new(pmus, 50, meters);
        plan.signing = signing;
        plan.chain_id = 5;
        plan.seed = 99;
        plan.start = Some(START.parse().unwrap());
        plan
    }

    /// The payload bytes, after checking the signature against the BAL's configured address.
    fn opened(plan: &FieldPlan, packet: &Packet) -> Vec<u8> {
        match SignedEnvelope::detect(&packet.payload) {
            None => {
                assert_eq!(plan.signing, Signing::None);
                packet.payload.to_vec()
            }
            Some(envelope) => {
                let envelope = envelope.unwrap();
                assert_eq!(envelope.scheme.as_str(), plan.signing.as_str());
                let configured = plan
                    .bal_devices()
                    .into_iter()
                    .find(|d| d.id == packet.device)
                    .and_then(|d| d.address)
                    .unwrap();
                let signer = envelope.recover_signer(plan.chain_id).unwrap();
                assert_eq!(signer.to_checksum(None), configured);
                envelope.payload_bytes().unwrap().into_owned()
            }
        }
    }

    fn sogno(plan: &FieldPlan, packet: &Packet) -> Vec<Measurement> {
        let bytes = opened(plan, packet);
        SognoMessage::from_json(std::str::from_utf8(&bytes).unwrap())
            .unwrap()
            .to_measurements()
            .unwrap()
    }

    #[test]
    fn sogno_frames_decode_to_the_counted_measurements_and_verify() {
        for signing in [Signing::None, Signing::Eip191, Signing::Eip712] {
            let plan = plan(3, 0, signing);
            let field = Field::new(&plan).unwrap();
            for pmu in 0..3 {
                for frame in [0, 1, 77] {
                    let packet = field.pmu_frame(pmu, frame, 1_767_226_000).unwrap();
                    assert_eq!(packet.kind, PacketKind::Sogno);
                    assert_eq!(
                        packet.topic,
                        format!("platone/bal/devices/pmu-{}/pmu", pmu + 1)
                    );
                    let measurements = sogno(&plan, &packet);
                    assert_eq!(measurements.len(), packet.measurements);
                    assert!(
                        measurements
                            .iter()
                            .all(|m| m.source.as_str() == packet.device)
                    );
                    assert!(
                        measurements
                            .iter()
                            .all(|m| m.timestamp == field.frame_time(frame))
                    );
                }
            }
        }
    }

    #[test]
    fn frame_times_advance_one_period_from_the_start_second() {
        let field = Field::new(&plan(1, 0, Signing::None)).unwrap();
        let t0 = field.frame_time(0);
        assert_eq!(t0.to_rfc3339(), "2026-01-01T00:07:13+00:00");
        assert_eq!((field.frame_time(1) - t0).num_milliseconds(), 20);
        assert_eq!((field.frame_time(50) - t0).num_seconds(), 1);
        let a = sogno(field.plan(), &field.pmu_frame(0, 10, 0).unwrap());
        let b = sogno(field.plan(), &field.pmu_frame(0, 11, 0).unwrap());
        assert_eq!((b[0].timestamp - a[0].timestamp).num_milliseconds(), 20);
        assert_ne!(
            a[0].value, b[0].value,
            "noise makes consecutive frames differ"
        );
    }

    #[test]
    fn c37118_frames_decode_with_their_cfg2() {
        for signing in [Signing::None, Signing::Eip712] {
            let mut plan = plan(2, 0, signing);
            plan.pmu_format = PmuFormat::Mixed;
            let field = Field::new(&plan).unwrap();
            assert!(
                field.pmu_config(0, 0).unwrap().is_none(),
                "pmu-1 sends JSON"
            );
            let config = field.pmu_config(1, 0).unwrap().unwrap();
            assert_eq!(config.kind, PacketKind::C37118Config);
            let mut decoder = Decoder::new();
            assert!(matches!(
                decoder.decode(&opened(&plan, &config)).unwrap(),
                Decoded::Config(..)
            ));
            for frame in [0, 1, 49, 50] {
                let packet = field.pmu_frame(1, frame, 7).unwrap();
                assert_eq!(packet.kind, PacketKind::C37118Data);
                assert_eq!(packet.topic, "platone/bal/devices/pmu-2/pmu");
                let Decoded::Data(data, cfg) = decoder.decode(&opened(&plan, &packet)).unwrap()
                else {
                    panic!("not a data frame")
                };
                let measurements = data_to_measurements(&data, &cfg, None).unwrap();
                assert_eq!(measurements.len(), packet.measurements);
                assert!(measurements.iter().all(|m| m.source.as_str() == "pmu-2"));
                assert!(
                    measurements
                        .iter()
                        .all(|m| m.timestamp == field.frame_time(frame))
                );
                let va = measurements
                    .iter()
                    .find(|m| m.channel.as_deref() == Some("VA"))
                    .unwrap();
                assert!((va.value - 230.0).abs() < 2.0);
                assert_eq!(va.phases, platone_model::PhaseSet::A);
            }
        }
    }

    #[test]
    fn meter_readings_decode_to_one_reading_per_meter_in_chunks() {
        let mut plan = plan(0, 5, Signing::Eip191);
        plan.meters_per_packet = 2;
        let field = Field::new(&plan).unwrap();
        assert_eq!(
            field.interval_end(0).to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        let packets = field.meter_readings(3, 0).unwrap();
        assert_eq!(packets.len(), 3);
        let mut meters = Vec::new();
        for packet in &packets {
            assert_eq!(packet.topic, "platone/bal/devices/dso-ds-1/cim");
            let parsed = parse_slice(&opened(&plan, packet), Mode::Strict).unwrap();
            let envelope = parsed.document.envelope.clone().unwrap();
            assert_eq!(envelope.header.verb, "created");
            let measurements: Vec<Measurement> = parsed
                .document
                .measurements()
                .into_iter()
                .map(Result::unwrap)
                .collect();
            assert_eq!(measurements.len(), packet.measurements);
            for m in measurements {
                assert_eq!(m.timestamp.to_rfc3339(), "2026-01-01T00:45:00+00:00");
                assert_eq!(m.interval.map(|i| i.seconds()), Some(900));
                let id = m.meter.unwrap().as_str().to_owned();
                assert_eq!(
                    m.usage_point.unwrap().as_str(),
                    format!("POD-{id}"),
                    "the usage point is the meter's PoD"
                );
                meters.push(id);
            }
        }
        assert_eq!(meters, ["MTR-1", "MTR-2", "MTR-3", "MTR-4", "MTR-5"]);
    }

    #[test]
    fn malformed_packets_are_signed_but_do_not_decode() {
        let plan = plan(1, 1, Signing::Eip712);
        let field = Field::new(&plan).unwrap();
        let packet = field.malformed(0, 1).unwrap();
        assert_eq!(packet.kind, PacketKind::Malformed);
        let bytes = opened(&plan, &packet);
        assert!(SognoMessage::from_json(std::str::from_utf8(&bytes).unwrap()).is_err());

        let plan = self::plan(0, 1, Signing::None);
        let packet = Field::new(&plan).unwrap().malformed(0, 1).unwrap();
        assert_eq!(packet.topic, "platone/bal/devices/dso-ds-1/cim");
        assert!(parse_slice(&packet.payload, Mode::Strict).is_err());
    }

    #[test]
    fn the_same_plan_produces_the_same_packets() {
        let plan = plan(2, 3, Signing::Eip191);
        let a = Field::new(&plan).unwrap();
        let b = Field::new(&plan).unwrap();
        assert_eq!(a.pmu_frame(1, 5, 9).unwrap(), b.pmu_frame(1, 5, 9).unwrap());
        assert_eq!(
            a.meter_readings(2, 9).unwrap(),
            b.meter_readings(2, 9).unwrap()
        );
    }
}
