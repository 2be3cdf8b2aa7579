//! Scheduled sessions and the carry-over of unmatched day-ahead offers into real-time
//! sessions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use platone_market::clearing::QUANTITY_EPSILON;
use platone_market::scenario::{NetworkFile, OfferFile};

use super::{Book, MarketPlatform, SCHEDULER};
use crate::error::{PlatformError, Result};
use crate::roles::Caller;
use crate::schedule::MarketSchedule;
use crate::session::{Order, Session, SessionKind, SessionStatus, StoredOrder};

/// The id of the copy of day-ahead offer `offer` of `session` carried into real-time slot
/// `slot`: `SESSION/OFFER@SLOT`. Participants' own ids may not hold a `/`, so a copy's id is
/// never taken by an order.
pub fn carried_offer_id(session: &str, offer: &str, slot: &str) -> String {
    format!("{session}/{offer}@{slot}")
}

/// The real-time sessions' carried copies, by id: (session, status, accepted quantity).
type Copies = BTreeMap<String, Vec<(String, SessionStatus, f64)>>;

fn copies(books: &BTreeMap<String, Book>) -> Copies {
    let mut copies: Copies = BTreeMap::new();
    for book in books.values() {
        if book.session.spec.kind != SessionKind::RealTime {
            continue;
        }
        for offer in &book.builder.scenario().book.offers {
            if offer.id.contains('/') {
                let accepted = book
                    .outcome
                    .as_ref()
                    .map_or(0.0, |o| o.result.offer_quantity(&offer.id));
                copies.entry(offer.id.clone()).or_default().push((
                    book.session.id.clone(),
                    book.session.status,
                    accepted,
                ));
            }
        }
    }
    copies
}

impl MarketPlatform {
    /// Opens the sessions `schedule` wants at `now` that are not open yet (with `network`, the
    /// schedule's network, when given); returns those it opened. The actor is
    /// [`SCHEDULER`].
    pub fn open_scheduled(
        &self,
        schedule: &MarketSchedule,
        network: Option<&NetworkFile>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        let scheduler = Caller {
            participant: SCHEDULER.into(),
            roles: vec![platone_market::MarketRole::MarketOperator],
        };
        let mut opened = Vec::new();
        for mut spec in schedule.sessions_due(now)? {
            spec.network = network.cloned();
            let id = spec.session_id()?;
            // A gate about to close leaves no time for orders: the next session will do.
            if spec.gate_closure <= Utc::now() + chrono::TimeDelta::seconds(1) {
                continue;
            }
            if self.books()?.contains_key(&id) {
                continue;
            }
            match self.create_session(&scheduler, spec) {
                Ok(session) => opened.push(session),
                // Opened meanwhile by the operator under the same id.
                Err(PlatformError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(opened)
    }

    /// Carries the unmatched quantity of published day-ahead offers into the open real-time
    /// sessions whose slots fall within the offers' slots (T-MP-02). Each copy is an offer of
    /// the same participant, location, direction and price, named
    /// [`carried_offer_id`], for what neither the day-ahead session nor any published
    /// real-time session awarded of it. A slot whose copy sits in a real-time session not yet
    /// published is left for a later session (so nothing is awarded twice); offers of blocks
    /// are not carried (a block is all or none over its slots). Returns how many copies were
    /// added.
    pub fn carry_over(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut books = self.books()?;
        let copies = copies(&books);
        let mut plans: Vec<(String, OfferFile, String)> = Vec::new();
        for target in books.values() {
            let spec = &target.session.spec;
            if spec.kind != SessionKind::RealTime
                || target.session.status != SessionStatus::Open
                || spec.gate_closure <= now
            {
                continue;
            }
            for source in books.values() {
                let published = matches!(
                    source.session.status,
                    SessionStatus::Published | SessionStatus::Settled
                );
                let Some(outcome) = source.outcome.as_ref().filter(|_| published) else {
                    continue;
                };
                if source.session.spec.kind != SessionKind::DayAhead {
                    continue;
                }
                for offer in &source.builder.scenario().book.offers {
                    if offer.block.is_some() {
                        continue;
                    }
                    let Some((from, to)) = source
                        .session
                        .spec
                        .slots
                        .get(offer.slot)
                        .and_then(|name| source.session.spec.slot_interval(name))
                    else {
                        continue;
                    };
                    let unmatched = offer.quantity - outcome.result.offer_quantity(&offer.id);
                    for slot in &spec.slots {
                        let Some((start, end)) = spec.slot_interval(slot) else {
                            continue;
                        };
                        if start < from || end > to {
                            continue;
                        }
                        let id = carried_offer_id(&source.session.id, &offer.id, slot);
                        let earlier = copies.get(&id).map(Vec::as_slice).unwrap_or_default();
                        let pending = earlier.iter().any(|(_, status, _)| {
                            *status < SessionStatus::Published && *status != SessionStatus::Failed
                        });
                        if pending
                            || target
                                .builder
                                .scenario()
                                .book
                                .offers
                                .iter()
                                .any(|o| o.id == id)
                        {
                            continue;
                        }
                        let awarded: f64 = earlier.iter().map(|(_, _, q)| q).sum();
                        let quantity = unmatched - awarded;
                        if quantity <= QUANTITY_EPSILON {
                            continue;
                        }
                        plans.push((
                            target.session.id.clone(),
                            OfferFile {
                                id,
                                participant: offer.participant.clone(),
                                location: offer.location.clone(),
                                direction: offer.direction,
                                slot: slot.clone(),
                                quantity,
                                price: offer.price,
                                block: None,
                                arrival: Some(now),
                            },
                            source.session.id.clone(),
                        ));
                    }
                }
            }
        }
        let mut added: BTreeMap<String, (Vec<StoredOrder>, std::collections::BTreeSet<String>)> =
            BTreeMap::new();
        for (target, offer, source) in plans {
            let Some(book) = books.get_mut(&target) else {
                continue;
            };
            self.resolve_doubt(book)?;
            if let Err(e) = book.builder.check_offer(&offer) {
                tracing::warn!("session {target}: day-ahead offer not carried over: {e}");
                continue;
            }
            let stored = StoredOrder {
                sequence: book.next_sequence,
                received_at: now,
                order: Order::Offer(offer.clone()),
            };
            self.store_orders(book, std::slice::from_ref(&stored))?;
            book.builder.add_offer(&offer)?;
            book.next_sequence += 1;
            let entry = added.entry(target).or_default();
            entry.0.push(stored);
            entry.1.insert(source);
        }
        let mut count = 0;
        for (target, (orders, sources)) in added {
            count += orders.len();
            self.audit(
                &target,
                SCHEDULER,
                "carried-over",
                format!(
                    "{} unmatched day-ahead offers of {}",
                    orders.len(),
                    sources.into_iter().collect::<Vec<_>>().join(", ")
                ),
            )?;
        }
        Ok(count)
    }
}
