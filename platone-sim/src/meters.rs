//! Simulated smart meters read by a DSO data server: one 15-minute forward active energy
//! reading (kWh, phases ABC, ReadingType `0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0`) per meter
//! per interval, sent as an IEC 61968-9 MeterReadings document inside an IEC 61968-100
//! `EventMessage` (verb `created`, noun `MeterReadings`).
//!
//! The energy follows a household day: about 0.1 kWh per quarter hour at night and up to
//! 0.4 kWh in the evening, scaled per meter and with ±20 % noise drawn from (seed, meter,
//! interval), rounded to the watt-hour.

use std::f64::consts::PI;

use platone_cim::meter_readings::generate::INTERVAL_READING_TYPE;
use platone_cim::meter_readings::{
    CimDateTime, Envelope, WriteOptions, measurements_to_document, write_document,
};
use platone_model::{
    Accumulation, DeviceId, FlowDirection, Measurement, MeasurementKind, MeasuringPeriod, MeterId,
    PhaseSet, Timestamp, Unit, UnitMultiplier, UsagePointId,
};

use super::pmu::noise;
use crate::error::{Result, SimError};

/// Seconds in one metering interval.
pub const INTERVAL_SECS: u64 = 900;

/// The energy (kWh, three decimals) meter number `meter` (0-based) delivered in the quarter
/// hour ending at `end`.
pub fn interval_energy(seed: u64, meter: usize, interval_end: i64) -> f64 {
    let hour = interval_end.rem_euclid(86_400) as f64 / 3600.0;
    // Lowest at 04:00, highest at 19:00 (a morning and an evening hump).
    let daily = 0.5 * (1.0 - (2.0 * PI * (hour - 4.0) / 30.0).cos()).max(0.0);
    let size = 0.7 + 0.6 * (noise(seed, meter as u64, u64::MAX, 1) + 1.0) / 2.0;
    let jitter = 1.0 + 0.2 * noise(seed, meter as u64, interval_end as u64, 2);
    let kwh = (0.1 + 0.3 * daily) * size * jitter;
    (kwh * 1000.0).round() / 1000.0
}

/// One reading as a measurement: source and meter `meter_id`, usage point `pod` (the CIM
/// usage point is the PoD), 15-minute forward active energy in kWh on phases ABC.
pub fn interval_measurement(
    meter_id: &str,
    pod: &str,
    end: Timestamp,
    kwh: f64,
) -> Result<Measurement> {
    let model = |e: platone_model::ModelError| SimError::config(format!("meter {meter_id}"), e);
    Measurement::new(
        DeviceId::new(meter_id).map_err(model)?,
        end,
        MeasurementKind::Energy,
        Unit::WattHour,
        kwh,
    )
    .map_err(model)?
    .with_meter(MeterId::new(meter_id).map_err(model)?)
    .with_usage_point(UsagePointId::new(pod).map_err(model)?)
    .with_multiplier(UnitMultiplier::KILO)
    .with_phases(PhaseSet::ABC)
    .with_direction(FlowDirection::Forward)
    .with_accumulation(Accumulation::Delta, Some(MeasuringPeriod::FIFTEEN_MINUTES))
    .with_channel(INTERVAL_READING_TYPE)
    .map_err(model)
}

/// The MeterReadings document the data server `server` sends with `readings`, in an
/// `EventMessage` whose header names the server as `Source`, the send time and `message_id`.
pub fn meter_readings_xml(
    server: &str,
    message_id: &str,
    sent: Timestamp,
    readings: &[Measurement],
) -> String {
    let doc = measurements_to_document(readings);
    let mut envelope = Envelope::created_event();
    envelope.header.source = Some(server.to_owned());
    envelope.header.message_id = Some(message_id.to_owned());
    envelope.header.timestamp = Some(CimDateTime::from_timestamp(sent));
    write_document(
        &doc,
        &WriteOptions {
            envelope: Some(envelope),
            indent: false,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use platone_cim::meter_readings::{Mode, parse_str};

    #[test]
    fn energies_are_plausible_and_reproducible() {
        for meter in 0..50 {
            for q in 0..96 {
                let end = 1_767_225_600 + q * 900;
                let e = interval_energy(3, meter, end);
                assert!((0.05..=0.6).contains(&e), "{e}");
                assert_eq!(e, interval_energy(3, meter, end));
                assert_eq!(e, (e * 1000.0).round() / 1000.0);
            }
        }
    }

    #[test]
    fn documents_parse_back_to_the_same_measurements() {
        let end = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:15:00Z").unwrap();
        let readings: Vec<Measurement> = (0..3)
            .map(|i| {
                let id = format!("MTR-{}", i + 1);
                let pod = format!("POD-MTR-{}", i + 1);
                interval_measurement(&id, &pod, end, interval_energy(1, i, end.timestamp()))
                    .unwrap()
            })
            .collect();
        let xml = meter_readings_xml("dso-ds-1", "dso-ds-1-1", end, &readings);
        let parsed = parse_str(&xml, Mode::Strict).unwrap();
        let envelope = parsed.document.envelope.as_ref().unwrap();
        assert_eq!(envelope.header.source.as_deref(), Some("dso-ds-1"));
        assert_eq!(envelope.header.noun, "MeterReadings");
        let back: Vec<Measurement> = parsed
            .document
            .measurements()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(back, readings);
    }
}
