//! Decoded C37.118.2 data frames to [`Measurement`]s, [`PhasorMeasurement`]s and SOGNO JSON.
//!
//! Each phasor becomes a magnitude (V or A) and an angle (rad) with `channel` = the phasor name,
//! phases from CFG-3 (or the channel map, or the name for CFG-1/2) and quality from STAT and the
//! time-quality byte; frequency (Hz, channel `FREQ`) and ROCOF (Hz/s, channel `DFREQ`) follow.
//! Absent values (`None`) produce nothing.

use platone_model::{
    Accumulation, ComponentId, DeviceId, Measurement, MeasurementKind, PhaseSet, Phasor,
    PhasorMeasurement, Quality, QualityFlag, Timestamp, Unit,
};

use super::PmuError;
use super::c37118::{
    ConfigFrame, DataError, DataFrame, PhasorComponent, PhasorKind, PmuConfig, PmuData, Stat,
    TimeQuality,
};
use super::channel_map::{ChannelMap, channel_info};
use super::sogno::{Measurand, SognoMessage, SognoPhase, SognoReading};

/// Quality flags for a PMU block: STAT data error, sync error, data modification and the
/// message time quality.
pub fn quality_of(stat: Stat, time_quality: TimeQuality) -> Quality {
    let mut q = Quality::GOOD;
    match stat.data_error() {
        DataError::Good => {}
        DataError::PmuError => q = q.with(QualityFlag::DeviceError),
        DataError::TestModeOrAbsent => q = q.with(QualityFlag::Test).with(QualityFlag::Invalid),
        DataError::PmuErrorDoNotUse => {
            q = q.with(QualityFlag::DeviceError).with(QualityFlag::Invalid)
        }
    }
    if stat.sync_error() || time_quality.message_time_quality() == 0xF {
        q = q.with(QualityFlag::TimeNotSynchronised);
    }
    if stat.data_modified() {
        q = q.with(QualityFlag::Modified);
    }
    q
}

/// The device name of a PMU block: the map's `device`, else the station name, else
/// `pmu-IDCODE`.
pub fn device_name(pmu: &PmuConfig, map: Option<&ChannelMap>) -> String {
    if let Some(d) = map.and_then(|m| m.device.clone()) {
        return d;
    }
    let station = pmu.station.trim();
    if station.is_empty() {
        format!("pmu-{}", pmu.idcode)
    } else {
        station.to_string()
    }
}

/// The model phase set of a phasor component (sequence components cover ABC).
pub fn phases_of(component: Option<PhasorComponent>) -> PhaseSet {
    match component {
        Some(PhasorComponent::PhaseA) => PhaseSet::A,
        Some(PhasorComponent::PhaseB) => PhaseSet::B,
        Some(PhasorComponent::PhaseC) => PhaseSet::C,
        Some(
            PhasorComponent::PositiveSequence
            | PhasorComponent::NegativeSequence
            | PhasorComponent::ZeroSequence,
        ) => PhaseSet::ABC,
        _ => PhaseSet::NONE,
    }
}

fn model(context: String) -> impl Fn(platone_model::ModelError) -> PmuError {
    move |e| PmuError::model(context.clone(), e)
}

fn frame_time(frame: &DataFrame) -> Result<Timestamp, PmuError> {
    frame.time().ok_or_else(|| {
        PmuError::invalid(
            6,
            "SOC/FRACSEC",
            "no time: TIME_BASE is 0 or SOC out of range",
        )
    })
}

/// The phasors of every PMU block as [`PhasorMeasurement`]s.
pub fn phasor_measurements(
    frame: &DataFrame,
    config: &ConfigFrame,
    map: Option<&ChannelMap>,
) -> Result<Vec<PhasorMeasurement>, PmuError> {
    let time = frame_time(frame)?;
    let mut out = Vec::new();
    for (pmu, data) in config.pmus.iter().zip(&frame.pmus) {
        let source = DeviceId::new(device_name(pmu, map))
            .map_err(model(format!("station {:?}", pmu.station)))?;
        let quality = quality_of(data.stat, frame.header.fracsec.quality());
        for (channel, value) in pmu.phasors.iter().zip(&data.phasors) {
            let Some(value) = value else { continue };
            let info = channel_info(&pmu.station, channel, map);
            let phasor = Phasor::polar(value.magnitude(), value.angle())
                .map_err(model(format!("phasor {:?}", channel.name)))?;
            let kind = match info.kind {
                PhasorKind::Voltage => MeasurementKind::Voltage,
                PhasorKind::Current => MeasurementKind::Current,
            };
            let name = if channel.name.trim().is_empty() {
                format!("PH{}", out.len())
            } else {
                channel.name.clone()
            };
            let mut pm = PhasorMeasurement::new(
                source.clone(),
                name,
                time,
                kind,
                phases_of(info.component),
                phasor,
            )
            .map_err(model(format!("phasor {:?}", channel.name)))?;
            pm.quality = quality;
            if let Some(c) = &info.grid_component {
                pm.component =
                    Some(ComponentId::new(c).map_err(model(format!("component {c:?}")))?);
            }
            out.push(pm);
        }
    }
    Ok(out)
}

/// Every phasor (magnitude and angle), frequency and ROCOF of a data frame as measurements.
pub fn data_to_measurements(
    frame: &DataFrame,
    config: &ConfigFrame,
    map: Option<&ChannelMap>,
) -> Result<Vec<Measurement>, PmuError> {
    let time = frame_time(frame)?;
    let mut out = Vec::new();
    for pm in phasor_measurements(frame, config, map)? {
        let [magnitude, angle] = pm
            .to_measurements()
            .map_err(model(format!("phasor {:?}", pm.channel)))?;
        out.push(magnitude);
        out.push(angle);
    }
    for (pmu, data) in config.pmus.iter().zip(&frame.pmus) {
        let source = DeviceId::new(device_name(pmu, map))
            .map_err(model(format!("station {:?}", pmu.station)))?;
        let quality = quality_of(data.stat, frame.header.fracsec.quality());
        for (value, kind, unit, channel) in [
            (
                data.frequency,
                MeasurementKind::Frequency,
                Unit::Hertz,
                "FREQ",
            ),
            (
                data.rocof,
                MeasurementKind::RateOfChangeOfFrequency,
                Unit::HertzPerSecond,
                "DFREQ",
            ),
        ] {
            let Some(v) = value else { continue };
            out.push(
                Measurement::new(source.clone(), time, kind, unit, v)
                    .map_err(model(channel.to_string()))?
                    .with_accumulation(Accumulation::Instantaneous, None)
                    .with_quality(quality)
                    .with_channel(channel)
                    .map_err(model(channel.to_string()))?,
            );
        }
    }
    Ok(out)
}

/// One SOGNO device message per PMU block: per-phase voltage and current magnitudes and angles
/// (phasors whose phase is not A, B or C are left out) and the frequency. The component is the
/// channel map's, else the station name.
pub fn data_to_sogno(
    frame: &DataFrame,
    config: &ConfigFrame,
    map: Option<&ChannelMap>,
) -> Result<Vec<SognoMessage>, PmuError> {
    let time = frame_time(frame)?;
    let mut out = Vec::new();
    for (pmu, data) in config.pmus.iter().zip(&frame.pmus) {
        let readings = sogno_readings(pmu, data, map);
        out.push(SognoMessage {
            device: device_name(pmu, map),
            timestamp: time,
            readings,
        });
    }
    Ok(out)
}

fn sogno_readings(pmu: &PmuConfig, data: &PmuData, map: Option<&ChannelMap>) -> Vec<SognoReading> {
    let mut readings = Vec::new();
    let station_component = device_name(pmu, None);
    for (channel, value) in pmu.phasors.iter().zip(&data.phasors) {
        let Some(value) = value else { continue };
        let info = channel_info(&pmu.station, channel, map);
        let phase = match info.component {
            Some(PhasorComponent::PhaseA) => SognoPhase::A,
            Some(PhasorComponent::PhaseB) => SognoPhase::B,
            Some(PhasorComponent::PhaseC) => SognoPhase::C,
            _ => continue,
        };
        let component = info
            .grid_component
            .unwrap_or_else(|| station_component.clone());
        let (mag, ang) = match info.kind {
            PhasorKind::Voltage => (Measurand::VoltMagnitude, Measurand::VoltAngle),
            PhasorKind::Current => (Measurand::CurrMagnitude, Measurand::CurrAngle),
        };
        for (measurand, v) in [(mag, value.magnitude()), (ang, value.angle())] {
            readings.push(SognoReading {
                component: component.clone(),
                measurand,
                phase: Some(phase),
                data: v,
            });
        }
    }
    if let Some(f) = data.frequency {
        readings.push(SognoReading {
            component: map
                .and_then(|m| m.channels.iter().find(|c| c.name == "FREQ"))
                .and_then(|c| c.component.clone())
                .unwrap_or(station_component),
            measurand: Measurand::Frequency,
            phase: None,
            data: f,
        });
    }
    readings
}
