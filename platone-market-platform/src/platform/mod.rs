//! The platform: sessions, intake, and the pipeline that runs at gate closure (close → clear →
//! validate → publish → register).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use platone_certify::Ledger;
use platone_market::RequestRole;
use platone_market::clearing::ClearingResult;
use platone_market::scenario::Scenario;
use platone_market::scenario::{BookBuilder, OfferFile, RequestFile};
use platone_market::token::TokenLedger;
use platone_market::validation::{GridValidator, LineLoadingValidator, Verdict};

use crate::error::{PlatformError, Result};
use crate::outcome::Outcome;
use crate::roles::Caller;
use crate::session::{AuditEntry, Order, Session, SessionSpec, SessionStatus, StoredOrder};
use crate::store::PlatformStore;

mod deliver;
mod metered;
mod on_chain;
mod pipeline;
mod schedule;
mod settle;

pub use deliver::ParticipantOutcome;
pub use schedule::carried_offer_id;

/// The most validation rounds (clear, validate, cut red orders, clear again) of a session.
pub const MAX_VALIDATION_ROUNDS: usize = 5;

/// The actor of what the gate-closure clock does.
pub const SCHEDULER: &str = "scheduler";

/// The DSO's technical check of a session's provisional result (FR-MP-MOMV-02/03), as the
/// platform calls it.
///
/// The contract an implementer keeps: [`SessionValidator::validate`] gives one verdict per
/// accepted order of the result (see [`GridValidator`]), or an error when no verdict could be
/// had (the session then fails with that reason; a validator with a fallback applies it
/// before answering); it may block (a validator answering over the bus waits for the answer)
/// and is called from a blocking context, never from an async task; it is called again, with
/// the next `round`, on the re-cleared result when it reported red orders.
pub trait SessionValidator: Send + Sync {
    /// Whether `session` is validated at all (a session without a network may have nothing
    /// to be checked against).
    fn validates(&self, session: &Session) -> bool;

    /// The verdicts on `result`, cleared from `scenario`, in validation round `round` (from 1).
    fn validate(
        &self,
        session: &Session,
        round: usize,
        scenario: &Scenario,
        result: &ClearingResult,
    ) -> Result<Vec<Verdict>>;
}

/// The in-process default: the DC line-loading check of `platone-market` on the session's own
/// network; sessions without one are published as cleared.
#[derive(Debug, Clone, Default)]
pub struct LineLoading(pub LineLoadingValidator);

impl SessionValidator for LineLoading {
    fn validates(&self, session: &Session) -> bool {
        session.spec.network.is_some()
    }

    fn validate(
        &self,
        _session: &Session,
        _round: usize,
        scenario: &Scenario,
        result: &ClearingResult,
    ) -> Result<Vec<Verdict>> {
        Ok(self.0.validate(scenario, result))
    }
}

struct Book {
    session: Session,
    builder: BookBuilder,
    next_sequence: u64,
    outcome: Option<Outcome>,
    /// The store failed to store orders and may have kept them all the same (the connection
    /// dropped during the commit): the book is read back from the store before it is used.
    in_doubt: bool,
    /// The ids of orders being stored (checked and given their sequence, not yet in the
    /// builder): refused to others meanwhile.
    pending: HashSet<String>,
    /// How many calls are storing orders of the session (the lock is not held meanwhile, so
    /// that a database commits several intakes at once).
    in_flight: usize,
}

impl Book {
    fn new(session: Session, builder: BookBuilder, next_sequence: u64) -> Self {
        Book {
            session,
            builder,
            next_sequence,
            outcome: None,
            in_doubt: false,
            pending: HashSet::new(),
            in_flight: 0,
        }
    }
}

/// The builder of `session`'s book with every order the store holds, and the next sequence.
fn read_book(store: &dyn PlatformStore, session: &Session) -> Result<(BookBuilder, u64)> {
    let mut builder = BookBuilder::new(session.scenario_file())?;
    let orders = store.orders(&session.id)?;
    add_to_book(&mut builder, &orders)?;
    Ok((builder, orders.last().map_or(0, |o| o.sequence + 1)))
}

/// Adds stored orders to a book.
fn add_to_book(builder: &mut BookBuilder, orders: &[StoredOrder]) -> Result<()> {
    for stored in orders {
        match &stored.order {
            Order::Request(r) => builder.add_request(r)?,
            Order::Offer(o) => builder.add_offer(o)?,
        };
    }
    Ok(())
}

/// The Market Platform: cheap to clone, shared by the API's handlers and the gate-closure
/// clock.
#[derive(Clone)]
pub struct MarketPlatform {
    store: Arc<dyn PlatformStore>,
    ledger: Arc<dyn Ledger>,
    validator: Arc<dyn SessionValidator>,
    books: Arc<Mutex<BTreeMap<String, Book>>>,
    tokens: Arc<Mutex<TokenLedger>>,
    running: Arc<Mutex<HashSet<String>>>,
    outcome_topics: Option<crate::bus::OutcomeTopics>,
    delivery_failure: Arc<Mutex<Option<String>>>,
    grid_data: Option<Arc<dyn crate::grid_data::GridData>>,
    market_chain: Option<Arc<dyn crate::market_chain::MarketChain>>,
    chain_failure: Arc<Mutex<Option<String>>>,
    /// Sessions whose outcomes are delivered or tokens minted (`EVENT:SESSION`), so that the
    /// clock reads a session's audit trail for them once, not at every tick.
    finished: Arc<Mutex<HashSet<String>>>,
}

/// The token the platform mints for delivered flexibility.
pub fn flex_token() -> TokenLedger {
    TokenLedger::new("Platone Flexibility Token", "PFT", 2)
}

impl std::fmt::Debug for MarketPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketPlatform")
            .field("ledger", &self.ledger.name())
            .finish_non_exhaustive()
    }
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

impl MarketPlatform {
    /// The platform over `store`, with every session, order and outcome the store holds.
    pub fn open(
        store: Arc<dyn PlatformStore>,
        ledger: Arc<dyn Ledger>,
        validator: Arc<dyn SessionValidator>,
    ) -> Result<Self> {
        let mut books = BTreeMap::new();
        let mut tokens = flex_token();
        for session in store.sessions()? {
            let (builder, next_sequence) = read_book(&*store, &session)?;
            let outcome = store.outcome(&session.id)?;
            for settled in outcome.iter().flat_map(|o| o.settlements.iter()) {
                tokens.mint(&settled.participant, u128::from(settled.tokens))?;
            }
            let mut book = Book::new(session, builder, next_sequence);
            book.outcome = outcome;
            books.insert(book.session.id.clone(), book);
        }
        Ok(MarketPlatform {
            store,
            ledger,
            validator,
            books: Arc::new(Mutex::new(books)),
            tokens: Arc::new(Mutex::new(tokens)),
            running: Arc::new(Mutex::new(HashSet::new())),
            outcome_topics: None,
            delivery_failure: Arc::new(Mutex::new(None)),
            grid_data: None,
            market_chain: None,
            chain_failure: Arc::new(Mutex::new(None)),
            finished: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    fn books(&self) -> Result<MutexGuard<'_, BTreeMap<String, Book>>> {
        self.books
            .lock()
            .map_err(|_| PlatformError::Store("the platform's lock is poisoned".into()))
    }

    /// Whether `step` (`delivered`, `minted`…) is finished for `session`: remembered, or
    /// found in its audit trail (read once) by `found`.
    fn finished(
        &self,
        step: &str,
        session: &str,
        found: impl FnOnce(&[AuditEntry]) -> bool,
    ) -> Result<bool> {
        let key = format!("{step}:{session}");
        let known = self
            .finished
            .lock()
            .map(|f| f.contains(&key))
            .unwrap_or(false);
        if known {
            return Ok(true);
        }
        if found(&self.store.audit_trail(session)?) {
            self.finish(step, session);
            return Ok(true);
        }
        Ok(false)
    }

    /// Stores `orders` of `book`'s session; on a failure the book is in doubt until read back
    /// ([`Self::resolve_doubt`]), since the store may have kept them.
    fn store_orders(&self, book: &mut Book, orders: &[StoredOrder]) -> Result<()> {
        self.store
            .add_orders(&book.session.id, orders)
            .inspect_err(|_| book.in_doubt = true)
    }

    /// Reads the book of a session in doubt back from the store: the orders a failed call
    /// kept after all are in it, and the next sequence follows them. Not while orders of the
    /// session are being stored (they would be missed): that is
    /// [`PlatformError::StoreUnavailable`], to try again.
    fn resolve_doubt(&self, book: &mut Book) -> Result<()> {
        if book.in_doubt && book.in_flight > 0 {
            return Err(PlatformError::StoreUnavailable(format!(
                "session {}: orders are being stored after a failure; try again",
                book.session.id
            )));
        }
        if book.in_doubt {
            let (builder, next_sequence) = read_book(&*self.store, &book.session)?;
            book.builder = builder;
            book.next_sequence = next_sequence;
            book.in_doubt = false;
        }
        Ok(())
    }

    /// Remembers that `step` is finished for `session`.
    fn finish(&self, step: &str, session: &str) {
        if let Ok(mut f) = self.finished.lock() {
            f.insert(format!("{step}:{session}"));
        }
    }

    fn audit(&self, session: &str, actor: &str, event: &str, detail: String) -> Result<()> {
        self.store.audit(&AuditEntry {
            session: session.to_owned(),
            at: now(),
            actor: actor.to_owned(),
            event: event.to_owned(),
            detail,
        })
    }

    /// Opens a session (the market operator only).
    pub fn create_session(&self, caller: &Caller, spec: SessionSpec) -> Result<Session> {
        caller.require_operator()?;
        let id = spec.session_id()?;
        if spec.gate_closure <= now() {
            return Err(PlatformError::invalid(
                "gate_closure",
                format!("{} has passed", spec.gate_closure.to_rfc3339()),
            ));
        }
        let session = Session {
            id: id.clone(),
            // The id lives beside the spec (the store keeps the spec without it).
            spec: SessionSpec { id: None, ..spec },
            status: SessionStatus::Open,
            created_by: caller.participant.clone(),
            created_at: now(),
            failure: None,
        };
        let builder = BookBuilder::new(session.scenario_file())
            .map_err(|e| PlatformError::invalid("network", e))?;
        let mut books = self.books()?;
        if books.contains_key(&id) {
            return Err(PlatformError::conflict(&id, "the session exists"));
        }
        self.store.create_session(&session)?;
        self.audit(
            &id,
            &caller.participant,
            "opened",
            format!(
                "{} slots, gate closure {}, algorithm {}",
                session.spec.slots.len(),
                session.spec.gate_closure.to_rfc3339(),
                session.spec.algorithm
            ),
        )?;
        books.insert(id, Book::new(session.clone(), builder, 0));
        Ok(session)
    }

    /// Every session.
    pub fn sessions(&self) -> Result<Vec<Session>> {
        Ok(self.books()?.values().map(|b| b.session.clone()).collect())
    }

    /// One session.
    pub fn session(&self, id: &str) -> Result<Session> {
        self.books()?
            .get(id)
            .map(|b| b.session.clone())
            .ok_or_else(|| not_found("session", id))
    }

    /// Takes `bodies` (JSON objects in the scenario format, `participant` taken from the
    /// caller) as requests (`offers == false`, DSO or TSO only) or offers (aggregators only),
    /// all or none: the first bad one is refused naming it (`orders[i].field`) and nothing is
    /// stored. Returns the stored orders.
    pub fn submit(
        &self,
        caller: &Caller,
        session: &str,
        offers: bool,
        bodies: Vec<serde_json::Value>,
    ) -> Result<Vec<StoredOrder>> {
        let request_role = if offers {
            caller.require_aggregator()?;
            None
        } else {
            Some(caller.require_system_operator()?)
        };
        if bodies.is_empty() {
            return Err(PlatformError::invalid("orders", "no order given"));
        }
        let stored = self.reserve(caller, session, offers, request_role, bodies)?;
        // Stored without the lock, so that several intakes commit at once; the ids are
        // reserved meanwhile, and the clearing waits for them.
        let written = self.store.add_orders(session, &stored);
        let mut books = self.books()?;
        let book = books
            .get_mut(session)
            .ok_or_else(|| not_found("session", session))?;
        book.in_flight -= 1;
        for s in &stored {
            book.pending.remove(s.order.id());
        }
        if let Err(e) = written {
            book.in_doubt = true;
            return Err(e);
        }
        // Checked before they were stored; should the book still refuse one, it is read back
        // from the store (which holds them) before it is used again.
        add_to_book(&mut book.builder, &stored).inspect_err(|_| book.in_doubt = true)?;
        Ok(stored)
    }

    /// Checks orders of `session` under the lock and reserves their ids and sequences.
    fn reserve(
        &self,
        caller: &Caller,
        session: &str,
        offers: bool,
        request_role: Option<RequestRole>,
        bodies: Vec<serde_json::Value>,
    ) -> Result<Vec<StoredOrder>> {
        let mut books = self.books()?;
        let book = books
            .get_mut(session)
            .ok_or_else(|| not_found("session", session))?;
        self.resolve_doubt(book)?;
        let received_at = now();
        if book.session.status != SessionStatus::Open
            || received_at >= book.session.spec.gate_closure
        {
            return Err(PlatformError::conflict(
                session,
                format!(
                    "the gate closed at {}",
                    book.session.spec.gate_closure.to_rfc3339()
                ),
            ));
        }
        let mut ids = HashSet::with_capacity(bodies.len());
        let mut stored = Vec::with_capacity(bodies.len());
        for (i, body) in bodies.into_iter().enumerate() {
            let at = |field: &str| format!("orders[{i}]{field}");
            let order = read_order(body, offers, caller, request_role, received_at)
                .map_err(|(field, message)| PlatformError::invalid(at(&field), message))?;
            if order.id().contains('/') {
                return Err(PlatformError::invalid(
                    at(".id"),
                    format!(
                        "{:?}: '/' is kept for offers carried over from day-ahead sessions",
                        order.id()
                    ),
                ));
            }
            match &order {
                Order::Request(r) => book.builder.check_request(r).map(drop),
                Order::Offer(o) => book.builder.check_offer(o).map(drop),
            }
            .map_err(|e| PlatformError::invalid(at(""), e))?;
            if !ids.insert(order.id().to_owned()) {
                return Err(PlatformError::invalid(
                    at(".id"),
                    format!("{:?} is given twice", order.id()),
                ));
            }
            if book.pending.contains(order.id()) {
                let kind = if offers { "offer" } else { "request" };
                return Err(PlatformError::invalid(
                    at(""),
                    format!("{kind} {:?}: duplicate id", order.id()),
                ));
            }
            stored.push(StoredOrder {
                sequence: book.next_sequence + i as u64,
                received_at,
                order,
            });
        }
        book.next_sequence += stored.len() as u64;
        book.pending.extend(ids);
        book.in_flight += 1;
        Ok(stored)
    }

    /// The orders of a session the caller may see: its own, or all for the operator.
    pub fn orders(&self, caller: &Caller, session: &str) -> Result<Vec<StoredOrder>> {
        self.session(session)?;
        let mut orders = self.store.orders(session)?;
        if !caller.is_operator() {
            orders.retain(|o| o.order.participant() == caller.participant);
        }
        Ok(orders)
    }

    /// The outcome of a session as the caller may see it: all of it for the operator, DSOs
    /// and TSOs (who validate and pay); an aggregator's own awards, accepted orders and
    /// matches only, with the prices and the registration.
    pub fn outcome(&self, caller: &Caller, session: &str) -> Result<Outcome> {
        let books = self.books()?;
        let book = books
            .get(session)
            .ok_or_else(|| not_found("session", session))?;
        let outcome = book.outcome.clone().ok_or_else(|| {
            PlatformError::conflict(
                session,
                format!(
                    "no result yet: the session is {}",
                    book.session.status.as_str()
                ),
            )
        })?;
        if caller.sees_all_results() {
            return Ok(outcome);
        }
        let mine: HashSet<&str> = book
            .builder
            .scenario()
            .book
            .offers
            .iter()
            .filter(|o| o.participant == caller.participant)
            .map(|o| o.id.as_str())
            .collect();
        let mut own = outcome.clone();
        own.result
            .accepted_offers
            .retain(|a| mine.contains(a.id.as_str()));
        own.result.accepted_requests.clear();
        own.result
            .matches
            .retain(|m| mine.contains(m.offer.as_str()));
        own.verdicts.retain(|v| mine.contains(v.order.as_str()));
        own.awards
            .retain(|a| a.award.participant == caller.participant);
        Ok(own)
    }

    /// The award of `order` in a published session, with its proof: to the order's
    /// participant and to those who see every result.
    pub fn award(
        &self,
        caller: &Caller,
        session: &str,
        order: &str,
    ) -> Result<crate::outcome::CertifiedAward> {
        let outcome = self.outcome(caller, session)?;
        outcome
            .awards
            .into_iter()
            .find(|a| a.award.order == order)
            .ok_or_else(|| not_found("award", order))
    }

    /// A session's audit trail (the operator only).
    pub fn audit_trail(&self, caller: &Caller, session: &str) -> Result<Vec<AuditEntry>> {
        caller.require_operator()?;
        self.session(session)?;
        self.store.audit_trail(session)
    }

    /// The ledger results are registered on.
    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    /// Where sessions, orders, outcomes and the audit trail are kept.
    pub fn store(&self) -> &Arc<dyn PlatformStore> {
        &self.store
    }
}

fn not_found(what: &'static str, id: &str) -> PlatformError {
    PlatformError::NotFound {
        what,
        id: id.to_owned(),
    }
}

/// Reads one order body; `Err((field, message))` names the field.
fn read_order(
    mut body: serde_json::Value,
    offers: bool,
    caller: &Caller,
    request_role: Option<RequestRole>,
    received_at: DateTime<Utc>,
) -> std::result::Result<Order, (String, String)> {
    let object = body
        .as_object_mut()
        .ok_or_else(|| (String::new(), "expected a JSON object".to_owned()))?;
    match object.get("participant") {
        None => {
            object.insert("participant".into(), caller.participant.clone().into());
        }
        Some(serde_json::Value::String(p)) if *p == caller.participant => {}
        Some(_) => {
            return Err((
                ".participant".into(),
                format!(
                    "orders are posted by their participant: {}",
                    caller.participant
                ),
            ));
        }
    }
    if !object.contains_key("arrival") {
        object.insert("arrival".into(), received_at.to_rfc3339().into());
    }
    let field_of = |e: &serde_json::Error| {
        let field = crate::error::serde_member(e)
            .map(|f| format!(".{f}"))
            .unwrap_or_default();
        (field, e.to_string())
    };
    if offers {
        let offer: OfferFile = serde_json::from_value(body).map_err(|e| field_of(&e))?;
        Ok(Order::Offer(offer))
    } else {
        if !object.contains_key("role") {
            let role = match request_role {
                Some(RequestRole::Tso) => "tso",
                _ => "dso",
            };
            object.insert("role".into(), role.into());
        }
        let request: RequestFile = serde_json::from_value(body).map_err(|e| field_of(&e))?;
        if request.role.is_some() && request.role != request_role {
            return Err((
                ".role".into(),
                "a request's role is the caller's (dso or tso)".to_owned(),
            ));
        }
        Ok(Order::Request(request))
    }
}
