//! platone-cim PMU: decoding the IEEE C37.118.2 Annex D data frame (one PMU, 4 phasors,
//! 3 analogs, 1 digital word) in a loop and from a raw stream of one million frames, and
//! SOGNO JSON ingest.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use platone_cim::pmu::c37118::{ConfigRegistry, DataFrame, Frame, check_frame, parse_frame};
use platone_cim::pmu::framer::{FramerEvent, frames_in};
use platone_cim::pmu::sogno::SognoMessage;
use std::hint::black_box;

const CFG2: &str = "aa3101c61e36448527f056071098000f4240000153746174696f6e2041202020202020201e36000400040003000156412020202020202020202020202020564220202020202020202020202020205643202020202020202020202020202049312020202020202020202020202020414e414c4f4731202020202020202020414e414c4f4732202020202020202020414e414c4f4733202020202020202020425245414b4552203120535441545553425245414b4552203220535441545553425245414b4552203320535441545553425245414b4552203420535441545553425245414b4552203520535441545553425245414b4552203620535441545553425245414b4552203720535441545553425245414b4552203820535441545553425245414b4552203920535441545553425245414b4552204120535441545553425245414b4552204220535441545553425245414b4552204320535441545553425245414b4552204420535441545553425245414b4552204520535441545553425245414b4552204620535441545553425245414b4552204720535441545553000df847000df847000df8470100b2d00000000101000001020000010000ffff00000016001ed5d1";
const DATA: &str = "aa0100341e3644853600000041b10000392b0000e36ace7ce36a31830444000009c4000042c80000447a0000461c40003c12d43f";

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn registry() -> ConfigRegistry {
    let cfg = unhex(CFG2);
    let Frame::Config(cfg) = parse_frame(&cfg).unwrap() else {
        panic!("not a configuration")
    };
    let mut r = ConfigRegistry::new();
    r.insert(*cfg);
    r
}

fn annex_d_data_frame(c: &mut Criterion) {
    let registry = registry();
    let data = unhex(DATA);
    let mut out = DataFrame::default();
    let mut group = c.benchmark_group("pmu/annex_d_data_frame");
    group.throughput(Throughput::Elements(1));
    group.bench_function("check_chk", |b| {
        b.iter(|| check_frame(black_box(&data)).unwrap().0)
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            registry.decode_data(black_box(&data), &mut out).unwrap();
            black_box(out.pmus[0].frequency)
        })
    });
    group.finish();
}

fn raw_stream(c: &mut Criterion) {
    const FRAMES: usize = 1_000_000;
    let registry = registry();
    let data = unhex(DATA);
    let stream = data.repeat(FRAMES);
    let mut out = DataFrame::default();
    let mut group = c.benchmark_group("pmu/raw_stream");
    group.sample_size(10);
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("frame_and_decode_1m", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for ev in frames_in(black_box(&stream)) {
                if let FramerEvent::Frame { bytes, .. } = ev {
                    let (header, frame) = check_frame(bytes).unwrap();
                    registry.decode_data_into(header, frame, &mut out).unwrap();
                    n += 1;
                }
            }
            assert_eq!(n, FRAMES);
            black_box(out.pmus[0].frequency)
        })
    });
    group.finish();
}

fn sogno_json(c: &mut Criterion) {
    const MESSAGES: usize = 1000;
    // One message per PMU reading: 3 phases × (V, θV, I, θI, P, Q, S) + frequency = 22 readings.
    let measurands = [
        "voltmagnitude",
        "voltangle",
        "currmagnitude",
        "currangle",
        "activepower",
        "reactivepower",
        "apparentpower",
    ];
    let lines: Vec<String> = (0..MESSAGES)
        .map(|i| {
            let mut readings = Vec::new();
            for phase in ["A", "B", "C"] {
                for (k, m) in measurands.iter().enumerate() {
                    readings.push(format!(
                        r#"{{"component":"7a30b61a-2913-11ec-9621-0242ac130002","measurand":"{m}","phase":"{phase}","data":{}}}"#,
                        230.0 + i as f64 * 0.001 + k as f64
                    ));
                }
            }
            readings.push(r#"{"component":"7a30b61a-2913-11ec-9621-0242ac130002","measurand":"frequency","phase":"A","data":50.01}"#.to_string());
            format!(
                r#"{{"device":"pmu-rwth-1","timestamp":"2020-05-20T10:27:{:02}.{:06}+00:00","readings":[{}]}}"#,
                i % 60,
                i,
                readings.join(",")
            )
        })
        .collect();
    let readings = (MESSAGES * 22) as u64;
    let mut group = c.benchmark_group("pmu/sogno_json");
    group.throughput(Throughput::Elements(readings));
    group.bench_function("decode_readings", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(SognoMessage::from_json(black_box(l)).unwrap());
            }
        })
    });
    group.bench_function("decode_to_measurements", |b| {
        b.iter(|| {
            for l in &lines {
                let m = SognoMessage::from_json(black_box(l)).unwrap();
                black_box(m.to_measurements().unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, annex_d_data_frame, raw_stream, sogno_json);
criterion_main!(benches);
