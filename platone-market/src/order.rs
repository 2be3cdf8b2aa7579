//! Flexibility orders: requests from system operators, offers from aggregators, the order book.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::participant::MarketRole;

/// The direction of flexibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// More injection (generation up or demand reduction).
    Up,
    /// Less injection (generation down or demand increase).
    Down,
}

impl Direction {
    /// `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    /// 0 for up, 1 for down (index into per-direction arrays).
    pub fn index(self) -> usize {
        match self {
            Direction::Up => 0,
            Direction::Down => 1,
        }
    }
}

/// The requesting system operator's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestRole {
    /// A distribution system operator (local congestion): served by offers in its area.
    Dso,
    /// A transmission system operator (balancing): served by offers anywhere.
    Tso,
}

impl From<RequestRole> for MarketRole {
    fn from(r: RequestRole) -> Self {
        match r {
            RequestRole::Dso => MarketRole::Dso,
            RequestRole::Tso => MarketRole::Tso,
        }
    }
}

/// A flexibility request (USEF FlexRequest) from a DSO or TSO.
#[derive(Debug, Clone, PartialEq)]
pub struct FlexRequest {
    /// Unique order id.
    pub id: String,
    /// The requesting participant.
    pub participant: String,
    /// DSO or TSO; `None` is treated as a local (DSO-like) request.
    pub role: Option<RequestRole>,
    /// Bus, point of delivery or area.
    pub location: String,
    /// Direction of the flexibility needed.
    pub direction: Direction,
    /// Index of the slot in [`OrderBook::slots`].
    pub slot: usize,
    /// Quantity needed (in the book's unit), > 0.
    pub quantity: f64,
    /// Highest price the requester pays per unit; `None` is a price-taking request.
    pub price: Option<f64>,
    /// When the request arrived.
    pub arrival: Option<DateTime<Utc>>,
}

impl FlexRequest {
    /// Whether the request only takes offers from its own area (DSO or unspecified role).
    pub fn is_local(&self) -> bool {
        self.role != Some(RequestRole::Tso)
    }
}

/// A flexibility offer (USEF FlexOffer) from an aggregator.
#[derive(Debug, Clone, PartialEq)]
pub struct FlexOffer {
    /// Unique order id.
    pub id: String,
    /// The offering participant.
    pub participant: String,
    /// Bus, point of delivery or area.
    pub location: String,
    /// Direction of the flexibility offered.
    pub direction: Direction,
    /// Index of the slot in [`OrderBook::slots`].
    pub slot: usize,
    /// Quantity offered (in the book's unit), > 0.
    pub quantity: f64,
    /// Price asked per unit.
    pub price: f64,
    /// Block id: offers sharing it are accepted all together (each in full) or not at all.
    pub block: Option<String>,
    /// When the offer arrived.
    pub arrival: Option<DateTime<Utc>>,
}

/// The unit quantities, limits and injections are expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuantityUnit {
    /// Megawatt.
    #[serde(rename = "MW")]
    Mw,
    /// Kilowatt.
    #[serde(rename = "kW")]
    Kw,
    /// Per unit of the network's base power.
    #[serde(rename = "pu")]
    Pu,
}

/// A validated order book: slots, requests and offers (ids unique, slots known, quantities > 0).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBook {
    /// Unit of all quantities.
    pub unit: QuantityUnit,
    /// Slot names, in delivery order.
    pub slots: Vec<String>,
    /// Requests, in file order.
    pub requests: Vec<FlexRequest>,
    /// Offers, in file order.
    pub offers: Vec<FlexOffer>,
}

impl OrderBook {
    /// Number of orders (requests + offers).
    pub fn len(&self) -> usize {
        self.requests.len() + self.offers.len()
    }

    /// Whether the book has no orders.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The blocks of the book: block id → offer indexes, in first-appearance order.
    pub fn blocks(&self) -> Vec<(String, Vec<usize>)> {
        let mut out: Vec<(String, Vec<usize>)> = Vec::new();
        let mut index = std::collections::HashMap::<&str, usize>::new();
        for (i, o) in self.offers.iter().enumerate() {
            if let Some(b) = &o.block {
                match index.get(b.as_str()) {
                    Some(&k) => out[k].1.push(i),
                    None => {
                        index.insert(b.as_str(), out.len());
                        out.push((b.clone(), vec![i]));
                    }
                }
            }
        }
        out
    }
}
