//! The flexibility market's DC network JSON as a model source.
//!
//! `platone-market` scenarios (`platone-market-scenario/1`, see `docs/market.md`) may carry a
//! `network` section: named buses, a slack bus, branches with a per-unit reactance `x` and a
//! flow `limit`, and baseline injections per slot. That is a DC model: no resistance, no line
//! charging, no reactive power and no voltage set-points. This module reads it, with its own
//! serde types (the crate does not depend on `platone-market`), into a [`Network`] on which
//! [`run_dc`](crate::run_dc) gives the market's flows.
//!
//! The network it builds: bus `k` of the list (0-based) gets the MATPOWER number `k + 1`
//! ([`MarketNetwork::buses`] keeps the names); the slack bus is type 3 with one generator
//! (`Vg` 1 p.u.), every other bus is PQ; an injection `p` (generator convention, MW) is a
//! generator output at the slack and a negative load `Pd = −p` elsewhere; each branch is a
//! line with `r = 0`, the given `x`, `b = 0`, and `rateA` = `limit` in MW. Quantities in the
//! scenario's `unit` (`MW`, `kW` or `pu` of `base_mva`) are converted to MW.
//!
//! ```
//! use platone_grid::{MarketNetwork, run_dc};
//!
//! let scenario = br#"{"format": "platone-market-scenario/1", "unit": "MW", "slots": ["t1"],
//!   "network": {"base_mva": 100, "slack": "a", "buses": ["a", "b", "c"],
//!     "branches": [{"id": "ab", "from": "a", "to": "b", "x": 0.1, "limit": 50},
//!                  {"id": "bc", "from": "b", "to": "c", "x": 0.1, "limit": 50},
//!                  {"id": "ac", "from": "a", "to": "c", "x": 0.2, "limit": 50}],
//!     "baseline": {"t1": {"a": 30, "c": -30}}}}"#;
//! let market = MarketNetwork::from_scenario_json(scenario)?;
//! let flow = run_dc(&market.baseline_network("t1")?)?;
//! // 30 MW from a to c: half over a-b-c (x 0.2), half over a-c (x 0.2).
//! assert!((flow.branches[0].pf - 15.0).abs() < 1e-9);
//! assert!((flow.branches[2].pf - 15.0).abs() < 1e-9);
//! # Ok::<(), platone_grid::GridError>(())
//! ```

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::{GridError, Result};
use crate::network::{Branch, Bus, BusType, Generator, Network};

/// The `format` value of a market scenario file.
pub const MARKET_SCENARIO_FORMAT: &str = "platone-market-scenario/1";

/// The unit of a market scenario's quantities, limits and injections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MarketUnit {
    /// Megawatts.
    #[serde(rename = "MW")]
    Megawatt,
    /// Kilowatts.
    #[serde(rename = "kW")]
    Kilowatt,
    /// Per unit of the network's `base_mva`.
    #[serde(rename = "pu")]
    PerUnit,
}

impl MarketUnit {
    /// MW per unit of this kind on the given base.
    pub fn megawatts(self, base_mva: f64) -> f64 {
        match self {
            MarketUnit::Megawatt => 1.0,
            MarketUnit::Kilowatt => 1e-3,
            MarketUnit::PerUnit => base_mva,
        }
    }
}

/// The `network` section of a market scenario, as written (field names are the contract).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketNetworkFile {
    /// Base power of the per-unit reactances, MVA (default 100).
    #[serde(default = "default_base_mva")]
    pub base_mva: f64,
    /// The slack bus name.
    pub slack: String,
    /// Bus names.
    pub buses: Vec<String>,
    /// Branches.
    pub branches: Vec<MarketBranchFile>,
    /// Baseline injections: slot → bus → injection (missing values are 0).
    #[serde(default)]
    pub baseline: BTreeMap<String, BTreeMap<String, f64>>,
}

fn default_base_mva() -> f64 {
    100.0
}

/// A branch of the market's network section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketBranchFile {
    /// Branch id.
    pub id: String,
    /// From bus name.
    pub from: String,
    /// To bus name.
    pub to: String,
    /// Series reactance, p.u. of `base_mva`, non-zero.
    pub x: f64,
    /// Flow limit in either direction, in the scenario's unit, > 0.
    pub limit: f64,
}

/// The parts of a scenario file this module reads; orders and other fields are ignored.
#[derive(Debug, Deserialize)]
struct ScenarioHead {
    format: String,
    unit: MarketUnit,
    slots: Vec<String>,
    #[serde(default)]
    network: Option<MarketNetworkFile>,
}

/// A market DC network read into a [`Network`], with the names and baselines of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketNetwork {
    /// Bus names; bus `k` has the MATPOWER number `k + 1` in [`MarketNetwork::network`].
    pub buses: Vec<String>,
    /// Branch ids, in branch order.
    pub branch_ids: Vec<String>,
    /// Position of the slack bus in [`MarketNetwork::buses`].
    pub slack: usize,
    /// Slot names with a baseline row, in the scenario's slot order.
    pub slots: Vec<String>,
    /// The unit the file's quantities were in.
    pub unit: MarketUnit,
    /// `[slot][bus]` baseline injections, MW, generator convention.
    baseline: Vec<Vec<f64>>,
    /// The network with zero injections.
    network: Network,
}

fn field(place: impl Into<String>, message: impl Into<String>) -> GridError {
    GridError::Network {
        place: place.into(),
        message: message.into(),
    }
}

fn json_error(e: &serde_json::Error) -> GridError {
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    GridError::Json {
        line: e.line(),
        column: e.column(),
        message,
    }
}

impl MarketNetwork {
    /// Reads the `network` section of a `platone-market-scenario/1` file (the orders are not
    /// read). Fails when the file has no network, with the JSON line and column for syntax
    /// errors and the field path (`network.branches[2] ("l3").x`) for bad values.
    pub fn from_scenario_json(bytes: &[u8]) -> Result<Self> {
        let head: ScenarioHead = serde_json::from_slice(bytes).map_err(|e| json_error(&e))?;
        if head.format != MARKET_SCENARIO_FORMAT {
            return Err(field(
                "format",
                format!(
                    "expected {MARKET_SCENARIO_FORMAT:?}, found {:?}",
                    head.format
                ),
            ));
        }
        let network = head
            .network
            .ok_or_else(|| field("network", "the scenario has no network"))?;
        Self::from_file(&network, head.unit, &head.slots, "network.")
    }

    /// Reads a bare network section (the object a scenario's `network` field holds), its
    /// values in `unit`. The slots are the baseline's keys in name order.
    pub fn from_network_json(bytes: &[u8], unit: MarketUnit) -> Result<Self> {
        let file: MarketNetworkFile = serde_json::from_slice(bytes).map_err(|e| json_error(&e))?;
        let slots: Vec<String> = file.baseline.keys().cloned().collect();
        Self::from_file(&file, unit, &slots, "")
    }

    /// Checks a network section and builds the model; `prefix` starts every field path.
    pub fn from_file(
        file: &MarketNetworkFile,
        unit: MarketUnit,
        slots: &[String],
        prefix: &str,
    ) -> Result<Self> {
        let base_mva = file.base_mva;
        if !(base_mva.is_finite() && base_mva > 0.0) {
            return Err(field(
                format!("{prefix}base_mva"),
                format!("must be finite and > 0, found {base_mva}"),
            ));
        }
        let to_mw = unit.megawatts(base_mva);
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(file.buses.len());
        for (i, name) in file.buses.iter().enumerate() {
            let place = || format!("{prefix}buses[{i}]");
            if name.is_empty() {
                return Err(field(place(), "empty bus name"));
            }
            if index.insert(name.as_str(), i).is_some() {
                return Err(field(place(), format!("bus {name:?} listed twice")));
            }
        }
        if file.buses.is_empty() {
            return Err(field(format!("{prefix}buses"), "no buses"));
        }
        let slack = *index.get(file.slack.as_str()).ok_or_else(|| {
            field(
                format!("{prefix}slack"),
                format!("unknown bus {:?}", file.slack),
            )
        })?;
        let mut branches = Vec::with_capacity(file.branches.len());
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, b) in file.branches.iter().enumerate() {
            let place = |f: &str| format!("{prefix}branches[{i}] ({:?}).{f}", b.id);
            if ids.insert(b.id.as_str(), i).is_some() {
                return Err(field(place("id"), "duplicate branch id"));
            }
            let end = |name: &str, f: &str| {
                index
                    .get(name)
                    .copied()
                    .ok_or_else(|| field(place(f), format!("unknown bus {name:?}")))
            };
            let (from, to) = (end(&b.from, "from")?, end(&b.to, "to")?);
            if from == to {
                return Err(field(place("to"), "branch connects a bus to itself"));
            }
            if !(b.x.is_finite() && b.x != 0.0) {
                return Err(field(
                    place("x"),
                    format!("must be finite and non-zero, found {}", b.x),
                ));
            }
            if !(b.limit.is_finite() && b.limit > 0.0) {
                return Err(field(
                    place("limit"),
                    format!("must be finite and > 0, found {}", b.limit),
                ));
            }
            branches.push(Branch {
                from: from as u64 + 1,
                to: to as u64 + 1,
                r: 0.0,
                x: b.x,
                b: 0.0,
                rate_a: b.limit * to_mw,
                rate_b: 0.0,
                rate_c: 0.0,
                ratio: 0.0,
                shift: 0.0,
                in_service: true,
            });
        }
        check_connected(file, slack, &branches, prefix)?;
        let slot_index: HashMap<&str, usize> = slots
            .iter()
            .enumerate()
            .map(|(t, s)| (s.as_str(), t))
            .collect();
        let mut baseline = vec![vec![0.0; file.buses.len()]; slots.len()];
        for (slot, row) in &file.baseline {
            let t = *slot_index.get(slot.as_str()).ok_or_else(|| {
                field(
                    format!("{prefix}baseline.{slot}"),
                    format!("unknown slot {slot:?}"),
                )
            })?;
            for (bus, value) in row {
                let place = || format!("{prefix}baseline.{slot}.{bus}");
                let b = *index
                    .get(bus.as_str())
                    .ok_or_else(|| field(place(), format!("unknown bus {bus:?}")))?;
                if !value.is_finite() {
                    return Err(field(place(), "not finite"));
                }
                baseline[t][b] = value * to_mw;
            }
        }
        let buses = (0..file.buses.len())
            .map(|k| Bus {
                number: k as u64 + 1,
                kind: if k == slack {
                    BusType::Slack
                } else {
                    BusType::Pq
                },
                pd: 0.0,
                qd: 0.0,
                gs: 0.0,
                bs: 0.0,
                area: 1.0,
                vm: 1.0,
                va: 0.0,
                base_kv: 0.0,
                zone: 1.0,
                vmax: 1.1,
                vmin: 0.9,
            })
            .collect();
        let generators = vec![Generator {
            bus: slack as u64 + 1,
            pg: 0.0,
            qg: 0.0,
            qmax: f64::INFINITY,
            qmin: f64::NEG_INFINITY,
            vg: 1.0,
            mbase: base_mva,
            in_service: true,
            pmax: f64::INFINITY,
            pmin: f64::NEG_INFINITY,
        }];
        let network = Network::new(base_mva, buses, generators, branches)?;
        Ok(MarketNetwork {
            buses: file.buses.clone(),
            branch_ids: file.branches.iter().map(|b| b.id.clone()).collect(),
            slack,
            slots: slots.to_vec(),
            unit,
            baseline,
            network,
        })
    }

    /// The network with zero injections (topology, reactances and ratings only).
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// MW per unit of the file's quantities.
    pub fn megawatts_per_unit(&self) -> f64 {
        self.unit.megawatts(self.network.base_mva)
    }

    /// The baseline injections of a slot, MW per bus (generator convention); `None` for a
    /// slot the scenario does not have.
    pub fn baseline_mw(&self, slot: &str) -> Option<&[f64]> {
        let t = self.slots.iter().position(|s| s == slot)?;
        self.baseline.get(t).map(Vec::as_slice)
    }

    /// The network carrying these injections (MW per bus, generator convention, in bus order).
    /// The slack's own injection is overridden by the power flow, as in the market's PTDFs.
    pub fn with_injections(&self, injections_mw: &[f64]) -> Result<Network> {
        if injections_mw.len() != self.buses.len() {
            return Err(field(
                "injections",
                format!(
                    "{} values for {} buses",
                    injections_mw.len(),
                    self.buses.len()
                ),
            ));
        }
        if let Some(k) = injections_mw.iter().position(|v| !v.is_finite()) {
            return Err(field(format!("injections[{k}]"), "not finite"));
        }
        let mut net = self.network.clone();
        for ((bus, &p), k) in net.buses.iter_mut().zip(injections_mw).zip(0..) {
            if k != self.slack {
                bus.pd = -p;
            }
        }
        if let Some(g) = net.generators.first_mut() {
            g.pg = injections_mw[self.slack];
        }
        Ok(net)
    }

    /// The network carrying a slot's baseline injections.
    pub fn baseline_network(&self, slot: &str) -> Result<Network> {
        let injections = self
            .baseline_mw(slot)
            .ok_or_else(|| field("slot", format!("unknown slot {slot:?}")))?;
        self.with_injections(injections)
    }
}

/// Every bus must reach the slack through the branches (the market requires it too).
fn check_connected(
    file: &MarketNetworkFile,
    slack: usize,
    branches: &[Branch],
    prefix: &str,
) -> Result<()> {
    let n = file.buses.len();
    let mut adjacency = vec![Vec::new(); n];
    for b in branches {
        let (f, t) = (b.from as usize - 1, b.to as usize - 1);
        adjacency[f].push(t);
        adjacency[t].push(f);
    }
    let mut seen = vec![false; n];
    seen[slack] = true;
    let mut stack = vec![slack];
    while let Some(i) = stack.pop() {
        for &j in &adjacency[i] {
            if !seen[j] {
                seen[j] = true;
                stack.push(j);
            }
        }
    }
    match seen.iter().position(|s| !s) {
        Some(k) => Err(field(
            format!("{prefix}buses[{k}]"),
            format!("bus {:?} is not connected to the slack", file.buses[k]),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place_of(r: Result<MarketNetwork>) -> String {
        match r {
            Err(GridError::Network { place, .. }) => place,
            Err(GridError::Json { line, column, .. }) => format!("{line}:{column}"),
            other => panic!("expected a located error, got {other:?}"),
        }
    }

    const OK: &str = r#"{"format": "platone-market-scenario/1", "unit": "kW", "slots": ["t1", "t2"],
        "requests": [], "offers": [],
        "network": {"slack": "n1", "buses": ["n1", "n2", "n3"],
            "branches": [{"id": "l1", "from": "n1", "to": "n2", "x": 0.05, "limit": 900},
                         {"id": "l2", "from": "n2", "to": "n3", "x": 0.05, "limit": 400}],
            "baseline": {"t2": {"n3": -250, "n2": 100}}}}"#;

    #[test]
    fn reads_a_scenario_network_in_its_unit() {
        let m = MarketNetwork::from_scenario_json(OK.as_bytes()).unwrap();
        assert_eq!(m.buses, ["n1", "n2", "n3"]);
        assert_eq!(m.network().base_mva, 100.0);
        assert_eq!(m.network().branches[1].rate_a, 0.4);
        assert_eq!(m.baseline_mw("t1").unwrap(), &[0.0, 0.0, 0.0]);
        assert_eq!(m.baseline_mw("t2").unwrap(), &[0.0, 0.1, -0.25]);
        let flow = crate::run_dc(&m.baseline_network("t2").unwrap()).unwrap();
        assert!((flow.branches[0].pf - 0.15).abs() < 1e-12);
        assert!((flow.branches[1].pf - 0.25).abs() < 1e-12);
        assert!(m.baseline_network("t9").is_err());
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases = [
            (
                OK.replace("\"x\": 0.05, \"limit\": 400", "\"x\": 0, \"limit\": 400"),
                "network.branches[1] (\"l2\").x",
            ),
            (
                OK.replace("\"limit\": 900", "\"limit\": -1"),
                "network.branches[0] (\"l1\").limit",
            ),
            (
                OK.replace("\"to\": \"n3\"", "\"to\": \"n9\""),
                "network.branches[1] (\"l2\").to",
            ),
            (
                OK.replace("\"slack\": \"n1\"", "\"slack\": \"n0\""),
                "network.slack",
            ),
            (OK.replace("\"t2\": {", "\"t3\": {"), "network.baseline.t3"),
            (
                OK.replace("\"n3\": -250", "\"n4\": -250"),
                "network.baseline.t2.n4",
            ),
            (
                OK.replace(
                    "[\"n1\", \"n2\", \"n3\"]",
                    "[\"n1\", \"n2\", \"n3\", \"n4\"]",
                ),
                "network.buses[3]",
            ),
            (
                OK.replace("[\"n1\", \"n2\", \"n3\"]", "[\"n1\", \"n2\", \"n2\"]"),
                "network.buses[2]",
            ),
            (OK.replace("platone-market-scenario/1", "other/1"), "format"),
            (
                OK.replace(", \"limit\": 400", ", \"limit\": 400, \"r\": 0.01"),
                "5:92",
            ),
            (OK.replace("\"unit\": \"kW\"", "\"unit\": \"GW\""), "1:52"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                place_of(MarketNetwork::from_scenario_json(text.as_bytes())),
                expected,
                "{text}"
            );
        }
        let no_network =
            r#"{"format": "platone-market-scenario/1", "unit": "MW", "slots": ["t1"]}"#;
        assert_eq!(
            place_of(MarketNetwork::from_scenario_json(no_network.as_bytes())),
            "network"
        );
    }

    #[test]
    fn reads_a_bare_network_section() {
        let text = r#"{"base_mva": 10, "slack": "a", "buses": ["a", "b"],
            "branches": [{"id": "ab", "from": "a", "to": "b", "x": 0.1, "limit": 2}],
            "baseline": {"peak": {"b": -0.5}}}"#;
        let m = MarketNetwork::from_network_json(text.as_bytes(), MarketUnit::PerUnit).unwrap();
        assert_eq!(m.slots, ["peak"]);
        assert_eq!(m.baseline_mw("peak").unwrap(), &[0.0, -5.0]);
        assert_eq!(m.network().branches[0].rate_a, 20.0);
        let flow = crate::run_dc(&m.baseline_network("peak").unwrap()).unwrap();
        assert!((flow.branches[0].pf - 5.0).abs() < 1e-12);
    }
}
