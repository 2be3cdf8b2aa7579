//! `optimal` against an independent MILP of the same scenario: `benches/peers/market_highspy.py
//! --check`, a pairwise (offer × request) formulation solved by HiGHS through highspy, with its
//! own PTDF. On the 15-bus case of Prat et al. (2021) and on generated cases with blocks, with
//! and without a network, under every location rule: the same welfare (to 1e-6, relative to
//! the welfare when above 1) and the same accepted quantity for every order whose quantity is
//! the same in all optimal solutions (the peer reports each order's range over the optimal
//! face).
//!
//! Needs the Python of `scripts/test` (`PLATONE_PYTHON`, else `~/.cache/platone-venv`) with
//! highspy; without it the test fails under `CI` and is skipped otherwise.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use platone_market::clearing::{ClearingAlgorithm, ClearingConfig, Optimal, SolverBackend};
use platone_market::generate::{GeneratorConfig, generate};
use platone_market::{LocationRule, Scenario};
use serde::Deserialize;

/// Area radius used for the rule `area` on both sides.
const AREA_HOPS: usize = 1;

#[derive(Debug, Deserialize)]
struct Peer {
    welfare: f64,
    offers: BTreeMap<String, f64>,
    requests: BTreeMap<String, f64>,
    range: BTreeMap<String, [f64; 2]>,
}

fn cases() -> Vec<(String, Scenario)> {
    let mut base: Vec<(String, Scenario)> = Vec::new();
    match common::prat2021_json() {
        Some(text) => base.push(("prat2021-15bus".into(), Scenario::from_json(&text).unwrap())),
        None => common::skip(&format!(
            "the 15-bus case is missing under {} (set PLATONE_REFERENCE)",
            common::reference_dir().display()
        )),
    }
    for seed in 1..=3u64 {
        for network in [Some(6), None] {
            let s = generate(&GeneratorConfig {
                offers: 14,
                requests: 6,
                slots: 3,
                network,
                seed,
                block_fraction: 0.4,
                locations: 3,
            })
            .unwrap();
            let kind = if network.is_some() {
                "radial6"
            } else {
                "nonet"
            };
            base.push((format!("generated-{kind}-seed{seed}"), s));
        }
    }
    // Arbitrary valid scenarios (blocks in any slot and direction, unpriced requests, meshed
    // networks): the first four seeds of each kind with at least 3 requests, 6 offers and a
    // block.
    for network in [true, false] {
        let kind = if network { "net" } else { "nonet" };
        let picked = (1u64..)
            .map(|seed| {
                let text = common::random_scenario_json(seed, network, None);
                (seed, Scenario::from_json(&text).unwrap())
            })
            .filter(|(_, s)| {
                s.book.requests.len() >= 3
                    && s.book.offers.len() >= 6
                    && s.book.offers.iter().any(|o| o.block.is_some())
            })
            .take(4);
        for (seed, s) in picked {
            base.push((format!("arbitrary-{kind}-seed{seed}"), s));
        }
    }
    let mut out = Vec::new();
    for (name, s) in base {
        for rule in LocationRule::ALL {
            out.push((
                format!("{name}/{rule}"),
                Scenario {
                    location_rule: Some(rule),
                    ..s.clone()
                },
            ));
        }
    }
    out
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../benches/peers/market_highspy.py")
}

fn backends() -> Vec<SolverBackend> {
    let mut b = vec![SolverBackend::MicroLp];
    if cfg!(feature = "highs") {
        b.push(SolverBackend::Highs);
    }
    b
}

#[test]
fn optimal_matches_an_independent_milp() {
    let Some(python) = common::python() else {
        common::skip("no Python for the independent MILP (set PLATONE_PYTHON or run scripts/test)");
        return;
    };
    let probe = Command::new(&python)
        .args(["-c", "import highspy, numpy"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        common::skip(&format!(
            "{} cannot import highspy and numpy (pip install -r scripts/requirements-test.txt)",
            python.display()
        ));
        return;
    }
    let cases = cases();
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, s))| {
            let path = dir.path().join(format!("case{i}.json"));
            std::fs::write(&path, s.to_json()).unwrap();
            path
        })
        .collect();
    let output = Command::new(&python)
        .arg(script())
        .args(["--check", "--area-hops", &AREA_HOPS.to_string()])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let peers: Vec<Peer> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(peers.len(), cases.len());

    let (mut blocks_accepted, mut congested, mut unique, mut max_gap) = (0, 0, 0, 0.0f64);
    eprintln!("case | backend | ours | independent MILP | orders compared");
    for ((name, s), peer) in cases.iter().zip(&peers) {
        for backend in backends() {
            let optimal = Optimal {
                config: ClearingConfig {
                    area_hops: AREA_HOPS,
                    ..ClearingConfig::default()
                },
                backend,
            };
            let r = optimal.clear(s).unwrap();
            let tolerance = 1e-6 * peer.welfare.abs().max(1.0);
            let gap = (r.welfare - peer.welfare).abs();
            max_gap = max_gap.max(gap);
            assert!(
                gap <= tolerance,
                "{name} ({}): welfare {} vs independent {}",
                backend.as_str(),
                r.welfare,
                peer.welfare
            );
            let orders = s
                .book
                .offers
                .iter()
                .map(|o| (o.id.as_str(), r.offer_quantity(&o.id), peer.offers[&o.id]))
                .chain(s.book.requests.iter().map(|q| {
                    (
                        q.id.as_str(),
                        r.request_quantity(&q.id),
                        peer.requests[&q.id],
                    )
                }));
            let mut compared = 0;
            let mut total = 0;
            for (id, ours, theirs) in orders {
                total += 1;
                let [lo, hi] = peer.range[id];
                if hi - lo <= 1e-6 {
                    compared += 1;
                    assert!(
                        (ours - theirs).abs() <= 1e-6 * theirs.abs().max(1.0),
                        "{name} ({}): {id} accepted {ours}, independent {theirs} (unique)",
                        backend.as_str()
                    );
                } else {
                    // Not unique: ours must still lie within the optimal range.
                    assert!(
                        ours >= lo - 1e-6 && ours <= hi + 1e-6,
                        "{name}: {id} accepted {ours} outside the optimal range [{lo}, {hi}]"
                    );
                }
            }
            if backend == SolverBackend::MicroLp {
                unique += usize::from(compared == total);
                blocks_accepted += usize::from(
                    s.book
                        .offers
                        .iter()
                        .any(|o| o.block.is_some() && r.offer_quantity(&o.id) > 0.0),
                );
                congested += usize::from(s.network.is_some() && r.volume > 0.0);
            }
            eprintln!(
                "{name} | {} | {:.9} | {:.9} | {compared}/{total}",
                backend.as_str(),
                r.welfare,
                peer.welfare
            );
        }
    }
    eprintln!(
        "{} cases, {unique} with a unique optimum, largest welfare gap {max_gap:e}",
        cases.len()
    );
    // The comparison is not vacuous: blocks are accepted, networks carry trades, and most
    // cases have every accepted quantity pinned down.
    assert!(blocks_accepted >= 3, "{blocks_accepted}");
    assert!(congested >= 3, "{congested}");
    assert!(unique >= cases.len() / 3, "{unique} of {}", cases.len());
}
