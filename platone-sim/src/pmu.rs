//! Simulated PMUs: realistic 50 Hz three-phase values with noise, as SOGNO/LOCO device
//! messages or as IEEE C37.118.2 data frames with their CFG-2.
//!
//! Every PMU measures a 230 V (phase to ground) bus: three voltage phasors 120° apart whose
//! magnitude drifts by ±0.5 % over 20 s, three currents of about 100 A lagging by 0.3 rad
//! (power factor 0.955) that swell by ±5 % over 50 s, and a frequency that wanders ±20 mHz
//! around 50 Hz over 10 s, with its ROCOF. On top of that each value carries independent
//! uniform noise (±0.1 V, ±0.05 A, ±1 mrad, ±1 mHz) drawn from (seed, PMU, frame), so the same
//! plan always produces the same values.

use std::f64::consts::PI;

use platone_cim::pmu::PmuError;
use platone_cim::pmu::c37118::{
    ConfigFrame, DataFormat, DataLayout, FracSec, FrameHeader, FrameKind, PhasorChannel,
    PhasorKind, PhasorValue, PmuConfig, PmuData, Stat, TimeBase, TimeQuality,
};
use platone_cim::pmu::sogno::{Measurand, SognoMessage, SognoPhase, SognoReading};
use platone_model::Timestamp;

/// Nominal frequency of the simulated grid (Hz).
pub const NOMINAL_HZ: f64 = 50.0;
/// Nominal phase-to-ground voltage (V).
pub const NOMINAL_VOLTS: f64 = 230.0;
/// Readings in one SOGNO device message: four per phase (voltage and current magnitude and
/// angle) and the frequency.
pub const SOGNO_READINGS: usize = 13;
/// Measurements one C37.118 data frame decodes to: six phasors as magnitude and angle, the
/// frequency and its rate of change.
pub const C37118_MEASUREMENTS: usize = 14;

const PHASES: [SognoPhase; 3] = [SognoPhase::A, SognoPhase::B, SognoPhase::C];
const SHIFTS: [f64; 3] = [0.0, -2.0 * PI / 3.0, 2.0 * PI / 3.0];
const CURRENT_LAG: f64 = 0.3;

/// A reproducible uniform number in [-1, 1) from a seed and three indices (splitmix64).
pub(crate) fn noise(seed: u64, a: u64, b: u64, c: u64) -> f64 {
    let mut z = seed
        ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ c.wrapping_mul(0x1656_67B1_9E37_79F9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // 53 random bits to [0, 1), then to [-1, 1).
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

fn wrap(angle: f64) -> f64 {
    (angle + PI).rem_euclid(2.0 * PI) - PI
}

/// The values PMU number `pmu` (0-based) measures at `t` seconds since the Unix epoch in frame
/// number `frame`: phasors VA, VB, VC, IA, IB, IC (polar), frequency and ROCOF.
pub fn pmu_values(seed: u64, pmu: usize, frame: u64, t: f64) -> PmuData {
    let k = pmu as f64;
    let p = pmu as u64;
    let n = |channel: u64| noise(seed, p, frame, channel);
    let deviation = 0.02 * (2.0 * PI * 0.1 * t).sin();
    let rocof = 0.02 * 2.0 * PI * 0.1 * (2.0 * PI * 0.1 * t).cos();
    // The phase of a 50 Hz + deviation signal seen by a 50 Hz reference: it turns slowly.
    let base = 2.0 * PI * deviation * (t % 10.0) + 0.05 * k;
    let volts = NOMINAL_VOLTS * (1.0 + 0.005 * (2.0 * PI * 0.05 * t + k).sin());
    let amps = 100.0 * (1.0 + 0.1 * k) * (1.0 + 0.05 * (2.0 * PI * 0.02 * t).sin());
    let mut phasors = Vec::with_capacity(6);
    for (i, shift) in SHIFTS.iter().enumerate() {
        let i = i as u64;
        phasors.push(Some(PhasorValue::Polar {
            magnitude: volts + 0.1 * n(i),
            angle: wrap(base + shift + 0.001 * n(10 + i)),
        }));
    }
    for (i, shift) in SHIFTS.iter().enumerate() {
        let i = i as u64;
        phasors.push(Some(PhasorValue::Polar {
            magnitude: amps + 0.05 * n(3 + i),
            angle: wrap(base + shift - CURRENT_LAG + 0.001 * n(13 + i)),
        }));
    }
    PmuData {
        stat: Stat(0),
        phasors,
        frequency: Some(NOMINAL_HZ + deviation + 0.001 * n(6)),
        rocof: Some(rocof + 0.01 * n(7)),
        analogs: Vec::new(),
        digitals: Vec::new(),
    }
}

/// The SOGNO device message of `device` for one frame: per phase the voltage magnitude and
/// angle and the current magnitude and angle, then the frequency, all on `component`.
pub fn sogno_message(
    device: &str,
    component: &str,
    time: Timestamp,
    data: &PmuData,
) -> SognoMessage {
    let mut readings = Vec::with_capacity(SOGNO_READINGS);
    for (i, phase) in PHASES.iter().enumerate() {
        let voltage = data.phasors.get(i).copied().flatten();
        let current = data.phasors.get(i + 3).copied().flatten();
        for (measurand, value) in [
            (
                Measurand::VoltMagnitude,
                voltage.map(PhasorValue::magnitude),
            ),
            (Measurand::VoltAngle, voltage.map(PhasorValue::angle)),
            (
                Measurand::CurrMagnitude,
                current.map(PhasorValue::magnitude),
            ),
            (Measurand::CurrAngle, current.map(PhasorValue::angle)),
        ] {
            if let Some(data) = value {
                readings.push(SognoReading {
                    component: component.to_owned(),
                    measurand,
                    phase: Some(*phase),
                    data,
                });
            }
        }
    }
    if let Some(f) = data.frequency {
        readings.push(SognoReading {
            component: component.to_owned(),
            measurand: Measurand::Frequency,
            phase: None,
            data: f,
        });
    }
    SognoMessage {
        device: device.to_owned(),
        timestamp: time,
        readings,
    }
}

/// The C37.118.2 configuration (CFG-2) of a simulated PMU: one PMU block named after the
/// device (so decoders name the measurements' source after it), IDCODE `idcode`, float polar
/// phasors VA, VB, VC, IA, IB, IC, float frequency, 50 Hz, `rate` frames per second,
/// microsecond TIME_BASE.
pub fn pmu_config(device: &str, idcode: u16, rate: u32, soc: u32) -> ConfigFrame {
    let phasors = [
        ("VA", PhasorKind::Voltage),
        ("VB", PhasorKind::Voltage),
        ("VC", PhasorKind::Voltage),
        ("IA", PhasorKind::Current),
        ("IB", PhasorKind::Current),
        ("IC", PhasorKind::Current),
    ]
    .map(|(name, kind)| PhasorChannel {
        name: name.to_owned(),
        kind,
        unit_scale: 0,
        scale: None,
    })
    .to_vec();
    ConfigFrame {
        header: FrameHeader::new(FrameKind::Cfg2, 2, idcode, soc, FracSec(0)),
        time_base: TimeBase::MICROSECONDS,
        pmus: vec![PmuConfig {
            station: device.to_owned(),
            idcode,
            format: DataFormat(0x000F),
            phasors,
            analogs: Vec::new(),
            digitals: Vec::new(),
            fnom: 1,
            cfgcnt: 1,
            cfg3: None,
        }],
        data_rate: i16::try_from(rate).unwrap_or(i16::MAX),
    }
}

/// One C37.118 PMU stream: its configuration and the layout data frames are encoded with.
#[derive(Debug, Clone)]
pub(crate) struct C37Stream {
    pub(crate) config: ConfigFrame,
    pub(crate) layout: DataLayout,
}

impl C37Stream {
    pub(crate) fn new(device: &str, idcode: u16, rate: u32, soc: u32) -> Self {
        let config = pmu_config(device, idcode, rate, soc);
        let layout = DataLayout::new(&config);
        C37Stream { config, layout }
    }

    /// The CFG-2 frame's bytes.
    pub(crate) fn config_frame(&self) -> Result<Vec<u8>, PmuError> {
        let mut out = Vec::with_capacity(128);
        self.config.encode(&mut out)?;
        Ok(out)
    }

    /// A data frame at `soc` + `micros` µs.
    pub(crate) fn data_frame(
        &self,
        soc: u32,
        micros: u32,
        data: PmuData,
    ) -> Result<Vec<u8>, PmuError> {
        let header = FrameHeader::new(
            FrameKind::Data,
            2,
            self.config.header.idcode,
            soc,
            FracSec::new(TimeQuality(0), micros),
        );
        let mut out = Vec::with_capacity(self.layout.frame_size());
        self.layout.encode(header, &[data], &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_reproducible_and_in_range() {
        let a = noise(1, 2, 3, 4);
        assert_eq!(a, noise(1, 2, 3, 4));
        assert_ne!(a, noise(1, 2, 3, 5));
        let mean: f64 = (0..10_000).map(|i| noise(9, 0, i, 0)).sum::<f64>() / 10_000.0;
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((0..10_000).all(|i| (-1.0..1.0).contains(&noise(3, i, 0, 1))));
    }

    #[test]
    fn values_look_like_a_50_hz_grid() {
        for frame in 0..500 {
            let t = 1_700_000_000.0 + frame as f64 * 0.02;
            let d = pmu_values(5, 1, frame, t);
            let f = d.frequency.unwrap();
            assert!((f - 50.0).abs() < 0.025, "{f}");
            for (i, p) in d.phasors.iter().enumerate() {
                let p = p.unwrap();
                if i < 3 {
                    assert!((p.magnitude() - 230.0).abs() < 2.0, "{}", p.magnitude());
                } else {
                    assert!((p.magnitude() - 110.0).abs() < 7.0, "{}", p.magnitude());
                }
                assert!(p.angle().abs() <= PI);
            }
            let va = d.phasors[0].unwrap().angle();
            let vb = d.phasors[1].unwrap().angle();
            assert!((wrap(va - vb) - 2.0 * PI / 3.0).abs() < 0.01);
        }
    }

    #[test]
    fn sogno_message_has_four_readings_per_phase_and_the_frequency() {
        let time = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00.02Z").unwrap();
        let m = sogno_message("pmu-1", "BUS-PMU-1", time, &pmu_values(1, 0, 1, 0.02));
        assert_eq!(m.readings.len(), SOGNO_READINGS);
        assert_eq!(m.to_measurements().unwrap().len(), SOGNO_READINGS);
    }
}
