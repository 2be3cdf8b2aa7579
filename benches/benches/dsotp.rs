//! platone-dsotp: state estimation on the 1,354-bus case with the power service and the
//! time-series storage running (a PMU at every bus, `platone_sim::grid_field::GridPmus`, each
//! SOGNO message carrying 12 phasor values; the power calculation enriches each, the recorder
//! stores both forms, the estimator keeps the latest values). The goal is at least one state
//! refresh a second.
//!
//! - `dsotp/refresh/…end to end`: the strict form — one message from each of the 1,354 PMUs
//!   is published, the bench waits until the estimator has taken in all of them and their
//!   enriched form (which also waits for the power service), then estimates. Everything a
//!   refresh needs happens inside the measured time, on the 2 cores the storage shares.
//! - `dsotp/refresh/…while streaming`: what the goal says — the PMUs stream at one frame a
//!   second each (1,354 messages a second, spread evenly over the second, in the background),
//!   the power service and the recorder handle and store them, and the estimator estimates on
//!   the live set back to back: each iteration is one estimation (building the unified set
//!   from the latest values included). At most one second per estimation means at least one
//!   refresh a second. After the group the bench prints whether the services kept up with the
//!   stream (published, handled, stored) and the estimations' own time.
//! - `dsotp/refresh/…estimate on the live set`: the estimation alone, nothing streaming.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use platone_bus::{Bus, MemoryBus, Message, QoS};
use platone_dsotp::estimation::{Estimation, EstimatorConfig};
use platone_dsotp::{Dsotp, DsotpParts, DsotpTopics};
use platone_grid::{Network, PowerFlowOptions, PowerFlowResult, parse_case, run_ac};
use platone_scd::SqliteStore;
use platone_sim::grid_field::GridPmus;

fn case_text(name: &str) -> Option<String> {
    let base = std::env::var_os("PLATONE_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference")
        });
    let path = base.join("grid").join(format!("pglib_opf_{name}.m"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            eprintln!("skipped: {}: {e}", path.display());
            None
        }
    }
}

/// The field: the case, its power flow and a PMU at every bus.
struct Field {
    flow: PowerFlowResult,
    pmus: GridPmus,
}

impl Field {
    fn time(second: i64) -> chrono::DateTime<chrono::FixedOffset> {
        chrono::DateTime::from_timestamp(1_700_000_000 + second, 0)
            .expect("time")
            .fixed_offset()
    }

    /// Every PMU's message for `second`, as (topic, payload).
    fn frames(&self, second: i64) -> Vec<(String, String)> {
        self.pmus
            .messages(&self.flow, Self::time(second), 1e-5, second as u64)
            .iter()
            .map(|m| {
                (
                    format!("platone/dsotp/devices/{}/pmu", m.device),
                    m.to_json(),
                )
            })
            .collect()
    }
}

async fn start(net: &Network, pmus: &GridPmus, bus: Arc<dyn Bus>, dir: &std::path::Path) -> Dsotp {
    let store = SqliteStore::open(dir.join("dsotp.db"))
        .await
        .expect("store");
    let mut config = EstimatorConfig::new(net.clone());
    config.map = pmus.measurement_map(0.001, 0.01);
    Dsotp::start(DsotpParts {
        bus,
        store: Arc::new(store),
        topics: DsotpTopics::default(),
        estimator: Some(config),
        validation: None,
        dispatch: None,
    })
    .await
    .expect("dsotp")
}

/// Publishes `frames`, then waits until the estimator has taken in each and its enriched form.
async fn publish_and_wait(dsotp: &Dsotp, bus: &dyn Bus, frames: Vec<(String, String)>) {
    let observed = dsotp.health().estimation_bus.map_or(0, |s| s.handled);
    let target = observed + 2 * frames.len() as u64;
    for (topic, payload) in frames {
        bus.publish(Message::new(topic, payload), QoS::AtLeastOnce)
            .await
            .expect("publish");
    }
    while dsotp.health().estimation_bus.map_or(0, |s| s.handled) < target {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn estimate(dsotp: &Dsotp) -> Arc<Estimation> {
    let estimation = dsotp
        .estimator()
        .expect("estimator")
        .trigger(None)
        .await
        .expect("estimate");
    assert!(estimation.converged, "{:?}", estimation.error);
    estimation
}

/// Means of the estimations' own figures.
#[derive(Default)]
struct Tally {
    runs: u64,
    elapsed_ms: f64,
    measurements: usize,
    bad_data: usize,
    iterations: usize,
}

impl Tally {
    fn add(&mut self, e: &Estimation) {
        self.runs += 1;
        self.elapsed_ms += e.elapsed_ms;
        self.measurements = e.measurement_count;
        self.bad_data += e.bad_data.len();
        self.iterations += e.iterations;
    }

    fn report(&self, what: &str) {
        let n = self.runs.max(1) as f64;
        eprintln!(
            "{what}: {} estimations of {} measurements, WLS {:.1} ms mean, {:.1} iterations, \
             {:.2} bad data removed per estimation",
            self.runs,
            self.measurements,
            self.elapsed_ms / n,
            self.iterations as f64 / n,
            self.bad_data as f64 / n,
        );
    }
}

fn refresh(c: &mut Criterion) {
    let Some(text) = case_text("case1354_pegase") else {
        return;
    };
    let net = parse_case(&text).expect("case");
    let flow = run_ac(&net, &PowerFlowOptions::default()).expect("power flow");
    let pmus = GridPmus::new(&net);
    let field = Arc::new(Field {
        flow,
        pmus: pmus.clone(),
    });
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let dsotp = runtime.block_on(start(&net, &pmus, bus.clone(), dir.path()));
    let dsotp = Arc::new(dsotp);
    // One refresh's worth first, so that every bench starts on a full live set.
    let mut second = 0i64;
    runtime.block_on(publish_and_wait(&dsotp, bus.as_ref(), field.frames(second)));

    let mut group = c.benchmark_group("dsotp/refresh");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));

    let mut tally = Tally::default();
    group.bench_function(
        "case1354_pegase end to end (1354 PMU messages → power → store → estimate)",
        |b| {
            b.iter(|| {
                runtime.block_on(async {
                    second += 1;
                    publish_and_wait(&dsotp, bus.as_ref(), field.frames(second)).await;
                    tally.add(&*estimate(&dsotp).await);
                })
            })
        },
    );
    tally.report("end to end");

    // The PMUs stream at one frame a second each in the background while the estimator runs.
    let streaming = Arc::new(AtomicBool::new(true));
    let published = Arc::new(AtomicU64::new(0));
    let late_ms = Arc::new(AtomicU64::new(0));
    let stream = runtime.spawn({
        let (streaming, published, late_ms) =
            (streaming.clone(), published.clone(), late_ms.clone());
        let (bus, field) = (bus.clone(), field.clone());
        let first = second + 1;
        async move {
            const SLICES: usize = 50; // a slice of the PMUs every 20 ms
            let start = tokio::time::Instant::now();
            let mut s = first;
            while streaming.load(Ordering::Relaxed) {
                let frames = field.frames(s);
                let per = frames.len().div_ceil(SLICES);
                for (k, slice) in frames.chunks(per).enumerate() {
                    let due = start
                        + Duration::from_secs((s - first) as u64)
                        + Duration::from_millis(1000 * k as u64 / SLICES as u64);
                    let now = tokio::time::Instant::now();
                    if now > due {
                        late_ms.fetch_max((now - due).as_millis() as u64, Ordering::Relaxed);
                    }
                    tokio::time::sleep_until(due).await;
                    for (topic, payload) in slice {
                        bus.publish(
                            Message::new(topic.clone(), payload.clone()),
                            QoS::AtLeastOnce,
                        )
                        .await
                        .expect("publish");
                        published.fetch_add(1, Ordering::Relaxed);
                    }
                }
                s += 1;
            }
            s
        }
    });
    let before = dsotp.health();
    let published_before = published.load(Ordering::Relaxed);
    let stream_start = Instant::now();
    let mut tally = Tally::default();
    let mut oldest_lag = Duration::ZERO;
    group.bench_function(
        "case1354_pegase while streaming (1354 PMUs at 1 frame/s → power → store; estimate on the live set)",
        |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let e = estimate(&dsotp).await;
                    // How old the newest values the estimation used were when it finished.
                    if let Some(at) = e.measured_at {
                        let age = (chrono::Utc::now().fixed_offset() - at).to_std().unwrap_or_default();
                        oldest_lag = oldest_lag.max(age);
                    }
                    tally.add(&e);
                })
            })
        },
    );
    streaming.store(false, Ordering::Relaxed);
    let last_second = runtime.block_on(stream).expect("stream");
    let streamed = published.load(Ordering::Relaxed) - published_before;
    let elapsed = stream_start.elapsed().as_secs_f64();
    // Let the services finish what is in flight, then compare.
    let estimator_target = before.estimation_bus.as_ref().map_or(0, |s| s.handled) + 2 * streamed;
    let drained = Instant::now();
    runtime.block_on(async {
        while (dsotp.health().estimation_bus.map_or(0, |s| s.handled) < estimator_target
            || dsotp.health().timeseries.handled < before.timeseries.handled + 2 * streamed)
            && drained.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let after = dsotp.health();
    tally.report("while streaming");
    eprintln!(
        "while streaming: {streamed} PMU messages over {elapsed:.1} s ({:.0}/s, frames up to \
         second {last_second}, publisher at most {} ms behind its schedule); power handled {}, \
         recorder handled {} and stored {} measurements ({:.0}/s), {:.0} ms to drain at the \
         end; dead letters: power {}, recorder {}",
        streamed as f64 / elapsed,
        late_ms.load(Ordering::Relaxed),
        after.power.handled - before.power.handled,
        after.timeseries.handled - before.timeseries.handled,
        after.stored.inserted - before.stored.inserted,
        (after.stored.inserted - before.stored.inserted) as f64 / elapsed,
        drained.elapsed().as_secs_f64() * 1e3,
        after.power.dead_lettered,
        after.timeseries.dead_lettered,
    );
    eprintln!(
        "while streaming: estimator handled {} of {} (each PMU message and its enriched form)",
        after.estimation_bus.as_ref().map_or(0, |s| s.handled)
            - before.estimation_bus.as_ref().map_or(0, |s| s.handled),
        2 * streamed,
    );

    // The estimate alone, on the live set the refreshes left.
    let mut tally = Tally::default();
    group.bench_function("case1354_pegase estimate on the live set", |b| {
        b.iter(|| runtime.block_on(async { tally.add(&*estimate(&dsotp).await) }))
    });
    tally.report("live set alone");
    group.finish();
    let stored = dsotp.health().stored;
    eprintln!("stored: {stored:?}");
    dsotp.stop();
}

criterion_group!(benches, refresh);
criterion_main!(benches);
