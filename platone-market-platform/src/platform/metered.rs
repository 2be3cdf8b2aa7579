//! The platform with the SCD: orders' PoDs checked against its registry (D2.2 FR_MP_I_1), and
//! settlement from its metered data with computed baselines (FR-MP-SET-03..06).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use platone_market::QuantityUnit;
use platone_market::settlement::{Event, MeteredSeries, compute_baseline};

use super::{MarketPlatform, not_found};
use crate::error::{PlatformError, Result};
use crate::grid_data::GridData;
use crate::roles::Caller;
use crate::session::{Session, StoredOrder};
use crate::settlement::{MeteredValue, ScdSettlement, SettlementInput};

/// Watts per unit of the session's quantities.
fn watts_per_unit(unit: QuantityUnit) -> Result<f64> {
    match unit {
        QuantityUnit::Mw => Ok(1e6),
        QuantityUnit::Kw => Ok(1e3),
        _ => Err(PlatformError::invalid(
            "from_scd",
            "a session in per-unit quantities cannot be settled from metered watts",
        )),
    }
}

impl MarketPlatform {
    /// Checks orders' locations against `grid_data` (the SCD's PoD registry) from now on.
    pub fn with_grid_data(mut self, grid_data: Arc<dyn GridData>) -> Self {
        self.grid_data = Some(grid_data);
        self
    }

    /// [`MarketPlatform::submit`], with each order's location first checked against the SCD's
    /// PoD registry when the platform has one: a location that is a bus of the session's
    /// network passes; any other must be a registered PoD, operated by the requesting DSO
    /// (a TSO may ask at any PoD), or served by the offering aggregator at the start of the
    /// offer's slot (now, for slots not named by their start). The first order that fails is
    /// named (`orders[i].location`) and nothing is stored.
    pub async fn submit_orders(
        &self,
        caller: &Caller,
        session: &str,
        offers: bool,
        bodies: Vec<serde_json::Value>,
    ) -> Result<Vec<StoredOrder>> {
        if let Some(grid) = &self.grid_data {
            // The roles first: a caller who may not post is told so, not where its PoD is.
            if offers {
                caller.require_aggregator()?;
            } else {
                caller.require_system_operator()?;
            }
            let record = self.session(session)?;
            for (i, body) in bodies.iter().enumerate() {
                self.check_location(grid.as_ref(), caller, &record, offers, body)
                    .await
                    .map_err(|message| {
                        PlatformError::invalid(format!("orders[{i}].location"), message)
                    })?;
            }
        }
        let platform = self.clone();
        let (caller, session) = (caller.clone(), session.to_owned());
        tokio::task::spawn_blocking(move || platform.submit(&caller, &session, offers, bodies))
            .await
            .map_err(|e| PlatformError::Store(format!("the intake task stopped: {e}")))?
    }

    async fn check_location(
        &self,
        grid: &dyn GridData,
        caller: &Caller,
        session: &Session,
        offers: bool,
        body: &serde_json::Value,
    ) -> std::result::Result<(), String> {
        // Malformed orders are named by the intake's own checks.
        let Some(location) = body.get("location").and_then(|l| l.as_str()) else {
            return Ok(());
        };
        let on_network = session
            .spec
            .network
            .as_ref()
            .is_some_and(|n| n.buses.iter().any(|b| b == location));
        if on_network {
            return Ok(());
        }
        let entry = grid
            .pod(location)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{location:?} is neither a bus of the session's network nor a PoD registered in the SCD"))?;
        if offers {
            let at = body
                .get("slot")
                .and_then(|s| s.as_str())
                .and_then(|s| session.spec.slot_interval(s))
                .map_or_else(Utc::now, |(start, _)| start);
            if !entry.served_by(&caller.participant, at) {
                return Err(format!(
                    "{} does not serve PoD {location:?} at {} (the SCD's PoD links)",
                    caller.participant,
                    at.to_rfc3339()
                ));
            }
        } else if caller.require_system_operator().ok() == Some(platone_market::RequestRole::Dso)
            && entry.dso != caller.participant
        {
            return Err(format!(
                "PoD {location:?} is on the grid of {}, not of {}",
                entry.dso, caller.participant
            ));
        }
        Ok(())
    }

    /// Settles a published session from the SCD's metered data (the operator only): each
    /// accepted offer's metered value is its PoD's mean net consumption over its slot, in the
    /// session's unit; its baseline the declared one, or computed with `settings.baseline`
    /// from the PoD's history in intervals of the slot length. Then as
    /// [`MarketPlatform::settle`].
    pub async fn settle_from_scd(
        &self,
        caller: &Caller,
        session: &str,
        settings: &ScdSettlement,
        mut input: SettlementInput,
    ) -> Result<()> {
        caller.require_operator()?;
        let grid = self.grid_data.clone().ok_or_else(|| {
            PlatformError::invalid("from_scd", "the platform has no SCD configured")
        })?;
        if !input.metered.is_empty() {
            return Err(PlatformError::invalid(
                "metered",
                "give metered values or from_scd, not both",
            ));
        }
        let record = self.session(session)?;
        let watts = watts_per_unit(record.spec.unit)?;
        let minutes = record.spec.slot_minutes.ok_or_else(|| {
            PlatformError::invalid(
                "from_scd",
                "the session's slots are not named by their start (no slot_minutes)",
            )
        })?;
        let (accepted, declared) = {
            let books = self.books()?;
            let book = books
                .get(session)
                .ok_or_else(|| not_found("session", session))?;
            let outcome = book
                .outcome
                .as_ref()
                .ok_or_else(|| PlatformError::conflict(session, "no result to settle"))?;
            let scenario = book.builder.scenario();
            let accepted: Vec<(String, String, String)> = outcome
                .result
                .accepted_offers
                .iter()
                .filter_map(|a| {
                    let offer = scenario.book.offers.iter().find(|o| o.id == a.id)?;
                    let slot = record.spec.slots.get(offer.slot)?;
                    Some((a.id.clone(), offer.location.clone(), slot.clone()))
                })
                .collect();
            (accepted, outcome.baselines.clone())
        };
        let per_day = i64::from(24 * 60 / minutes.max(1));
        for (order, pod, slot) in accepted {
            let at = |m: &str| PlatformError::invalid(format!("from_scd.{order}"), m);
            let (start, _) = record
                .spec
                .slot_interval(&slot)
                .ok_or_else(|| at("the slot is not named by its start"))?;
            // One read per offer: the slot alone, or the history the baseline method needs,
            // which ends with the slot and the interval after it.
            let method = match (declared.get(&order), &settings.baseline) {
                (Some(_), _) | (None, None) => None,
                (None, Some(spec)) => Some(spec),
            };
            let days = method.map_or(0, |spec| spec.history_days());
            let from: DateTime<Utc> = start - TimeDelta::days(days);
            let slot_index = usize::try_from(days * per_day).unwrap_or(0);
            let intervals = if method.is_some() { slot_index + 2 } else { 1 };
            let read = grid.net_consumption(&pod, from, minutes, intervals).await?;
            let actual = read
                .get(slot_index)
                .copied()
                .flatten()
                .ok_or_else(|| at(&format!("no readings of PoD {pod:?} in slot {slot}")))?;
            let baseline = match (declared.get(&order), method) {
                (Some(b), _) => *b,
                (None, None) => {
                    return Err(at("no baseline declared and no baseline method given"));
                }
                (None, Some(spec)) => {
                    // The method reads what it needs: intervals without readings are NaN, and a
                    // baseline that needs one is not finite.
                    let values = read.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
                    let series = MeteredSeries {
                        start: from,
                        step_minutes: minutes,
                        values,
                    };
                    let computed = compute_baseline(
                        &spec.method(),
                        &series,
                        Event {
                            start,
                            intervals: 1,
                        },
                    )
                    .map_err(|e| at(&e.to_string()))?;
                    match computed.first() {
                        Some(b) if b.is_finite() => *b / watts,
                        _ => return Err(at("the baseline needs readings the SCD does not have")),
                    }
                }
            };
            input.metered.push(MeteredValue {
                order,
                actual: actual / watts,
                baseline: Some(baseline),
            });
        }
        let platform = self.clone();
        let (caller, session) = (caller.clone(), session.to_owned());
        tokio::task::spawn_blocking(move || platform.settle(&caller, &session, input))
            .await
            .map_err(|e| PlatformError::Store(format!("the settlement task stopped: {e}")))?
    }
}
