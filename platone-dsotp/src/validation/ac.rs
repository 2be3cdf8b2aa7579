//! The AC validator: a market result checked against bus voltage and branch thermal limits
//! with `platone-grid`'s AC power flow.

use platone_grid::{BusState, Network, PowerFlowOptions, Start};
use platone_market::clearing::ClearingResult;
use platone_market::order::Direction;
use platone_market::scenario::Scenario;
use platone_market::validation::{GridValidator, Light, LineLoadingValidator, OrderKind, Verdict};

use super::config::{AcValidatorConfig, RequestInjection};
use super::flow::{self, Anchor, Change, Finding};
use super::report::{AcReport, SlotReport};
use crate::error::{DsotpError, Result};

/// Checks market results against the AC limits of a grid model: bus voltages against each
/// bus's `Vmin`/`Vmax` and branch apparent power against `rateA` (MVA; 0 = unlimited, as in
/// MATPOWER), with the DC line-loading check added when the book carries a DC network.
///
/// **Sign convention** (defined once, here): an injection change is positive when more power
/// flows into the grid at the bus. An accepted offer `up` is +q (more generation or less
/// load), `down` is −q; an accepted request counts as set by
/// [`RequestInjection`] (by default the counterpart: `up` is −q at its location, `down` +q,
/// as in the DC check). Quantities are scaled to MW by [`AcValidatorConfig::scale`]; reactive
/// power follows [`AcValidatorConfig::power_factor`].
///
/// **Method**, per slot with accepted orders: the slot's changes are applied to the case's
/// loads and the AC power flow solved. Every limit left (red) or approached (amber) is then
/// *blamed*: the power flow is solved again without each accepted order of the slot, and an
/// order is blamed for a limit when removing it moves the value back (the voltage down for an
/// overvoltage, up for an undervoltage, the loading down). A limit already left without any
/// award (the base case) is thus only blamed on awards that make it worse. The cost is one
/// power flow for the base case, one per slot with orders, and, in a slot where a limit is
/// left or approached, one more per accepted order of the slot (tens of orders on a feeder
/// of tens to hundreds of buses take milliseconds). A power flow that does not converge with
/// the slot's awards makes every order of the slot red, with the reason.
#[derive(Debug, Clone)]
pub struct AcValidator {
    network: Network,
    /// The network the power flows run on: the case with the estimated voltages as the
    /// Newton start.
    working: Network,
    config: AcValidatorConfig,
    /// Per bus position: the estimated magnitude and angle (radians).
    estimate: Option<Vec<Option<(f64, f64)>>>,
}

/// An accepted order read onto the grid model.
struct Award<'a> {
    kind: OrderKind,
    id: &'a str,
    slot: usize,
    change: Option<Change>,
    /// The verdict when the order cannot be checked (not in the book, not on the grid).
    fixed: Option<(Light, String)>,
}

/// The worst light found for an order, with the reasons of that light.
#[derive(Debug, Clone, Default)]
struct Judgement {
    light: Option<Light>,
    reasons: Vec<String>,
}

impl Judgement {
    fn raise(&mut self, light: Light, reason: String) {
        match self.light {
            Some(l) if l > light => {}
            Some(l) if l == light => {
                if !self.reasons.contains(&reason) {
                    self.reasons.push(reason);
                }
            }
            _ => {
                self.light = Some(light);
                self.reasons = vec![reason];
            }
        }
    }
}

impl AcValidator {
    /// A validator on `network` with `config` (checked, see [`AcValidatorConfig::check`];
    /// every mapped bus must be in the case).
    pub fn new(network: Network, config: AcValidatorConfig) -> Result<Self> {
        config.check()?;
        for (location, bus) in &config.locations {
            if network.bus_index(*bus).is_none() {
                return Err(DsotpError::invalid(
                    format!("validation.locations.{location}"),
                    format!("bus {bus} is not in the case"),
                ));
            }
        }
        Ok(AcValidator {
            working: network.clone(),
            network,
            config,
            estimate: None,
        })
    }

    /// A validator on a MATPOWER case given as text.
    pub fn from_case(case: &str, config: AcValidatorConfig) -> Result<Self> {
        Self::new(platone_grid::parse_case(case)?, config)
    }

    /// The grid model.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The settings.
    pub fn config(&self) -> &AcValidatorConfig {
        &self.config
    }

    /// Sets the latest estimated state (the state estimator's bus voltages; buses left out
    /// keep the power flow's values). From then on:
    ///
    /// - each power flow starts from the estimated voltages (Newton's start point);
    /// - the base case is the estimated state itself: its violations are the
    ///   [`AcReport::base_violations`];
    /// - each state is judged as the estimate moved by what the awards change,
    ///   `estimate + (flow with the awards − flow without)` for magnitudes and angles, branch
    ///   loadings computed from those voltages. The case's loads are not fitted to the
    ///   estimate: the power flow supplies the awards' effect (a sensitivity, accurate while
    ///   the estimate is near the case's operating point), the estimate the level.
    ///
    /// An unknown bus or a non-finite or non-positive magnitude is refused (nothing changes).
    pub fn set_operating_point(&mut self, state: &[BusState]) -> Result<()> {
        let mut estimate = vec![None; self.network.buses.len()];
        let mut working = self.network.clone();
        for (k, s) in state.iter().enumerate() {
            let Some(i) = self.network.bus_index(s.bus) else {
                return Err(DsotpError::invalid(
                    format!("state[{k}].bus"),
                    format!("bus {} is not in the case", s.bus),
                ));
            };
            if !(s.vm.is_finite() && s.vm > 0.0 && s.va.is_finite()) {
                return Err(DsotpError::invalid(
                    format!("state[{k}]"),
                    format!("bus {}: vm {} / va {} are not a voltage", s.bus, s.vm, s.va),
                ));
            }
            if let (Some(e), Some(b)) = (estimate.get_mut(i), working.buses.get_mut(i)) {
                *e = Some((s.vm, s.va.to_radians()));
                b.vm = s.vm;
                b.va = s.va;
            }
        }
        self.estimate = Some(estimate);
        self.working = working;
        Ok(())
    }

    /// Forgets the estimated state: power flows start from the case and are judged as solved.
    pub fn clear_operating_point(&mut self) {
        self.estimate = None;
        self.working = self.network.clone();
    }

    /// Whether an estimated state is set.
    pub fn has_operating_point(&self) -> bool {
        self.estimate.is_some()
    }

    fn options(&self) -> PowerFlowOptions {
        PowerFlowOptions {
            tolerance: self.config.mismatch_tolerance,
            max_iterations: self.config.max_iterations,
            start: Start::Case,
            enforce_q_limits: false,
        }
    }

    /// The bus position of a market location.
    fn locate(&self, location: &str) -> Option<usize> {
        match self.config.locations.get(location) {
            Some(bus) => self.network.bus_index(*bus),
            None if self.config.bus_numbers_as_locations => location
                .trim()
                .parse::<u64>()
                .ok()
                .and_then(|n| self.network.bus_index(n)),
            None => None,
        }
    }

    /// The accepted orders of `result` read onto the grid, offers then requests.
    fn awards<'a>(&self, scenario: &'a Scenario, result: &'a ClearingResult) -> Vec<Award<'a>> {
        let book = &scenario.book;
        let dc_base = scenario.network.as_ref().map(|n| n.base_mva());
        let scale = self.config.scale(book.unit, dc_base, self.network.base_mva);
        let q_per_p = self.config.q_per_p();
        let mut out = Vec::new();
        let offers = result.accepted_offers.iter().map(|a| {
            let order = book.offers.iter().find(|o| o.id == a.id);
            let found = order.map(|o| (o.location.as_str(), o.direction, o.slot, 1.0));
            (OrderKind::Offer, a, found)
        });
        let request_sign = match self.config.requests {
            RequestInjection::Counter => -1.0,
            RequestInjection::Ignore => 0.0,
        };
        let requests = result.accepted_requests.iter().map(|a| {
            let order = book.requests.iter().find(|r| r.id == a.id);
            let found = order.map(|r| (r.location.as_str(), r.direction, r.slot, request_sign));
            (OrderKind::Request, a, found)
        });
        for (kind, accepted, found) in offers.chain(requests) {
            let id = accepted.id.as_str();
            let Some((location, direction, slot, sign)) = found else {
                out.push(Award {
                    kind,
                    id,
                    slot: usize::MAX,
                    change: None,
                    fixed: Some((
                        Light::Red,
                        format!("{} {id:?} is not in the book", kind.as_str()),
                    )),
                });
                continue;
            };
            if !(accepted.quantity.is_finite() && accepted.quantity >= 0.0) {
                out.push(Award {
                    kind,
                    id,
                    slot,
                    change: None,
                    fixed: Some((
                        Light::Red,
                        format!("accepted quantity {} is not valid", accepted.quantity),
                    )),
                });
                continue;
            }
            let Some(bus) = self.locate(location) else {
                out.push(Award {
                    kind,
                    id,
                    slot,
                    change: None,
                    fixed: Some((
                        self.config.unmapped,
                        format!("location {location:?} is not on the grid model: not checked"),
                    )),
                });
                continue;
            };
            let direction = if direction == Direction::Up {
                1.0
            } else {
                -1.0
            };
            let p = sign * direction * accepted.quantity * scale;
            out.push(Award {
                kind,
                id,
                slot,
                change: Some(Change {
                    bus,
                    p,
                    q: p * q_per_p,
                }),
                fixed: None,
            });
        }
        out
    }

    /// Checks `result` (cleared from `scenario`): one verdict per accepted order and what was
    /// found, see [`AcValidator`] for the method. Never fails: what cannot be checked is
    /// judged red (an order not in the book, a power flow that does not converge) or
    /// [`AcValidatorConfig::unmapped`] (a location not on the grid model), with the reason.
    pub fn check(&self, scenario: &Scenario, result: &ClearingResult) -> AcReport {
        let awards = self.awards(scenario, result);
        let mut judged: Vec<Judgement> = vec![Judgement::default(); awards.len()];
        for (j, a) in judged.iter_mut().zip(&awards) {
            if let Some((light, reason)) = &a.fixed {
                j.raise(*light, reason.clone());
            }
        }
        let options = self.options();
        let regulated = flow::regulated_buses(&self.network);
        let mut report = AcReport {
            verdicts: Vec::new(),
            base_violations: Vec::new(),
            estimated_base: self.estimate.is_some(),
            slots: Vec::new(),
            power_flows: 1,
        };
        let mut slots: Vec<usize> = awards
            .iter()
            .filter(|a| a.change.is_some())
            .map(|a| a.slot)
            .collect();
        slots.sort_unstable();
        slots.dedup();
        match flow::solve(&self.working, &[], &options) {
            Err(why) => {
                let reason = format!("the AC power flow of the base case (no awards) {why}");
                tracing::warn!("validation: {reason}");
                for (j, a) in judged.iter_mut().zip(&awards) {
                    if a.change.is_some() {
                        j.raise(Light::Red, reason.clone());
                    }
                }
            }
            Ok(base) => {
                let anchor = Anchor {
                    base: &base,
                    estimate: self.estimate.as_deref(),
                };
                let base_state = anchor.base_state();
                let base_loadings = flow::loadings(&self.network, &base_state);
                let base_findings = flow::scan(
                    &self.network,
                    &base_state,
                    &base_loadings,
                    &regulated,
                    &self.config,
                );
                report.base_violations = base_findings
                    .iter()
                    .filter_map(|f| f.violation.clone())
                    .collect();
                if !report.base_violations.is_empty() {
                    tracing::info!(
                        "validation: {} violations without any award",
                        report.base_violations.len()
                    );
                }
                let context = SlotContext {
                    validator: self,
                    scenario,
                    options: &options,
                    anchor: &anchor,
                    base_findings: &base_findings,
                    regulated: &regulated,
                };
                for t in slots {
                    let slot = context.check_slot(t, &awards, &mut judged);
                    report.power_flows += slot.power_flows;
                    report.slots.push(slot);
                }
            }
        }
        let mut verdicts: Vec<Verdict> = awards
            .iter()
            .zip(judged)
            .map(|(a, j)| Verdict {
                kind: a.kind,
                order: a.id.to_owned(),
                light: j.light.unwrap_or(Light::Green),
                reason: j.reasons.join("; "),
                curtail_to: None,
            })
            .collect();
        if self.config.dc_line_loading && scenario.network.is_some() {
            let dc = LineLoadingValidator {
                amber_loading: self.config.dc_amber_loading,
                ..LineLoadingValidator::default()
            };
            merge(&mut verdicts, dc.validate(scenario, result));
        }
        report.verdicts = verdicts;
        report
    }
}

/// What every slot's check shares.
struct SlotContext<'a> {
    validator: &'a AcValidator,
    scenario: &'a Scenario,
    options: &'a PowerFlowOptions,
    anchor: &'a Anchor<'a>,
    /// The limits left or approached without any award.
    base_findings: &'a [Finding],
    regulated: &'a [bool],
}

impl SlotContext<'_> {
    /// Judges the awards of slot `t` into `judged`.
    fn check_slot(&self, t: usize, awards: &[Award<'_>], judged: &mut [Judgement]) -> SlotReport {
        let net = &self.validator.network;
        let cfg = &self.validator.config;
        let name = self
            .scenario
            .book
            .slots
            .get(t)
            .cloned()
            .unwrap_or_else(|| format!("#{t}"));
        let in_slot: Vec<(usize, Change)> = awards
            .iter()
            .enumerate()
            .filter(|(_, a)| a.slot == t)
            .filter_map(|(k, a)| a.change.map(|c| (k, c)))
            .collect();
        let changes: Vec<Change> = in_slot.iter().map(|(_, c)| *c).collect();
        let mut report = SlotReport {
            slot: name.clone(),
            converged: true,
            violations: Vec::new(),
            power_flows: 1,
            note: None,
        };
        let with = match flow::solve(&self.validator.working, &changes, self.options) {
            Ok(state) => self.anchor.assess(&state),
            Err(why) => {
                let reason = format!("the AC power flow of slot {name:?} with the awards {why}");
                tracing::warn!("validation: {reason}");
                for (k, _) in &in_slot {
                    if let Some(j) = judged.get_mut(*k) {
                        j.raise(Light::Red, reason.clone());
                    }
                }
                report.converged = false;
                report.note = Some(reason);
                return report;
            }
        };
        let loadings = flow::loadings(net, &with);
        let findings = flow::scan(net, &with, &loadings, self.regulated, cfg);
        report.violations = findings
            .iter()
            .filter_map(|f| f.violation.clone())
            .collect();
        let concerns: Vec<_> = findings.into_iter().filter(|f| !f.regulated).collect();
        if concerns.is_empty() {
            return report;
        }
        for (position, (k, change)) in in_slot.iter().enumerate() {
            if change.p == 0.0 && change.q == 0.0 {
                continue;
            }
            let without: Vec<Change> = changes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != position)
                .map(|(_, c)| *c)
                .collect();
            report.power_flows += 1;
            // Without this order the grid cannot be solved: the order is what holds it; it is
            // not blamed.
            let Ok(state) = flow::solve(&self.validator.working, &without, self.options) else {
                continue;
            };
            let state = self.anchor.assess(&state);
            let loadings_without = flow::loadings(net, &state);
            for c in &concerns {
                let Some(value) = c.watch.measure(&state, &loadings_without) else {
                    continue;
                };
                let tolerance = match c.watch {
                    flow::Watch::Loading(_) => cfg.loading_tolerance,
                    _ => cfg.voltage_tolerance,
                };
                if !c.watch.pushed(c.value, value, tolerance) {
                    continue;
                }
                let mut reason = format!("{} in slot {name:?}", c.text);
                let before = self
                    .base_findings
                    .iter()
                    .find(|b| b.watch == c.watch && b.light == Light::Red);
                if let (Some(before), Light::Red) = (before, c.light) {
                    reason.push_str(&base_note(c.watch, before.value));
                }
                if let Some(j) = judged.get_mut(*k) {
                    j.raise(c.light, reason);
                }
            }
        }
        report
    }
}

/// ` (already 1.055 without the awards)` for a limit already left in the base case.
fn base_note(watch: flow::Watch, before: f64) -> String {
    match watch {
        flow::Watch::Loading(_) => format!(" (already {before:.1}% without the awards)"),
        _ => format!(" (already {before:.3} p.u. without the awards)"),
    }
}

/// Merges the DC check's verdicts into the AC ones (by order): the worst light wins, the
/// reasons are joined; a red order is curtailed only when every red verdict curtails it (to
/// the smaller quantity).
fn merge(verdicts: &mut [Verdict], dc: Vec<Verdict>) {
    for d in dc {
        let Some(v) = verdicts
            .iter_mut()
            .find(|v| v.kind == d.kind && v.order == d.order)
        else {
            continue;
        };
        let curtail_to = match (v.light == Light::Red, d.light == Light::Red) {
            (true, true) => match (v.curtail_to, d.curtail_to) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            },
            (true, false) => v.curtail_to,
            (false, true) => d.curtail_to,
            (false, false) => None,
        };
        v.light = v.light.max(d.light);
        if !d.reason.is_empty() {
            if v.reason.is_empty() {
                v.reason = d.reason;
            } else {
                v.reason = format!("{}; {}", v.reason, d.reason);
            }
        }
        v.curtail_to = curtail_to;
    }
}

impl GridValidator for AcValidator {
    fn validate(&self, scenario: &Scenario, result: &ClearingResult) -> Vec<Verdict> {
        self.check(scenario, result).verdicts
    }
}
