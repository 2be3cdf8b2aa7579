//! platone-dsotp: one state refresh of the 1,354-bus case with the power service and the
//! time-series storage running — a PMU at every bus sends one SOGNO message (12 phasor values),
//! the power calculation enriches each, the recorder stores all, and the estimator, once it has
//! taken in the new values, estimates on the unified set. The goal is at least one refresh a
//! second.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use platone_bus::{Bus, MemoryBus, Message, QoS};
use platone_dsotp::estimation::EstimatorConfig;
use platone_dsotp::{Dsotp, DsotpParts, DsotpTopics};
use platone_grid::{PowerFlowOptions, parse_case, run_ac};
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

fn refresh(c: &mut Criterion) {
    let Some(text) = case_text("case1354_pegase") else {
        return;
    };
    let net = parse_case(&text).expect("case");
    let flow = run_ac(&net, &PowerFlowOptions::default()).expect("power flow");
    let pmus = GridPmus::new(&net);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let dsotp = runtime.block_on(async {
        let store = SqliteStore::open(dir.path().join("dsotp.db"))
            .await
            .expect("store");
        let mut config = EstimatorConfig::new(net.clone());
        config.map = pmus.measurement_map(0.001, 0.01);
        Dsotp::start(DsotpParts {
            bus: bus.clone(),
            store: Arc::new(store),
            topics: DsotpTopics::default(),
            estimator: Some(config),
            validation: None,
            dispatch: None,
        })
        .await
        .expect("dsotp")
    });
    let mut second = 0i64;
    let mut group = c.benchmark_group("dsotp/refresh");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function(
        "case1354_pegase (1354 PMU messages → power → store → estimate)",
        |b| {
            b.iter(|| {
                runtime.block_on(async {
                    second += 1;
                    let time = chrono::DateTime::from_timestamp(1_700_000_000 + second, 0)
                        .expect("time")
                        .fixed_offset();
                    let before = dsotp.health();
                    let observed = before.estimation_bus.map_or(0, |s| s.handled);
                    let messages = pmus.messages(&flow, time, 1e-5, second as u64);
                    for m in &messages {
                        bus.publish(
                            Message::new(
                                format!("platone/dsotp/devices/{}/pmu", m.device),
                                m.to_json(),
                            ),
                            QoS::AtLeastOnce,
                        )
                        .await
                        .expect("publish");
                    }
                    // The estimator has taken in each PMU message and its enriched form.
                    let target = observed + 2 * messages.len() as u64;
                    while dsotp.health().estimation_bus.map_or(0, |s| s.handled) < target {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    let estimation = dsotp
                        .estimator()
                        .expect("estimator")
                        .trigger(None)
                        .await
                        .expect("estimate");
                    assert!(estimation.converged, "{:?}", estimation.error);
                })
            })
        },
    );
    // The estimate alone, on the live set the refreshes left.
    group.bench_function("case1354_pegase (estimate on the live set)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let estimation = dsotp
                    .estimator()
                    .expect("estimator")
                    .trigger(None)
                    .await
                    .expect("estimate");
                assert!(estimation.converged, "{:?}", estimation.error);
            })
        })
    });
    group.finish();
    let stored = dsotp.health().stored;
    eprintln!("stored: {stored:?}");
    dsotp.stop();
}

criterion_group!(benches, refresh);
criterion_main!(benches);
