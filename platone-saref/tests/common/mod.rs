//! Helpers shared by the integration tests: the reference data, the Python peers, sample values.
#![allow(dead_code)]
// -0.5236 rad is the proposed PMU example's value, not an approximation of -π/6.
#![allow(clippy::approx_constant)]

use std::path::{Path, PathBuf};

use platone_model::{
    Accumulation, Aggregate, ComponentId, DeviceId, FlowDirection, Measurement, MeasurementKind,
    MeasuringPeriod, MeterId, ParticipantId, PhaseSet, PodId, Quality, QualityFlag, SetPoint, Unit,
    UnitMultiplier, UsagePointId, parse_timestamp,
};
use platone_saref::{CertificationRef, Format, MappingOptions, RdfWriter};

/// Says a test cannot run: fails under `CI`, else prints a skip note. Returns `None` then.
pub fn unavailable<T>(what: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{what} (required under CI)");
    }
    eprintln!("skipped: {what}");
    None
}

/// The shared reference folder, when present.
pub fn reference() -> Option<PathBuf> {
    let dir = std::env::var_os("PLATONE_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference"));
    if dir.join("ontologies").is_dir() {
        Some(dir)
    } else {
        unavailable(&format!(
            "reference data not found at {} (set PLATONE_REFERENCE)",
            dir.display()
        ))
    }
}

/// The Python interpreter with rdflib and pySHACL, when present.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var_os("PLATONE_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/platone-venv/bin/python"))
        })?;
    if !python.exists() {
        return unavailable(&format!(
            "Python peer {} not found (run scripts/test or set PLATONE_PYTHON)",
            python.display()
        ));
    }
    let ok = std::process::Command::new(&python)
        .args(["-c", "import rdflib, pyshacl"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Some(python)
    } else {
        unavailable(&format!(
            "{} has no rdflib/pyshacl (pip install -r scripts/requirements-test.txt)",
            python.display()
        ))
    }
}

pub fn ts(text: &str) -> platone_model::Timestamp {
    parse_timestamp(text).unwrap()
}

/// The proposal's meter reading: MTR-0001 at UP-4711, 1.234 kWh forward ABC, 15-min delta.
pub fn meter_reading() -> Measurement {
    Measurement::new(
        DeviceId::new("MTR-0001").unwrap(),
        ts("2024-05-01T10:15:00Z"),
        MeasurementKind::Energy,
        Unit::WattHour,
        1.234,
    )
    .unwrap()
    .with_meter(MeterId::new("MTR-0001").unwrap())
    .with_usage_point(UsagePointId::new("UP-4711").unwrap())
    .with_multiplier(UnitMultiplier::KILO)
    .with_direction(FlowDirection::Forward)
    .with_phases(PhaseSet::ABC)
    .with_accumulation(Accumulation::Delta, Some(MeasuringPeriod::FIFTEEN_MINUTES))
    .with_channel("0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
    .unwrap()
}

/// The proposal's PMU readings: pmu1 at BUS1, V_A magnitude and angle, frequency.
pub fn pmu_readings() -> Vec<Measurement> {
    let base = |kind, unit, value, phases| {
        Measurement::new(
            DeviceId::new("pmu1").unwrap(),
            ts("2020-05-20T10:27:57.980802Z"),
            kind,
            unit,
            value,
        )
        .unwrap()
        .with_component(ComponentId::new("BUS1").unwrap())
        .with_phases(phases)
        .with_accumulation(Accumulation::Instantaneous, None)
    };
    vec![
        base(MeasurementKind::Voltage, Unit::Volt, 230.4, PhaseSet::A)
            .with_channel("VA")
            .unwrap(),
        base(
            MeasurementKind::PhaseAngle,
            Unit::Radian,
            -0.5236,
            PhaseSet::A,
        )
        .with_channel("VA")
        .unwrap(),
        base(
            MeasurementKind::Frequency,
            Unit::Hertz,
            49.998,
            PhaseSet::NONE,
        ),
    ]
}

/// The proposal's set point: bess1, -5 kW active power, 10:00-10:15.
pub fn set_point() -> SetPoint {
    let mut sp = SetPoint::new(
        "sp-2024-05-01T10:00",
        DeviceId::new("bess1").unwrap(),
        MeasurementKind::Power,
        Unit::Watt,
        -5.0,
        ts("2024-05-01T10:00:00Z"),
        ts("2024-05-01T10:15:00Z"),
    )
    .unwrap();
    sp.multiplier = UnitMultiplier::KILO;
    sp.issued_by = Some(ParticipantId::new("dso-1").unwrap());
    sp.pod = Some(PodId::new("GR-POD-0001").unwrap());
    sp
}

/// A mixed bag that exercises every branch of the mapping.
pub fn varied() -> Vec<Measurement> {
    let mut out = vec![meter_reading()];
    out.extend(pmu_readings());
    // A reading identified by its usage point alone, with quality flags.
    out.push(
        Measurement::new(
            DeviceId::new("UP-9").unwrap(),
            ts("2024-05-01T10:30:00+02:00"),
            MeasurementKind::Energy,
            Unit::VarHour,
            7.5,
        )
        .unwrap()
        .with_usage_point(UsagePointId::new("UP-9").unwrap())
        .with_quality(Quality::of(&[QualityFlag::Estimated, QualityFlag::Test])),
    );
    // A Light Node relaying a meter, at a PoD, averaged power with an odd multiplier.
    out.push(
        Measurement::new(
            DeviceId::new("light node/7").unwrap(),
            ts("2024-05-01T10:30:00Z"),
            MeasurementKind::Demand,
            Unit::Watt,
            12.5,
        )
        .unwrap()
        .with_meter(MeterId::new("MTR 2").unwrap())
        .with_pod(PodId::new("IT001E1234").unwrap())
        .with_usage_point(UsagePointId::new("UP-2").unwrap())
        .with_aggregate(Aggregate::Average)
        .with_multiplier(UnitMultiplier::new(2).unwrap()),
    );
    // Power factor, which QUDT writes as UNITLESS.
    out.push(
        Measurement::new(
            DeviceId::new("pmu1").unwrap(),
            ts("2020-05-20T10:27:58Z"),
            MeasurementKind::PowerFactor,
            Unit::CosPhi,
            0.97,
        )
        .unwrap()
        .with_component(ComponentId::new("BUS1").unwrap()),
    );
    // Split phases, a temperature at a device without placement.
    out.push(
        Measurement::new(
            DeviceId::new("sensor-1").unwrap(),
            ts("2024-05-01T10:30:00Z"),
            MeasurementKind::Temperature,
            Unit::DegreeCelsius,
            21.5,
        )
        .unwrap()
        .with_phases("S1S2N".parse().unwrap()),
    );
    out
}

pub fn certification() -> CertificationRef {
    CertificationRef {
        batch: "batch-42".into(),
        root: "0x9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        anchor: Some("0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060".into()),
        leaf_index: Some(3),
        anchor_ledger: Some("file:/var/lib/platone/ledger".into()),
        anchor_position: Some(17),
        anchored_at: Some(ts("2024-05-01T10:20:00Z")),
    }
}

/// Writes measurements (the first certified) and set points in `format`.
pub fn document(
    format: Format,
    options: MappingOptions,
    measurements: &[Measurement],
    set_points: &[SetPoint],
) -> Vec<u8> {
    let cert = certification();
    let mut w = RdfWriter::new(Vec::new(), format, options).unwrap();
    for (i, m) in measurements.iter().enumerate() {
        w.write_measurement(m, (i == 0).then_some(&cert)).unwrap();
    }
    for sp in set_points {
        w.write_set_point(sp).unwrap();
    }
    w.finish().unwrap()
}

pub const FORMATS: [Format; 3] = [Format::Turtle, Format::NTriples, Format::JsonLd];
