//! platone-model: Measurement JSON decoding/encoding and series keys.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use platone_model::Measurement;
use std::hint::black_box;

fn measurement_json(c: &mut Criterion) {
    let text = platone_benches::measurement_lines(10_000);
    let lines: Vec<&str> = text.lines().collect();
    let parsed: Vec<Measurement> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let mut group = c.benchmark_group("model/measurement_json");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| {
            for line in &lines {
                let m: Measurement = serde_json::from_str(black_box(line)).unwrap();
                black_box(m);
            }
        })
    });
    group.bench_function("encode", |b| {
        let mut buf = Vec::with_capacity(512);
        b.iter(|| {
            for m in &parsed {
                buf.clear();
                serde_json::to_writer(&mut buf, black_box(m)).unwrap();
                black_box(&buf);
            }
        })
    });
    group.bench_function("series_key_text", |b| {
        b.iter(|| {
            for m in &parsed {
                black_box(m.series_key().to_string());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, measurement_json);
criterion_main!(benches);
