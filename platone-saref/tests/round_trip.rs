//! Measurement → RDF → Measurement is lossless in every format and both SAREF patterns; set
//! points come back too; readers name the subject and predicate of what is wrong.

mod common;

use common::*;
use platone_model::{
    Accumulation, Aggregate, ComponentId, DeviceId, FlowDirection, Measurement, MeasurementKind,
    MeasuringPeriod, MeterId, Phase, PhaseSet, PodId, Quality, QualityFlag, Unit, UnitMultiplier,
    UsagePointId,
};
use platone_saref::{
    CertificationRef, Format, MappingOptions, Pattern, SarefError, ValueDatatype,
    read_certified_measurements, read_measurements, read_set_points, vocab, write_measurements,
};
use proptest::prelude::*;

fn sorted(mut v: Vec<Measurement>) -> Vec<Measurement> {
    v.sort_by(|a, b| {
        a.timestamp
            .cmp(&b.timestamp)
            .then_with(|| a.series_key().to_string().cmp(&b.series_key().to_string()))
    });
    v
}

#[test]
fn the_varied_sample_round_trips_in_every_format_and_pattern() {
    let expected = sorted(varied());
    for pattern in [Pattern::Saref3Measurement, Pattern::Saref4Observation] {
        for datatype in [ValueDatatype::Double, ValueDatatype::Decimal] {
            let options = MappingOptions {
                pattern,
                value_datatype: datatype,
                ..MappingOptions::default()
            };
            for format in FORMATS {
                let doc = document(format, options.clone(), &varied(), &[set_point()]);
                let back = read_measurements(doc.as_slice(), format)
                    .unwrap_or_else(|e| panic!("{pattern:?} {format:?}: {e}"));
                let back = sorted(back);
                assert_eq!(back.len(), expected.len());
                for (a, b) in expected.iter().zip(&back) {
                    if vocab::units_table()
                        .iter()
                        .any(|(u, e, _)| *u == a.unit && *e == a.multiplier.exponent())
                    {
                        assert_eq!(a, b, "{pattern:?} {format:?}");
                    } else {
                        assert!(
                            a.same_datum_value(b) || (a.base_value() - b.base_value()).abs() < 1e-9
                        );
                        assert_eq!(a.multiplier, b.multiplier);
                    }
                }
                let sps = read_set_points(doc.as_slice(), format).unwrap();
                assert_eq!(sps, vec![set_point()], "{pattern:?} {format:?}");
            }
        }
    }
}

#[test]
fn certification_references_round_trip_in_every_format_and_pattern() {
    let sample = varied();
    for pattern in [Pattern::Saref3Measurement, Pattern::Saref4Observation] {
        let options = MappingOptions {
            pattern,
            ..MappingOptions::default()
        };
        for format in FORMATS {
            // `document` certifies the first measurement only.
            let doc = document(format, options.clone(), &sample, &[]);
            let back = read_certified_measurements(doc.as_slice(), format)
                .unwrap_or_else(|e| panic!("{pattern:?} {format:?}: {e}"));
            assert_eq!(back.len(), sample.len());
            let certified: Vec<_> = back
                .iter()
                .filter_map(|(m, c)| Some((m, c.as_ref()?)))
                .collect();
            assert_eq!(certified.len(), 1, "{pattern:?} {format:?}");
            assert_eq!(certified[0].0, &sample[0], "{pattern:?} {format:?}");
            assert_eq!(certified[0].1, &certification(), "{pattern:?} {format:?}");
        }
    }
    // A pending batch: no anchor is written, none is read.
    let pending = CertificationRef {
        batch: "b/1 x".into(),
        root: "0x01".into(),
        leaf_index: Some(0),
        ..CertificationRef::default()
    };
    let doc = write_measurements(
        Vec::new(),
        Format::Turtle,
        &MappingOptions::default(),
        [(&sample[0], Some(&pending))],
    )
    .unwrap();
    assert!(!String::from_utf8_lossy(&doc).contains("platone:anchor"));
    let back = read_certified_measurements(doc.as_slice(), Format::Turtle).unwrap();
    assert_eq!(back, vec![(sample[0].clone(), Some(pending))]);
    // A batch without its root is named in the error.
    let text = String::from_utf8(document(
        Format::NTriples,
        MappingOptions::default(),
        &sample[..1],
        &[],
    ))
    .unwrap();
    let without_root: String = text
        .lines()
        .filter(|l| !l.contains("#merkleRoot>"))
        .map(|l| format!("{l}\n"))
        .collect();
    match read_certified_measurements(without_root.as_bytes(), Format::NTriples) {
        Err(SarefError::Missing { subject, predicate }) => {
            assert!(subject.ends_with("/batch/batch-42"), "{subject}");
            assert_eq!(predicate, vocab::t::P_MERKLE_ROOT);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn writing_is_deterministic() {
    for format in FORMATS {
        let a = document(format, MappingOptions::default(), &varied(), &[set_point()]);
        let b = document(format, MappingOptions::default(), &varied(), &[set_point()]);
        assert_eq!(a, b);
    }
}

#[test]
fn readers_name_the_subject_and_predicate_that_is_wrong() {
    let doc = String::from_utf8(document(
        Format::NTriples,
        MappingOptions::default(),
        &[meter_reading()],
        &[],
    ))
    .unwrap();
    let without_value: String = doc
        .lines()
        .filter(|l| !l.contains("core/hasValue>"))
        .map(|l| format!("{l}\n"))
        .collect();
    match read_measurements(without_value.as_bytes(), Format::NTriples) {
        Err(SarefError::Missing { subject, predicate }) => {
            assert!(
                subject.contains("/meter/MTR-0001/m/2024-05-01T10:15:00Z/"),
                "{subject}"
            );
            assert_eq!(predicate, "https://saref.etsi.org/core/hasValue");
        }
        other => panic!("{other:?}"),
    }
    let bad_type = doc.replace(
        "\"2024-05-01T10:15:00Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime>",
        "\"2024-05-01T10:15:00Z\"",
    );
    let err = read_measurements(bad_type.as_bytes(), Format::NTriples).unwrap_err();
    assert!(
        matches!(&err, SarefError::Invalid { predicate, .. } if predicate.ends_with("hasTimestamp")),
        "{err}"
    );
    assert!(err.to_string().contains("dateTime"), "{err}");
    let err = read_measurements(&b"<a> <b> ."[..], Format::NTriples).unwrap_err();
    assert!(
        matches!(
            err,
            SarefError::Syntax {
                location: Some(_),
                ..
            }
        ),
        "{err}"
    );
    let err = read_measurements(&b"{\"@graph\": [}"[..], Format::JsonLd).unwrap_err();
    assert!(matches!(err, SarefError::Syntax { .. }), "{err}");
}

#[test]
fn another_producers_minimal_measurement_is_read() {
    // Only SAREF terms, a foreign base, no platone: vocabulary except none at all.
    let ttl = r#"
@prefix saref: <https://saref.etsi.org/core/> .
@prefix unit: <http://qudt.org/vocab/unit/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<http://other.example/m1> a saref:Measurement ;
  saref:hasValue "3.5"^^xsd:decimal ; saref:isMeasuredIn unit:KiloW ;
  saref:hasTimestamp "2024-01-01T00:00:00+01:00"^^xsd:dateTime ;
  saref:relatesToProperty <http://other.example/house1#power> ;
  saref:isMeasurementOf <http://other.example/house1> ;
  saref:measurementMadeBy <http://other.example/devices/meter%2042> .
<http://other.example/house1#power> a saref:Power .
"#;
    let m = read_measurements(ttl.as_bytes(), Format::Turtle).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].source.as_str(), "meter 42");
    assert_eq!(m[0].kind, MeasurementKind::Power);
    assert_eq!(
        (m[0].unit, m[0].multiplier),
        (Unit::Watt, UnitMultiplier::KILO)
    );
    assert_eq!(
        m[0].usage_point.as_ref().map(|u| u.as_str()),
        Some("house1")
    );
    assert_eq!(m[0].base_value(), 3500.0);
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{1,12}",
        "[A-Za-z0-9][ -~]{0,20}[A-Za-z0-9]",
        "[a-zäöü€/#%?]{1,8}",
    ]
}

fn measurement() -> impl Strategy<Value = Measurement> {
    (
        (
            id(),
            proptest::option::of(id()),
            proptest::option::of(id()),
            proptest::option::of(id()),
            proptest::option::of(id()),
        ),
        proptest::option::of("[A-Za-z0-9.]{1,20}"),
        (0i64..4_000_000_000, 0u32..1_000_000_000, -14i32..=14),
        (0..MeasurementKind::ALL.len(), 0..Unit::ALL.len(), -6i8..=9),
        (
            0u8..64,
            0..FlowDirection::ALL.len(),
            0..Accumulation::ALL.len(),
            proptest::option::of(1u32..100_000),
            0..Aggregate::ALL.len(),
        ),
        any::<f64>().prop_filter("finite, within 1e300", |v| v.is_finite() && v.abs() < 1e300),
        0u16..1024,
    )
        .prop_map(
            |(
                (source, meter, pod, up, comp),
                channel,
                (secs, nanos, offset_h),
                (k, u, e),
                (ph, d, a, i, g),
                value,
                q,
            )| {
                let offset = chrono::FixedOffset::east_opt(offset_h * 3600).unwrap();
                let timestamp = chrono::DateTime::from_timestamp(secs, nanos)
                    .unwrap()
                    .with_timezone(&offset);
                let phases = Phase::ALL
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| ph & (1 << bit) != 0)
                    .fold(PhaseSet::NONE, |s, (_, p)| s.with(*p));
                let quality = QualityFlag::ALL
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| q & (1 << bit) != 0)
                    .fold(Quality::GOOD, |s, (_, f)| s.with(*f));
                let mut m = Measurement::new(
                    DeviceId::new(source).unwrap(),
                    timestamp,
                    MeasurementKind::ALL[k],
                    Unit::ALL[u],
                    value,
                )
                .unwrap()
                .with_multiplier(UnitMultiplier::new(e).unwrap())
                .with_phases(phases)
                .with_direction(FlowDirection::ALL[d])
                .with_accumulation(
                    Accumulation::ALL[a],
                    i.map(|s| MeasuringPeriod::from_seconds(s).unwrap()),
                )
                .with_aggregate(Aggregate::ALL[g])
                .with_quality(quality);
                m.meter = meter.map(|x| MeterId::new(x).unwrap());
                m.pod = pod.map(|x| PodId::new(x).unwrap());
                m.usage_point = up.map(|x| UsagePointId::new(x).unwrap());
                m.component = comp.map(|x| ComponentId::new(x).unwrap());
                if let Some(c) = channel {
                    m = m.with_channel(c).unwrap();
                }
                m
            },
        )
}

fn representable(m: &Measurement) -> bool {
    vocab::units_table()
        .iter()
        .any(|(u, e, _)| *u == m.unit && *e == m.multiplier.exponent())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn measurement_to_rdf_to_measurement_is_lossless(m in measurement(), f in 0usize..3, v4 in any::<bool>()) {
        let format = FORMATS[f];
        let options = MappingOptions {
            pattern: if v4 { Pattern::Saref4Observation } else { Pattern::Saref3Measurement },
            ..MappingOptions::default()
        };
        let doc = document(format, options, std::slice::from_ref(&m), &[]);
        let back = read_measurements(doc.as_slice(), format).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.len(), 1);
        let b = &back[0];
        if representable(&m) {
            prop_assert_eq!(b, &m);
        } else {
            // QUDT has no unit with this prefix: the value travels in the plain unit.
            let mut expected = m.clone();
            expected.value = b.value;
            prop_assert_eq!(b, &expected);
            let tolerance = m.base_value().abs() * 1e-12 + f64::MIN_POSITIVE;
            prop_assert!((b.base_value() - m.base_value()).abs() <= tolerance, "{} vs {}", b.value, m.value);
        }
    }
}

#[test]
fn jsonld_is_compact_and_a_referenced_context_resolves_offline() {
    use platone_saref::{JsonLdContext, RdfWriter};
    let mut w = RdfWriter::with_context(
        Vec::new(),
        Format::JsonLd,
        MappingOptions::default(),
        JsonLdContext::Reference,
    )
    .unwrap();
    w.write_measurement(&meter_reading(), None).unwrap();
    let doc = w.finish().unwrap();
    let text = String::from_utf8(doc.clone()).unwrap();
    assert!(
        text.contains("\"@context\": \"https://w3id.org/platone/saref/context.jsonld\""),
        "{text}"
    );
    assert!(text.contains("\"hasValue\": \"1.234\""), "{text}");
    assert!(
        text.contains("\"isMeasuredIn\": \"unit:KiloW-HR\""),
        "{text}"
    );
    assert!(
        !text.contains("https://saref.etsi.org/core/hasValue"),
        "{text}"
    );
    let back = read_measurements(doc.as_slice(), Format::JsonLd).unwrap();
    assert_eq!(back, vec![meter_reading()]);
}

#[test]
fn the_context_in_docs_is_the_published_one() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/saref-context.jsonld");
    let docs = std::fs::read_to_string(&path).unwrap();
    assert_eq!(docs, platone_saref::CONTEXT, "{} is stale", path.display());
}
