//! `platone bridge --to-jsonld FORM`: the bridge publishes SAREF JSON-LD instead of the source
//! format. A [`PayloadTransform`] decodes each payload with `platone-cim` (or as measurement
//! JSON) and maps it with `platone-saref`; a payload that does not decode, or holds no
//! measurement, is dead-lettered by the bridge with the reason.

use clap::ValueEnum;
use platone_bus::{Message, PayloadTransform, TransformError};
use platone_cim::meter_readings::{Mode, parse_slice_limited};
use platone_cim::pmu::sogno::SognoMessage;
use platone_model::Measurement;
use platone_saref::{DeviceRole, Format, MappingOptions};

/// The largest payload a compressed CIM document may decompress to (a guard against
/// decompression bombs).
const MAX_DECOMPRESSED: u64 = 64 << 20;

/// The form of the payloads on the bridged topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PayloadForm {
    /// IEC 61968-9 MeterReadings XML, in or out of its envelope (every reading must convert).
    Cim,
    /// SOGNO/LOCO PMU JSON: one message or an array of messages.
    PmuJson,
    /// Measurement JSON: one object, an array, or JSON lines.
    Measurements,
}

/// Rewrites each payload into a compact JSON-LD document (context inline) of its
/// measurements, and sets the `content-type` header to `application/ld+json` (carried on the
/// memory and Kafka buses; MQTT 3.1.1 has no headers).
#[derive(Debug)]
pub struct SarefJsonLd {
    form: PayloadForm,
    options: MappingOptions,
}

impl SarefJsonLd {
    /// A transform of payloads in `form`, minting IRIs as `options` say (PMU payloads type their
    /// devices as SARGON PMUs).
    pub fn new(form: PayloadForm, mut options: MappingOptions) -> Self {
        if form == PayloadForm::PmuJson {
            options.device_role = DeviceRole::Pmu;
        }
        SarefJsonLd { form, options }
    }

    fn decode(&self, payload: &[u8]) -> Result<Vec<Measurement>, String> {
        match self.form {
            PayloadForm::Cim => {
                let parsed = parse_slice_limited(payload, Mode::Strict, MAX_DECOMPRESSED)
                    .map_err(|e| format!("MeterReadings: {e}"))?;
                parsed
                    .document
                    .measurements()
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| m.map_err(|e| format!("MeterReadings reading {i}: {e}")))
                    .collect()
            }
            PayloadForm::PmuJson => {
                let text = std::str::from_utf8(payload).map_err(|e| format!("not UTF-8: {e}"))?;
                let messages: Vec<SognoMessage> = if text.trim_start().starts_with('[') {
                    serde_json::from_str(text).map_err(|e| format!("SOGNO JSON: {e}"))?
                } else {
                    vec![SognoMessage::from_json(text).map_err(|e| format!("SOGNO JSON: {e}"))?]
                };
                let mut out = Vec::new();
                for (i, m) in messages.iter().enumerate() {
                    out.extend(
                        m.to_measurements()
                            .map_err(|e| format!("SOGNO message {i}: {e}"))?,
                    );
                }
                Ok(out)
            }
            PayloadForm::Measurements => {
                let text = std::str::from_utf8(payload).map_err(|e| format!("not UTF-8: {e}"))?;
                if text.trim_start().starts_with('[') {
                    return serde_json::from_str(text).map_err(|e| format!("measurements: {e}"));
                }
                text.lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                    .map(|(i, l)| {
                        serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1))
                    })
                    .collect()
            }
        }
    }
}

impl PayloadTransform for SarefJsonLd {
    fn transform(&self, message: &mut Message) -> Result<(), TransformError> {
        let measurements = self.decode(&message.payload)?;
        if measurements.is_empty() {
            return Err("the payload holds no measurement".into());
        }
        let document = platone_saref::write_measurements(
            Vec::with_capacity(message.payload.len() * 4),
            Format::JsonLd,
            &self.options,
            measurements.iter().map(|m| (m, None)),
        )?;
        message.payload = document.into();
        message
            .headers
            .insert("content-type", Format::JsonLd.media_type());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"source":"meter-1","meter":"meter-1","pod":"GR-POD-1","timestamp":"2021-06-30T00:15:00+02:00","kind":"energy","phases":"ABC","direction":"forward","accumulation":"delta","interval":900,"aggregate":"sum","unit":"Wh","multiplier":3,"value":1.5,"quality":[]}"#;

    #[test]
    fn measurement_json_becomes_jsonld_that_reads_back() {
        let t = SarefJsonLd::new(PayloadForm::Measurements, MappingOptions::default());
        let mut m = Message::new("ld/m", format!("{LINE}\n{LINE}\n"));
        t.transform(&mut m).unwrap();
        assert_eq!(m.headers.get("content-type"), Some("application/ld+json"));
        let back = platone_saref::read_measurements(&m.payload[..], Format::JsonLd).unwrap();
        let expected: Measurement = serde_json::from_str(LINE).unwrap();
        assert_eq!(back, vec![expected]);
    }

    #[test]
    fn bad_payloads_are_refused_with_the_reason() {
        let t = SarefJsonLd::new(PayloadForm::Measurements, MappingOptions::default());
        for (payload, reason) in [
            ("{\"source\":", "line 1"),
            ("", "no measurement"),
            ("[]", "no measurement"),
        ] {
            let mut m = Message::new("x", payload);
            let e = t.transform(&mut m).unwrap_err().to_string();
            assert!(e.contains(reason), "{payload:?}: {e}");
        }
        let t = SarefJsonLd::new(PayloadForm::Cim, MappingOptions::default());
        let e = t
            .transform(&mut Message::new("x", "<MeterReadings>"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("MeterReadings"), "{e}");
        let t = SarefJsonLd::new(PayloadForm::PmuJson, MappingOptions::default());
        assert!(t.transform(&mut Message::new("x", "{}")).is_err());
    }
}
