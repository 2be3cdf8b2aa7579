//! Triples per second written by [`RdfWriter`] on one thread, in wall-clock and in CPU time.
//!
//! ```sh
//! cargo run --release -p platone-saref --example write_rate -- [READINGS] [RUNS]
//! ```
//!
//! The readings are those of `platone_benches::measurement_lines` (100 meters, consecutive
//! 15-minute forward active energy in kWh at a PoD; the same as `benches/peers/saref_rdflib.py`
//! maps), parsed from Measurement JSON before timing. Each run maps every reading into a fresh
//! `Vec` (map only: into a triple counter) and the best run of each writer is printed. CPU time
//! is the thread's time on a CPU from `/proc/thread-self/schedstat` (Linux), so the rate is
//! the rate of one core however loaded the machine is; where that file is missing only
//! wall-clock time is given.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use platone_model::Measurement;
use platone_saref::{Format, Mapper, MappingOptions, RdfWriter, TripleSink};

/// The Measurement JSON lines of `platone_benches::measurement_lines(n)`.
fn measurement_lines(n: usize) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2021-06-30T00:15:00+02:00")
        .unwrap_or_else(|_| chrono::DateTime::UNIX_EPOCH.fixed_offset());
    let mut out = String::with_capacity(n * 260);
    for i in 0..n {
        let meter = i % 100;
        let t = start + chrono::Duration::minutes(15 * (i / 100) as i64);
        let value = ((i * 7919) % 5000) as f64 / 1000.0;
        let _ = writeln!(
            out,
            r#"{{"source":"meter-{meter:05}","meter":"meter-{meter:05}","pod":"GR-POD-{meter:05}","timestamp":"{}","kind":"energy","phases":"ABC","direction":"forward","accumulation":"delta","interval":900,"aggregate":"sum","unit":"Wh","multiplier":3,"value":{value},"quality":[]}}"#,
            t.to_rfc3339()
        );
    }
    out
}

/// The calling thread's time on a CPU so far, when the kernel tells it.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

struct Count(u64);

impl TripleSink for Count {
    fn triple(&mut self, _: oxrdf::TripleRef<'_>) -> std::io::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let runs: usize = args.next().map_or(Ok(5), |a| a.parse())?;
    let measurements = measurement_lines(n)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<Measurement>, _>>()?;
    let mut count = Count(0);
    let mut mapper = Mapper::new(MappingOptions::default());
    for m in &measurements {
        mapper.measurement(m, None, &mut count)?;
    }
    let triples = count.0;
    println!("{n} readings, {triples} triples, best of {runs} runs");
    println!("writer      bytes        wall s   triples/s (wall)   CPU s   triples/s (CPU)");
    let mut buf: Vec<u8> = Vec::with_capacity(n * 2000);
    for name in ["map_only", "ntriples", "turtle", "jsonld"] {
        let mut best_wall = Duration::MAX;
        let mut best_cpu = Duration::MAX;
        let mut bytes = 0;
        for _ in 0..runs {
            buf.clear();
            let (c0, t0) = (cpu_time(), Instant::now());
            let format = match name {
                "ntriples" => Some(Format::NTriples),
                "turtle" => Some(Format::Turtle),
                "jsonld" => Some(Format::JsonLd),
                _ => None,
            };
            match format {
                Some(format) => {
                    let mut w = RdfWriter::new(&mut buf, format, MappingOptions::default())?;
                    for m in &measurements {
                        w.write_measurement(std::hint::black_box(m), None)?;
                    }
                    w.finish()?;
                }
                None => {
                    let mut mapper = Mapper::new(MappingOptions::default());
                    let mut count = Count(0);
                    for m in &measurements {
                        mapper.measurement(std::hint::black_box(m), None, &mut count)?;
                    }
                    std::hint::black_box(count.0);
                }
            }
            let wall = t0.elapsed();
            if let (Some(c0), Some(c1)) = (c0, cpu_time()) {
                best_cpu = best_cpu.min(c1.saturating_sub(c0));
            }
            best_wall = best_wall.min(wall);
            bytes = buf.len();
        }
        let rate = |d: Duration| triples as f64 / d.as_secs_f64();
        if best_cpu == Duration::MAX {
            println!(
                "{name:<10} {bytes:>11} {:>9.3} {:>14.0}",
                best_wall.as_secs_f64(),
                rate(best_wall)
            );
        } else {
            println!(
                "{name:<10} {bytes:>11} {:>9.3} {:>14.0} {:>13.3} {:>14.0}",
                best_wall.as_secs_f64(),
                rate(best_wall),
                best_cpu.as_secs_f64(),
                rate(best_cpu)
            );
        }
    }
    Ok(())
}
