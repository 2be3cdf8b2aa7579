//! `pay-as-clear`: merit order per slot and direction, one uniform price per slot and direction.

use std::time::Instant;

use super::merit::merit_order;
use super::prune::{PriceRule, prune_matched};
use super::{ClearingAlgorithm, ClearingConfig, ClearingResult, Diagnostics, RawMatch};
use crate::error::Result;
use crate::location::{Locality, LocationRule};
use crate::order::OrderBook;
use crate::scenario::Scenario;
use crate::validation::Cut;

/// Merit-order clearing with a uniform price.
///
/// Acceptance is the same as `pay-as-bid`. Price rule: in each slot and direction the
/// marginal accepted offer sets the price — the highest price among the offers accepted there;
/// every match of that slot and direction is paid this price.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayAsClear {
    /// Shared options.
    pub config: ClearingConfig,
}

impl ClearingAlgorithm for PayAsClear {
    fn name(&self) -> &'static str {
        "pay-as-clear"
    }

    fn clear_with_diagnostics(&self, scenario: &Scenario) -> Result<(ClearingResult, Diagnostics)> {
        let started = Instant::now();
        let book = &scenario.book;
        let locality = Locality::new(
            self.config.location_rule_for(scenario, LocationRule::Any),
            self.config.area_hops,
            scenario,
        );
        let mut out = merit_order(scenario, &self.config, &locality);
        let prices = uniform_prices(book, &mut out.matches);
        Ok(out.finish(self.name(), book, &self.config, &locality, prices, started))
    }

    fn prune(
        &self,
        scenario: &Scenario,
        result: &ClearingResult,
        cuts: &[Cut],
    ) -> Result<ClearingResult> {
        prune_matched(scenario, &self.config, result, cuts, PriceRule::Uniform)
    }
}

/// The uniform price per slot and direction (the highest offer price among its matches), with
/// every match repriced to it.
pub(crate) fn uniform_prices(book: &OrderBook, matches: &mut [RawMatch]) -> Vec<[Option<f64>; 2]> {
    let mut prices: Vec<[Option<f64>; 2]> = vec![[None; 2]; book.slots.len()];
    for m in matches.iter() {
        if let Some(o) = book.offers.get(m.offer)
            && let Some(p) = prices.get_mut(o.slot)
        {
            let e = &mut p[o.direction.index()];
            *e = Some(e.map_or(o.price, |v: f64| v.max(o.price)));
        }
    }
    for m in matches.iter_mut() {
        if let Some(o) = book.offers.get(m.offer)
            && let Some(Some(p)) = prices.get(o.slot).map(|p| p[o.direction.index()])
        {
            m.price = p;
        }
    }
    prices
}
