//! Baselines and settlement of a published session.

use std::collections::BTreeMap;

use platone_market::settlement::{MeterReading, PenaltyRule, settle_result};

use super::{Book, MarketPlatform, not_found};
use crate::error::{PlatformError, Result};
use crate::roles::Caller;
use crate::session::SessionStatus;
use crate::settlement::{
    AwardSettlement, BaselineDeclaration, Penalty, SettlementInput, SettlementReport,
};

/// The book of a published session, or why not (`what` says what is asked for: "settlement
/// is for").
fn published<'a>(
    books: &'a mut BTreeMap<String, Book>,
    session: &str,
    what: &str,
) -> Result<&'a mut Book> {
    let book = books
        .get_mut(session)
        .ok_or_else(|| not_found("session", session))?;
    if book.session.status != SessionStatus::Published {
        return Err(PlatformError::conflict(
            session,
            format!(
                "{what} a published session; it is {}",
                book.session.status.as_str()
            ),
        ));
    }
    Ok(book)
}

/// Base units of one token.
const TOKEN_UNIT: f64 = 100.0;

impl MarketPlatform {
    fn tokens(&self) -> Result<std::sync::MutexGuard<'_, platone_market::token::TokenLedger>> {
        self.tokens
            .lock()
            .map_err(|_| PlatformError::Store("the token ledger's lock is poisoned".into()))
    }

    /// An aggregator declares baselines for its own accepted offers of a published session
    /// (again: the later value holds until settlement).
    pub fn declare_baselines(
        &self,
        caller: &Caller,
        session: &str,
        declaration: BaselineDeclaration,
    ) -> Result<BTreeMap<String, f64>> {
        caller.require_aggregator()?;
        let mut books = self.books()?;
        let book = published(&mut books, session, "baselines are declared for")?;
        let outcome = book
            .outcome
            .as_mut()
            .ok_or_else(|| PlatformError::conflict(session, "no result"))?;
        let mut updated = outcome.clone();
        for (i, declared) in declaration.baselines.iter().enumerate() {
            let at = format!("baselines[{i}]");
            let own = outcome.awards.iter().any(|a| {
                a.award.order == declared.order
                    && a.award.kind == "offer"
                    && a.award.participant == caller.participant
            });
            if !own {
                return Err(PlatformError::invalid(
                    format!("{at}.order"),
                    format!(
                        "{:?} is not an accepted offer of {}",
                        declared.order, caller.participant
                    ),
                ));
            }
            if !declared.baseline.is_finite() {
                return Err(PlatformError::invalid(
                    format!("{at}.baseline"),
                    "not finite",
                ));
            }
            updated
                .baselines
                .insert(declared.order.clone(), declared.baseline);
        }
        self.store.put_outcome(session, &updated)?;
        self.audit(
            session,
            &caller.participant,
            "baselines",
            format!("{} baselines declared", declaration.baselines.len()),
        )?;
        let own = updated
            .awards
            .iter()
            .filter(|a| a.award.participant == caller.participant)
            .filter_map(|a| {
                updated
                    .baselines
                    .get(&a.award.order)
                    .map(|b| (a.award.order.clone(), *b))
            })
            .collect();
        *outcome = updated;
        Ok(own)
    }

    /// The operator settles a published session: every accepted offer needs a metered value
    /// and a baseline (declared, or given with the metered value); tokens are minted to the
    /// aggregators for what they delivered.
    pub fn settle(&self, caller: &Caller, session: &str, input: SettlementInput) -> Result<()> {
        caller.require_operator()?;
        if !(input.tokens_per_unit.is_finite() && input.tokens_per_unit >= 0.0) {
            return Err(PlatformError::invalid(
                "tokens_per_unit",
                "must be finite and ≥ 0",
            ));
        }
        let mut books = self.books()?;
        let book = published(&mut books, session, "settlement is for")?;
        let outcome = book
            .outcome
            .as_mut()
            .ok_or_else(|| PlatformError::conflict(session, "no result"))?;
        let mut readings = Vec::with_capacity(input.metered.len());
        for (i, metered) in input.metered.iter().enumerate() {
            let baseline = metered
                .baseline
                .or_else(|| outcome.baselines.get(&metered.order).copied())
                .ok_or_else(|| {
                    PlatformError::invalid(
                        format!("metered[{i}].baseline"),
                        format!("no baseline declared for {:?}", metered.order),
                    )
                })?;
            readings.push(MeterReading {
                order: metered.order.clone(),
                baseline,
                actual: metered.actual,
            });
        }
        let penalty = match input.penalty {
            Penalty::Fixed(p) => PenaltyRule::Fixed(p),
            Penalty::PriceFactor(f) => PenaltyRule::PriceFactor(f),
        };
        let settled = settle_result(book.builder.scenario(), &outcome.result, &readings, penalty)
            .map_err(|e| PlatformError::invalid("metered", e))?;
        let participant_of = |order: &str| {
            outcome
                .awards
                .iter()
                .find(|a| a.award.order == order)
                .map(|a| a.award.participant.clone())
                .unwrap_or_default()
        };
        let settlements: Vec<AwardSettlement> = settled
            .into_iter()
            .map(|settlement| {
                let units = (settlement.delivered * input.tokens_per_unit * TOKEN_UNIT).floor();
                AwardSettlement {
                    participant: participant_of(&settlement.order),
                    tokens: if units.is_finite() && units > 0.0 {
                        units as u64
                    } else {
                        0
                    },
                    settlement,
                }
            })
            .collect();
        let mut updated = outcome.clone();
        updated.settlements = settlements;
        self.store.put_outcome(session, &updated)?;
        let minted: u64 = updated.settlements.iter().map(|s| s.tokens).sum();
        {
            let mut tokens = self.tokens()?;
            for s in &updated.settlements {
                tokens.mint(&s.participant, u128::from(s.tokens))?;
            }
        }
        let mut record = book.session.clone();
        record.status = SessionStatus::Settled;
        self.store.update_session(&record)?;
        self.audit(
            session,
            &caller.participant,
            "settled",
            format!(
                "{} offers settled, {minted} token units minted",
                updated.settlements.len()
            ),
        )?;
        book.session = record;
        *outcome = updated;
        Ok(())
    }

    /// The settlement of a session as the caller may see it (an aggregator its own), with the
    /// caller's token balance over every settled session.
    pub fn settlement(&self, caller: &Caller, session: &str) -> Result<SettlementReport> {
        let books = self.books()?;
        let book = books
            .get(session)
            .ok_or_else(|| not_found("session", session))?;
        if book.session.status != SessionStatus::Settled {
            return Err(PlatformError::conflict(
                session,
                format!(
                    "not settled: the session is {}",
                    book.session.status.as_str()
                ),
            ));
        }
        let mut settlements = book
            .outcome
            .as_ref()
            .map(|o| o.settlements.clone())
            .unwrap_or_default();
        if !caller.sees_all_results() {
            settlements.retain(|s| s.participant == caller.participant);
        }
        let balance = self.tokens()?.balance_of(&caller.participant);
        let balance = u64::try_from(balance).unwrap_or(u64::MAX);
        Ok(SettlementReport {
            session: session.to_owned(),
            settlements,
            balance,
        })
    }
}
