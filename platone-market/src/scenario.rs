//! The `platone-market-scenario/1` file format: parsing, validation (errors name the order) and
//! writing.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{MarketError, Result};
use crate::location::LocationRule;
use crate::network::{Branch, Network};
use crate::order::{Direction, FlexOffer, FlexRequest, OrderBook, QuantityUnit, RequestRole};

/// The format tag of version 1 scenario files.
pub const SCENARIO_FORMAT: &str = "platone-market-scenario/1";

/// A scenario file as written on disk (field names are the contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Always [`SCENARIO_FORMAT`].
    pub format: String,
    /// Unit of quantities, limits and injections.
    pub unit: QuantityUnit,
    /// Slot names in delivery order.
    pub slots: Vec<String>,
    /// Flexibility requests.
    #[serde(default)]
    pub requests: Vec<RequestFile>,
    /// Flexibility offers.
    #[serde(default)]
    pub offers: Vec<OfferFile>,
    /// Optional DC network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkFile>,
    /// Optional location rule (`same-bus`, `any` or `area`); see [`LocationRule`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_rule: Option<LocationRule>,
}

/// A request as written in a scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFile {
    /// Unique id.
    pub id: String,
    /// Requesting participant.
    pub participant: String,
    /// `dso` or `tso`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RequestRole>,
    /// Bus, PoD or area.
    pub location: String,
    /// `up` or `down`.
    pub direction: Direction,
    /// Slot name.
    pub slot: String,
    /// Quantity, > 0.
    pub quantity: f64,
    /// Optional price (highest price paid per unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Optional arrival time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<DateTime<Utc>>,
}

/// An offer as written in a scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferFile {
    /// Unique id.
    pub id: String,
    /// Offering participant.
    pub participant: String,
    /// Bus, PoD or area.
    pub location: String,
    /// `up` or `down`.
    pub direction: Direction,
    /// Slot name.
    pub slot: String,
    /// Quantity, > 0.
    pub quantity: f64,
    /// Price asked per unit.
    pub price: f64,
    /// Optional block id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<String>,
    /// Optional arrival time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<DateTime<Utc>>,
}

/// The network section of a scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    /// Base power of the per-unit reactances.
    #[serde(default = "default_base_mva")]
    pub base_mva: f64,
    /// Slack bus name.
    pub slack: String,
    /// Bus names.
    pub buses: Vec<String>,
    /// Branches.
    pub branches: Vec<BranchFile>,
    /// Baseline injections: slot → bus → injection (missing values are 0).
    #[serde(default)]
    pub baseline: BTreeMap<String, BTreeMap<String, f64>>,
}

fn default_base_mva() -> f64 {
    100.0
}

/// A branch as written in a scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchFile {
    /// Branch id.
    pub id: String,
    /// From bus.
    pub from: String,
    /// To bus.
    pub to: String,
    /// Reactance (per unit).
    pub x: f64,
    /// Flow limit.
    pub limit: f64,
}

/// A validated scenario: the order book and the optional network.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The orders.
    pub book: OrderBook,
    /// The DC network, if any; then every location is a bus of it.
    pub network: Option<Network>,
    /// The location rule the scenario asks for, if any (a clearing configuration's rule wins).
    pub location_rule: Option<LocationRule>,
}

impl Scenario {
    /// Parses and validates scenario JSON text.
    pub fn from_json(text: &str) -> Result<Self> {
        let file: ScenarioFile = serde_json::from_str(text).map_err(|e| MarketError::Syntax {
            message: strip_position(&e.to_string()),
            line: e.line(),
            column: e.column(),
        })?;
        Self::from_file(file)
    }

    /// Parses and validates scenario JSON bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|e| MarketError::Syntax {
            message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            line: 0,
            column: 0,
        })?;
        Self::from_json(text)
    }

    /// Validates a deserialised scenario file.
    pub fn from_file(file: ScenarioFile) -> Result<Self> {
        BookBuilder::new(file).map(BookBuilder::into_scenario)
    }

    /// The scenario as a file structure (for writing).
    pub fn to_file(&self) -> ScenarioFile {
        let book = &self.book;
        let slot = |i: usize| book.slots.get(i).cloned().unwrap_or_default();
        ScenarioFile {
            format: SCENARIO_FORMAT.into(),
            unit: book.unit,
            slots: book.slots.clone(),
            requests: book
                .requests
                .iter()
                .map(|r| RequestFile {
                    id: r.id.clone(),
                    participant: r.participant.clone(),
                    role: r.role,
                    location: r.location.clone(),
                    direction: r.direction,
                    slot: slot(r.slot),
                    quantity: r.quantity,
                    price: r.price,
                    arrival: r.arrival,
                })
                .collect(),
            offers: book
                .offers
                .iter()
                .map(|o| OfferFile {
                    id: o.id.clone(),
                    participant: o.participant.clone(),
                    location: o.location.clone(),
                    direction: o.direction,
                    slot: slot(o.slot),
                    quantity: o.quantity,
                    price: o.price,
                    block: o.block.clone(),
                    arrival: o.arrival,
                })
                .collect(),
            network: self.network.as_ref().map(|n| network_file(n, &book.slots)),
            location_rule: self.location_rule,
        }
    }

    /// The scenario as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.to_file()).unwrap_or_default()
    }
}

/// Builds a [`Scenario`] order by order, with the checks and the messages of
/// [`Scenario::from_file`] (which uses it): a market platform admits each order as it arrives
/// and refuses a bad one with the same error a scenario file would get.
///
/// ```
/// use platone_market::scenario::{BookBuilder, ScenarioFile, OfferFile};
/// use platone_market::{Direction, QuantityUnit, SCENARIO_FORMAT};
///
/// let mut book = BookBuilder::new(ScenarioFile {
///     format: SCENARIO_FORMAT.into(),
///     unit: QuantityUnit::Mw,
///     slots: vec!["t1".into()],
///     requests: vec![],
///     offers: vec![],
///     network: None,
///     location_rule: None,
/// })?;
/// let offer = OfferFile {
///     id: "o1".into(), participant: "agg-1".into(), location: "n5".into(),
///     direction: Direction::Up, slot: "t1".into(), quantity: 1.5, price: 20.0,
///     block: None, arrival: None,
/// };
/// book.add_offer(&offer)?;
/// let again = book.add_offer(&offer).unwrap_err();
/// assert_eq!(again.to_string(), "offer \"o1\": duplicate id");
/// assert_eq!(book.scenario().book.offers.len(), 1);
/// # Ok::<(), platone_market::MarketError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BookBuilder {
    scenario: Scenario,
    slot_index: HashMap<String, usize>,
    ids: HashSet<String>,
}

impl BookBuilder {
    /// Checks the file's format, slots and network, then adds its orders in order.
    pub fn new(file: ScenarioFile) -> Result<Self> {
        if file.format != SCENARIO_FORMAT {
            return Err(MarketError::Format { found: file.format });
        }
        let mut slot_index = HashMap::with_capacity(file.slots.len());
        for (i, s) in file.slots.iter().enumerate() {
            if s.is_empty() {
                return Err(field(format!("slots[{i}]"), "empty slot name"));
            }
            if slot_index.insert(s.clone(), i).is_some() {
                return Err(field(
                    format!("slots[{i}]"),
                    format!("slot {s:?} listed twice"),
                ));
            }
        }
        let network = match &file.network {
            Some(n) => {
                let borrowed: HashMap<&str, usize> =
                    slot_index.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                Some(build_network(n, &file.slots, &borrowed)?)
            }
            None => None,
        };
        let mut builder = BookBuilder {
            scenario: Scenario {
                book: OrderBook {
                    unit: file.unit,
                    slots: file.slots,
                    requests: Vec::with_capacity(file.requests.len()),
                    offers: Vec::with_capacity(file.offers.len()),
                },
                network,
                location_rule: file.location_rule,
            },
            slot_index,
            ids: HashSet::with_capacity(file.requests.len() + file.offers.len()),
        };
        for r in &file.requests {
            builder.add_request(r)?;
        }
        for o in &file.offers {
            builder.add_offer(o)?;
        }
        Ok(builder)
    }

    fn slot(&self, name: &str) -> std::result::Result<usize, String> {
        self.slot_index
            .get(name)
            .copied()
            .ok_or_else(|| format!("unknown slot {name:?}"))
    }

    fn check_new_id(&self, id: &str) -> std::result::Result<(), String> {
        if id.is_empty() {
            return Err("empty id".into());
        }
        if self.ids.contains(id) {
            return Err("duplicate id".into());
        }
        Ok(())
    }

    /// Checks a request as [`add_request`](Self::add_request) would, without adding it: the
    /// request as the book would hold it, or what is wrong with it.
    pub fn check_request(&self, r: &RequestFile) -> Result<FlexRequest> {
        let err = |m: String| order_err("request", &r.id, m);
        self.check_new_id(&r.id).map_err(err)?;
        let slot = self.slot(&r.slot).map_err(err)?;
        check_location(&r.location, self.scenario.network.as_ref()).map_err(err)?;
        check_quantity(r.quantity).map_err(err)?;
        if let Some(p) = r.price
            && !p.is_finite()
        {
            return Err(err(format!("price {p} is not finite")));
        }
        Ok(FlexRequest {
            id: r.id.clone(),
            participant: r.participant.clone(),
            role: r.role,
            location: r.location.clone(),
            direction: r.direction,
            slot,
            quantity: r.quantity,
            price: r.price,
            arrival: r.arrival,
        })
    }

    /// Adds a request, or says what is wrong with it (nothing is added then).
    pub fn add_request(&mut self, r: &RequestFile) -> Result<()> {
        let request = self.check_request(r)?;
        self.ids.insert(request.id.clone());
        self.scenario.book.requests.push(request);
        Ok(())
    }

    /// Checks an offer as [`add_offer`](Self::add_offer) would, without adding it: the offer
    /// as the book would hold it, or what is wrong with it.
    pub fn check_offer(&self, o: &OfferFile) -> Result<FlexOffer> {
        let err = |m: String| order_err("offer", &o.id, m);
        self.check_new_id(&o.id).map_err(err)?;
        let slot = self.slot(&o.slot).map_err(err)?;
        check_location(&o.location, self.scenario.network.as_ref()).map_err(err)?;
        check_quantity(o.quantity).map_err(err)?;
        if !o.price.is_finite() {
            return Err(err(format!("price {} is not finite", o.price)));
        }
        if o.block.as_deref() == Some("") {
            return Err(err("empty block id".into()));
        }
        Ok(FlexOffer {
            id: o.id.clone(),
            participant: o.participant.clone(),
            location: o.location.clone(),
            direction: o.direction,
            slot,
            quantity: o.quantity,
            price: o.price,
            block: o.block.clone(),
            arrival: o.arrival,
        })
    }

    /// Adds an offer, or says what is wrong with it (nothing is added then).
    pub fn add_offer(&mut self, o: &OfferFile) -> Result<()> {
        let offer = self.check_offer(o)?;
        self.ids.insert(offer.id.clone());
        self.scenario.book.offers.push(offer);
        Ok(())
    }

    /// The scenario built so far.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The scenario.
    pub fn into_scenario(self) -> Scenario {
        self.scenario
    }
}

fn network_file(n: &Network, slots: &[String]) -> NetworkFile {
    let buses = n.buses();
    let mut baseline = BTreeMap::new();
    for (t, name) in slots.iter().enumerate().take(n.slot_count()) {
        let row: BTreeMap<String, f64> = buses
            .iter()
            .cloned()
            .zip(n.baseline(t))
            .filter(|(_, v)| *v != 0.0)
            .collect();
        if !row.is_empty() {
            baseline.insert(name.clone(), row);
        }
    }
    NetworkFile {
        base_mva: n.base_mva(),
        slack: buses.get(n.slack()).cloned().unwrap_or_default(),
        buses: buses.to_vec(),
        branches: n
            .branches()
            .iter()
            .map(|b| BranchFile {
                id: b.id.clone(),
                from: buses.get(b.from).cloned().unwrap_or_default(),
                to: buses.get(b.to).cloned().unwrap_or_default(),
                x: b.x,
                limit: b.limit,
            })
            .collect(),
        baseline,
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn field(field: String, message: impl Into<String>) -> MarketError {
    MarketError::Field {
        field,
        message: message.into(),
    }
}

fn order_err(kind: &'static str, id: &str, message: String) -> MarketError {
    MarketError::Order {
        kind,
        id: id.to_string(),
        message,
    }
}

fn check_location(location: &str, network: Option<&Network>) -> std::result::Result<(), String> {
    if location.is_empty() {
        return Err("empty location".into());
    }
    if let Some(n) = network
        && n.bus(location).is_none()
    {
        return Err(format!("unknown bus {location:?}"));
    }
    Ok(())
}

fn check_quantity(q: f64) -> std::result::Result<(), String> {
    if !q.is_finite() {
        return Err(format!("quantity {q} is not finite"));
    }
    if q <= 0.0 {
        return Err(format!("quantity {q} must be > 0"));
    }
    Ok(())
}

fn build_network(
    n: &NetworkFile,
    slots: &[String],
    slot_index: &HashMap<&str, usize>,
) -> Result<Network> {
    let mut bus_index = HashMap::new();
    for (i, b) in n.buses.iter().enumerate() {
        if b.is_empty() {
            return Err(field(format!("network.buses[{i}]"), "empty bus name"));
        }
        if bus_index.insert(b.as_str(), i).is_some() {
            return Err(field(
                format!("network.buses[{i}]"),
                format!("bus {b:?} listed twice"),
            ));
        }
    }
    let slack = *bus_index
        .get(n.slack.as_str())
        .ok_or_else(|| field("network.slack".into(), format!("unknown bus {:?}", n.slack)))?;
    if !(n.base_mva.is_finite() && n.base_mva > 0.0) {
        return Err(field("network.base_mva".into(), "must be finite and > 0"));
    }
    let mut branch_ids = HashSet::new();
    let mut branches = Vec::with_capacity(n.branches.len());
    for (i, b) in n.branches.iter().enumerate() {
        let path = |f: &str| format!("network.branches[{i}] ({:?}).{f}", b.id);
        if !branch_ids.insert(b.id.as_str()) {
            return Err(field(path("id"), "duplicate branch id"));
        }
        let from = *bus_index
            .get(b.from.as_str())
            .ok_or_else(|| field(path("from"), format!("unknown bus {:?}", b.from)))?;
        let to = *bus_index
            .get(b.to.as_str())
            .ok_or_else(|| field(path("to"), format!("unknown bus {:?}", b.to)))?;
        if from == to {
            return Err(field(path("to"), "branch connects a bus to itself"));
        }
        if !(b.x.is_finite() && b.x != 0.0) {
            return Err(field(path("x"), "must be finite and non-zero"));
        }
        if !(b.limit.is_finite() && b.limit > 0.0) {
            return Err(field(path("limit"), "must be finite and > 0"));
        }
        branches.push(Branch {
            id: b.id.clone(),
            from,
            to,
            x: b.x,
            limit: b.limit,
        });
    }
    let mut baseline = vec![vec![0.0; n.buses.len()]; slots.len()];
    for (slot, row) in &n.baseline {
        let t = *slot_index.get(slot.as_str()).ok_or_else(|| {
            field(
                format!("network.baseline.{slot}"),
                format!("unknown slot {slot:?}"),
            )
        })?;
        for (bus, v) in row {
            let b = *bus_index.get(bus.as_str()).ok_or_else(|| {
                field(
                    format!("network.baseline.{slot}.{bus}"),
                    format!("unknown bus {bus:?}"),
                )
            })?;
            if !v.is_finite() {
                return Err(field(
                    format!("network.baseline.{slot}.{bus}"),
                    "not finite",
                ));
            }
            baseline[t][b] = *v;
        }
    }
    Network::new(n.base_mva, n.buses.clone(), slack, branches, baseline)
}
