//! Market sessions: day-ahead and real-time, with gate times and the state machine
//! Open → Closed → Cleared → Validated → Published → Settled.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};

use crate::clearing::{ClearingAlgorithm, ClearingResult};
use crate::error::{MarketError, Result};
use crate::network::Network;
use crate::order::{FlexOffer, FlexRequest, OrderBook, QuantityUnit};
use crate::scenario::Scenario;
use crate::settlement::{MeterReading, OrderSettlement, PenaltyRule, settle_result};
use crate::validation::{AfterValidation, Cut, GridValidator, Verdict, validate_result};

/// Day-ahead or real-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Cleared the day before delivery.
    DayAhead,
    /// Cleared shortly before delivery (the next hours); may reuse unmatched day-ahead offers.
    RealTime,
}

/// The state of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SessionState {
    /// Accepting orders.
    Open,
    /// Gate closed, not yet cleared.
    Closed,
    /// Provisional result available.
    Cleared,
    /// Technically validated by the DSO.
    Validated,
    /// Published to all participants.
    Published,
    /// Settled against metered data.
    Settled,
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// A market session.
#[derive(Debug, Clone)]
pub struct MarketSession {
    id: String,
    kind: SessionKind,
    delivery_start: DateTime<Utc>,
    slot_minutes: u32,
    gate_open: DateTime<Utc>,
    gate_close: DateTime<Utc>,
    state: SessionState,
    scenario: Scenario,
    ids: HashSet<String>,
    result: Option<ClearingResult>,
    verdicts: Vec<Verdict>,
    cuts: Vec<Cut>,
    settlements: Vec<OrderSettlement>,
}

impl MarketSession {
    /// A new open session of `slots` slots of `slot_minutes` from `delivery_start`; slots are
    /// named `t1`, `t2`, …
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: impl Into<String>,
        kind: SessionKind,
        delivery_start: DateTime<Utc>,
        slot_minutes: u32,
        slots: usize,
        gate_open: DateTime<Utc>,
        gate_close: DateTime<Utc>,
        unit: QuantityUnit,
        network: Option<Network>,
    ) -> Result<Self> {
        let id = id.into();
        if gate_close <= gate_open {
            return Err(MarketError::Config(format!(
                "session {id:?}: gate closes before it opens"
            )));
        }
        if gate_close > delivery_start {
            return Err(MarketError::Config(format!(
                "session {id:?}: gate closes after delivery starts"
            )));
        }
        if slot_minutes == 0 || slots == 0 {
            return Err(MarketError::Config(format!(
                "session {id:?}: empty delivery period"
            )));
        }
        Ok(Self {
            id,
            kind,
            delivery_start,
            slot_minutes,
            gate_open,
            gate_close,
            state: SessionState::Open,
            scenario: Scenario {
                book: OrderBook {
                    unit,
                    slots: (1..=slots).map(|i| format!("t{i}")).collect(),
                    requests: Vec::new(),
                    offers: Vec::new(),
                },
                network,
                location_rule: None,
            },
            ids: HashSet::new(),
            result: None,
            verdicts: Vec::new(),
            cuts: Vec::new(),
            settlements: Vec::new(),
        })
    }

    /// Session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Day-ahead or real-time.
    pub fn kind(&self) -> SessionKind {
        self.kind
    }

    /// Current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Start of delivery slot `slot`.
    pub fn slot_start(&self, slot: usize) -> DateTime<Utc> {
        self.delivery_start + Duration::minutes(i64::from(self.slot_minutes) * slot as i64)
    }

    /// The session's scenario (book + network).
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The current result (provisional until published).
    pub fn result(&self) -> Option<&ClearingResult> {
        self.result.as_ref()
    }

    /// The validator's verdicts on the last validation.
    pub fn verdicts(&self) -> &[Verdict] {
        &self.verdicts
    }

    /// Settlements (after [`MarketSession::settle`]).
    pub fn settlements(&self) -> &[OrderSettlement] {
        &self.settlements
    }

    fn expect(&self, state: SessionState, action: &'static str) -> Result<()> {
        if self.state != state {
            return Err(MarketError::Session {
                session: self.id.clone(),
                action,
                state: self.state.to_string(),
            });
        }
        Ok(())
    }

    fn admit(
        &mut self,
        kind: &'static str,
        id: &str,
        slot: usize,
        quantity: f64,
        location: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let refuse = |m: String| MarketError::Gate {
            session: self.id.clone(),
            kind,
            id: id.to_string(),
            message: m,
        };
        if now < self.gate_open || now >= self.gate_close {
            return Err(refuse(format!(
                "submitted at {now}, outside the gate [{}, {})",
                self.gate_open, self.gate_close
            )));
        }
        if slot >= self.scenario.book.slots.len() {
            return Err(refuse(format!(
                "slot index {slot} outside the delivery period"
            )));
        }
        if !(quantity.is_finite() && quantity > 0.0) {
            return Err(refuse(format!("quantity {quantity} must be > 0")));
        }
        if let Some(n) = &self.scenario.network
            && n.bus(location).is_none()
        {
            return Err(refuse(format!("unknown bus {location:?}")));
        }
        if self.ids.contains(id) {
            return Err(refuse("duplicate id".into()));
        }
        self.ids.insert(id.to_string());
        Ok(())
    }

    /// Submits a request while the gate is open.
    pub fn submit_request(&mut self, request: FlexRequest, now: DateTime<Utc>) -> Result<()> {
        self.expect(SessionState::Open, "submit a request")?;
        self.admit(
            "request",
            &request.id,
            request.slot,
            request.quantity,
            &request.location,
            now,
        )?;
        self.scenario.book.requests.push(request);
        Ok(())
    }

    /// Submits an offer while the gate is open.
    pub fn submit_offer(&mut self, offer: FlexOffer, now: DateTime<Utc>) -> Result<()> {
        self.expect(SessionState::Open, "submit an offer")?;
        self.admit(
            "offer",
            &offer.id,
            offer.slot,
            offer.quantity,
            &offer.location,
            now,
        )?;
        self.scenario.book.offers.push(offer);
        Ok(())
    }

    /// Closes the gate (at or after the gate-closure time).
    pub fn close(&mut self, now: DateTime<Utc>) -> Result<()> {
        self.expect(SessionState::Open, "close")?;
        if now < self.gate_close {
            return Err(MarketError::Session {
                session: self.id.clone(),
                action: "close before gate closure",
                state: self.state.to_string(),
            });
        }
        self.state = SessionState::Closed;
        Ok(())
    }

    /// Clears the closed session.
    pub fn clear(&mut self, algorithm: &dyn ClearingAlgorithm) -> Result<&ClearingResult> {
        self.expect(SessionState::Closed, "clear")?;
        let result = algorithm.clear(&self.scenario)?;
        self.state = SessionState::Cleared;
        Ok(self.result.insert(result))
    }

    /// Technical validation: red orders are removed from the book and the book is cleared again
    /// with `algorithm`, until the validator reports no red (at most `max_rounds` rounds).
    /// The same as [`MarketSession::validate_with`] with [`AfterValidation::Reclear`].
    pub fn validate(
        &mut self,
        validator: &dyn GridValidator,
        algorithm: &dyn ClearingAlgorithm,
        max_rounds: usize,
    ) -> Result<&[Verdict]> {
        self.validate_with(validator, algorithm, AfterValidation::Reclear, max_rounds)
    }

    /// Technical validation with the operator's choice of what follows red verdicts: the cut
    /// orders are removed from the book (curtailed ones capped, blocks removed whole) and the
    /// book is cleared again ([`AfterValidation::Reclear`]) or the result keeps the remaining
    /// accepted orders ([`AfterValidation::Keep`], see [`ClearingAlgorithm::prune`]), until the
    /// validator reports no red (at most `max_rounds` validations). On success the session is
    /// Validated and [`MarketSession::verdicts`] holds the last (red-free) verdicts; on failure
    /// the session stays Cleared with its result unchanged.
    pub fn validate_with(
        &mut self,
        validator: &dyn GridValidator,
        algorithm: &dyn ClearingAlgorithm,
        after: AfterValidation,
        max_rounds: usize,
    ) -> Result<&[Verdict]> {
        self.expect(SessionState::Cleared, "validate")?;
        let Some(result) = self.result.clone() else {
            return Err(MarketError::Session {
                session: self.id.clone(),
                action: "validate without a result",
                state: self.state.to_string(),
            });
        };
        let outcome = validate_result(
            &self.scenario,
            result,
            validator,
            algorithm,
            after,
            max_rounds,
        )
        .map_err(|e| match e {
            MarketError::Validation(_) => MarketError::Session {
                session: self.id.clone(),
                action: "validate: red orders remain after the last round",
                state: self.state.to_string(),
            },
            other => other,
        })?;
        self.scenario = outcome.scenario;
        self.result = Some(outcome.result);
        self.cuts.extend(outcome.cuts);
        self.verdicts = outcome.rounds.into_iter().last().unwrap_or_default();
        self.state = SessionState::Validated;
        Ok(&self.verdicts)
    }

    /// Every cut the validation applied (removed orders keep 0).
    pub fn cuts(&self) -> &[Cut] {
        &self.cuts
    }

    /// Publishes the validated result.
    pub fn publish(&mut self) -> Result<&ClearingResult> {
        self.expect(SessionState::Validated, "publish")?;
        self.state = SessionState::Published;
        self.result.as_ref().ok_or_else(|| MarketError::Session {
            session: self.id.clone(),
            action: "publish without a result",
            state: self.state.to_string(),
        })
    }

    /// Settles the published result against metered readings.
    pub fn settle(
        &mut self,
        readings: &[MeterReading],
        penalty: PenaltyRule,
    ) -> Result<&[OrderSettlement]> {
        self.expect(SessionState::Published, "settle")?;
        let Some(result) = &self.result else {
            return Err(MarketError::Session {
                session: self.id.clone(),
                action: "settle without a result",
                state: self.state.to_string(),
            });
        };
        self.settlements = settle_result(&self.scenario, result, readings, penalty)?;
        self.state = SessionState::Settled;
        Ok(&self.settlements)
    }

    /// Opens a real-time session over `slots` slots of this (published or settled) day-ahead
    /// session starting at slot `first_slot`, carrying over the unmatched part of every offer
    /// in that window (ids suffixed `-rt`). Blocks are not carried over.
    pub fn real_time_from(
        &self,
        id: impl Into<String>,
        first_slot: usize,
        slots: usize,
        gate_open: DateTime<Utc>,
        gate_close: DateTime<Utc>,
    ) -> Result<MarketSession> {
        if self.state < SessionState::Published {
            return Err(MarketError::Session {
                session: self.id.clone(),
                action: "reuse offers before publication",
                state: self.state.to_string(),
            });
        }
        let mut rt = MarketSession::new(
            id,
            SessionKind::RealTime,
            self.slot_start(first_slot),
            self.slot_minutes,
            slots,
            gate_open,
            gate_close,
            self.scenario.book.unit,
            self.scenario.network.clone(),
        )?;
        let result = self.result.as_ref();
        for o in &self.scenario.book.offers {
            if o.block.is_some() || o.slot < first_slot || o.slot >= first_slot + slots {
                continue;
            }
            let used = result.map_or(0.0, |r| r.offer_quantity(&o.id));
            let rest = o.quantity - used;
            if rest > crate::clearing::QUANTITY_EPSILON {
                let id = format!("{}-rt", o.id);
                rt.ids.insert(id.clone());
                rt.scenario.book.offers.push(FlexOffer {
                    id,
                    slot: o.slot - first_slot,
                    quantity: rest,
                    ..o.clone()
                });
            }
        }
        Ok(rt)
    }
}
