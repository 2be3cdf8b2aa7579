//! platone-saref: measurements written as N-Triples, Turtle and compact JSON-LD, in triples/s on
//! one core. Input: `platone_benches::measurement_lines` (100 meters, 15-minute forward active
//! energy), the same lines `benches/peers/saref_rdflib.py` maps with rdflib.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use platone_model::Measurement;
use platone_saref::{Format, Mapper, MappingOptions, RdfWriter, TripleSink};
use std::hint::black_box;

struct Count(u64);

impl TripleSink for Count {
    fn triple(&mut self, _: oxrdf::TripleRef<'_>) -> std::io::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

fn saref_write(c: &mut Criterion) {
    let text = platone_benches::measurement_lines(100_000);
    let measurements: Vec<Measurement> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut count = Count(0);
    let mut mapper = Mapper::new(MappingOptions::default());
    for m in &measurements {
        mapper.measurement(m, None, &mut count).unwrap();
    }
    let triples = count.0;

    let mut group = c.benchmark_group("saref/write_100k_readings");
    group.sample_size(10);
    group.throughput(Throughput::Elements(triples));
    group.bench_function("map_only", |b| {
        b.iter(|| {
            let mut mapper = Mapper::new(MappingOptions::default());
            let mut count = Count(0);
            for m in &measurements {
                mapper.measurement(black_box(m), None, &mut count).unwrap();
            }
            black_box(count.0)
        })
    });
    for (name, format) in [
        ("ntriples", Format::NTriples),
        ("turtle", Format::Turtle),
        ("jsonld", Format::JsonLd),
    ] {
        let mut buf: Vec<u8> = Vec::with_capacity(200 << 20);
        group.bench_function(name, |b| {
            b.iter(|| {
                buf.clear();
                let mut w = RdfWriter::new(&mut buf, format, MappingOptions::default()).unwrap();
                for m in &measurements {
                    w.write_measurement(black_box(m), None).unwrap();
                }
                w.finish().unwrap();
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, saref_write);
criterion_main!(benches);
