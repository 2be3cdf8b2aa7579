//! The 15-bus continuous local flexibility market of Prat et al. (2021): our `continuous`
//! algorithm reproduces the authors' match log (7 matches, social welfare 0.77).

mod common;

use std::path::PathBuf;

use platone_market::Scenario;
use platone_market::clearing::{ClearingAlgorithm, Continuous};

fn dir() -> PathBuf {
    common::reference_dir().join("market/prat2021_lfm_15bus")
}

/// The case as a scenario, or `None` (skipped, or failed under CI) without the reference data.
fn scenario_json() -> Option<String> {
    let s = common::prat2021_json();
    if s.is_none() {
        common::skip(&format!(
            "the prat2021 case is missing under {} (set PLATONE_REFERENCE)",
            dir().display()
        ));
    }
    s
}

fn read(name: &str) -> String {
    let path = dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reference data missing: {}: {e}", path.display()))
}

fn rows(name: &str, header: bool) -> Vec<Vec<String>> {
    read(name)
        .lines()
        .skip(usize::from(header))
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|c| c.trim().to_string()).collect())
        .collect()
}

/// The match log of the authors' script: (offer, request, quantity).
fn expected_matches() -> Vec<(String, String, f64)> {
    let log = read("expected_continuous_matches_from_authors_script.txt");
    let mut out = Vec::new();
    for line in log.lines().filter(|l| l.contains(" matched with ")) {
        // "Offer 0 (Up, bus n14) matched with Request 1 (Up, bus n13) for a quantity of 0.03 MW"
        let words: Vec<&str> = line.split_whitespace().collect();
        let offer = format!("O{}", words[1]);
        let r = words.iter().position(|w| *w == "Request").unwrap();
        let request = format!("R{}", words[r + 1]);
        let q: f64 = words[words.len() - 2].parse().unwrap();
        out.push((offer, request, q));
    }
    let welfare_line = log
        .lines()
        .find(|l| l.starts_with("Social Welfare:"))
        .unwrap();
    assert_eq!(welfare_line.trim(), "Social Welfare: 0.77");
    out
}

#[test]
fn network_ptdf_matches_the_authors_ptdf_file() {
    let Some(text) = scenario_json() else { return };
    let scenario = Scenario::from_json(&text).unwrap();
    let net = scenario.network.as_ref().unwrap();
    let expected = rows("PTDF.csv", false);
    assert_eq!(expected.len(), net.ptdf().len());
    for (row, ours) in expected.iter().zip(net.ptdf()) {
        for (e, o) in row.iter().zip(ours) {
            let e: f64 = e.parse().unwrap();
            assert!((e - o).abs() < 1e-9, "{e} vs {o}");
        }
    }
}

#[test]
fn continuous_reproduces_the_authors_match_log() {
    let Some(text) = scenario_json() else { return };
    let scenario = Scenario::from_json(&text).unwrap();
    let result = Continuous::default().clear(&scenario).unwrap();
    let expected = expected_matches();
    assert_eq!(expected.len(), 7);
    assert_eq!(result.matches.len(), 7, "{:#?}", result.matches);
    for (m, (offer, request, q)) in result.matches.iter().zip(&expected) {
        assert_eq!(&m.offer, offer);
        assert_eq!(&m.request, request);
        assert!((m.quantity - q).abs() < 5e-4, "{} vs {q}", m.quantity);
    }
    assert!(
        (result.welfare - 0.77).abs() < 1e-9,
        "welfare {}",
        result.welfare
    );
    assert_eq!(format!("{:.2}", result.welfare), "0.77");
}
