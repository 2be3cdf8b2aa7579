//! Writing is streaming: the mapper's memory depends on the number of series, not of readings,
//! and each reading's triples reach the output as it is written.

use platone_model::{DeviceId, Measurement, MeasurementKind, MeterId, Unit, parse_timestamp};
use platone_saref::{Format, Mapper, MappingOptions, RdfWriter};

use std::cell::Cell;
use std::rc::Rc;

/// Counts the bytes written, visible while the writer still owns it.
struct Counter(Rc<Cell<u64>>);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + buf.len() as u64);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn reading(i: usize) -> Measurement {
    let meter = format!("meter-{:03}", i % 100);
    let t = parse_timestamp("2021-06-30T00:15:00+02:00").unwrap()
        + chrono::Duration::minutes(15 * (i / 100) as i64);
    Measurement::new(
        DeviceId::new(&meter).unwrap(),
        t,
        MeasurementKind::Energy,
        Unit::WattHour,
        i as f64,
    )
    .unwrap()
    .with_meter(MeterId::new(meter).unwrap())
}

#[test]
fn memory_follows_series_not_readings() {
    let mut mapper = Mapper::new(MappingOptions::default());
    let mut sink: Vec<oxrdf::Triple> = Vec::new();
    let mut after_first_day = 0;
    for i in 0..40_000 {
        mapper.measurement(&reading(i), None, &mut sink).unwrap();
        sink.clear();
        if i == 9_600 {
            after_first_day = mapper.described();
        }
    }
    assert_eq!(mapper.described(), after_first_day);
    assert!(mapper.described() <= 100 * 4 + 1, "{}", mapper.described());
}

#[test]
fn each_reading_reaches_the_output_as_it_is_written() {
    for format in [Format::NTriples, Format::Turtle, Format::JsonLd] {
        let written = Rc::new(Cell::new(0));
        let mut w =
            RdfWriter::new(Counter(written.clone()), format, MappingOptions::default()).unwrap();
        let mut last = 0;
        for i in 0..1000 {
            w.write_measurement(&reading(i), None).unwrap();
            if i > 0 {
                // Everything before the current reading is out already.
                assert!(
                    written.get() > last,
                    "{format:?}: nothing written at reading {i}"
                );
            }
            last = written.get();
        }
        w.finish().unwrap();
        assert!(written.get() >= last);
    }
}
