//! platone-market benchmarks: merit-order clearing of 100,000 orders over 96 slots, and the
//! `optimal` MILP (end to end: scenario JSON text → result) on generated radial networks of
//! increasing size, with the pure-Rust microlp backend and, when built with `--features highs`,
//! with HiGHS on the same cases. The radial cases are the files `platone market generate`
//! writes with the same parameters (see docs/benchmarks.md), so benches/peers/market_highspy.py
//! can time the same model in Python + HiGHS on identical input.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use platone_market::clearing::{ClearingAlgorithm, Optimal, PayAsBid, PayAsClear, SolverBackend};
use platone_market::generate::{GeneratorConfig, generate};
use platone_market::{LocationRule, Scenario};

/// (buses, offers, requests, slots) of the radial cases; seed 1, default block fraction.
pub const RADIAL_CASES: [(usize, usize, usize, usize); 3] =
    [(15, 60, 15, 4), (33, 200, 40, 8), (69, 400, 80, 12)];

fn merit_order(c: &mut Criterion) {
    let scenario = generate(&GeneratorConfig {
        offers: 80_000,
        requests: 20_000,
        slots: 96,
        network: None,
        seed: 1,
        block_fraction: 0.0,
        locations: 100,
    })
    .expect("generate");
    // The book as first measured: DSO requests take offers at their own location only.
    let scenario = Scenario {
        location_rule: Some(LocationRule::SameBus),
        ..scenario
    };
    let mut group = c.benchmark_group("market/merit_order_100k_orders_96_slots");
    group.throughput(Throughput::Elements(scenario.book.len() as u64));
    group.sample_size(20);
    group.bench_function("pay-as-bid", |b| {
        b.iter(|| PayAsBid::default().clear(&scenario).expect("clear"))
    });
    group.bench_function("pay-as-clear", |b| {
        b.iter(|| PayAsClear::default().clear(&scenario).expect("clear"))
    });
    group.finish();
}

/// The solvers timed: microlp always, HiGHS when the `highs` feature is on.
fn backends() -> Vec<SolverBackend> {
    let mut out = vec![SolverBackend::MicroLp];
    if cfg!(feature = "highs") {
        out.push(SolverBackend::Highs);
    }
    out
}

fn optimal_radial(c: &mut Criterion) {
    let mut group = c.benchmark_group("market/optimal_radial_end_to_end");
    group.sample_size(10);
    for (buses, offers, requests, slots) in RADIAL_CASES {
        let text = generate(&GeneratorConfig {
            offers,
            requests,
            slots,
            network: Some(buses),
            seed: 1,
            ..GeneratorConfig::default()
        })
        .expect("generate")
        .to_json();
        for backend in backends() {
            let optimal = Optimal {
                backend,
                ..Optimal::default()
            };
            let id = format!(
                "{}-{buses}bus-{offers}o-{requests}r-{slots}t",
                backend.as_str()
            );
            group.bench_with_input(BenchmarkId::from_parameter(id), &text, |b, text| {
                b.iter(|| {
                    let s = Scenario::from_json(text).expect("parse");
                    optimal.clear(&s).expect("clear")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, merit_order, optimal_radial);
criterion_main!(benches);
