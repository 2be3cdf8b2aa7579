//! `pay-as-bid`: merit order per slot and direction; every match is paid the offer's price.

use std::time::Instant;

use super::merit::merit_order;
use super::prune::{PriceRule, prune_matched};
use super::{ClearingAlgorithm, ClearingConfig, ClearingResult, Diagnostics, average_prices};
use crate::error::Result;
use crate::location::{Locality, LocationRule};
use crate::scenario::Scenario;
use crate::validation::Cut;

/// Merit-order clearing paying each accepted offer its own price.
///
/// Requests in economic order take the cheapest location-compatible offers of their slot and
/// direction whose price is at most the request's value. `prices` reports the volume-weighted
/// average price paid per slot and direction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayAsBid {
    /// Shared options.
    pub config: ClearingConfig,
}

impl ClearingAlgorithm for PayAsBid {
    fn name(&self) -> &'static str {
        "pay-as-bid"
    }

    fn clear_with_diagnostics(&self, scenario: &Scenario) -> Result<(ClearingResult, Diagnostics)> {
        let started = Instant::now();
        let book = &scenario.book;
        let locality = Locality::new(
            self.config.location_rule_for(scenario, LocationRule::Any),
            self.config.area_hops,
            scenario,
        );
        let out = merit_order(scenario, &self.config, &locality);
        let prices = average_prices(book, &out.matches);
        Ok(out.finish(self.name(), book, &self.config, &locality, prices, started))
    }

    fn prune(
        &self,
        scenario: &Scenario,
        result: &ClearingResult,
        cuts: &[Cut],
    ) -> Result<ClearingResult> {
        prune_matched(scenario, &self.config, result, cuts, PriceRule::AsMatched)
    }
}
