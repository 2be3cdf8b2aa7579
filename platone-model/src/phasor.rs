//! Phasors and phasor measurements from PMUs.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result, check_finite};
use crate::id::{ComponentId, DeviceId};
use crate::measurement::Measurement;
use crate::quality::Quality;
use crate::quantity::{Accumulation, MeasurementKind, PhaseSet, Unit, UnitMultiplier};
use crate::time::Timestamp;

/// A sinusoid's RMS magnitude and phase angle (radians, counter-clockwise from the reference).
///
/// Serialised as `{"magnitude": …, "angle": …}`. The magnitude is never negative; a phasor built
/// from rectangular parts gets its angle from `atan2`, so it lies in (−π, π].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PolarFields")]
pub struct Phasor {
    magnitude: f64,
    angle: f64,
}

#[derive(Deserialize)]
struct PolarFields {
    magnitude: f64,
    angle: f64,
}

impl TryFrom<PolarFields> for Phasor {
    type Error = ModelError;
    fn try_from(p: PolarFields) -> Result<Self> {
        Phasor::polar(p.magnitude, p.angle)
    }
}

impl Phasor {
    /// A phasor from its magnitude (finite, ≥ 0) and angle in radians (finite).
    pub fn polar(magnitude: f64, angle: f64) -> Result<Self> {
        check_finite("phasor.magnitude", magnitude)?;
        check_finite("phasor.angle", angle)?;
        if magnitude < 0.0 {
            return Err(ModelError::OutOfRange {
                field: "phasor.magnitude",
                reason: format!("{magnitude} is negative"),
            });
        }
        Ok(Phasor { magnitude, angle })
    }

    /// A phasor from its real and imaginary parts (both finite).
    pub fn rectangular(real: f64, imag: f64) -> Result<Self> {
        check_finite("phasor.real", real)?;
        check_finite("phasor.imag", imag)?;
        let magnitude = real.hypot(imag);
        check_finite("phasor.magnitude", magnitude)?;
        Ok(Phasor {
            magnitude,
            angle: imag.atan2(real),
        })
    }

    /// The RMS magnitude.
    pub const fn magnitude(self) -> f64 {
        self.magnitude
    }

    /// The angle in radians.
    pub const fn angle(self) -> f64 {
        self.angle
    }

    /// The angle in degrees.
    pub fn angle_degrees(self) -> f64 {
        self.angle.to_degrees()
    }

    /// The real part.
    pub fn real(self) -> f64 {
        self.magnitude * self.angle.cos()
    }

    /// The imaginary part.
    pub fn imag(self) -> f64 {
        self.magnitude * self.angle.sin()
    }
}

/// One phasor from a PMU channel at one instant.
///
/// ```
/// use platone_model::{Phasor, PhasorMeasurement, MeasurementKind, PhaseSet, DeviceId,
///     parse_timestamp};
///
/// let pm = PhasorMeasurement::new(
///     DeviceId::new("pmu-1")?,
///     "VA",
///     parse_timestamp("2021-06-30T10:00:00Z")?,
///     MeasurementKind::Voltage,
///     PhaseSet::A,
///     Phasor::polar(230.0, 0.1)?,
/// )?;
/// let [magnitude, angle] = pm.to_measurements()?;
/// assert_eq!(magnitude.value, 230.0);
/// assert_eq!(angle.value, 0.1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhasorMeasurement {
    /// The PMU.
    pub source: DeviceId,
    /// The grid component measured (a bus or line), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentId>,
    /// The channel name the PMU gives (e.g. `VA`, `IB`).
    pub channel: String,
    /// The measurement instant.
    pub timestamp: Timestamp,
    /// [`MeasurementKind::Voltage`] or [`MeasurementKind::Current`].
    pub kind: MeasurementKind,
    /// The phases.
    pub phases: PhaseSet,
    /// The phasor, magnitude in `multiplier` × V or A.
    pub phasor: Phasor,
    /// The magnitude's multiplier.
    #[serde(default)]
    pub multiplier: UnitMultiplier,
    /// Quality flags.
    #[serde(default)]
    pub quality: Quality,
}

impl PhasorMeasurement {
    /// A voltage or current phasor measurement; other kinds are rejected.
    pub fn new(
        source: DeviceId,
        channel: impl Into<String>,
        timestamp: Timestamp,
        kind: MeasurementKind,
        phases: PhaseSet,
        phasor: Phasor,
    ) -> Result<Self> {
        if !matches!(kind, MeasurementKind::Voltage | MeasurementKind::Current) {
            return Err(ModelError::OutOfRange {
                field: "kind",
                reason: format!("a phasor measures voltage or current, not {kind}"),
            });
        }
        Ok(PhasorMeasurement {
            source,
            component: None,
            channel: channel.into(),
            timestamp,
            kind,
            phases,
            phasor,
            multiplier: UnitMultiplier::NONE,
            quality: Quality::GOOD,
        })
    }

    /// The magnitude's unit: V for voltage, A for current.
    pub fn unit(&self) -> Unit {
        if self.kind == MeasurementKind::Current {
            Unit::Ampere
        } else {
            Unit::Volt
        }
    }

    /// The phasor as two [`Measurement`]s: the magnitude (kind voltage/current) and the angle
    /// (kind phase angle, radians), both instantaneous and tagged with the channel name so
    /// their series keys differ from other channels'.
    pub fn to_measurements(&self) -> Result<[Measurement; 2]> {
        let base = |kind, unit, value| -> Result<Measurement> {
            let mut m = Measurement::new(self.source.clone(), self.timestamp, kind, unit, value)?
                .with_phases(self.phases)
                .with_accumulation(Accumulation::Instantaneous, None)
                .with_quality(self.quality)
                .with_channel(self.channel.clone())?;
            m.component = self.component.clone();
            Ok(m)
        };
        let magnitude =
            base(self.kind, self.unit(), self.phasor.magnitude())?.with_multiplier(self.multiplier);
        let angle = base(
            MeasurementKind::PhaseAngle,
            Unit::Radian,
            self.phasor.angle(),
        )?;
        Ok([magnitude, angle])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_timestamp;
    use std::f64::consts::FRAC_PI_2;

    #[test]
    fn polar_and_rectangular_agree() {
        let p = Phasor::rectangular(0.0, 2.0).unwrap();
        assert!((p.magnitude() - 2.0).abs() < 1e-12);
        assert!((p.angle() - FRAC_PI_2).abs() < 1e-12);
        let q = Phasor::polar(2.0, FRAC_PI_2).unwrap();
        assert!(q.real().abs() < 1e-12 && (q.imag() - 2.0).abs() < 1e-12);
        assert!((q.angle_degrees() - 90.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_phasors() {
        assert!(Phasor::polar(-1.0, 0.0).is_err());
        assert!(Phasor::polar(1.0, f64::NAN).is_err());
        assert!(Phasor::rectangular(f64::INFINITY, 0.0).is_err());
        assert!(Phasor::rectangular(f64::MAX, f64::MAX).is_err());
        assert!(serde_json::from_str::<Phasor>(r#"{"magnitude":-3,"angle":0}"#).is_err());
    }

    #[test]
    fn phasor_measurement_to_measurements_and_serde() {
        let mut pm = PhasorMeasurement::new(
            DeviceId::new("pmu").unwrap(),
            "IA",
            parse_timestamp("2021-06-30T10:00:00Z").unwrap(),
            MeasurementKind::Current,
            PhaseSet::A,
            Phasor::polar(12.5, -0.5).unwrap(),
        )
        .unwrap();
        pm.component = Some(ComponentId::new("line-3").unwrap());
        let [mag, ang] = pm.to_measurements().unwrap();
        assert_eq!(mag.unit, Unit::Ampere);
        assert_eq!(ang.kind, MeasurementKind::PhaseAngle);
        assert_eq!(ang.channel.as_deref(), Some("IA"));
        assert_eq!(ang.component, pm.component);
        let json = serde_json::to_string(&pm).unwrap();
        assert_eq!(
            serde_json::from_str::<PhasorMeasurement>(&json).unwrap(),
            pm
        );
        assert!(
            PhasorMeasurement::new(
                DeviceId::new("pmu").unwrap(),
                "F",
                parse_timestamp("2021-06-30T10:00:00Z").unwrap(),
                MeasurementKind::Frequency,
                PhaseSet::NONE,
                Phasor::polar(1.0, 0.0).unwrap(),
            )
            .is_err()
        );
    }
}
