//! Shared Customer Database: bulk insert and the query of one PoD-day (96 quarter-hours), on
//! the embedded SQLite store and on PostgreSQL (binary COPY bulk load), both through the same
//! `Store` API. The PostgreSQL server is a throwaway one started by the benchmark with
//! PostgreSQL's default durability (fsync on).
//!
//! Besides criterion's figures (means), each backend prints its own timing loops: five bulk
//! inserts of 100,000 with wall and process CPU time, and the latency distribution (p50, p99,
//! max) of 2,000 single PoD-day queries with the CPU time per query. The CPU times say what one
//! core does when the machine is shared and wall times are stretched by other processes (on
//! PostgreSQL they cover the client only, not the server processes).
//!
//! `SCD_BENCH_BACKEND=sqlite` (or `postgres`) runs one backend only.

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use platone_model::{
    Accumulation, DeviceId, FlowDirection, Measurement, MeasurementKind, MeasuringPeriod, MeterId,
    ParticipantId, PodId, Timestamp, Unit, parse_timestamp,
};
use platone_scd::{
    MeasurementQuery, PodLink, PodRecord, PostgresStore, Principal, SqliteStore, Store,
};
use platone_testkit::{Durability, TempPostgres};

/// Measurements per bulk insert.
const BULK: usize = 100_000;
/// PoDs preloaded for the query benchmark (three days each).
const PODS: usize = 500;

fn start() -> Timestamp {
    parse_timestamp("2021-06-28T00:00:00Z").unwrap()
}

/// Quarter-hour readings of `pods` PoDs over `days` days; `tag` keeps batches distinct.
fn readings(tag: usize, pods: usize, days: usize) -> Vec<Measurement> {
    let mut out = Vec::with_capacity(pods * days * 96);
    for p in 0..pods {
        let device = DeviceId::new(format!("ln-{tag}-{p}")).unwrap();
        let meter = MeterId::new(format!("m-{tag}-{p}")).unwrap();
        let pod = PodId::new(format!("pod-{tag}-{p}")).unwrap();
        for q in 0..days * 96 {
            out.push(
                Measurement::new(
                    device.clone(),
                    start() + chrono::Duration::minutes(15 * (q as i64 + 1)),
                    MeasurementKind::Energy,
                    Unit::WattHour,
                    (q % 97) as f64 * 1.5,
                )
                .unwrap()
                .with_meter(meter.clone())
                .with_pod(pod.clone())
                .with_direction(FlowDirection::Forward)
                .with_accumulation(Accumulation::Delta, Some(MeasuringPeriod::FIFTEEN_MINUTES)),
            );
        }
    }
    out
}

async fn preload(store: &impl Store) {
    for p in 0..PODS {
        store
            .register_pod(&PodRecord {
                pod: PodId::new(format!("pod-0-{p}")).unwrap(),
                dso: ParticipantId::new("dso").unwrap(),
                customer: Some(ParticipantId::new(format!("cust-{p}")).unwrap()),
            })
            .await
            .unwrap();
        store
            .add_pod_link(&PodLink {
                pod: PodId::new(format!("pod-0-{p}")).unwrap(),
                meter: Some(MeterId::new(format!("m-0-{p}")).unwrap()),
                device: Some(DeviceId::new(format!("ln-0-{p}")).unwrap()),
                aggregator: None,
                valid_from: start(),
                valid_to: None,
            })
            .await
            .unwrap();
    }
    for chunk in readings(0, PODS, 3).chunks(BULK) {
        store.insert_measurements(chunk).await.unwrap();
    }
}

/// The customer of PoD `p` reads its second day.
fn pod_day(p: usize) -> (Principal, MeasurementQuery) {
    let from = start() + chrono::Duration::days(1);
    (
        Principal::Participant(ParticipantId::new(format!("cust-{p}")).unwrap()),
        MeasurementQuery::pod(PodId::new(format!("pod-0-{p}")).unwrap())
            .between(from, from + chrono::Duration::days(1)),
    )
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

fn per_second(n: usize, d: Duration) -> String {
    format!("{:.0}/s", n as f64 / d.as_secs_f64())
}

/// Five timed bulk inserts of new data, wall and CPU time.
fn bulk_insert_report(name: &str, rt: &tokio::runtime::Runtime, store: &impl Store, tag: usize) {
    let mut wall = Duration::ZERO;
    let mut cpu = Some(Duration::ZERO);
    for round in 0..5 {
        let batch = readings(tag + round, BULK / 96 + 1, 1)[..BULK].to_vec();
        let (t, c) = (Instant::now(), process_cpu());
        let r = rt.block_on(store.insert_measurements(&batch)).unwrap();
        wall += t.elapsed();
        cpu = match (cpu, c, process_cpu()) {
            (Some(sum), Some(a), Some(b)) => Some(sum + (b - a)),
            _ => None,
        };
        assert_eq!(r.inserted as usize, BULK);
    }
    let n = 5 * BULK;
    eprintln!(
        "{name}: bulk insert, 5 x {BULK}: wall {wall:.2?} ({}), process CPU {}",
        per_second(n, wall),
        cpu.map_or("n/a".into(), |c| format!("{c:.2?} ({})", per_second(n, c)))
    );
}

/// 2,000 single PoD-day queries: latency percentiles and CPU time per query.
fn latency(name: &str, rt: &tokio::runtime::Runtime, store: &impl Store) {
    const N: usize = 2000;
    let cpu = process_cpu();
    let mut times: Vec<Duration> = (0..N)
        .map(|i| {
            let (who, q) = pod_day(i * 7919 % PODS);
            let t = Instant::now();
            let page = rt.block_on(store.query_measurements(&who, &q)).unwrap();
            let d = t.elapsed();
            assert_eq!(page.items.len(), 96);
            d
        })
        .collect();
    let cpu = match (cpu, process_cpu()) {
        (Some(a), Some(b)) => format!("{:.0?}", (b - a) / N as u32),
        _ => "n/a".into(),
    };
    times.sort();
    eprintln!(
        "{name}: PoD-day query latency over {N} queries: p50 {:.0?}, p99 {:.0?}, max {:.0?}; \
         process CPU per query {cpu}",
        times[N / 2],
        times[N * 99 / 100],
        times[N - 1]
    );
}

/// The PoD-day queries run first, on the preloaded store, so that no background work left by
/// the bulk inserts (SQLite's checkpoint of a large log, PostgreSQL's autovacuum) runs under
/// them.
fn bench_backend<S: Store>(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, store: &S) {
    rt.block_on(preload(store));
    let mut group = c.benchmark_group(format!("scd_{name}"));
    group.throughput(Throughput::Elements(96));
    group.sample_size(50);
    let mut i = 0;
    group.bench_function("pod_day_query", |b| {
        b.iter(|| {
            i += 1;
            let (who, q) = pod_day(i * 7919 % PODS);
            let page = rt.block_on(store.query_measurements(&who, &q)).unwrap();
            assert_eq!(page.items.len(), 96);
        })
    });
    latency(name, rt, store);
    group.sample_size(10);
    group.throughput(Throughput::Elements(BULK as u64));
    let mut tag = 1;
    group.bench_function("bulk_insert_100k", |b| {
        b.iter_batched(
            || {
                tag += 1;
                readings(tag, BULK / 96 + 1, 1)[..BULK].to_vec()
            },
            |batch| {
                let r = rt.block_on(store.insert_measurements(&batch)).unwrap();
                assert_eq!(r.inserted as usize, BULK);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    bulk_insert_report(name, rt, store, tag + 1);
}

fn scd(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let only = std::env::var("SCD_BENCH_BACKEND").ok();
    let wanted = |backend: &str| only.as_deref().is_none_or(|o| o == backend);
    if wanted("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = rt
            .block_on(SqliteStore::open(dir.path().join("bench.db")))
            .unwrap();
        bench_backend(c, "sqlite", &rt, &sqlite);
    }
    if !wanted("postgres") {
        return;
    }
    let server = TempPostgres::start(Durability::Durable).unwrap();
    let url = server.create_database("bench").unwrap();
    let pg = rt.block_on(PostgresStore::connect(&url)).unwrap();
    bench_backend(c, "postgres", &rt, &pg);
}

criterion_group!(benches, scd);
criterion_main!(benches);
