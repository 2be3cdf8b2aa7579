//! The gate-closure pipeline: close → clear → validate → publish → register, one run per
//! session at a time, taken up where it stopped after a restart.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use platone_market::clearing::{ClearingConfig, ClearingResult, algorithm_by_name};
use platone_market::scenario::{BookBuilder, Scenario, ScenarioFile};
use platone_market::validation::{AfterValidation, GridValidator, Verdict, validate_result};

use super::{MAX_VALIDATION_ROUNDS, MarketPlatform, SessionValidator, not_found};
use crate::error::{PlatformError, Result};
use crate::outcome::{Outcome, awards, register};
use crate::roles::Caller;
use crate::session::{Session, SessionStatus};

/// A [`SessionValidator`] as the market library's [`GridValidator`] for one session: counts
/// the rounds and keeps the first failure (after which it gives no verdicts, and the session
/// fails).
struct Rounds<'a> {
    validator: &'a dyn SessionValidator,
    session: &'a Session,
    round: Cell<usize>,
    failure: RefCell<Option<PlatformError>>,
}

impl GridValidator for Rounds<'_> {
    fn validate(&self, scenario: &Scenario, result: &ClearingResult) -> Vec<Verdict> {
        if self.failure.borrow().is_some() {
            return Vec::new();
        }
        self.round.set(self.round.get() + 1);
        match self
            .validator
            .validate(self.session, self.round.get(), scenario, result)
        {
            Ok(verdicts) => verdicts,
            Err(e) => {
                *self.failure.borrow_mut() = Some(e);
                Vec::new()
            }
        }
    }
}

/// A session's pipeline in progress; leaving it (drop) lets the next one run.
pub(crate) struct PipelineGuard {
    running: Arc<Mutex<HashSet<String>>>,
    session: String,
}

impl PipelineGuard {
    fn enter(running: &Arc<Mutex<HashSet<String>>>, session: &str) -> Result<Self> {
        let mut set = running
            .lock()
            .map_err(|_| PlatformError::Store("the pipeline lock is poisoned".into()))?;
        if !set.insert(session.to_owned()) {
            return Err(PlatformError::conflict(
                session,
                "its gate-closure pipeline is running",
            ));
        }
        Ok(PipelineGuard {
            running: running.clone(),
            session: session.to_owned(),
        })
    }
}

impl Drop for PipelineGuard {
    fn drop(&mut self) {
        if let Ok(mut set) = self.running.lock() {
            set.remove(&self.session);
        }
    }
}

impl MarketPlatform {
    /// Sessions whose gate has passed and whose pipeline has not finished (published or
    /// failed): what the gate-closure clock runs, and what a restart resumes.
    pub fn due(&self, at: DateTime<Utc>) -> Result<Vec<String>> {
        Ok(self
            .books()?
            .values()
            .filter(|b| {
                b.session.spec.gate_closure <= at && b.session.status < SessionStatus::Published
            })
            .map(|b| b.session.id.clone())
            .collect())
    }

    /// Closes the gate of `session` (the operator, before or at gate closure; the clock at
    /// gate closure) and runs the pipeline: clear with the session's algorithm, validate,
    /// publish, register. A session the pipeline stopped in (a restart) is taken up where it
    /// stopped. Returns the session as it ends.
    pub async fn close(&self, actor: &str, session: &str) -> Result<Session> {
        // One pipeline per session at a time: the clock and the operator may both ask.
        let _running = PipelineGuard::enter(&self.running, session)?;
        let current = self.session(session)?;
        if current.status == SessionStatus::Open {
            self.set_status(
                session,
                actor,
                SessionStatus::Closed,
                "closed",
                String::new(),
            )?;
        }
        let platform = self.clone();
        let (actor_owned, id) = (actor.to_owned(), session.to_owned());
        let cleared =
            tokio::task::spawn_blocking(move || platform.clear_and_validate(&actor_owned, &id))
                .await
                .map_err(|e| PlatformError::Store(format!("the clearing task stopped: {e}")))?;
        if let Err(e) = cleared {
            if matches!(e, PlatformError::StoreUnavailable(_)) {
                // Not the book's fault: the clock takes the session up at its next tick.
                return Err(e);
            }
            let message = e.to_string();
            self.fail(session, actor, &message)?;
            return Err(e);
        }
        self.publish_and_register(actor, session).await
    }

    /// Closes the session as the operator, checking the caller's role first.
    pub async fn close_as(&self, caller: &Caller, session: &str) -> Result<Session> {
        caller.require_operator()?;
        let current = self.session(session)?;
        if current.status >= SessionStatus::Published {
            return Err(PlatformError::conflict(
                session,
                format!("the session is {}", current.status.as_str()),
            ));
        }
        self.close(&caller.participant, session).await
    }

    fn set_status(
        &self,
        session: &str,
        actor: &str,
        status: SessionStatus,
        event: &str,
        detail: String,
    ) -> Result<()> {
        let mut books = self.books()?;
        let book = books
            .get_mut(session)
            .ok_or_else(|| not_found("session", session))?;
        let mut updated = book.session.clone();
        updated.status = status;
        self.store.update_session(&updated)?;
        self.audit(session, actor, event, detail)?;
        book.session = updated;
        Ok(())
    }

    fn fail(&self, session: &str, actor: &str, message: &str) -> Result<()> {
        let mut books = self.books()?;
        let book = books
            .get_mut(session)
            .ok_or_else(|| not_found("session", session))?;
        let mut updated = book.session.clone();
        updated.status = SessionStatus::Failed;
        updated.failure = Some(message.to_owned());
        self.store.update_session(&updated)?;
        self.audit(session, actor, "failed", message.to_owned())?;
        book.session = updated;
        Ok(())
    }

    /// Clears and validates a closed session (blocking: the clearing and the validator may
    /// take long). Keeps the outcome so far in the store after each step.
    fn clear_and_validate(&self, actor: &str, session: &str) -> Result<()> {
        // The gate is closed: no intake starts, and those storing orders are waited for.
        let (record, scenario) = loop {
            {
                let mut books = self.books()?;
                let book = books
                    .get_mut(session)
                    .ok_or_else(|| not_found("session", session))?;
                if book.in_flight == 0 {
                    self.resolve_doubt(book)?;
                    break (book.session.clone(), book.builder.scenario().clone());
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        if record.status >= SessionStatus::Validated {
            return Ok(());
        }
        let algorithm = algorithm_by_name(&record.spec.algorithm, ClearingConfig::default())?;
        let result = algorithm.clear(&scenario)?;
        let mut outcome = Outcome {
            result,
            verdicts: Vec::new(),
            awards: Vec::new(),
            registration: None,
            baselines: Default::default(),
            settlements: Vec::new(),
        };
        self.store.put_outcome(session, &outcome)?;
        self.set_status(
            session,
            actor,
            SessionStatus::Cleared,
            "cleared",
            format!(
                "{}: {} offers and {} requests accepted, volume {}",
                record.spec.algorithm,
                outcome.result.accepted_offers.len(),
                outcome.result.accepted_requests.len(),
                (outcome.result.volume * 1e9).round() / 1e9
            ),
        )?;
        let mut book_scenario = scenario;
        let detail = if self.validator.validates(&record) {
            let rounds = Rounds {
                validator: &*self.validator,
                session: &record,
                round: Cell::new(0),
                failure: RefCell::new(None),
            };
            let validated = validate_result(
                &book_scenario,
                outcome.result.clone(),
                &rounds,
                algorithm.as_ref(),
                AfterValidation::Reclear,
                MAX_VALIDATION_ROUNDS,
            );
            if let Some(failure) = rounds.failure.into_inner() {
                return Err(failure);
            }
            let validated = validated?;
            let rounds = validated.rounds.len();
            let cuts = validated.cuts.len();
            outcome.result = validated.result;
            outcome.verdicts = validated.rounds.into_iter().last().unwrap_or_default();
            book_scenario = validated.scenario;
            format!("{rounds} rounds, {cuts} orders cut")
        } else {
            "no network: nothing to validate against".to_owned()
        };
        self.store.put_outcome(session, &outcome)?;
        {
            let mut books = self.books()?;
            if let Some(book) = books.get_mut(session) {
                book.outcome = Some(outcome);
                // The validated book (cut orders removed) is what the awards are read from.
                let validated = book_scenario.to_file();
                book.builder = BookBuilder::new(ScenarioFile {
                    requests: validated.requests,
                    offers: validated.offers,
                    ..book.session.scenario_file()
                })?;
            }
        }
        self.set_status(
            session,
            actor,
            SessionStatus::Validated,
            "validated",
            detail,
        )
    }

    async fn publish_and_register(&self, actor: &str, session: &str) -> Result<Session> {
        let (record, scenario, outcome) = {
            let books = self.books()?;
            let book = books
                .get(session)
                .ok_or_else(|| not_found("session", session))?;
            (
                book.session.clone(),
                book.builder.scenario().clone(),
                book.outcome.clone(),
            )
        };
        if record.status >= SessionStatus::Published {
            return Ok(record);
        }
        let mut outcome = match outcome {
            Some(o) => o,
            None => self
                .store
                .outcome(session)?
                .ok_or_else(|| PlatformError::conflict(session, "validated without a result"))?,
        };
        let list = awards(session, &scenario, &outcome.result);
        let (registration, certified) = register(
            session,
            &outcome.result,
            list,
            record.spec.gate_closure,
            &*self.ledger,
        )
        .await?;
        let mut registration = registration;
        registration.on_chain = self.register_on_chain(session, &registration).await?;
        let detail = format!(
            "batch {}, awards root {}, {} awards{}",
            registration.batch_id,
            registration.awards_root,
            certified.len(),
            registration
                .on_chain
                .as_ref()
                .map(|r| format!("; {}", super::on_chain::receipt_text(r)))
                .unwrap_or_default()
        );
        outcome.awards = certified;
        outcome.registration = Some(registration);
        self.store.put_outcome(session, &outcome)?;
        if let Some(book) = self.books()?.get_mut(session) {
            book.outcome = Some(outcome);
        }
        self.audit(session, actor, "registered", detail)?;
        self.set_status(
            session,
            actor,
            SessionStatus::Published,
            "published",
            String::new(),
        )?;
        self.session(session)
    }
}
