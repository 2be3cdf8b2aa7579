//! Device packets: which device and format a topic names, and the packet's measurements.
//!
//! - `{devices}/{device}/pmu`: a SOGNO/LOCO JSON device message (or a JSON array of the old
//!   flat form), or binary IEEE C37.118 frames — configuration frames register the stream's
//!   layout for that device, data frames are decoded with it.
//! - `{devices}/{device}/cim`: IEC 61968-9 MeterReadings XML, bare or inside an
//!   IEC 61968-100 message or SOAP envelope, read in lenient mode: a reading that cannot be
//!   converted is reported as an item problem while the other readings go on.

use std::collections::{HashMap, VecDeque};

use platone_cim::meter_readings::{Mode, parse_slice_limited};
use platone_cim::pmu::c37118::{Decoded, Decoder};
use platone_cim::pmu::convert::data_to_measurements;
use platone_cim::pmu::framer::{FramerEvent, frames_in};
use platone_cim::pmu::sogno::{SognoFlat, SognoMessage};
use platone_model::{ComponentId, DeviceId, Measurement};

/// The data format a device publishes on a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PacketKind {
    /// PMU data: SOGNO/LOCO JSON or IEEE C37.118 frames.
    Pmu,
    /// Smart-meter data: IEC 61968-9 MeterReadings XML.
    Cim,
}

impl PacketKind {
    /// The last topic level of the format.
    pub fn as_str(self) -> &'static str {
        match self {
            PacketKind::Pmu => "pmu",
            PacketKind::Cim => "cim",
        }
    }
}

/// The device and format a device topic names: `{prefix}/{device}/{pmu|cim}`.
pub fn parse_topic(prefix: &str, topic: &str) -> Result<(DeviceId, PacketKind), String> {
    let rest = topic
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| format!("topic {topic:?} is not under {prefix:?}"))?;
    let (device, kind) = rest
        .split_once('/')
        .ok_or_else(|| format!("topic {topic:?} is not {prefix}/DEVICE/pmu|cim"))?;
    let kind = match kind {
        "pmu" => PacketKind::Pmu,
        "cim" => PacketKind::Cim,
        other => return Err(format!("topic {topic:?}: unknown format {other:?}")),
    };
    let device = DeviceId::new(device).map_err(|e| format!("topic {topic:?}: device: {e}"))?;
    Ok((device, kind))
}

/// What a packet held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodedPayload {
    /// The measurements.
    pub measurements: Vec<Measurement>,
    /// Parts of the packet that could not be used (a reading that does not convert, a corrupt
    /// frame), each with where and why; the rest of the packet is kept.
    pub problems: Vec<String>,
}

/// Bounds on what one packet, and the decoder's state, may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeLimits {
    /// The largest payload an IEC 61968-100 `Payload/Compressed` may decompress to, in bytes.
    pub max_decompressed_bytes: u64,
    /// How many devices' C37.118 configurations are kept at most; beyond it the device heard
    /// from least recently is forgotten (it sends its configuration again).
    pub max_c37118_devices: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_decompressed_bytes: 8 << 20,
            max_c37118_devices: 10_000,
        }
    }
}

/// Decodes packet payloads, remembering each device's C37.118 configurations (for at most
/// [`DecodeLimits::max_c37118_devices`] devices).
#[derive(Debug, Default)]
pub struct PayloadDecoder {
    limits: DecodeLimits,
    c37118: HashMap<DeviceId, Decoder>,
    /// The devices of `c37118`, least recently heard from first.
    recency: VecDeque<DeviceId>,
}

impl PayloadDecoder {
    /// A decoder that knows no C37.118 configuration yet, with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: DecodeLimits) -> Self {
        PayloadDecoder {
            limits,
            ..Self::default()
        }
    }

    /// How many devices' C37.118 state the decoder holds.
    pub fn c37118_devices(&self) -> usize {
        self.c37118.len()
    }

    /// Decodes one payload of `device` in format `kind`. An error means nothing of the packet
    /// could be used; it says where the payload is wrong.
    pub fn decode(
        &mut self,
        device: &DeviceId,
        kind: PacketKind,
        payload: &[u8],
    ) -> Result<DecodedPayload, String> {
        match kind {
            PacketKind::Pmu if payload.first() == Some(&0xAA) => self.c37118(device, payload),
            PacketKind::Pmu => sogno(device, payload),
            PacketKind::Cim => meter_readings(payload, self.limits.max_decompressed_bytes),
        }
    }

    /// The C37.118 decoder of `device`, made if needed; the least recently heard from device
    /// is forgotten when the bound is reached.
    fn c37118_decoder(&mut self, device: &DeviceId) -> &mut Decoder {
        if let Some(i) = self.recency.iter().position(|d| d == device) {
            if let Some(d) = self.recency.remove(i) {
                self.recency.push_back(d);
            }
        } else {
            while self.c37118.len() >= self.limits.max_c37118_devices.max(1) {
                let Some(oldest) = self.recency.pop_front() else {
                    break;
                };
                self.c37118.remove(&oldest);
            }
            self.recency.push_back(device.clone());
        }
        self.c37118.entry(device.clone()).or_default()
    }

    fn c37118(&mut self, device: &DeviceId, payload: &[u8]) -> Result<DecodedPayload, String> {
        let decoder = self.c37118_decoder(device);
        let mut out = DecodedPayload::default();
        let mut frames = 0usize;
        for event in frames_in(payload) {
            match event {
                FramerEvent::Frame { offset, bytes } => {
                    frames += 1;
                    match decoder.decode(bytes) {
                        Ok(Decoded::Data(frame, config)) => {
                            match data_to_measurements(&frame, &config, None) {
                                Ok(ms) => out.measurements.extend(ms.into_iter().map(|m| {
                                    // The publishing device is the source; the PMU's station
                                    // name stays as the component.
                                    let station = m.source.as_str().to_owned();
                                    let m = Measurement {
                                        source: device.clone(),
                                        ..m
                                    };
                                    match (m.component.is_none(), ComponentId::new(station)) {
                                        (true, Ok(c)) => m.with_component(c),
                                        _ => m,
                                    }
                                })),
                                Err(e) => out.problems.push(format!("frame at byte {offset}: {e}")),
                            }
                        }
                        Ok(_) => {}
                        Err(e) => out.problems.push(format!("frame at byte {offset}: {e}")),
                    }
                }
                FramerEvent::Corrupt { offset, error } => {
                    out.problems
                        .push(format!("frame at byte {offset}: {error}"));
                }
                FramerEvent::Skipped { offset, len } => {
                    out.problems.push(format!(
                        "{len} bytes at byte {offset} do not start a C37.118 frame"
                    ));
                }
            }
        }
        if frames == 0 {
            return Err(out
                .problems
                .first()
                .cloned()
                .unwrap_or_else(|| "no C37.118 frame in the packet".into()));
        }
        if out.measurements.is_empty() && !out.problems.is_empty() && frames == out.problems.len() {
            return Err(out.problems.join("; "));
        }
        Ok(out)
    }
}

fn sogno(device: &DeviceId, payload: &[u8]) -> Result<DecodedPayload, String> {
    let text = std::str::from_utf8(payload)
        .map_err(|e| format!("PMU JSON is not UTF-8 at byte {}", e.valid_up_to()))?;
    let message = if text.trim_start().starts_with('[') {
        let flat: Vec<SognoFlat> = serde_json::from_str(text).map_err(|e| {
            format!(
                "SOGNO flat JSON: line {} column {}: {e}",
                e.line(),
                e.column()
            )
        })?;
        SognoMessage::from_flat(&flat).map_err(|e| format!("SOGNO flat JSON: {e}"))?
    } else {
        SognoMessage::from_json(text).map_err(|e| format!("SOGNO JSON: {e}"))?
    };
    if message.device != device.as_str() {
        return Err(format!(
            "SOGNO JSON $.device is {:?}, published on the topic of device {device:?}",
            message.device
        ));
    }
    let measurements = message
        .to_measurements()
        .map_err(|e| format!("SOGNO JSON: {e}"))?;
    Ok(DecodedPayload {
        measurements,
        problems: Vec::new(),
    })
}

fn meter_readings(payload: &[u8], max_decompressed: u64) -> Result<DecodedPayload, String> {
    let parsed = parse_slice_limited(payload, Mode::Lenient, max_decompressed)
        .map_err(|e| format!("MeterReadings: {e}"))?;
    let mut out = DecodedPayload::default();
    for (i, result) in parsed.document.measurements().into_iter().enumerate() {
        match result {
            Ok(m) => out.measurements.push(m),
            Err(e) => out.problems.push(format!("MeterReadings reading {i}: {e}")),
        }
    }
    if out.measurements.is_empty() && !out.problems.is_empty() {
        return Err(out.problems.join("; "));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: &str) -> DeviceId {
        DeviceId::new(id).unwrap()
    }

    #[test]
    fn topics_name_device_and_format() {
        let (d, k) = parse_topic("platone/bal/devices", "platone/bal/devices/pmu-1/pmu").unwrap();
        assert_eq!((d.as_str(), k), ("pmu-1", PacketKind::Pmu));
        for bad in [
            "platone/bal/devices/pmu-1",
            "platone/bal/devices/pmu-1/xml",
            "other/pmu-1/pmu",
            "platone/bal/devices/a/b/pmu",
        ] {
            assert!(parse_topic("platone/bal/devices", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sogno_messages_decode_and_must_match_the_topic_device() {
        let json = r#"{"device":"pmu-1","timestamp":"2024-03-01T12:00:00Z","readings":[
            {"component":"BUS-1","measurand":"voltmagnitude","phase":"A","data":230.1},
            {"component":"BUS-1","measurand":"frequency","data":50.01}]}"#;
        let mut decoder = PayloadDecoder::new();
        let out = decoder
            .decode(&device("pmu-1"), PacketKind::Pmu, json.as_bytes())
            .unwrap();
        assert_eq!(out.measurements.len(), 2);
        let err = decoder
            .decode(&device("pmu-2"), PacketKind::Pmu, json.as_bytes())
            .unwrap_err();
        assert!(err.contains("pmu-2"), "{err}");
        let err = decoder
            .decode(&device("pmu-1"), PacketKind::Pmu, b"{\"device\": 5}")
            .unwrap_err();
        assert!(err.contains("SOGNO JSON"), "{err}");
    }

    #[test]
    fn c37118_needs_its_configuration_first() {
        let hex_cfg2 = "aa3101c61e36448527f056071098000f4240000153746174696f6e2041202020202020201e36000400040003000156412020202020202020202020202020564220202020202020202020202020205643202020202020202020202020202049312020202020202020202020202020414e414c4f4731202020202020202020414e414c4f4732202020202020202020414e414c4f4733202020202020202020425245414b4552203120535441545553425245414b4552203220535441545553425245414b4552203320535441545553425245414b4552203420535441545553425245414b4552203520535441545553425245414b4552203620535441545553425245414b4552203720535441545553425245414b4552203820535441545553425245414b4552203920535441545553425245414b4552204120535441545553425245414b4552204220535441545553425245414b4552204320535441545553425245414b4552204420535441545553425245414b4552204520535441545553425245414b4552204620535441545553425245414b4552204720535441545553000df847000df847000df8470100b2d00000000101000001020000010000ffff00000016001ed5d1";
        let hex_data = "aa0100341e3644853600000041b10000392b0000e36ace7ce36a31830444000009c4000042c80000447a0000461c40003c12d43f";
        let cfg2 = hex::decode(hex_cfg2).unwrap();
        let data = hex::decode(hex_data).unwrap();
        let mut decoder = PayloadDecoder::new();
        let pmu = device("pmu-7");
        let err = decoder.decode(&pmu, PacketKind::Pmu, &data).unwrap_err();
        assert!(err.contains("frame at byte 0"), "{err}");
        let out = decoder.decode(&pmu, PacketKind::Pmu, &cfg2).unwrap();
        assert!(out.measurements.is_empty() && out.problems.is_empty());
        let out = decoder.decode(&pmu, PacketKind::Pmu, &data).unwrap();
        assert!(!out.measurements.is_empty());
        assert!(out.measurements.iter().all(|m| m.source == pmu));
        assert_eq!(
            out.measurements[0].component.as_ref().map(|c| c.as_str()),
            Some("Station A")
        );
        // Garbage after a good frame is reported, the frame is kept.
        let mut both = data.clone();
        both.extend_from_slice(b"junk");
        let out = decoder.decode(&pmu, PacketKind::Pmu, &both).unwrap();
        assert!(!out.measurements.is_empty());
        assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
    }

    #[test]
    fn c37118_state_is_kept_for_a_bounded_number_of_devices() {
        let mut decoder = PayloadDecoder::with_limits(DecodeLimits {
            max_c37118_devices: 3,
            ..DecodeLimits::default()
        });
        for i in 0..10 {
            let _ = decoder.decode(&device(&format!("pmu-{i}")), PacketKind::Pmu, &[0xAA, 0x31]);
        }
        assert_eq!(decoder.c37118_devices(), 3);
        assert_eq!(decoder.recency.len(), 3);
        // The most recent ones are kept.
        assert!(decoder.c37118.contains_key(&device("pmu-9")));
        assert!(!decoder.c37118.contains_key(&device("pmu-0")));
    }

    #[test]
    fn meter_readings_decode_leniently() {
        let xml = r#"<MeterReadings><MeterReading><Meter><mRID>MTR-1</mRID></Meter>
            <Readings><timeStamp>2024-03-01T12:15:00Z</timeStamp><value>1,5</value>
            <ReadingType ref="0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"/></Readings>
            </MeterReading></MeterReadings>"#;
        let mut decoder = PayloadDecoder::new();
        let out = decoder
            .decode(&device("ds-1"), PacketKind::Cim, xml.as_bytes())
            .unwrap();
        assert_eq!(out.measurements.len(), 1);
        assert_eq!(out.measurements[0].value, 1.5);
        let err = decoder
            .decode(&device("ds-1"), PacketKind::Cim, b"<MeterReadings><oops")
            .unwrap_err();
        assert!(err.starts_with("MeterReadings"), "{err}");
    }
}
