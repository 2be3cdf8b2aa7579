//! IEEE C37.118.2 frames against the Annex D vectors and the synthetic CFG-3, int16-polar and
//! SYNC-variant sets, with their known contents.

mod pmu_common;

use std::f64::consts::PI;

use platone_cim::pmu::PmuError;
use platone_cim::pmu::c37118::*;
use pmu_common::hex_frames;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn decode_all(file: &str) -> Vec<(String, Result<Decoded, PmuError>)> {
    let mut decoder = Decoder::new();
    hex_frames(file)
        .into_iter()
        .map(|(label, bytes)| (label, decoder.decode(&bytes)))
        .collect()
}

const ANNEX_D: &str = "ieee_annexD/annexD_and_pypmu_vectors.hex";

#[test]
fn annex_d_config_data_command_header_exact() {
    let frames = decode_all(ANNEX_D);
    let Ok(Decoded::Config(cfg, ConfigUpdate::New)) = &frames[0].1 else {
        panic!("{:?}", frames[0])
    };
    assert_eq!(cfg.kind(), FrameKind::Cfg2);
    assert_eq!(cfg.header.idcode, 7734);
    assert_eq!(cfg.time_base.divisor(), 1_000_000);
    assert_eq!(cfg.data_rate, 30);
    let pmu = &cfg.pmus[0];
    assert_eq!(pmu.station, "Station A");
    assert_eq!(pmu.format, DataFormat(4));
    assert_eq!(pmu.cfgcnt, 22);
    assert_eq!(pmu.nominal_frequency(), 60.0);
    let names: Vec<_> = pmu.phasors.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["VA", "VB", "VC", "I1"]);
    assert_eq!(pmu.phasors[0].unit_scale, 915_527);
    assert_eq!(pmu.phasors[3].kind, PhasorKind::Current);
    assert_eq!(pmu.phasors[3].unit_scale, 45_776);
    assert_eq!(pmu.analogs[1].name, "ANALOG2");
    assert_eq!(pmu.analogs[1].analog_kind, 1);
    assert_eq!(pmu.digitals[0].names[0], "BREAKER 1 STATUS");
    assert_eq!(pmu.digitals[0].names[15], "BREAKER G STATUS");
    assert_eq!((pmu.digitals[0].normal, pmu.digitals[0].valid), (0, 0xFFFF));

    let Ok(Decoded::Data(data, _)) = &frames[1].1 else {
        panic!("{:?}", frames[1])
    };
    assert_eq!(
        format_micros(&data.time().unwrap()),
        "2006-06-06T08:00:00.016817Z"
    );
    let d = &data.pmus[0];
    assert_eq!(d.stat, Stat(0));
    let va = d.phasors[0].unwrap();
    assert!(close(va.real(), 14635.0 * 9.15527, 1e-6));
    assert_eq!(va.imag(), 0.0);
    let vb = d.phasors[1].unwrap();
    assert!(close(vb.real(), -7318.0 * 9.15527, 1e-6));
    assert!(close(vb.imag(), -12676.0 * 9.15527, 1e-6));
    assert!(close(vb.angle().to_degrees(), -120.0, 0.01));
    let i1 = d.phasors[3].unwrap();
    assert!(close(i1.magnitude(), 1092.0 * 0.45776, 1e-9));
    assert_eq!(d.frequency, Some(62.5));
    assert_eq!(d.rocof, Some(0.0));
    assert_eq!(d.analogs, [Some(100.0), Some(1000.0), Some(10000.0)]);
    assert_eq!(d.digitals, [0x3C12]);

    let Ok(Decoded::Command(cmd)) = &frames[2].1 else {
        panic!("{:?}", frames[2])
    };
    assert_eq!(cmd.command, Command::TurnOn);
    assert_eq!(cmd.header.fracsec.quality().message_time_quality(), 0xF);
    let Ok(Decoded::Header(h)) = &frames[3].1 else {
        panic!("{:?}", frames[3])
    };
    assert_eq!(h.text, "Hello I'm Header Frame.");

    // The pypmu two-PMU variants: same STN and IDCODE twice, decoded by block index.
    let Ok(Decoded::Config(two, ConfigUpdate::Same)) = &frames[4].1 else {
        panic!("{:?}", frames[4])
    };
    assert_eq!(two.pmus.len(), 2);
    let Ok(Decoded::Data(data2, _)) = &frames[5].1 else {
        panic!("{:?}", frames[5])
    };
    assert_eq!(data2.pmus.len(), 2);
    assert_eq!(data2.pmus[0], data2.pmus[1]);
    assert_eq!(data2.pmus[0], data.pmus[0]);
}

#[test]
fn chk_values_of_the_annex_d_frames() {
    let frames = hex_frames(ANNEX_D);
    for (bytes, chk) in [
        (&frames[0].1, 0xD5D1),
        (&frames[1].1, 0xD43F),
        (&frames[2].1, 0xCE00),
    ] {
        assert_eq!(crc16(&bytes[..bytes.len() - 2]), chk);
    }
    let mut bad = frames[1].1.clone();
    bad[20] ^= 1;
    match check_frame(&bad) {
        Err(PmuError::BadCrc {
            offset: 50,
            found: 0xD43F,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn re_encoding_reference_frames_gives_the_same_bytes() {
    for file in [
        ANNEX_D,
        "synthetic/S1_cfg3_annexD_station_a.hex",
        "synthetic/S2_cfg3_two_pmus_mixed_formats.hex",
        "synthetic/S4_cfg2_int16_polar.hex",
        "synthetic/S5_annexD_sync_variants.hex",
    ] {
        let mut decoder = Decoder::new();
        for (label, bytes) in hex_frames(file) {
            let mut out = Vec::new();
            match decoder.decode(&bytes).unwrap() {
                Decoded::Config(c, _) => c.encode(&mut out).unwrap(),
                Decoded::Command(c) => c.encode(&mut out).unwrap(),
                Decoded::Header(h) => h.encode(&mut out).unwrap(),
                Decoded::Data(d, c) => DataLayout::new(&c)
                    .encode(d.header, &d.pmus, &mut out)
                    .unwrap(),
                Decoded::Cfg3Fragment { .. } => unreachable!(),
            }
            assert_eq!(hex::encode(&out), hex::encode(&bytes), "{file}: {label}");
        }
    }
}

#[test]
fn s1_cfg3_of_annex_d_station() {
    let frames = decode_all("synthetic/S1_cfg3_annexD_station_a.hex");
    let Ok(Decoded::Config(cfg, _)) = &frames[0].1 else {
        panic!()
    };
    assert_eq!(cfg.kind(), FrameKind::Cfg3);
    assert_eq!(cfg.header.version, 2);
    let pmu = &cfg.pmus[0];
    let extras = pmu.cfg3.unwrap();
    assert_eq!(extras.global_pmu_id, core::array::from_fn(|i| i as u8));
    assert!(extras.latitude.is_infinite() && extras.longitude.is_infinite());
    assert_eq!(extras.service_class, b'M');
    let s = pmu.phasors[1].scale.unwrap();
    assert_eq!(s.component(), PhasorComponent::PhaseB);
    assert_eq!(s.magnitude_scale, 9.15527);
    assert_eq!(pmu.phasors[3].scale.unwrap().kind(), PhasorKind::Current);
    assert_eq!(
        pmu.phasors[3].scale.unwrap().component(),
        PhasorComponent::PhaseA
    );
    // The unchanged Annex D data frame decodes with CFG-3 scaling to the same values.
    let Ok(Decoded::Data(data, _)) = &frames[1].1 else {
        panic!()
    };
    let va = data.pmus[0].phasors[0].unwrap();
    assert!(close(va.magnitude(), 133_987.37, 0.01));
    assert_eq!(data.pmus[0].frequency, Some(62.5));
}

fn check_s2_config(cfg: &ConfigFrame) {
    assert_eq!(cfg.header.idcode, 4000);
    assert_eq!(cfg.data_rate, 50);
    let a = &cfg.pmus[0];
    assert_eq!(a.station, "Umspannwerk Süd");
    assert_eq!(a.idcode, 4001);
    assert_eq!(a.format, DataFormat(0xF));
    assert_eq!(a.nominal_frequency(), 50.0);
    assert_eq!(a.cfgcnt, 3);
    assert_eq!(a.analogs[0].name, "Trafo-Temp °C");
    assert_eq!(
        a.digitals[0].names[..3],
        ["CB1 closed", "CB2 closed", "Alarm"]
    );
    assert_eq!(a.digitals[0].valid, 7);
    assert_eq!(a.phasors[5].scale.unwrap().modification, 0x0080);
    let ea = a.cfg3.unwrap();
    assert!(close(f64::from(ea.latitude), 50.7787, 1e-4));
    assert!(close(f64::from(ea.longitude), 6.0492, 1e-4));
    assert_eq!(ea.elevation, 170.0);
    assert_eq!(ea.service_class, b'P');
    assert_eq!((ea.window, ea.group_delay), (40_000, 20_000));
    assert_eq!(&ea.global_pmu_id[..4], &[0x7a, 0x30, 0xb6, 0x1a]);
    let b = &cfg.pmus[1];
    assert_eq!(b.station, "LV-Feeder-7");
    assert_eq!(b.format, DataFormat(0));
    let i1 = b.phasors[1].scale.unwrap();
    assert_eq!(i1.component(), PhasorComponent::PositiveSequence);
    assert!(close(f64::from(i1.angle_offset), PI / 6.0, 1e-6));
    assert_eq!(b.analogs[0].scale, Some((0.1, -40.0)));
    assert_eq!(b.cfg3.unwrap().service_class, b'M');
}

#[test]
fn s2_two_pmus_mixed_formats_and_absent_block() {
    let frames = decode_all("synthetic/S2_cfg3_two_pmus_mixed_formats.hex");
    let Ok(Decoded::Config(cfg, _)) = &frames[0].1 else {
        panic!()
    };
    check_s2_config(cfg);
    let Ok(Decoded::Data(d0, _)) = &frames[1].1 else {
        panic!()
    };
    let a = &d0.pmus[0];
    assert_eq!(
        a.phasors[0],
        Some(PhasorValue::Polar {
            magnitude: 230.0,
            angle: 0.0
        })
    );
    assert!(close(a.phasors[1].unwrap().angle(), -2.0 * PI / 3.0, 1e-6));
    assert!(
        close(a.frequency.unwrap(), 50.01, 1e-5),
        "float FREQ is absolute Hz"
    );
    assert!(close(a.rocof.unwrap(), 0.05, 1e-7));
    assert_eq!(a.analogs, [Some(21.5)]);
    assert_eq!(a.digitals, [5]);
    let b = &d0.pmus[1];
    assert_eq!(b.stat.pmu_time_quality(), 5);
    assert!(
        close(b.frequency.unwrap(), 49.985, 1e-9),
        "int16 FREQ is a mHz deviation"
    );
    assert!(close(b.rocof.unwrap(), 0.03, 1e-12));
    assert!(close(b.analogs[0].unwrap(), 21.5, 1e-5));
    assert!(close(b.phasors[0].unwrap().magnitude(), 230.0, 1e-4));
    let i1 = b.phasors[1].unwrap();
    assert!(
        close(i1.angle().to_degrees(), -59.98, 0.01),
        "θ offset applied"
    );
    assert!(close(i1.magnitude(), 11.545, 0.001));
    let Ok(Decoded::Data(d1, _)) = &frames[2].1 else {
        panic!()
    };
    assert_eq!(
        format_micros(&d1.time().unwrap()),
        "2024-06-01T00:00:00.020000Z"
    );
    let b = &d1.pmus[1];
    assert_eq!(b.stat.0, 0x9000);
    assert_eq!(b.stat.data_error(), DataError::TestModeOrAbsent);
    assert!(b.stat.sorted_by_arrival());
    assert_eq!(b.phasors, [None, None]);
    assert_eq!((b.frequency, b.rocof), (None, None));
    assert_eq!(b.analogs, [None]);
}

#[test]
fn s3_fragmented_cfg3_is_joined() {
    let frames = decode_all("synthetic/S3_cfg3_fragmented_3_parts.hex");
    assert!(matches!(
        frames[0].1,
        Ok(Decoded::Cfg3Fragment { cont_idx: 1, .. })
    ));
    assert!(matches!(
        frames[1].1,
        Ok(Decoded::Cfg3Fragment { cont_idx: 2, .. })
    ));
    let Ok(Decoded::Config(cfg, ConfigUpdate::New)) = &frames[2].1 else {
        panic!("{:?}", frames[2])
    };
    check_s2_config(cfg);
    // The joined configuration equals S2's single frame.
    let s2 = decode_all("synthetic/S2_cfg3_two_pmus_mixed_formats.hex");
    let Ok(Decoded::Config(single, _)) = &s2[0].1 else {
        panic!()
    };
    assert_eq!(cfg.pmus, single.pmus);
    // Our encoder fragments the same way (133-byte frames) and rejoins.
    let parts = encode_cfg3_fragments(single, 133).unwrap();
    let originals = hex_frames("synthetic/S3_cfg3_fragmented_3_parts.hex");
    assert_eq!(parts.len(), 3);
    for (ours, (_, theirs)) in parts.iter().zip(&originals) {
        assert_eq!(hex::encode(ours), hex::encode(theirs));
    }
    // A fragment without its first part is an error naming the stream and index.
    let mut decoder = Decoder::new();
    let err = decoder.decode(&originals[1].1).unwrap_err();
    assert!(err.to_string().contains("IDCODE 4000, CONT_IDX 2"), "{err}");
}

#[test]
fn s4_int16_polar_and_absent_markers() {
    let frames = decode_all("synthetic/S4_cfg2_int16_polar.hex");
    let Ok(Decoded::Config(cfg, _)) = &frames[0].1 else {
        panic!()
    };
    assert_eq!(cfg.pmus[0].station, "POLAR PMU");
    assert_eq!(cfg.pmus[0].format, DataFormat(1));
    assert_eq!(cfg.pmus[0].cfgcnt, 7);
    let Ok(Decoded::Data(d, _)) = &frames[1].1 else {
        panic!()
    };
    let p = &d.pmus[0];
    assert_eq!(
        p.phasors[0],
        Some(PhasorValue::Polar {
            magnitude: 230.0,
            angle: 0.0
        })
    );
    assert!(close(p.phasors[1].unwrap().angle(), -2.0944, 1e-12));
    assert!(close(p.phasors[3].unwrap().magnitude(), 5.0, 1e-12));
    assert!(close(p.phasors[3].unwrap().angle(), -0.3, 1e-12));
    assert!(close(p.frequency.unwrap(), 50.12, 1e-9));
    assert!(close(p.rocof.unwrap(), -0.05, 1e-12));
    assert_eq!(p.analogs, [Some(23000.0)]);
    assert_eq!(p.digitals, [0x8001]);
    let Ok(Decoded::Data(absent, _)) = &frames[2].1 else {
        panic!()
    };
    let p = &absent.pmus[0];
    assert_eq!(p.stat.0, 0x8000);
    assert_eq!(p.phasors, [None; 4]);
    assert_eq!((p.frequency, p.rocof), (None, None));
    assert_eq!(p.analogs, [None]);
}

#[test]
fn s5_sync_versions_and_cfg1() {
    let frames = decode_all("synthetic/S5_annexD_sync_variants.hex");
    let Ok(Decoded::Config(c1, ConfigUpdate::New)) = &frames[0].1 else {
        panic!()
    };
    assert_eq!((c1.kind(), c1.header.version), (FrameKind::Cfg1, 1));
    let Ok(Decoded::Config(c2, ConfigUpdate::Same)) = &frames[1].1 else {
        panic!()
    };
    assert_eq!((c2.kind(), c2.header.version), (FrameKind::Cfg2, 2));
    let Ok(Decoded::Data(d, _)) = &frames[2].1 else {
        panic!()
    };
    assert_eq!(d.header.version, 2);
    assert_eq!(d.pmus[0].frequency, Some(62.5));
    // Version 3 is accepted, 4 and 0 are not.
    let mut v3 = hex_frames(ANNEX_D)[2].1.clone();
    v3[1] = 0x43;
    let n = v3.len();
    let chk = crc16(&v3[..n - 2]);
    v3[n - 2..].copy_from_slice(&chk.to_be_bytes());
    assert_eq!(FrameHeader::peek(&v3).unwrap().version, 3);
    assert!(check_frame(&v3).is_ok());
    v3[1] = 0x44;
    assert!(matches!(
        FrameHeader::peek(&v3),
        Err(PmuError::UnsupportedVersion { version: 4 })
    ));
    v3[1] = 0x61;
    assert!(matches!(
        FrameHeader::peek(&v3),
        Err(PmuError::UnknownFrameType { code: 6 })
    ));
}

#[test]
fn registry_notices_cfgcnt_changes_and_pairs_relabelled_streams() {
    let frames = hex_frames(ANNEX_D);
    let Ok(Frame::Config(cfg)) = parse_frame(&frames[0].1) else {
        panic!()
    };
    let mut registry = ConfigRegistry::new();
    assert_eq!(registry.insert(*cfg.clone()), ConfigUpdate::New);
    assert_eq!(
        registry.insert(cfg.with_kind(FrameKind::Cfg1)),
        ConfigUpdate::Ignored
    );
    let mut changed = (*cfg).clone();
    changed.pmus[0].cfgcnt = 23;
    assert_eq!(
        registry.insert(changed),
        ConfigUpdate::Changed { old: 22, new: 23 }
    );
    let mut out = DataFrame::default();
    registry.decode_data(&frames[1].1, &mut out).unwrap();
    // A data frame relabelled with another IDCODE still decodes: one config has its size.
    let mut relabelled = frames[1].1.clone();
    relabelled[4..6].copy_from_slice(&99u16.to_be_bytes());
    let n = relabelled.len();
    let chk = crc16(&relabelled[..n - 2]);
    relabelled[n - 2..].copy_from_slice(&chk.to_be_bytes());
    registry.decode_data(&relabelled, &mut out).unwrap();
    assert_eq!(out.header.idcode, 99);
    assert_eq!(out.pmus[0].frequency, Some(62.5));
    // The two-PMU frame has no matching configuration: a size mismatch for IDCODE 7734.
    match registry.decode_data(&frames[5].1, &mut out) {
        Err(PmuError::SizeMismatch {
            idcode: 7734,
            expected: 52,
            found: 88,
            cfgcnt: 23,
        }) => {}
        other => panic!("{other:?}"),
    }
    // No configuration at all.
    let empty = ConfigRegistry::new();
    assert!(matches!(
        empty.decode_data(&frames[1].1, &mut out),
        Err(PmuError::NoConfig { idcode: 7734 })
    ));
}

#[test]
fn time_base_0xffffff_and_full_24_bit_fracsec() {
    let frames = hex_frames(ANNEX_D);
    let Ok(Frame::Config(cfg)) = parse_frame(&frames[0].1) else {
        panic!()
    };
    let mut cfg = *cfg;
    cfg.time_base = TimeBase(0x00FF_FFFF);
    let layout = DataLayout::new(&cfg);
    let Ok(Frame::Data(header, bytes)) = parse_frame(&frames[1].1) else {
        panic!()
    };
    let mut header = header;
    header.fracsec = FracSec::new(TimeQuality(0x20), 0x00C0_0000);
    let mut out = DataFrame::default();
    layout.decode_into(header, bytes, 22, &mut out).unwrap();
    let t = out.time().unwrap();
    assert_eq!(format_micros(&t), "2006-06-06T08:00:00.750000Z");
    assert!(out.header.fracsec.quality().leap_second_occurred());
}
