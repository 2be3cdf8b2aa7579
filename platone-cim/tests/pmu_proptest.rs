//! Property tests: encode → decode round trips for every frame type, and no panic on
//! arbitrary input for every parser.

mod pmu_common;

use platone_cim::pmu::c37118::*;
use platone_cim::pmu::channel_map::ChannelMap;
use platone_cim::pmu::framer::{Framer, frames_in};
use platone_cim::pmu::pcap::read_pcap;
use platone_cim::pmu::sogno::{SognoFlat, SognoGrouped, SognoMessage};
use proptest::prelude::*;

fn header_strategy(kind: FrameKind) -> impl Strategy<Value = FrameHeader> {
    (1u8..=3, any::<u16>(), any::<u32>(), any::<u32>())
        .prop_map(move |(v, id, soc, frac)| FrameHeader::new(kind, v, id, soc, FracSec(frac)))
}

fn ascii_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.+-]{0,16}"
}

fn utf8_name() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

#[derive(Debug, Clone)]
struct Shape {
    format: u16,
    phasors: usize,
    analogs: usize,
    digitals: usize,
}

fn shape() -> impl Strategy<Value = Shape> {
    (0u16..16, 0usize..5, 0usize..3, 0usize..2).prop_map(|(format, phasors, analogs, digitals)| {
        Shape {
            format,
            phasors,
            analogs,
            digitals,
        }
    })
}

fn digital(names: BoxedStrategy<String>) -> impl Strategy<Value = DigitalChannel> {
    (prop::collection::vec(names, 16), any::<u16>(), any::<u16>()).prop_map(
        |(names, normal, valid)| DigitalChannel {
            names,
            normal,
            valid,
        },
    )
}

fn pmu_cfg12(s: Shape) -> impl Strategy<Value = PmuConfig> {
    (
        ascii_name(),
        any::<u16>(),
        prop::collection::vec((ascii_name(), any::<bool>(), 1u32..0x0100_0000), s.phasors),
        prop::collection::vec(
            (ascii_name(), any::<u8>(), -0x0080_0000i32..0x0080_0000),
            s.analogs,
        ),
        prop::collection::vec(digital(ascii_name().boxed()), s.digitals),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(
            move |(station, idcode, ph, an, digitals, fnom, cfgcnt)| PmuConfig {
                station,
                idcode,
                format: DataFormat(s.format),
                phasors: ph
                    .into_iter()
                    .map(|(name, current, unit_scale)| PhasorChannel {
                        name,
                        kind: if current {
                            PhasorKind::Current
                        } else {
                            PhasorKind::Voltage
                        },
                        unit_scale,
                        scale: None,
                    })
                    .collect(),
                analogs: an
                    .into_iter()
                    .map(|(name, analog_kind, unit_scale)| AnalogChannel {
                        name,
                        analog_kind,
                        unit_scale: if unit_scale == 0 { 1 } else { unit_scale },
                        scale: None,
                    })
                    .collect(),
                digitals,
                fnom,
                cfgcnt,
                cfg3: None,
            },
        )
}

fn phasor_scale() -> impl Strategy<Value = PhasorScale> {
    (
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        0.01f32..100.0,
        -3.2f32..3.2,
    )
        .prop_map(
            |(modification, phasor_type, user, magnitude_scale, angle_offset)| PhasorScale {
                modification,
                phasor_type,
                user,
                magnitude_scale,
                angle_offset,
            },
        )
}

fn pmu_cfg3(s: Shape) -> impl Strategy<Value = PmuConfig> {
    let analog_float = DataFormat(s.format).analog_float();
    (
        (utf8_name(), any::<u16>(), any::<[u8; 16]>()),
        prop::collection::vec((utf8_name(), phasor_scale()), s.phasors),
        prop::collection::vec((utf8_name(), 0.01f32..100.0, -100f32..100.0), s.analogs),
        prop::collection::vec(digital(utf8_name().boxed()), s.digitals),
        (any::<u16>(), any::<u16>()),
        (
            prop_oneof![Just(f32::INFINITY), -90f32..90.0],
            -180f32..180.0,
            -500f32..9000.0,
        ),
        (any::<u8>(), any::<i32>(), any::<i32>()),
    )
        .prop_map(
            move |(
                (station, idcode, global_pmu_id),
                ph,
                an,
                digitals,
                (fnom, cfgcnt),
                (lat, lon, elev),
                (svc, window, group_delay),
            )| PmuConfig {
                station,
                idcode,
                format: DataFormat(s.format),
                phasors: ph
                    .into_iter()
                    .map(|(name, scale)| PhasorChannel {
                        name,
                        kind: scale.kind(),
                        unit_scale: 0,
                        scale: Some(scale),
                    })
                    .collect(),
                analogs: an
                    .into_iter()
                    .map(|(name, m, b)| AnalogChannel {
                        name,
                        analog_kind: 0,
                        unit_scale: 1,
                        scale: Some((m, if analog_float { 0.0 } else { b })),
                    })
                    .collect(),
                digitals,
                fnom,
                cfgcnt,
                cfg3: Some(Cfg3Extras {
                    global_pmu_id,
                    latitude: lat,
                    longitude: lon,
                    elevation: elev,
                    service_class: svc,
                    window,
                    group_delay,
                }),
            },
        )
}

fn config(kind: FrameKind) -> impl Strategy<Value = ConfigFrame> {
    let pmus = prop::collection::vec(shape(), 1..3).prop_flat_map(move |shapes| {
        shapes
            .into_iter()
            .map(|s| {
                if kind == FrameKind::Cfg3 {
                    pmu_cfg3(s).boxed()
                } else {
                    pmu_cfg12(s).boxed()
                }
            })
            .collect::<Vec<_>>()
    });
    (header_strategy(kind), 1u32..0x0100_0000, pmus, any::<i16>()).prop_map(
        |(header, tb, pmus, data_rate)| ConfigFrame {
            header,
            time_base: TimeBase(tb),
            pmus,
            data_rate,
        },
    )
}

fn any_config() -> impl Strategy<Value = ConfigFrame> {
    prop_oneof![
        config(FrameKind::Cfg1),
        config(FrameKind::Cfg2),
        config(FrameKind::Cfg3)
    ]
}

/// The raw body of a data frame for `cfg` with values that are not absent markers.
fn data_body(cfg: &ConfigFrame) -> impl Strategy<Value = Vec<u8>> + use<> {
    let mut parts: Vec<BoxedStrategy<Vec<u8>>> = Vec::new();
    let i16v = || {
        (-32767i16..=32767)
            .prop_map(|v| v.to_be_bytes().to_vec())
            .boxed()
    };
    let f32v = || {
        (-1e6f32..1e6)
            .prop_map(|v| v.to_be_bytes().to_vec())
            .boxed()
    };
    for p in &cfg.pmus {
        let f = p.format;
        parts.push(any::<u16>().prop_map(|v| v.to_be_bytes().to_vec()).boxed());
        for _ in &p.phasors {
            if f.phasor_float() {
                parts.push(f32v());
                parts.push(if f.polar() {
                    (-3.0f32..3.0)
                        .prop_map(|v| v.to_be_bytes().to_vec())
                        .boxed()
                } else {
                    f32v()
                });
            } else if f.polar() {
                parts.push(any::<u16>().prop_map(|v| v.to_be_bytes().to_vec()).boxed());
                parts.push(
                    (-31416i16..=31416)
                        .prop_map(|v| v.to_be_bytes().to_vec())
                        .boxed(),
                );
            } else {
                parts.push(i16v());
                parts.push(i16v());
            }
        }
        for _ in 0..2 {
            parts.push(if f.freq_float() { f32v() } else { i16v() });
        }
        for _ in &p.analogs {
            parts.push(if f.analog_float() { f32v() } else { i16v() });
        }
        for _ in &p.digitals {
            parts.push(any::<u16>().prop_map(|v| v.to_be_bytes().to_vec()).boxed());
        }
    }
    parts.prop_map(|v| v.concat())
}

fn frame_from(header: FrameHeader, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    let size = (body.len() + 16) as u16;
    f.push(0xAA);
    f.push(header.sync_byte());
    f.extend_from_slice(&size.to_be_bytes());
    f.extend_from_slice(&header.idcode.to_be_bytes());
    f.extend_from_slice(&header.soc.to_be_bytes());
    f.extend_from_slice(&header.fracsec.0.to_be_bytes());
    f.extend_from_slice(body);
    let chk = crc16(&f);
    f.extend_from_slice(&chk.to_be_bytes());
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn config_frames_round_trip(cfg in any_config()) {
        let mut bytes = Vec::new();
        cfg.encode(&mut bytes).unwrap();
        let Frame::Config(back) = parse_frame(&bytes).unwrap() else { panic!("not a config") };
        let mut expected = cfg.clone();
        expected.header.frame_size = bytes.len() as u16;
        prop_assert_eq!(*back, expected);
    }

    #[test]
    fn cfg3_fragments_rejoin(cfg in config(FrameKind::Cfg3), max in 24usize..300) {
        let parts = encode_cfg3_fragments(&cfg, max).unwrap();
        let mut decoder = Decoder::new();
        let mut got = None;
        for p in &parts {
            prop_assert!(p.len() <= max);
            if let Decoded::Config(c, _) = decoder.decode(p).unwrap() {
                got = Some(c);
            }
        }
        let got = got.unwrap();
        prop_assert_eq!(&got.pmus, &cfg.pmus);
        prop_assert_eq!(got.time_base, cfg.time_base);
    }

    #[test]
    fn data_frames_round_trip(
        (cfg, header, body) in any_config().prop_flat_map(|c| {
            let body = data_body(&c);
            (Just(c), header_strategy(FrameKind::Data), body)
        })
    ) {
        let frame = frame_from(header, &body);
        let mut registry = ConfigRegistry::new();
        let mut cfg = cfg;
        cfg.header.idcode = header.idcode;
        registry.insert(cfg.clone());
        let mut decoded = DataFrame::default();
        registry.decode_data(&frame, &mut decoded).unwrap();
        let mut again = Vec::new();
        DataLayout::new(&cfg).encode(decoded.header, &decoded.pmus, &mut again).unwrap();
        prop_assert_eq!(hex::encode(&again), hex::encode(&frame));
    }

    #[test]
    fn command_and_header_frames_round_trip(
        header in header_strategy(FrameKind::Command),
        code in any::<u16>(),
        extra in prop::collection::vec(any::<u8>(), 0..40),
        text in "\\PC{0,60}",
    ) {
        let mut bytes = Vec::new();
        CommandFrame { header, command: Command::Other(code, extra.clone()) }.encode(&mut bytes).unwrap();
        let Frame::Command(c) = parse_frame(&bytes).unwrap() else { panic!() };
        prop_assert_eq!(c.command.code(), code);
        prop_assert_eq!(c.command.extra(), &extra[..]);
        let mut again = Vec::new();
        c.encode(&mut again).unwrap();
        prop_assert_eq!(&again, &bytes);

        let h = HeaderFrame { header: FrameHeader { kind: FrameKind::Header, ..header }, text: text.clone() };
        let mut bytes = Vec::new();
        h.encode(&mut bytes).unwrap();
        let Frame::Header(back) = parse_frame(&bytes).unwrap() else { panic!() };
        prop_assert_eq!(back.text, text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), split in 1usize..64) {
        let _ = parse_frame(&bytes);
        let mut decoder = Decoder::new();
        let annex = pmu_common::hex_frames("ieee_annexD/annexD_and_pypmu_vectors.hex");
        decoder.decode(&annex[0].1).unwrap();
        let _ = decoder.decode(&bytes);
        for _ in frames_in(&bytes) {}
        let mut framer = Framer::new();
        for piece in bytes.chunks(split) {
            framer.push(piece);
            while framer.next_event().is_some() {}
        }
        let _ = framer.finish();
        let _ = read_pcap(&bytes[..]);
        let mut pcap = hex::decode("d4c3b2a1020004000000000000000000ffff000001000000").unwrap();
        pcap.extend_from_slice(&bytes);
        let _ = read_pcap(&pcap[..]);
    }

    #[test]
    fn arbitrary_bodies_with_good_chk_never_panic(
        code in 0u8..6, version in 1u8..=3, body in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let kind = FrameKind::from_code(code).unwrap();
        let frame = frame_from(FrameHeader::new(kind, version, 7734, 0, FracSec(0)), &body);
        let _ = parse_frame(&frame);
        let mut decoder = Decoder::new();
        let annex = pmu_common::hex_frames("ieee_annexD/annexD_and_pypmu_vectors.hex");
        decoder.decode(&annex[0].1).unwrap();
        let _ = decoder.decode(&frame);
        let mut fragment = frame.clone();
        if kind == FrameKind::Cfg3 && fragment.len() >= 18 {
            fragment[14..16].copy_from_slice(&1u16.to_be_bytes());
            let n = fragment.len();
            let chk = crc16(&fragment[..n - 2]);
            fragment[n - 2..].copy_from_slice(&chk.to_be_bytes());
            let _ = decoder.decode(&fragment);
            let _ = decoder.decode(&frame);
        }
    }

    #[test]
    fn arbitrary_json_never_panics(text in "\\PC{0,200}") {
        let _ = SognoMessage::from_json(&text);
        let _ = SognoGrouped::from_json(&text);
        let _ = SognoFlat::from_json(&text);
        let _ = ChannelMap::from_json(&text);
    }
}
