//! SOGNO/LOCO JSON samples, conversions to and from `Measurement`, C37.118 → measurements and
//! SOGNO with channel maps, and the power calculation.

mod pmu_common;

use std::f64::consts::PI;

use platone_cim::pmu::c37118::{Decoded, Decoder, PhasorValue, PmuData, Stat};
use platone_cim::pmu::channel_map::ChannelMap;
use platone_cim::pmu::convert::{data_to_measurements, data_to_sogno, phasor_measurements};
use platone_cim::pmu::power::{compute, phase_power};
use platone_cim::pmu::sogno::{Measurand, SognoFlat, SognoGrouped, SognoMessage, SognoPhase};
use platone_model::{DeviceId, MeasurementKind, PhaseSet, Unit, parse_timestamp};
use pmu_common::{hex_frames, reference};

fn sample(name: &str) -> String {
    std::fs::read_to_string(reference(&format!("sogno/{name}"))).unwrap()
}

#[test]
fn sogno_samples_decode_and_round_trip() {
    for name in [
        "brief_loco_pmu_example.json",
        "pyvolt-service_sogno_input.json",
        "villasnode_sogno_format_example.json",
    ] {
        let msg = SognoMessage::from_json(&sample(name)).unwrap();
        assert!(!msg.readings.is_empty(), "{name}");
        let again = SognoMessage::from_json(&msg.to_json()).unwrap();
        assert_eq!(again, msg, "{name}");
        let ms = msg.to_measurements().unwrap();
        let back = SognoMessage::from_measurements(&msg.device, &ms).unwrap();
        assert_eq!(back, msg, "{name}");
    }
    let loco = SognoMessage::from_json(&sample("brief_loco_pmu_example.json")).unwrap();
    assert_eq!(loco.device, "pmu1");
    assert_eq!(loco.readings[1].component, "BUS2");
    assert_eq!(loco.readings[1].data, 22.0);
    let ms = loco.to_measurements().unwrap();
    assert_eq!(ms[0].kind, MeasurementKind::Voltage);
    assert_eq!(ms[0].unit, Unit::Volt);
    assert_eq!(ms[0].phases, PhaseSet::A);
    assert_eq!(ms[0].component.as_ref().unwrap().as_str(), "BUS1");
    assert_eq!(
        ms[0].timestamp,
        parse_timestamp("2020-05-20T10:27:57.980802+00:00").unwrap()
    );

    let grouped = SognoGrouped::from_json(&sample("pyvolt-service_sogno_output.json")).unwrap();
    assert_eq!(grouped.component, "BUS1");
    assert_eq!(grouped.readings[1].phase, Some(SognoPhase::B));
    let flat = SognoFlat::from_json(&sample("villasnode_sogno_old_format_example.json")).unwrap();
    assert_eq!(flat.data, 123_124.0);
    assert_eq!(flat.timestamp.offset().local_minus_utc(), 7200);
    let joined = SognoMessage::from_flat(std::slice::from_ref(&flat)).unwrap();
    assert_eq!(joined.flat(), vec![flat]);
    // Grouping splits per component.
    let input = SognoMessage::from_json(&sample("pyvolt-service_sogno_input.json")).unwrap();
    let groups = input.grouped();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[1].component, "BUS2");
}

#[test]
fn angles_of_voltage_and_current_are_distinct_series() {
    let msg = SognoMessage::from_json(
        r#"{"device":"d","timestamp":"2021-01-01T00:00:00Z","readings":[
        {"component":"B","measurand":"voltangle","phase":"A","data":0.1},
        {"component":"B","measurand":"currangle","phase":"A","data":-0.2}]}"#,
    )
    .unwrap();
    let ms = msg.to_measurements().unwrap();
    assert_ne!(ms[0].series_key(), ms[1].series_key());
    assert_eq!(Measurand::of(&ms[1]), Some(Measurand::CurrAngle));
}

fn decoded(file: &str) -> Vec<Decoded> {
    let mut d = Decoder::new();
    hex_frames(file)
        .into_iter()
        .map(|(_, b)| d.decode(&b).unwrap())
        .collect()
}

#[test]
fn c37118_to_measurements_with_cfg3_and_channel_map() {
    let frames = decoded("synthetic/S2_cfg3_two_pmus_mixed_formats.hex");
    let Decoded::Data(data, cfg) = &frames[1] else {
        panic!()
    };
    let ms = data_to_measurements(data, cfg, None).unwrap();
    // PMU A: 6 phasors × 2 + FREQ + DFREQ; PMU B: 2 × 2 + FREQ + DFREQ.
    assert_eq!(ms.len(), 14 + 6);
    let ia_angle = ms
        .iter()
        .find(|m| m.channel.as_deref() == Some("IA") && m.kind == MeasurementKind::PhaseAngle)
        .unwrap();
    assert_eq!(ia_angle.phases, PhaseSet::A);
    assert_eq!(ia_angle.source.as_str(), "Umspannwerk Süd");
    assert!((ia_angle.value + 0.3).abs() < 1e-6);
    let keys: std::collections::HashSet<_> = ms.iter().map(|m| m.series_key()).collect();
    assert_eq!(keys.len(), ms.len(), "every value its own series");
    let freq = ms
        .iter()
        .find(|m| m.kind == MeasurementKind::Frequency)
        .unwrap();
    assert!((freq.value - 50.01).abs() < 1e-5);
    // The absent block produces no values, and PMU B's values carry its quality.
    let Decoded::Data(absent, _) = &frames[2] else {
        panic!()
    };
    let ms = data_to_measurements(absent, cfg, None).unwrap();
    assert!(ms.iter().all(|m| m.source.as_str() == "Umspannwerk Süd"));

    // CFG-2 (no phase information): the channel map names phases and components.
    let frames = decoded("ieee_annexD/annexD_and_pypmu_vectors.hex");
    let Decoded::Data(data, cfg) = &frames[1] else {
        panic!()
    };
    let map = ChannelMap::from_json(
        r#"{"device":"pmu-a","channels":[
        {"name":"VA","phase":"A","component":"BUS1"},{"name":"VB","phase":"B","component":"BUS1"},
        {"name":"VC","phase":"C","component":"BUS1"},
        {"station":"Station A","name":"I1","kind":"current","phase":"A","component":"LINE1"}]}"#,
    )
    .unwrap();
    let pms = phasor_measurements(data, cfg, Some(&map)).unwrap();
    assert_eq!(pms[3].channel, "I1");
    assert_eq!(pms[3].phases, PhaseSet::A);
    assert_eq!(pms[3].component.as_ref().unwrap().as_str(), "LINE1");
    assert_eq!(pms[0].source.as_str(), "pmu-a");
    let sogno = data_to_sogno(data, cfg, Some(&map)).unwrap();
    let msg = &sogno[0];
    assert_eq!(msg.device, "pmu-a");
    let vb = msg
        .readings
        .iter()
        .find(|r| r.measurand == Measurand::VoltAngle && r.phase == Some(SognoPhase::B))
        .unwrap();
    assert!((vb.data.to_degrees() + 120.0).abs() < 0.01);
    assert!(
        msg.readings
            .iter()
            .any(|r| r.component == "LINE1" && r.measurand == Measurand::CurrMagnitude)
    );
    assert!(
        msg.readings
            .iter()
            .any(|r| r.measurand == Measurand::Frequency && r.data == 62.5)
    );
    // Without a map the name guesses VA/VB/VC; I1 has no phase and is left out of SOGNO.
    let sogno = data_to_sogno(data, cfg, None).unwrap();
    assert_eq!(
        sogno[0]
            .readings
            .iter()
            .filter(|r| r.measurand == Measurand::VoltMagnitude)
            .count(),
        3
    );
    assert!(
        !sogno[0]
            .readings
            .iter()
            .any(|r| r.measurand == Measurand::CurrMagnitude)
    );
}

#[test]
fn power_per_phase_three_phase_and_positive_sequence() {
    let frames = decoded("synthetic/S2_cfg3_two_pmus_mixed_formats.hex");
    let Decoded::Config(cfg, _) = &frames[0] else {
        panic!()
    };
    let pmu = &cfg.pmus[0];
    let v = 230.0;
    let i = 10.0;
    let lag = 0.3;
    let data = PmuData {
        stat: Stat(0),
        phasors: [0.0, -2.0 * PI / 3.0, 2.0 * PI / 3.0]
            .iter()
            .map(|a| {
                Some(PhasorValue::Polar {
                    magnitude: v,
                    angle: *a,
                })
            })
            .chain([0.0, -2.0 * PI / 3.0, 2.0 * PI / 3.0].iter().map(|a| {
                Some(PhasorValue::Polar {
                    magnitude: i,
                    angle: a - lag,
                })
            }))
            .collect(),
        frequency: Some(50.0),
        rocof: Some(0.0),
        analogs: vec![Some(20.0)],
        digitals: vec![0],
    };
    let r = compute(pmu, &data, None);
    assert_eq!(r.phases.len(), 3);
    let per = phase_power(v, 0.0, i, -lag);
    for p in &r.phases {
        assert!((p.power.active - per.active).abs() < 1e-9);
        assert!((p.power.reactive - per.reactive).abs() < 1e-9);
        assert!(p.power.reactive > 0.0, "inductive load: Q > 0");
    }
    let t = &r.three_phase[0];
    assert!((t.total.active - 3.0 * v * i * lag.cos()).abs() < 1e-9);
    let s1 = t.positive_sequence.unwrap();
    assert!((s1.voltage.0 - v).abs() < 1e-9);
    assert!((s1.power.active - t.total.active).abs() < 1e-6);
    let time = parse_timestamp("2024-06-01T00:00:00Z").unwrap();
    let ms = r
        .to_measurements(&DeviceId::new("pmu").unwrap(), time, None)
        .unwrap();
    assert_eq!(ms.len(), 3 * 3 + 3 + 3);
    assert!(
        ms.iter()
            .any(|m| m.unit == Unit::Var && m.phases == PhaseSet::ABC)
    );
    let grouped = r.to_sogno_grouped("BUS1", time);
    assert_eq!(grouped.len(), 1);
    assert_eq!(grouped[0].readings.len(), 9);
    assert_eq!(grouped[0].readings[0].measurand, Measurand::ActivePower);

    // PMU B sends positive-sequence phasors itself.
    let Decoded::Data(d, _) = &frames[1] else {
        panic!()
    };
    let r = compute(&cfg.pmus[1], &d.pmus[1], None);
    let s = r.measured_positive_sequence.unwrap();
    assert!(
        (s.power.apparent - 3.0 * 230.0 * 11.5453).abs() < 0.1,
        "{s:?}"
    );
    assert!(s.power.active > 0.0);
}
