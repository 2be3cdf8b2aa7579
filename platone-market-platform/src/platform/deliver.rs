//! Delivery of each participant's outcome on the bus (MOMV-04, P-MP-02, S-MP-02): once when a
//! session is published and again when it is settled; what could not be delivered is tried
//! again at the next tick of the clock, and the last failure shows in `/health`.

use std::collections::BTreeSet;

use platone_bus::{Message, QoS};
use platone_market::MarketRole;
use platone_market::RequestRole;
use serde::{Deserialize, Serialize};

use super::{MarketPlatform, SCHEDULER};
use crate::bus::OutcomeTopics;
use crate::error::{PlatformError, Result};
use crate::outcome::Outcome;
use crate::roles::Caller;
use crate::session::{Order, SessionStatus};

/// The audit events that mark a session's outcomes as delivered, for its result and for its
/// settlement.
const DELIVERED: [&str; 2] = ["delivered", "settlement-delivered"];

/// What a participant receives on its topic: its own view of a session's outcome (all of it
/// for DSOs and TSOs, its own awards for an aggregator), as `GET /api/sessions/{id}/result`
/// gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantOutcome {
    /// The session.
    pub session: String,
    /// The session's status when delivered (`published` or `settled`).
    pub status: SessionStatus,
    /// The participant.
    pub participant: String,
    /// Its view of the outcome.
    pub outcome: Outcome,
}

impl MarketPlatform {
    /// Delivers outcomes to `topics` from now on (the sessions published before and never
    /// delivered included).
    pub fn deliver_outcomes_to(mut self, topics: OutcomeTopics) -> Self {
        self.outcome_topics = Some(topics);
        self
    }

    /// Sessions published or settled whose outcomes are not delivered yet.
    pub(super) fn undelivered_sessions(&self) -> Result<Vec<(String, SessionStatus)>> {
        let sessions: Vec<_> = self
            .books()?
            .values()
            .filter(|b| b.session.status >= SessionStatus::Published)
            .filter(|b| b.session.status != SessionStatus::Failed)
            .map(|b| (b.session.id.clone(), b.session.status))
            .collect();
        let mut waiting = Vec::new();
        for (id, status) in sessions {
            let wanted = if status == SessionStatus::Settled {
                DELIVERED[1]
            } else {
                DELIVERED[0]
            };
            let done =
                self.finished(wanted, &id, |trail| trail.iter().any(|e| e.event == wanted))?;
            if !done {
                waiting.push((id, status));
            }
        }
        Ok(waiting)
    }

    /// The participants of a session (every order it took, those cut by validation
    /// included) with the role their view is taken with.
    fn participants(&self, session: &str) -> Result<BTreeSet<(String, MarketRole)>> {
        let mut all = BTreeSet::new();
        for stored in self.store.orders(session)? {
            let role = match &stored.order {
                Order::Request(r) if r.role == Some(RequestRole::Tso) => MarketRole::Tso,
                Order::Request(_) => MarketRole::Dso,
                Order::Offer(_) => MarketRole::Aggregator,
            };
            all.insert((stored.order.participant().to_owned(), role));
        }
        Ok(all)
    }

    /// Publishes each participant's outcome of every published or settled session not yet
    /// delivered, on `{prefix}/{participant}` (at least once; the session's id is the key).
    /// A session is marked delivered (audit event `delivered` or `settlement-delivered`)
    /// once all its participants' messages are acknowledged; a failure leaves it for the next
    /// call and shows in [`MarketPlatform::delivery_failure`]. Returns how many messages were
    /// published; without outcome topics, nothing is done.
    pub async fn deliver_outcomes(&self) -> Result<usize> {
        let Some(topics) = &self.outcome_topics else {
            return Ok(0);
        };
        let mut published = 0;
        for (session, status) in self.undelivered_sessions()? {
            let participants = self.participants(&session)?;
            let mut failure = None;
            for (participant, role) in &participants {
                let caller = Caller {
                    participant: participant.clone(),
                    roles: vec![*role],
                };
                let message = ParticipantOutcome {
                    session: session.clone(),
                    status,
                    participant: participant.clone(),
                    outcome: self.outcome(&caller, &session)?,
                };
                let message =
                    Message::new(topics.topic_of(participant), serde_json::to_vec(&message)?)
                        .with_key(session.clone().into_bytes());
                let sent = tokio::time::timeout(
                    topics.timeout,
                    topics.bus.publish(message, QoS::AtLeastOnce),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(platone_bus::BusError::Closed(format!(
                        "not acknowledged within {:?}",
                        topics.timeout
                    )))
                });
                match sent {
                    Ok(()) => published += 1,
                    Err(e) => {
                        failure = Some(format!("session {session}, {participant}: {e}"));
                        break;
                    }
                }
            }
            let mut last = self
                .delivery_failure
                .lock()
                .map_err(|_| PlatformError::Store("the delivery lock is poisoned".into()))?;
            match failure {
                Some(f) => {
                    tracing::warn!("outcome delivery: {f} (tried again)");
                    *last = Some(f);
                    break;
                }
                None => {
                    *last = None;
                    drop(last);
                    let event = if status == SessionStatus::Settled {
                        DELIVERED[1]
                    } else {
                        DELIVERED[0]
                    };
                    self.audit(
                        &session,
                        SCHEDULER,
                        event,
                        format!("{} participants on {}/…", participants.len(), topics.prefix),
                    )?;
                    self.finish(event, &session);
                }
            }
        }
        Ok(published)
    }

    /// Why the last delivery failed, while outcomes wait to be delivered.
    pub fn delivery_failure(&self) -> Option<String> {
        self.delivery_failure.lock().ok().and_then(|f| f.clone())
    }

    /// Whether outcomes are delivered on a bus.
    pub fn delivers_outcomes(&self) -> bool {
        self.outcome_topics.is_some()
    }
}
