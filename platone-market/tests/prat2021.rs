//! The 15-bus continuous local flexibility market of Prat et al. (2021): our `continuous`
//! algorithm reproduces the authors' match log (7 matches, social welfare 0.77).

use std::fmt::Write as _;

use platone_market::Scenario;
use platone_market::clearing::{ClearingAlgorithm, Continuous};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/market/prat2021_lfm_15bus/"
);

/// Baseline nodal injections hard-coded in the authors' script (ORIGIN.md).
const SET_POINT: [f64; 15] = [
    1.21, -0.04, -0.07, -0.14, -0.04, -0.14, -0.14, -0.07, -0.07, -0.04, -0.14, -0.07, -0.04,
    -0.07, -0.14,
];

fn read(name: &str) -> String {
    let path = format!("{DIR}{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reference data missing: {path}: {e} (the prat2021 case lives in ../shared/reference)"
        )
    })
}

fn rows(name: &str, header: bool) -> Vec<Vec<String>> {
    read(name)
        .lines()
        .skip(usize::from(header))
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|c| c.trim().to_string()).collect())
        .collect()
}

/// Converts the authors' CSV files into a `platone-market-scenario/1` document.
fn scenario_json() -> String {
    let mut s = String::from(
        r#"{"format":"platone-market-scenario/1","unit":"pu","slots":["t1"],"requests":["#,
    );
    for (i, r) in rows("requests.csv", true).iter().enumerate() {
        // Bus,Type,Direction,Quantity,Price
        let comma = if i > 0 { "," } else { "" };
        write!(
            s,
            r#"{comma}{{"id":"R{i}","participant":"dso-1","role":"dso","location":"{}","direction":"{}","slot":"t1","quantity":{},"price":{}}}"#,
            r[0],
            r[2].to_lowercase(),
            r[3],
            r[4]
        )
        .unwrap();
    }
    s.push_str(r#"],"offers":["#);
    for (i, o) in rows("offers.csv", true).iter().enumerate() {
        // Bus,Quantity,Direction,Price (arrival order)
        let comma = if i > 0 { "," } else { "" };
        write!(
            s,
            r#"{comma}{{"id":"O{i}","participant":"agg-{i}","location":"{}","direction":"{}","slot":"t1","quantity":{},"price":{},"arrival":"2021-06-30T00:{:02}:00Z"}}"#,
            o[0],
            o[2].to_lowercase(),
            o[1],
            o[3],
            i
        )
        .unwrap();
    }
    let base_mva = read("baseMVA.csv").trim().to_string();
    let buses: Vec<String> = rows("bus.csv", false)
        .iter()
        .map(|b| format!("n{}", b[0]))
        .collect();
    write!(
        s,
        r#"],"network":{{"base_mva":{base_mva},"slack":"n1","buses":[{}],"branches":["#,
        buses
            .iter()
            .map(|b| format!("\"{b}\""))
            .collect::<Vec<_>>()
            .join(",")
    )
    .unwrap();
    for (i, b) in rows("branch.csv", false).iter().enumerate() {
        let comma = if i > 0 { "," } else { "" };
        write!(
            s,
            r#"{comma}{{"id":"l{}","from":"n{}","to":"n{}","x":{},"limit":{}}}"#,
            i + 1,
            b[0],
            b[1],
            b[3],
            b[5]
        )
        .unwrap();
    }
    s.push_str(r#"],"baseline":{"t1":{"#);
    for (i, v) in SET_POINT.iter().enumerate() {
        let comma = if i > 0 { "," } else { "" };
        write!(s, r#"{comma}"n{}":{v}"#, i + 1).unwrap();
    }
    s.push_str("}}}}");
    s
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
    let scenario = Scenario::from_json(&scenario_json()).unwrap();
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
    let scenario = Scenario::from_json(&scenario_json()).unwrap();
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
