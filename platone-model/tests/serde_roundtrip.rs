//! Property tests: every valid model value survives a JSON round trip unchanged, and text
//! forms parse back to the same value.

use chrono::{FixedOffset, TimeZone};
use platone_model::*;
use proptest::prelude::*;

fn id_text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 _.:/|\\\\-]{0,30}[A-Za-z0-9]"
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (
        0i64..4_102_444_800,
        0u32..1_000_000_000,
        -12i32 * 4..=14 * 4,
    )
        .prop_map(|(secs, nanos, quarter_hours)| {
            let offset = FixedOffset::east_opt(quarter_hours * 900).unwrap();
            offset.timestamp_opt(secs, nanos).unwrap()
        })
}

fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

fn phase_set() -> impl Strategy<Value = PhaseSet> {
    proptest::collection::vec(pick(Phase::ALL), 0..4).prop_map(|p| PhaseSet::of(&p))
}

fn measurement() -> impl Strategy<Value = Measurement> {
    (
        (
            id_text(),
            proptest::option::of(id_text()),
            proptest::option::of(id_text()),
            proptest::option::of(id_text()),
            proptest::option::of(id_text()),
            proptest::option::of(id_text()),
            timestamp(),
        ),
        (
            pick(MeasurementKind::ALL),
            phase_set(),
            pick(FlowDirection::ALL),
            pick(Accumulation::ALL),
            proptest::option::of(1u32..1_000_000),
            pick(Aggregate::ALL),
            pick(Unit::ALL),
            -24i8..=24,
            proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL,
            proptest::collection::vec(pick(QualityFlag::ALL), 0..3),
        ),
    )
        .prop_map(
            |(
                (source, meter, pod, usage_point, component, channel, timestamp),
                (kind, phases, direction, accumulation, interval, aggregate, unit, mult, value, q),
            )| {
                let mut m =
                    Measurement::new(DeviceId::new(source).unwrap(), timestamp, kind, unit, value)
                        .unwrap()
                        .with_phases(phases)
                        .with_direction(direction)
                        .with_accumulation(
                            accumulation,
                            interval.map(|s| MeasuringPeriod::from_seconds(s).unwrap()),
                        )
                        .with_aggregate(aggregate)
                        .with_multiplier(UnitMultiplier::new(mult).unwrap())
                        .with_quality(Quality::of(&q));
                m.meter = meter.map(|t| MeterId::new(t).unwrap());
                m.pod = pod.map(|t| PodId::new(t).unwrap());
                m.usage_point = usage_point.map(|t| UsagePointId::new(t).unwrap());
                m.component = component.map(|t| ComponentId::new(t).unwrap());
                m.channel = channel;
                m
            },
        )
}

proptest! {
    #[test]
    fn measurement_json_round_trip(m in measurement()) {
        let json = serde_json::to_string(&m).unwrap();
        let back: Measurement = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &m);
        // The offset survives, not just the instant.
        prop_assert_eq!(back.timestamp.offset(), m.timestamp.offset());
        prop_assert_eq!(back.series_key().to_string(), m.series_key().to_string());
    }

    #[test]
    fn distinct_series_keys_have_distinct_text(a in measurement(), b in measurement()) {
        if a.series_key() != b.series_key() {
            prop_assert_ne!(a.series_key().to_string(), b.series_key().to_string());
        }
    }

    #[test]
    fn phase_set_text_round_trip(set in phase_set()) {
        prop_assert_eq!(set.to_string().parse::<PhaseSet>().unwrap(), set);
    }

    #[test]
    fn phasor_rectangular_round_trip(re in -1e6f64..1e6, im in -1e6f64..1e6) {
        let p = Phasor::rectangular(re, im).unwrap();
        prop_assert!((p.real() - re).abs() <= 1e-9 * (1.0 + re.abs() + im.abs()));
        prop_assert!((p.imag() - im).abs() <= 1e-9 * (1.0 + re.abs() + im.abs()));
        let json = serde_json::to_string(&p).unwrap();
        prop_assert_eq!(serde_json::from_str::<Phasor>(&json).unwrap(), p);
    }

    #[test]
    fn arbitrary_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_slice::<Measurement>(&bytes);
        let _ = serde_json::from_slice::<SetPoint>(&bytes);
        let _ = serde_json::from_slice::<PhasorMeasurement>(&bytes);
    }
}
