//! platone-cim: IEC 61968-9 MeterReadings on a generated 15-minute dump (2,000 meters ×
//! (12 Readings + one 96-interval IntervalBlock) ≈ 30 MB, 216,000 readings).
//!
//! Also writes the document to `benches/peers/out/cim-dump.xml`, the input of the peer scripts
//! (`benches/peers/cim_lxml.py`, `benches/peers/cim_xml2js.js`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use platone_cim::meter_readings::generate::{READINGS_PER_METER, dump_document};
use platone_cim::meter_readings::{
    MeterReadingsStream, Mode, ReadingTypeCode, WriteOptions, parse_slice, write_document,
};
use quick_xml::Reader;
use quick_xml::events::Event;

const METERS: usize = 2_000;

/// On-CPU time of this thread (Linux `/proc/thread-self/schedstat`, nanoseconds): on a shared
/// machine it leaves out the time other processes hold the core, unlike wall-clock time.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Times `iters` runs of `f` by on-CPU time.
fn cpu_time(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = thread_cpu();
    for _ in 0..iters {
        f();
    }
    thread_cpu().saturating_sub(start)
}

fn dump() -> String {
    let xml = dump_document(METERS);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/out");
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = std::fs::write(format!("{dir}/cim-dump.xml"), &xml);
    }
    xml
}

fn meter_readings(c: &mut Criterion) {
    let xml = dump();
    let bytes = xml.as_bytes();
    let mut group = c.benchmark_group("cim/dump_30mb");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes.len() as u64));

    group.bench_function("quick_xml_event_scan", |b| {
        b.iter(|| {
            let mut reader = Reader::from_reader(black_box(bytes));
            let mut events = 0usize;
            loop {
                match reader.read_event() {
                    Ok(Event::Eof) => break,
                    Ok(_) => events += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            black_box(events)
        })
    });

    group.bench_function("parse_slice_typed", |b| {
        b.iter(|| {
            let parsed = parse_slice(black_box(bytes), Mode::Lenient).unwrap();
            assert_eq!(parsed.document.reading_count(), METERS * READINGS_PER_METER);
            black_box(parsed)
        })
    });

    // The same document in UTF-16LE with a byte order mark: transcoded to UTF-8 first.
    let utf16: Vec<u8> = std::iter::once('\u{FEFF}')
        .chain(xml.chars())
        .collect::<String>()
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    group.bench_function("parse_slice_typed_utf16", |b| {
        b.iter(|| {
            let parsed = parse_slice(black_box(&utf16), Mode::Lenient).unwrap();
            assert_eq!(parsed.document.reading_count(), METERS * READINGS_PER_METER);
            black_box(parsed)
        })
    });

    group.bench_function("stream_meter_readings", |b| {
        b.iter(|| {
            let mut count = 0usize;
            for item in MeterReadingsStream::new(black_box(bytes), Mode::Lenient) {
                if let Ok(platone_cim::meter_readings::StreamItem::MeterReading(mr)) = item {
                    count += mr.reading_count();
                }
            }
            assert_eq!(count, METERS * READINGS_PER_METER);
            black_box(count)
        })
    });

    group.bench_function("stream_records", |b| {
        b.iter(|| {
            let count = MeterReadingsStream::new(black_box(bytes), Mode::Lenient)
                .records()
                .filter(Result::is_ok)
                .count();
            assert_eq!(count, METERS * READINGS_PER_METER);
            black_box(count)
        })
    });

    group.finish();

    // The same work timed by on-CPU time, for figures that a busy machine does not distort.
    let mut group = c.benchmark_group("cim/dump_30mb_cpu_time");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("quick_xml_event_scan", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                let mut reader = Reader::from_reader(black_box(bytes));
                let mut events = 0usize;
                while !matches!(reader.read_event(), Ok(Event::Eof) | Err(_)) {
                    events += 1;
                }
                black_box(events);
            })
        })
    });
    group.bench_function("parse_slice_typed", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                black_box(parse_slice(black_box(bytes), Mode::Lenient).unwrap());
            })
        })
    });
    group.bench_function("stream_records", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                let n = MeterReadingsStream::new(black_box(bytes), Mode::Lenient)
                    .records()
                    .count();
                black_box(n);
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("cim/dump_30mb");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    let doc = parse_slice(bytes, Mode::Lenient).unwrap().document;
    group.bench_function("write", |b| {
        b.iter(|| black_box(write_document(black_box(&doc), &WriteOptions::default())))
    });
    group.finish();

    let mut group = c.benchmark_group("cim/records");
    let records: Vec<_> = doc
        .records()
        .filter_map(|r| match r {
            platone_cim::meter_readings::Record::Reading(r) => Some(r),
            platone_cim::meter_readings::Record::Event(_) => None,
        })
        .take(10_000)
        .collect();
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("to_measurement", |b| {
        b.iter(|| {
            for r in &records {
                black_box(r.to_measurement().unwrap());
            }
        })
    });
    group.bench_function("to_json", |b| {
        let mut buf = Vec::with_capacity(1024);
        b.iter(|| {
            for r in &records {
                buf.clear();
                serde_json::to_writer(
                    &mut buf,
                    &platone_cim::meter_readings::Record::Reading(r.clone()),
                )
                .unwrap();
                black_box(&buf);
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("cim/reading_type");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_18_fields", |b| {
        b.iter(|| {
            black_box(
                ReadingTypeCode::parse(
                    black_box("0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"),
                    Mode::Strict,
                )
                .unwrap()
                .reading_type(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, meter_readings);
criterion_main!(benches);
