//! Importing a CIM MeterReadings dump into the Shared Customer Database, the way
//! `platone scd import --from-cim` does: the generated 15-minute dump of 2,000 meters (216,000
//! readings, ~35 MB) is parsed and converted on one thread while batches of 50,000
//! measurements are stored on another, into a fresh store each time (`fresh`), and again into a
//! store that already holds the dump (`again`: every reading is a duplicate, nothing changes).
//!
//! Both backends: the embedded SQLite store (a new file per iteration) and PostgreSQL (a new
//! database per iteration on a throwaway server with PostgreSQL's default durability, fsync
//! on). `SCD_BENCH_BACKEND=sqlite` (or `postgres`) runs one backend only.
//!
//! Besides criterion's means, each backend prints five timed fresh imports with wall time and
//! the process CPU time (for PostgreSQL the client's CPU only).

use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use platone_cim::meter_readings::generate::{READINGS_PER_METER, dump_document};
use platone_cim::meter_readings::{MeasurementConverter, Mode, parse_slice};
use platone_model::Measurement;
use platone_scd::{InsertReport, PostgresStore, SqliteStore, Store};
use platone_testkit::{Durability, TempPostgres};

const METERS: usize = 2000;
const READINGS: usize = METERS * READINGS_PER_METER;
/// Measurements per insert, as the command line uses.
const BATCH: usize = 50_000;

/// Parses and converts `xml` on a thread of its own while this one stores its batches as
/// they come, as the command line does.
fn import(rt: &tokio::runtime::Runtime, store: &impl Store, xml: &[u8]) -> InsertReport {
    let (tx, rx) = sync_channel::<Vec<Measurement>>(2);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let parsed = parse_slice(xml, Mode::Lenient).unwrap();
            let mut converter = MeasurementConverter::new();
            let mut results = Vec::new();
            let mut batch = Vec::with_capacity(BATCH);
            for mr in &parsed.document.meter_readings {
                converter.convert(mr, &mut results);
                batch.extend(results.drain(..).map(Result::unwrap));
                if batch.len() >= BATCH {
                    tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .unwrap();
                }
            }
            if !batch.is_empty() {
                tx.send(batch).unwrap();
            }
        });
        let mut total = InsertReport::default();
        while let Ok(batch) = rx.recv() {
            total.absorb(rt.block_on(store.insert_measurements(&batch)).unwrap());
        }
        total
    })
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (Linux; clock ticks
/// of 10 ms). `None` where it cannot be read.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn rate(d: Duration) -> String {
    format!("{:.0}/s", READINGS as f64 / d.as_secs_f64())
}

/// Runs the benchmarks of one backend; `fresh` gives an empty store for each iteration.
fn bench_backend<S: Store>(
    c: &mut Criterion,
    name: &str,
    rt: &tokio::runtime::Runtime,
    xml: &[u8],
    mut fresh: impl FnMut() -> S,
) {
    let mut group = c.benchmark_group(format!("scd_import_{name}"));
    group.throughput(Throughput::Elements(READINGS as u64));
    group.sample_size(10);
    group.bench_function("fresh", |b| {
        b.iter_batched(
            &mut fresh,
            |store| {
                let r = import(rt, &store, xml);
                assert_eq!(r.inserted as usize, READINGS);
                store
            },
            BatchSize::PerIteration,
        )
    });
    let full = fresh();
    import(rt, &full, xml);
    group.bench_function("again", |b| {
        b.iter(|| {
            let r = import(rt, &full, xml);
            assert_eq!((r.inserted, r.duplicates as usize), (0, READINGS));
        })
    });
    group.finish();
    drop(full);
    let (mut wall, mut cpu) = (Duration::ZERO, Some(Duration::ZERO));
    for _ in 0..5 {
        let store = fresh();
        let (t, c) = (Instant::now(), process_cpu());
        import(rt, &store, xml);
        wall += t.elapsed();
        cpu = match (cpu, c, process_cpu()) {
            (Some(sum), Some(a), Some(b)) => Some(sum + (b - a)),
            _ => None,
        };
    }
    eprintln!(
        "{name}: import of {READINGS} readings, mean of 5: wall {:.3?} ({}), process CPU {}",
        wall / 5,
        rate(wall / 5),
        cpu.map_or("n/a".into(), |c| format!("{:.3?} ({})", c / 5, rate(c / 5)))
    );
}

fn scd_import(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let xml = dump_document(METERS).into_bytes();
    let only = std::env::var("SCD_BENCH_BACKEND").ok();
    let wanted = |backend: &str| only.as_deref().is_none_or(|o| o == backend);
    if wanted("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let mut n = 0;
        bench_backend(c, "sqlite", &rt, &xml, || {
            // The previous iteration's file is not needed any more.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.path().join(format!("import-{n}.db{suffix}")));
            }
            n += 1;
            rt.block_on(SqliteStore::open(dir.path().join(format!("import-{n}.db"))))
                .unwrap()
        });
    }
    if wanted("postgres") {
        let server = TempPostgres::start(Durability::Durable).unwrap();
        let mut n = 0;
        bench_backend(c, "postgres", &rt, &xml, || {
            n += 1;
            let url = server.create_database(&format!("import{n}")).unwrap();
            rt.block_on(PostgresStore::connect(&url)).unwrap()
        });
    }
}

criterion_group!(benches, scd_import);
criterion_main!(benches);
