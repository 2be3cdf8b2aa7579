//! Seeded synthetic scenarios for tests and benchmarks.
//!
//! The generator uses its own SplitMix64 stream, so a seed gives the same scenario on every
//! platform and version of this crate's generator. With `network: Some(n)` it builds a random
//! radial network of `n` buses (bus `n1` is the slack; each bus hangs from a random earlier
//! one), loads every other bus, and sets branch limits between 1.05 and 1.4 times the largest
//! baseline flow so that some flexibility is congested.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};

use crate::error::{MarketError, Result};
use crate::network::{Branch, Network};
use crate::order::{Direction, FlexOffer, FlexRequest, OrderBook, QuantityUnit, RequestRole};
use crate::scenario::Scenario;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Number of offers.
    pub offers: usize,
    /// Number of requests.
    pub requests: usize,
    /// Number of slots.
    pub slots: usize,
    /// Radial network with this many buses, or none.
    pub network: Option<usize>,
    /// Seed.
    pub seed: u64,
    /// Share of offers generated as two-slot rebound blocks (down then up).
    pub block_fraction: f64,
    /// Number of locations without a network.
    pub locations: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            offers: 100,
            requests: 20,
            slots: 4,
            network: None,
            seed: 0,
            block_fraction: 0.1,
            locations: 10,
        }
    }
}

/// SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Generates a valid scenario.
pub fn generate(config: &GeneratorConfig) -> Result<Scenario> {
    if config.slots == 0 {
        return Err(MarketError::Config("at least one slot is needed".into()));
    }
    if !(0.0..=1.0).contains(&config.block_fraction) {
        return Err(MarketError::Config(
            "block fraction must be within [0, 1]".into(),
        ));
    }
    if let Some(n) = config.network
        && n < 2
    {
        return Err(MarketError::Config(
            "a radial network needs at least 2 buses".into(),
        ));
    }
    let mut rng = Rng::new(config.seed);
    let slots: Vec<String> = (1..=config.slots).map(|i| format!("t{i}")).collect();
    let epoch: DateTime<Utc> = DateTime::from_timestamp(1_625_011_200, 0).unwrap_or_default();
    let network = match config.network {
        Some(n) => Some(radial(&mut rng, n, config.slots)?),
        None => None,
    };
    let locations: Vec<String> = match &network {
        Some(net) => net.buses().iter().skip(1).cloned().collect(),
        None => (1..=config.locations.max(1))
            .map(|i| format!("z{i}"))
            .collect(),
    };
    let pick = |rng: &mut Rng| {
        locations
            .get(rng.below(locations.len()))
            .cloned()
            .unwrap_or_default()
    };
    let direction = |rng: &mut Rng| {
        if rng.unit() < 0.5 {
            Direction::Up
        } else {
            Direction::Down
        }
    };
    let mut requests = Vec::with_capacity(config.requests);
    let mut demanded = HashSet::new();
    for i in 0..config.requests {
        let role = if rng.unit() < 0.6 {
            RequestRole::Dso
        } else {
            RequestRole::Tso
        };
        let d = direction(&mut rng);
        let slot = rng.below(config.slots);
        demanded.insert((slot, d));
        requests.push(FlexRequest {
            id: format!("r{}", i + 1),
            participant: match role {
                RequestRole::Dso => "dso-1".into(),
                RequestRole::Tso => "tso-1".into(),
            },
            role: Some(role),
            location: pick(&mut rng),
            direction: d,
            slot,
            quantity: round(rng.range(0.5, 3.0), 3),
            price: Some(round(rng.range(40.0, 80.0), 2)),
            arrival: Some(epoch + Duration::seconds(i as i64)),
        });
    }
    let rebound_slots: Vec<usize> = (0..config.slots.saturating_sub(1))
        .filter(|&t| {
            demanded.contains(&(t, Direction::Down)) && demanded.contains(&(t + 1, Direction::Up))
        })
        .collect();
    let mut offers = Vec::with_capacity(config.offers);
    let mut blocks = 0usize;
    while offers.len() < config.offers {
        let i = offers.len();
        let participant = format!("agg-{}", rng.below(10) + 1);
        let location = pick(&mut rng);
        let arrival = Some(epoch + Duration::seconds((config.requests + i) as i64));
        if offers.len() + 2 <= config.offers
            && !rebound_slots.is_empty()
            && rng.unit() < config.block_fraction
        {
            let t = rebound_slots
                .get(rng.below(rebound_slots.len()))
                .copied()
                .unwrap_or(0);
            blocks += 1;
            let quantity = round(rng.range(0.2, 1.5), 3);
            for (k, (slot, d)) in [(t, Direction::Down), (t + 1, Direction::Up)]
                .into_iter()
                .enumerate()
            {
                offers.push(FlexOffer {
                    id: format!("o{}", i + k + 1),
                    participant: participant.clone(),
                    location: location.clone(),
                    direction: d,
                    slot,
                    quantity,
                    price: round(rng.range(10.0, 60.0), 2),
                    block: Some(format!("k{blocks}")),
                    arrival,
                });
            }
            continue;
        }
        offers.push(FlexOffer {
            id: format!("o{}", i + 1),
            participant,
            location,
            direction: direction(&mut rng),
            slot: rng.below(config.slots),
            quantity: round(rng.range(0.2, 2.0), 3),
            price: round(rng.range(10.0, 60.0), 2),
            block: None,
            arrival,
        });
    }
    Ok(Scenario {
        book: OrderBook {
            unit: QuantityUnit::Mw,
            slots,
            requests,
            offers,
        },
        network,
        location_rule: None,
    })
}

fn radial(rng: &mut Rng, n: usize, slots: usize) -> Result<Network> {
    let buses: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
    let mut branches = Vec::with_capacity(n - 1);
    for i in 1..n {
        let parent = rng.below(i);
        branches.push(Branch {
            id: format!("l{i}"),
            from: parent,
            to: i,
            x: round(rng.range(0.01, 0.05), 4),
            limit: 1.0,
        });
    }
    let loads: Vec<f64> = (0..n).map(|_| rng.range(0.5, 1.5)).collect();
    let baseline: Vec<Vec<f64>> = (0..slots)
        .map(|t| {
            let profile = 0.8
                + 0.4
                    * ((t as f64) / slots.max(1) as f64 * std::f64::consts::TAU)
                        .sin()
                        .abs();
            let mut row: Vec<f64> = loads.iter().map(|l| -round(l * profile, 3)).collect();
            let total: f64 = row.iter().skip(1).sum();
            if let Some(s) = row.first_mut() {
                *s = -total;
            }
            row
        })
        .collect();
    let probe = Network::new(100.0, buses.clone(), 0, branches.clone(), baseline.clone())?;
    for (l, b) in branches.iter_mut().enumerate() {
        let peak = (0..slots)
            .map(|t| probe.base_flows(t).get(l).copied().unwrap_or(0.0).abs())
            .fold(0.0, f64::max);
        b.limit = round(peak * rng.range(1.05, 1.4) + 0.5, 3);
    }
    Network::new(100.0, buses, 0, branches, baseline)
}
