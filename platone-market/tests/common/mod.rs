//! Helpers shared by the integration tests: arbitrary valid scenarios, the reference data and
//! the Python interpreter of the independent peers.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::PathBuf;

use platone_market::generate::Rng;

fn pick<'a>(rng: &mut Rng, items: &'a [&'a str]) -> &'a str {
    items[rng.below(items.len())]
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// A random scenario that is valid by the documented format but otherwise arbitrary: roles
/// `dso`, `tso` or none, requests with or without a price, negative prices, blocks whose
/// members fall in any slot and direction (up and down in one slot, members no request can
/// take, members larger than any request), an optional radial or meshed network whose
/// baseline may already exceed a limit, and an optional `location_rule`.
pub fn random_scenario_json(seed: u64, network: bool, rule: Option<&str>) -> String {
    let mut rng = Rng::new(seed);
    let slots: Vec<String> = (1..=1 + rng.below(3)).map(|t| format!("t{t}")).collect();
    let buses: Vec<String> = if network {
        (1..=2 + rng.below(5)).map(|b| format!("n{b}")).collect()
    } else {
        (1..=1 + rng.below(3)).map(|z| format!("z{z}")).collect()
    };
    let bus_names: Vec<&str> = buses.iter().map(String::as_str).collect();
    let slot_names: Vec<&str> = slots.iter().map(String::as_str).collect();
    let mut s = format!(
        r#"{{"format":"platone-market-scenario/1","unit":"MW","slots":{:?},"requests":["#,
        slots
    );
    for i in 0..rng.below(7) {
        let role = match rng.below(3) {
            0 => r#""role":"dso","#,
            1 => r#""role":"tso","#,
            _ => "",
        };
        let price = if rng.unit() < 0.15 {
            String::new()
        } else {
            format!(r#","price":{}"#, round3(rng.range(-10.0, 100.0)))
        };
        let comma = if i > 0 { "," } else { "" };
        write!(
            s,
            r#"{comma}{{"id":"r{i}","participant":"so",{role}"location":"{}","direction":"{}","slot":"{}","quantity":{}{price}}}"#,
            pick(&mut rng, &bus_names),
            pick(&mut rng, &["up", "down"]),
            pick(&mut rng, &slot_names),
            round3(rng.range(0.1, 3.0)),
        )
        .unwrap();
    }
    s.push_str(r#"],"offers":["#);
    for i in 0..rng.below(11) {
        let block = if rng.unit() < 0.4 {
            format!(r#","block":"k{}""#, rng.below(3))
        } else {
            String::new()
        };
        let comma = if i > 0 { "," } else { "" };
        write!(
            s,
            r#"{comma}{{"id":"o{i}","participant":"agg","location":"{}","direction":"{}","slot":"{}","quantity":{},"price":{}{block}}}"#,
            pick(&mut rng, &bus_names),
            pick(&mut rng, &["up", "down"]),
            pick(&mut rng, &slot_names),
            round3(rng.range(0.1, 3.0)),
            round3(rng.range(-5.0, 90.0)),
        )
        .unwrap();
    }
    s.push(']');
    if network {
        let mut branches = Vec::new();
        for b in 1..buses.len() {
            branches.push((rng.below(b), b));
        }
        if buses.len() > 2 && rng.unit() < 0.5 {
            // A mesh: one more branch between two buses not yet joined.
            let (f, t) = (rng.below(buses.len()), rng.below(buses.len()));
            if f != t && !branches.contains(&(f, t)) && !branches.contains(&(t, f)) {
                branches.push((f, t));
            }
        }
        write!(
            s,
            r#","network":{{"base_mva":100,"slack":"n1","buses":{buses:?},"branches":["#
        )
        .unwrap();
        for (k, (f, t)) in branches.iter().enumerate() {
            let comma = if k > 0 { "," } else { "" };
            write!(
                s,
                r#"{comma}{{"id":"l{k}","from":"{}","to":"{}","x":{},"limit":{}}}"#,
                buses[*f],
                buses[*t],
                round3(rng.range(0.01, 0.1)),
                round3(rng.range(0.2, 3.0)),
            )
            .unwrap();
        }
        s.push_str(r#"],"baseline":{"#);
        for (k, t) in slots.iter().enumerate() {
            let comma = if k > 0 { "," } else { "" };
            let row: Vec<String> = buses
                .iter()
                .map(|b| format!(r#""{b}":{}"#, round3(rng.range(-1.5, 1.5))))
                .collect();
            write!(s, r#"{comma}"{t}":{{{}}}"#, row.join(",")).unwrap();
        }
        s.push_str("}}");
    }
    if let Some(rule) = rule {
        write!(s, r#","location_rule":"{rule}""#).unwrap();
    }
    s.push('}');
    s
}

/// Whether a test that needs an outside resource must fail (under CI) rather than skip.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Fails under CI, else prints a clear skip message; the caller returns.
pub fn skip(why: &str) {
    assert!(!under_ci(), "{why} (CI is set, so this is a failure)");
    eprintln!("skipped: {why}");
}

/// The reference data directory (`PLATONE_REFERENCE`, else `../../shared/reference`).
pub fn reference_dir() -> PathBuf {
    std::env::var_os("PLATONE_REFERENCE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference"),
        PathBuf::from,
    )
}

/// The Python of the independent peers (`PLATONE_PYTHON`, else the venv of `scripts/test`).
pub fn python() -> Option<PathBuf> {
    let path = std::env::var_os("PLATONE_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/platone-venv/bin/python"))
        })?;
    path.exists().then_some(path)
}

/// The Prat et al. (2021) 15-bus case as a `platone-market-scenario/1` document, or `None`
/// when the reference data is missing.
pub fn prat2021_json() -> Option<String> {
    let dir = reference_dir().join("market/prat2021_lfm_15bus");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let rows = |text: &str, header: bool| -> Vec<Vec<String>> {
        text.lines()
            .skip(usize::from(header))
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split(',').map(|c| c.trim().to_string()).collect())
            .collect()
    };
    // Baseline nodal injections hard-coded in the authors' script (ORIGIN.md).
    const SET_POINT: [f64; 15] = [
        1.21, -0.04, -0.07, -0.14, -0.04, -0.14, -0.14, -0.07, -0.07, -0.04, -0.14, -0.07, -0.04,
        -0.07, -0.14,
    ];
    let mut s = String::from(
        r#"{"format":"platone-market-scenario/1","unit":"pu","slots":["t1"],"requests":["#,
    );
    for (i, r) in rows(&read("requests.csv")?, true).iter().enumerate() {
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
        .ok()?;
    }
    s.push_str(r#"],"offers":["#);
    for (i, o) in rows(&read("offers.csv")?, true).iter().enumerate() {
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
        .ok()?;
    }
    let base_mva = read("baseMVA.csv")?.trim().to_string();
    let buses: Vec<String> = rows(&read("bus.csv")?, false)
        .iter()
        .map(|b| format!("\"n{}\"", b[0]))
        .collect();
    write!(
        s,
        r#"],"network":{{"base_mva":{base_mva},"slack":"n1","buses":[{}],"branches":["#,
        buses.join(",")
    )
    .ok()?;
    for (i, b) in rows(&read("branch.csv")?, false).iter().enumerate() {
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
        .ok()?;
    }
    s.push_str(r#"],"baseline":{"t1":{"#);
    for (i, v) in SET_POINT.iter().enumerate() {
        let comma = if i > 0 { "," } else { "" };
        write!(s, r#"{comma}"n{}":{v}"#, i + 1).ok()?;
    }
    s.push_str("}}}}");
    Some(s)
}
