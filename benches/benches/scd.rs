//! Shared Customer Database: bulk insert and the query of one PoD-day (96 quarter-hours), on
//! the embedded SQLite store and on PostgreSQL (binary COPY bulk load), both through the same
//! `Store` API. The PostgreSQL server is a throwaway one started by the benchmark with
//! PostgreSQL's default durability (fsync on).
//!
//! Besides criterion's figures, the query benchmark prints the latency distribution
//! (p50/p99) of 2,000 single PoD-day queries per backend.

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use platone_model::{
    Accumulation, DeviceId, FlowDirection, Measurement, MeasurementKind, MeasuringPeriod, MeterId,
    ParticipantId, PodId, Timestamp, Unit, parse_timestamp,
};
use platone_scd::pg_server::{Durability, TempPostgres};
use platone_scd::{
    MeasurementQuery, PodLink, PodRecord, PostgresStore, Principal, SqliteStore, Store,
};

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

fn latency(name: &str, rt: &tokio::runtime::Runtime, store: &impl Store) {
    let mut times: Vec<Duration> = (0..2000)
        .map(|i| {
            let (who, q) = pod_day(i * 7919 % PODS);
            let t = Instant::now();
            let page = rt.block_on(store.query_measurements(&who, &q)).unwrap();
            let d = t.elapsed();
            assert_eq!(page.items.len(), 96);
            d
        })
        .collect();
    times.sort();
    eprintln!(
        "{name}: PoD-day query latency over 2000 queries: p50 {:?}, p99 {:?}, max {:?}",
        times[1000], times[1980], times[1999]
    );
}

fn bench_backend<S: Store>(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, store: &S) {
    rt.block_on(preload(store));
    let mut group = c.benchmark_group(format!("scd_{name}"));
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
    group.finish();
    latency(name, rt, store);
}

fn scd(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = rt
        .block_on(SqliteStore::open(dir.path().join("bench.db")))
        .unwrap();
    bench_backend(c, "sqlite", &rt, &sqlite);

    let server = TempPostgres::start(Durability::Durable).unwrap();
    let url = server.create_database("bench").unwrap();
    let pg = rt.block_on(PostgresStore::connect(&url)).unwrap();
    bench_backend(c, "postgres", &rt, &pg);
}

criterion_group!(benches, scd);
criterion_main!(benches);
