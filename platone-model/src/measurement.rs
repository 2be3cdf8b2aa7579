//! [`Measurement`]: one value of one quantity at one instant from one source, and the
//! [`SeriesKey`] that names the series it belongs to.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result, check_finite};
use crate::id::{ComponentId, DeviceId, MeterId, PodId, UsagePointId};
use crate::quality::Quality;
use crate::quantity::{
    Accumulation, Aggregate, FlowDirection, MeasurementKind, MeasuringPeriod, PhaseSet, Unit,
    UnitMultiplier,
};
use crate::time::Timestamp;

/// One value of one quantity at one instant from one source.
///
/// `source` is the device the value came from (a smart meter's Light Node, a PMU, or the meter
/// itself where no other device is known); `meter`, `pod`, `usage_point` and `component` place
/// it; `kind`, `unit`, `phases`, `direction`, `accumulation`, `interval`, `aggregate` and
/// `channel` say what it is. Every field is public for reading and building; values built with
/// [`Measurement::new`] or deserialised are validated (finite value), and [`Measurement::validate`]
/// checks one built by hand.
///
/// ```
/// use platone_model::{Measurement, MeasurementKind, Unit, UnitMultiplier, FlowDirection,
///     Accumulation, MeasuringPeriod, PhaseSet, DeviceId, parse_timestamp};
///
/// let m = Measurement::new(
///     DeviceId::new("meter-17")?,
///     parse_timestamp("2020-10-01T00:15:00+03:00")?,
///     MeasurementKind::Energy,
///     Unit::WattHour,
///     1.21716,
/// )?
/// .with_multiplier(UnitMultiplier::KILO)
/// .with_direction(FlowDirection::Forward)
/// .with_accumulation(Accumulation::Delta, Some(MeasuringPeriod::FIFTEEN_MINUTES))
/// .with_phases(PhaseSet::ABC);
/// assert_eq!(m.base_value(), 1217.16);
/// assert_eq!(m.series_key().to_string(),
///     "meter-17||||energy|Wh|ABC|forward|delta|900|none");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        description = "One value of one quantity at one instant from one source, exactly as \
        stored and certified; the value is always finite."
    )
)]
#[serde(try_from = "MeasurementFields")]
pub struct Measurement {
    /// The device the value came from.
    pub source: DeviceId,
    /// The meter that measured it, when it is a meter reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter: Option<MeterId>,
    /// The Point of Delivery it belongs to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodId>,
    /// The CIM usage point it belongs to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_point: Option<UsagePointId>,
    /// The grid component it refers to (a bus or line reported by a PMU), when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentId>,
    /// The source's own name for the channel (a PMU phasor name such as `VA`, a register code),
    /// when it has one. It tells apart series that are otherwise alike, such as the angles of a
    /// voltage and a current phasor of the same phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// When the value was measured (for interval data: the end of the interval, as in CIM).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: Timestamp,
    /// The physical quantity.
    pub kind: MeasurementKind,
    /// The conductors it refers to.
    #[serde(default)]
    pub phases: PhaseSet,
    /// The energy flow direction.
    #[serde(default = "not_applicable_direction")]
    pub direction: FlowDirection,
    /// How it accumulates.
    #[serde(default = "not_applicable_accumulation")]
    pub accumulation: Accumulation,
    /// The interval it covers, in seconds, when it covers one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<MeasuringPeriod>,
    /// How samples were combined into it.
    #[serde(default = "no_aggregate")]
    pub aggregate: Aggregate,
    /// Its unit.
    pub unit: Unit,
    /// The power of ten the unit carries (3 for kWh when `unit` is Wh).
    #[serde(default)]
    pub multiplier: UnitMultiplier,
    /// The value, in `multiplier` × `unit`. Always finite.
    #[cfg_attr(feature = "openapi", schema(format = Double))]
    pub value: f64,
    /// Quality flags; empty is good.
    #[serde(default)]
    pub quality: Quality,
}

fn not_applicable_direction() -> FlowDirection {
    FlowDirection::NotApplicable
}

fn not_applicable_accumulation() -> Accumulation {
    Accumulation::NotApplicable
}

fn no_aggregate() -> Aggregate {
    Aggregate::None
}

/// The deserialised form before validation.
#[derive(Deserialize)]
struct MeasurementFields {
    source: DeviceId,
    #[serde(default)]
    meter: Option<MeterId>,
    #[serde(default)]
    pod: Option<PodId>,
    #[serde(default)]
    usage_point: Option<UsagePointId>,
    #[serde(default)]
    component: Option<ComponentId>,
    #[serde(default)]
    channel: Option<String>,
    timestamp: Timestamp,
    kind: MeasurementKind,
    #[serde(default)]
    phases: PhaseSet,
    #[serde(default = "not_applicable_direction")]
    direction: FlowDirection,
    #[serde(default = "not_applicable_accumulation")]
    accumulation: Accumulation,
    #[serde(default)]
    interval: Option<MeasuringPeriod>,
    #[serde(default = "no_aggregate")]
    aggregate: Aggregate,
    unit: Unit,
    #[serde(default)]
    multiplier: UnitMultiplier,
    value: f64,
    #[serde(default)]
    quality: Quality,
}

impl TryFrom<MeasurementFields> for Measurement {
    type Error = ModelError;
    fn try_from(f: MeasurementFields) -> Result<Self> {
        let m = Measurement {
            source: f.source,
            meter: f.meter,
            pod: f.pod,
            usage_point: f.usage_point,
            component: f.component,
            channel: f.channel,
            timestamp: f.timestamp,
            kind: f.kind,
            phases: f.phases,
            direction: f.direction,
            accumulation: f.accumulation,
            interval: f.interval,
            aggregate: f.aggregate,
            unit: f.unit,
            multiplier: f.multiplier,
            value: f.value,
            quality: f.quality,
        };
        m.validate()?;
        Ok(m)
    }
}

impl Measurement {
    /// A measurement with the given essentials; everything else starts as "does not apply"
    /// (no phases, no direction, no accumulation, no aggregate, multiplier 1, good quality) and
    /// is set with the `with_*` methods.
    pub fn new(
        source: DeviceId,
        timestamp: Timestamp,
        kind: MeasurementKind,
        unit: Unit,
        value: f64,
    ) -> Result<Self> {
        check_finite("value", value)?;
        Ok(Measurement {
            source,
            meter: None,
            pod: None,
            usage_point: None,
            component: None,
            channel: None,
            timestamp,
            kind,
            phases: PhaseSet::NONE,
            direction: FlowDirection::NotApplicable,
            accumulation: Accumulation::NotApplicable,
            interval: None,
            aggregate: Aggregate::None,
            unit,
            multiplier: UnitMultiplier::NONE,
            value,
            quality: Quality::GOOD,
        })
    }

    /// Checks what the type cannot: the value is finite and the channel name, when present, is
    /// not empty.
    pub fn validate(&self) -> Result<()> {
        check_finite("value", self.value)?;
        if let Some(channel) = &self.channel
            && (channel.trim().is_empty() || channel.chars().any(char::is_control))
        {
            return Err(ModelError::InvalidId {
                kind: "channel",
                value: channel.chars().take(80).collect(),
                reason: "must be non-empty text without control characters",
            });
        }
        Ok(())
    }

    /// Sets the meter.
    #[must_use]
    pub fn with_meter(mut self, meter: MeterId) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Sets the Point of Delivery.
    #[must_use]
    pub fn with_pod(mut self, pod: PodId) -> Self {
        self.pod = Some(pod);
        self
    }

    /// Sets the usage point.
    #[must_use]
    pub fn with_usage_point(mut self, usage_point: UsagePointId) -> Self {
        self.usage_point = Some(usage_point);
        self
    }

    /// Sets the grid component.
    #[must_use]
    pub fn with_component(mut self, component: ComponentId) -> Self {
        self.component = Some(component);
        self
    }

    /// Sets the channel name; see [`Measurement::channel`].
    pub fn with_channel(mut self, channel: impl Into<String>) -> Result<Self> {
        self.channel = Some(channel.into());
        self.validate()?;
        Ok(self)
    }

    /// Sets the phases.
    #[must_use]
    pub fn with_phases(mut self, phases: PhaseSet) -> Self {
        self.phases = phases;
        self
    }

    /// Sets the flow direction.
    #[must_use]
    pub fn with_direction(mut self, direction: FlowDirection) -> Self {
        self.direction = direction;
        self
    }

    /// Sets the accumulation and the interval it covers.
    #[must_use]
    pub fn with_accumulation(
        mut self,
        accumulation: Accumulation,
        interval: Option<MeasuringPeriod>,
    ) -> Self {
        self.accumulation = accumulation;
        self.interval = interval;
        self
    }

    /// Sets the aggregate.
    #[must_use]
    pub fn with_aggregate(mut self, aggregate: Aggregate) -> Self {
        self.aggregate = aggregate;
        self
    }

    /// Sets the unit multiplier.
    #[must_use]
    pub fn with_multiplier(mut self, multiplier: UnitMultiplier) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Sets the quality flags.
    #[must_use]
    pub fn with_quality(mut self, quality: Quality) -> Self {
        self.quality = quality;
        self
    }

    /// The value with the multiplier applied, in the plain unit (`1.2` kWh gives `1200.0` Wh).
    pub fn base_value(&self) -> f64 {
        self.value * self.multiplier.factor()
    }

    /// The value in the coherent SI unit and that unit's symbol (kWh → J, deg → rad); see
    /// [`Unit::coherent_si`].
    pub fn si_value(&self) -> (f64, &'static str) {
        let (factor, symbol) = self.unit.coherent_si();
        (self.base_value() * factor, symbol)
    }

    /// The series this value belongs to: its source and everything that tells the quantity
    /// apart. Two measurements with the same series key and timestamp are the same datum.
    pub fn series_key(&self) -> SeriesKey {
        SeriesKey {
            source: self.source.clone(),
            meter: self.meter.clone(),
            component: self.component.clone(),
            channel: self.channel.clone(),
            kind: self.kind,
            unit: self.unit,
            phases: self.phases,
            direction: self.direction,
            accumulation: self.accumulation,
            interval: self.interval,
            aggregate: self.aggregate,
        }
    }

    /// Whether `other` carries the same value for the same datum: same series key, same
    /// instant and the same value once multipliers are applied (so 1.2 kWh equals 1200 Wh).
    pub fn same_datum_value(&self, other: &Measurement) -> bool {
        self.series_key() == other.series_key()
            && crate::time::same_instant(&self.timestamp, &other.timestamp)
            && self.base_value() == other.base_value()
    }
}

/// The name of a measurement series: the source plus every attribute that distinguishes one
/// quantity from another (not the PoD or usage point, which place a source rather than a
/// quantity, and not the multiplier, which only scales the value).
///
/// Its text form joins the parts with `|` in a fixed order —
/// `source|meter|component|channel|kind|unit|phases|direction|accumulation|interval|aggregate` —
/// leaving absent parts empty and escaping `\` and `|` inside identifiers with a backslash, so
/// distinct keys always have distinct text. Stores and certifiers may use that text as a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    /// The device the values come from.
    pub source: DeviceId,
    /// The meter, if any.
    pub meter: Option<MeterId>,
    /// The grid component, if any.
    pub component: Option<ComponentId>,
    /// The channel name, if any.
    pub channel: Option<String>,
    /// The quantity.
    pub kind: MeasurementKind,
    /// The unit (without multiplier).
    pub unit: Unit,
    /// The phases.
    pub phases: PhaseSet,
    /// The flow direction.
    pub direction: FlowDirection,
    /// The accumulation.
    pub accumulation: Accumulation,
    /// The interval.
    pub interval: Option<MeasuringPeriod>,
    /// The aggregate.
    pub aggregate: Aggregate,
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c == '\\' || c == '|' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    Ok(())
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.source.as_str())?;
        for part in [
            self.meter.as_ref().map(MeterId::as_str),
            self.component.as_ref().map(ComponentId::as_str),
            self.channel.as_deref(),
        ] {
            f.write_str("|")?;
            write_escaped(f, part.unwrap_or(""))?;
        }
        write!(
            f,
            "|{}|{}|{}|{}|{}|",
            self.kind, self.unit, self.phases, self.direction, self.accumulation
        )?;
        if let Some(interval) = self.interval {
            write!(f, "{}", interval.seconds())?;
        }
        write!(f, "|{}", self.aggregate)
    }
}

impl Serialize for SeriesKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::QualityFlag;
    use crate::time::parse_timestamp;

    fn sample() -> Measurement {
        Measurement::new(
            DeviceId::new("pmu-1").unwrap(),
            parse_timestamp("2021-06-30T10:00:00.020+02:00").unwrap(),
            MeasurementKind::Voltage,
            Unit::Volt,
            230.1,
        )
        .unwrap()
        .with_component(ComponentId::new("bus-7").unwrap())
        .with_phases(PhaseSet::A)
        .with_accumulation(Accumulation::Instantaneous, None)
    }

    #[test]
    fn rejects_non_finite_values() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = Measurement::new(
                DeviceId::new("d").unwrap(),
                parse_timestamp("2021-01-01T00:00:00Z").unwrap(),
                MeasurementKind::Power,
                Unit::Watt,
                bad,
            )
            .unwrap_err();
            assert!(matches!(err, ModelError::NonFinite { field: "value", .. }));
        }
        let mut m = sample();
        m.value = f64::NAN;
        assert!(m.validate().is_err());
    }

    #[test]
    fn json_uses_snake_case_and_keeps_the_offset() {
        let m = sample().with_quality(Quality::of(&[QualityFlag::Estimated]));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["timestamp"], "2021-06-30T10:00:00.020+02:00");
        assert_eq!(json["kind"], "voltage");
        assert_eq!(json["accumulation"], "instantaneous");
        assert_eq!(json["direction"], "not_applicable");
        assert_eq!(json["phases"], "A");
        assert_eq!(json["quality"][0], "estimated");
        assert!(json.get("meter").is_none());
        let back: Measurement = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn minimal_json_takes_defaults_and_bad_json_is_rejected() {
        let m: Measurement = serde_json::from_str(
            r#"{"source":"m1","timestamp":"2021-01-01T00:15:00Z","kind":"energy","unit":"Wh","value":5}"#,
        )
        .unwrap();
        assert_eq!(m.direction, FlowDirection::NotApplicable);
        assert_eq!(m.multiplier, UnitMultiplier::NONE);
        assert!(m.quality.is_good());
        let missing_value = serde_json::from_str::<Measurement>(
            r#"{"source":"m1","timestamp":"2021-01-01T00:15:00Z","kind":"energy","unit":"Wh"}"#,
        );
        assert!(missing_value.is_err());
        let empty_source = serde_json::from_str::<Measurement>(
            r#"{"source":"","timestamp":"2021-01-01T00:15:00Z","kind":"energy","unit":"Wh","value":1}"#,
        )
        .unwrap_err();
        assert!(
            empty_source
                .to_string()
                .contains("DeviceId must not be empty")
        );
        let blank_channel = serde_json::from_str::<Measurement>(
            r#"{"source":"m","channel":" ","timestamp":"2021-01-01T00:15:00Z","kind":"energy","unit":"Wh","value":1}"#,
        );
        assert!(blank_channel.is_err());
    }

    #[test]
    fn series_key_distinguishes_quantities_not_placement() {
        let a = sample();
        let mut b = a.clone();
        b.value = 231.0;
        b.pod = Some(PodId::new("pod-1").unwrap());
        b.multiplier = UnitMultiplier::KILO;
        assert_eq!(a.series_key(), b.series_key());
        let mut c = a.clone();
        c.phases = PhaseSet::B;
        assert_ne!(a.series_key(), c.series_key());
        let angle_v = a.clone().with_channel("VA").unwrap();
        let angle_i = a.clone().with_channel("IA").unwrap();
        assert_ne!(angle_v.series_key(), angle_i.series_key());
    }

    #[test]
    fn series_key_text_escapes_separators() {
        let mut a = sample();
        a.source = DeviceId::new("x|y").unwrap();
        let mut b = sample();
        b.source = DeviceId::new("x").unwrap();
        b.component = Some(ComponentId::new("y|bus-7").unwrap());
        assert_ne!(a.series_key().to_string(), b.series_key().to_string());
        assert!(a.series_key().to_string().starts_with("x\\|y|"));
    }

    #[test]
    fn same_datum_value_compares_in_base_units_and_instants() {
        let a = sample();
        let mut b = a.clone();
        b.value = 0.2301;
        b.multiplier = UnitMultiplier::KILO;
        b.timestamp = parse_timestamp("2021-06-30T08:00:00.020Z").unwrap();
        assert!(a.same_datum_value(&b));
        b.value = 0.2302;
        assert!(!a.same_datum_value(&b));
    }

    #[test]
    fn si_value_converts_hour_based_energy() {
        let m = Measurement::new(
            DeviceId::new("m").unwrap(),
            parse_timestamp("2021-01-01T00:15:00Z").unwrap(),
            MeasurementKind::Energy,
            Unit::WattHour,
            2.0,
        )
        .unwrap()
        .with_multiplier(UnitMultiplier::KILO);
        assert_eq!(m.base_value(), 2000.0);
        assert_eq!(m.si_value(), (7_200_000.0, "J"));
    }
}
