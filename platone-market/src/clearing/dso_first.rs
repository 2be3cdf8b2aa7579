//! `dso-first`: the Platone clearing rule and other TSO–DSO coordination schemes.

use std::collections::HashSet;
use std::time::Instant;

use super::merit::{Phase, Rule, clear_greedy, economic_order};
use super::prune::{PriceRule, prune_matched};
use super::{ClearingAlgorithm, ClearingConfig, ClearingResult, Diagnostics, average_prices};
use crate::error::{MarketError, Result};
use crate::location::{Locality, LocationRule};
use crate::order::RequestRole;
use crate::scenario::Scenario;
use crate::validation::Cut;

/// How DSO and TSO requests share the offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coordination {
    /// The Platone rule (local market): DSO requests first with offers in their area, then TSO
    /// requests with what remains.
    Local,
    /// One joint merit order of all requests (DSO requests still limited to their area).
    Common,
    /// TSO requests first, but not from the locations the DSO vetoes; then DSO requests.
    TsoWithDsoVeto {
        /// Locations the DSO excludes from TSO procurement.
        vetoed: HashSet<String>,
    },
}

/// DSO-first clearing (pay-as-bid prices).
///
/// A DSO request (or one without a role) takes the offers its location rule allows
/// ([`ClearingConfig::location_rule`]; by default `area` with a network — the congested area,
/// the buses within [`ClearingConfig::area_hops`] branches of the request bus — and `any`
/// without one). For reliability it also reserves `reliability_margin` × its accepted quantity from
/// further in-area offers (reported as matches with `"reserve": true`). An offer is never sold
/// twice.
#[derive(Debug, Clone, PartialEq)]
pub struct DsoFirst {
    /// Shared options.
    pub config: ClearingConfig,
    /// The coordination scheme.
    pub coordination: Coordination,
    /// Extra in-area flexibility reserved per DSO request, as a fraction of its accepted
    /// quantity (0 = none).
    pub reliability_margin: f64,
}

impl Default for DsoFirst {
    fn default() -> Self {
        Self {
            config: ClearingConfig::default(),
            coordination: Coordination::Local,
            reliability_margin: 0.0,
        }
    }
}

impl ClearingAlgorithm for DsoFirst {
    fn name(&self) -> &'static str {
        "dso-first"
    }

    fn clear_with_diagnostics(&self, scenario: &Scenario) -> Result<(ClearingResult, Diagnostics)> {
        if !(self.reliability_margin.is_finite() && self.reliability_margin >= 0.0) {
            return Err(MarketError::Config(format!(
                "reliability margin {} must be finite and >= 0",
                self.reliability_margin
            )));
        }
        let started = Instant::now();
        let book = &scenario.book;
        let (mut dso, mut tso): (Vec<usize>, Vec<usize>) =
            (0..book.requests.len()).partition(|&r| {
                book.requests
                    .get(r)
                    .is_some_and(|r| r.role != Some(RequestRole::Tso))
            });
        economic_order(book, &self.config, &mut dso);
        economic_order(book, &self.config, &mut tso);
        let default_rule = if scenario.network.is_some() {
            LocationRule::Area
        } else {
            LocationRule::Any
        };
        let locality = Locality::new(
            self.config.location_rule_for(scenario, default_rule),
            self.config.area_hops,
            scenario,
        );
        let phases = match &self.coordination {
            Coordination::Local => vec![
                Phase {
                    requests: dso,
                    rule: Rule::Located,
                },
                Phase {
                    requests: tso,
                    rule: Rule::Located,
                },
            ],
            Coordination::Common => {
                let mut all: Vec<usize> = dso.into_iter().chain(tso).collect();
                economic_order(book, &self.config, &mut all);
                vec![Phase {
                    requests: all,
                    rule: Rule::Located,
                }]
            }
            Coordination::TsoWithDsoVeto { vetoed } => vec![
                Phase {
                    requests: tso,
                    rule: Rule::AnyExcept(vetoed.clone()),
                },
                Phase {
                    requests: dso,
                    rule: Rule::Located,
                },
            ],
        };
        let out = clear_greedy(
            book,
            scenario.network.as_ref(),
            &self.config,
            &locality,
            &phases,
            self.reliability_margin,
        );
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
