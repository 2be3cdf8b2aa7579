//! ReadingType and ReadingQualityType codes: decoding, forms, descriptions and round trips.

use platone_cim::meter_readings::reading_type::{
    AccumulationKind, AggregateKind, CommodityKind, FlowDirectionKind, MacroPeriodKind,
    MeasurementKindCode, MeasuringPeriodKind,
};
use platone_cim::meter_readings::{CodeForm, Mode, ReadingType, ReadingTypeCode};
use proptest::prelude::*;

#[test]
fn decodes_every_field_of_an_18_field_code() {
    let rt: ReadingType = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0".parse().unwrap();
    assert_eq!(rt.macro_period, MacroPeriodKind::None);
    assert_eq!(rt.aggregate, AggregateKind::None);
    assert_eq!(rt.measuring_period, MeasuringPeriodKind::FifteenMinute);
    assert_eq!(rt.accumulation, AccumulationKind::DeltaData);
    assert_eq!(rt.flow_direction, FlowDirectionKind::Forward);
    assert_eq!(rt.commodity, CommodityKind::ElectricitySecondaryMetered);
    assert_eq!(rt.measurement_kind, MeasurementKindCode::Energy);
    assert_eq!(rt.phases.phase_set().to_string(), "ABC");
    assert_eq!(rt.multiplier.prefix(), Some("k"));
    assert_eq!(rt.unit.symbol(), Some("Wh"));
    assert_eq!(rt.currency.alpha(), None);
    assert_eq!(rt.interval_seconds(), Some(900));
    assert_eq!(
        rt.description(),
        "15-minute forward active energy, kWh, phases ABC"
    );
    assert_eq!(rt.measuring_period.name(), Some("fifteenMinute"));
    let money: ReadingType = "13.26.0.1.1.1.12.0.0.0.0.1.0.2.0.0.72.978".parse().unwrap();
    assert_eq!(
        money.description(),
        "monthly sum of bulk forward active energy, Wh, TOU 1, tier 2, in EUR"
    );
}

#[test]
fn the_19_field_seed_code_is_normalised_only_when_lenient() {
    let seed = "0.26.0.0.1.1.12.0.0.0.0.0.0.0.0.224.3.72.0";
    let code = ReadingTypeCode::parse(seed, Mode::Lenient).unwrap();
    assert_eq!(code.form(), CodeForm::Normalised19);
    assert_eq!(code.as_str(), seed);
    assert_eq!(code.to_string(), seed);
    assert_eq!(code.canonical(), "0.26.0.0.1.1.12.0.0.0.0.0.0.0.224.3.72.0");
    let rt = code.reading_type().unwrap();
    assert_eq!(rt.aggregate, AggregateKind::Sum);
    assert_eq!(rt.measurement_kind, MeasurementKindCode::Energy);
    assert_eq!(rt.unit.symbol(), Some("Wh"));
    assert_eq!(rt.multiplier.0, 3);
    assert_eq!(rt.phases.0, 224);
    assert_eq!(rt.flow_direction, FlowDirectionKind::Forward);
    let err = ReadingTypeCode::parse(seed, Mode::Strict).unwrap_err();
    assert!(err.to_string().contains("19 fields"), "{err}");
    // A surplus field outside the zero run is not this bug: opaque, not normalised.
    let other = ReadingTypeCode::parse("0.26.0.0.1.1.12.0.0.0.5.0.0.0.0.224.3.72.0", Mode::Lenient)
        .unwrap();
    assert_eq!(other.form(), CodeForm::Opaque);
}

#[test]
fn edition1_codes_map_to_edition2() {
    let code = ReadingTypeCode::parse("7.6.7.20.0.12.0.0.0.3.72", Mode::Strict).unwrap();
    assert_eq!(code.form(), CodeForm::Edition1);
    let e1 = code.edition1().unwrap();
    assert_eq!(e1.uom_category, (0, 12));
    let rt = code.reading_type().unwrap();
    assert_eq!(rt.measuring_period, MeasuringPeriodKind::SixtyMinute);
    assert_eq!(rt.accumulation, AccumulationKind::DeltaData);
    assert_eq!(rt.flow_direction, FlowDirectionKind::Total);
    assert_eq!(rt.measurement_kind, MeasurementKindCode::Energy);
    assert_eq!(rt.unit.symbol(), Some("Wh"));
    let demand = ReadingTypeCode::parse("12.0.6.1.0.8.0.0.0.3.38", Mode::Strict).unwrap();
    assert_eq!(
        demand.reading_type().unwrap().measurement_kind,
        MeasurementKindCode::Demand
    );
    let unmapped = ReadingTypeCode::parse("7.6.7.20.1.12.0.0.0.3.72", Mode::Strict).unwrap();
    assert_eq!(unmapped.form(), CodeForm::Edition1);
    assert!(unmapped.reading_type().is_none());
}

#[test]
fn other_shapes_are_opaque_not_errors() {
    for text in [
        "3.0.129.160",
        "0.0.2.4.1.1.12.0.0.0.0.0.0.0.224",
        "",
        "?",
        "a.b.c",
        "0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.x",
        "0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.99999999999.0",
        "0.0.2.-4.1.1.12.0.0.0.0.0.0.0.224.3.72.0",
    ] {
        for mode in [Mode::Strict, Mode::Lenient] {
            let code = ReadingTypeCode::parse(text, mode).unwrap();
            assert_eq!(code.form(), CodeForm::Opaque, "{text}");
            assert_eq!(code.to_string(), text);
            assert!(code.reading_type().is_none());
        }
    }
    // Negative multipliers (milli) and unknown enumeration values do decode.
    let milli =
        ReadingTypeCode::parse("0.0.0.12.0.1.54.0.0.0.0.0.0.0.128.-3.29.0", Mode::Strict).unwrap();
    let rt = milli.reading_type().unwrap();
    assert_eq!(rt.multiplier.prefix(), Some("m"));
    assert_eq!(rt.to_string(), milli.as_str());
    let unknown =
        ReadingTypeCode::parse("0.0.0.0.0.1.164.0.0.0.0.0.0.0.17153.0.9000.0", Mode::Strict)
            .unwrap();
    let rt = unknown.reading_type().unwrap();
    assert_eq!(rt.measurement_kind, MeasurementKindCode::Other(164));
    assert_eq!(rt.unit.symbol(), None);
    assert_eq!(rt.phases.name(), Some("PHASENETWORKED"));
    assert!(rt.description().contains("measurement kind 164"));
}

fn field() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => Just(0u32),
        4 => 0u32..300,
        1 => any::<u32>(),
    ]
}

proptest! {
    #[test]
    fn every_numeric_18_field_code_round_trips(
        fields in proptest::collection::vec(field(), 17),
        multiplier in -30i32..30,
    ) {
        let mut parts: Vec<String> = fields.iter().map(u32::to_string).collect();
        parts.insert(15, multiplier.to_string());
        let text = parts.join(".");
        let rt: ReadingType = text.parse().unwrap();
        prop_assert_eq!(rt.to_string(), text.clone());
        let code = ReadingTypeCode::parse(&text, Mode::Strict).unwrap();
        prop_assert_eq!(code.form(), CodeForm::Edition2);
        prop_assert_eq!(code.canonical(), text);
        // Every field's Display gives its number back.
        prop_assert_eq!(rt.measurement_kind.to_string(), fields[6].to_string());
        let _ = rt.description();
        let json = serde_json::to_value(rt).unwrap();
        prop_assert!(json.get("measurement_kind").is_some());
    }

    #[test]
    fn nineteen_field_codes_normalise_back_to_their_18_fields(
        head in proptest::collection::vec(field(), 7),
        tail in (field(), -30i32..30, field(), field()),
        surplus_at in 0usize..8,
    ) {
        let mut eighteen: Vec<String> = head.iter().map(u32::to_string).collect();
        eighteen.extend(std::iter::repeat_n("0".to_string(), 7));
        eighteen.extend([tail.0.to_string(), tail.1.to_string(), tail.2.to_string(), tail.3.to_string()]);
        let mut nineteen = eighteen.clone();
        nineteen.insert(7 + surplus_at, "0".into());
        let code = ReadingTypeCode::parse(&nineteen.join("."), Mode::Lenient).unwrap();
        prop_assert_eq!(code.canonical(), eighteen.join("."));
        prop_assert_eq!(code.as_str(), nineteen.join("."));
        prop_assert!(ReadingTypeCode::parse(&nineteen.join("."), Mode::Strict).is_err());
    }

    #[test]
    fn arbitrary_strings_never_panic(text in ".{0,80}") {
        for mode in [Mode::Strict, Mode::Lenient] {
            if let Ok(code) = ReadingTypeCode::parse(&text, mode) {
                prop_assert_eq!(code.as_str(), text.as_str());
                let _ = code.description();
            }
        }
        let q = platone_cim::meter_readings::ReadingQualityCode::parse(&text);
        let _ = (q.description(), q.flags());
    }
}
