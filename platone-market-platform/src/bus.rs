//! The platform on the bus (MQTT, or Kafka with mutual TLS — any [`platone_bus::Bus`]):
//!
//! - **the DSO's validation round trip** (FR-MP-MOMV-02/03): [`BusValidation`] sends each
//!   provisional result as a [`ValidationRequest`] on a request topic and waits for the
//!   [`ValidationResponse`] on a response topic, with a timeout and a configured
//!   [`ValidationFallback`]; [`answer_validations`] is the validator's side, for a DSO
//!   platform that checks results with any [`GridValidator`];
//! - **outcome delivery** (MOMV-04, P-MP-02): each participant's own outcome on its own topic
//!   ([`OutcomeTopics`]), see [`MarketPlatform::deliver_outcomes`](crate::MarketPlatform::deliver_outcomes).
//!
//! Messages that cannot be read (not JSON, not a request or a response) are reported and
//! dead-lettered on [`BusTopics::dead_letter`] as `{"reason", "topic", "payload"}`; the others
//! flow on. A response that judges orders the result does not hold fails its session, naming
//! the verdict.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platone_bus::{Bus, DEAD_LETTER_REASON, Message, ORIGINAL_TOPIC, Publisher, QoS, TopicFilter};
use platone_market::clearing::ClearingResult;
use platone_market::scenario::{Scenario, ScenarioFile};
use platone_market::validation::{GridValidator, Light, Verdict};
// The round trip's messages live in `platone-market` (shared with the DSO's validator); they
// are re-exported here so that existing paths keep working.
pub use platone_market::validation::{VALIDATION_FORMAT, ValidationRequest, ValidationResponse};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{PlatformError, Result};
use crate::platform::{LineLoading, SessionValidator};
use crate::session::Session;

/// The platform's topics (MQTT-style names; Kafka topic names are derived by `platone-bus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusTopics {
    /// Where validation requests go.
    pub validation_requests: String,
    /// Where validators answer.
    pub validation_responses: String,
    /// Each participant's outcome goes to `{outcomes}/{participant}`.
    pub outcomes: String,
    /// Where unreadable messages go.
    pub dead_letter: String,
}

impl Default for BusTopics {
    fn default() -> Self {
        BusTopics {
            validation_requests: "platone/market/validation/requests".into(),
            validation_responses: "platone/market/validation/responses".into(),
            outcomes: "platone/market/outcomes".into(),
            dead_letter: "platone/market/dead-letter".into(),
        }
    }
}

/// What the platform does when no validator answers in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValidationFallback {
    /// The session fails with the reason (nothing is published unvalidated).
    #[default]
    Fail,
    /// The in-process DC line-loading check on the session's network.
    Local,
    /// The result is published as cleared; every verdict is green and says it was not
    /// validated.
    Accept,
}

type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<ValidationResponse>>>>;

/// The DSO's validation over the bus, as a [`SessionValidator`].
pub struct BusValidation {
    bus: Arc<dyn Bus>,
    topics: BusTopics,
    timeout: Duration,
    fallback: ValidationFallback,
    local: LineLoading,
    waiting: Waiting,
    runtime: tokio::runtime::Handle,
    listener: JoinHandle<()>,
    next: AtomicU64,
}

impl std::fmt::Debug for BusValidation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusValidation")
            .field("bus", &self.bus.describe())
            .field("timeout", &self.timeout)
            .field("fallback", &self.fallback)
            .finish_non_exhaustive()
    }
}

impl Drop for BusValidation {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

fn bus_error(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::Bus(e.to_string())
}

/// Publishes `message` on the dead-letter topic as `{"reason", "topic", "payload"}` (the
/// payload as text, invalid UTF-8 replaced), with the reason and the topic also in the
/// [`DEAD_LETTER_REASON`] and [`ORIGINAL_TOPIC`] headers where the bus carries headers (Kafka;
/// MQTT 3.1.1 does not). Logged; a failure to dead-letter is logged too.
async fn dead_letter(bus: &dyn Publisher, topic: &str, message: &Message, reason: &str) {
    tracing::warn!("{}: dead-lettered: {reason}", message.topic);
    let envelope = serde_json::json!({
        "reason": reason,
        "topic": message.topic,
        "payload": String::from_utf8_lossy(&message.payload),
    });
    let letter = Message::new(topic, envelope.to_string())
        .with_header(DEAD_LETTER_REASON, reason)
        .with_header(ORIGINAL_TOPIC, message.topic.clone());
    if let Err(e) = bus.publish(letter, QoS::AtLeastOnce).await {
        tracing::error!("{topic}: cannot dead-letter: {e}");
    }
}

impl BusValidation {
    /// Subscribes to the response topic of `topics` on `bus` (from within a Tokio runtime)
    /// and returns the validator: a result without an answer within `timeout` gets
    /// `fallback`.
    pub async fn start(
        bus: Arc<dyn Bus>,
        topics: BusTopics,
        timeout: Duration,
        fallback: ValidationFallback,
    ) -> Result<Self> {
        let filter = TopicFilter::new(topics.validation_responses.clone()).map_err(bus_error)?;
        let mut responses = bus
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .map_err(bus_error)?;
        let waiting: Waiting = Arc::default();
        let listener = {
            let (bus, waiting, dead) = (bus.clone(), waiting.clone(), topics.dead_letter.clone());
            tokio::spawn(async move {
                while let Some(delivery) = responses.next_delivery().await {
                    let message = delivery.message.clone();
                    match serde_json::from_slice::<ValidationResponse>(&message.payload) {
                        Ok(response) => {
                            let waiter = waiting
                                .lock()
                                .ok()
                                .and_then(|mut w| w.remove(&response.request_id));
                            match waiter {
                                Some(tx) => {
                                    let _ = tx.send(response);
                                }
                                // Another platform's, or one that came after its timeout.
                                None => tracing::debug!(
                                    "validation response {} is not awaited",
                                    response.request_id
                                ),
                            }
                        }
                        Err(e) => {
                            let reason = format!("not a validation response: {e}");
                            dead_letter(&*bus, &dead, &message, &reason).await;
                        }
                    }
                    if let Err(e) = delivery.ack().await {
                        tracing::warn!("validation response not acknowledged: {e}");
                    }
                }
            })
        };
        Ok(BusValidation {
            bus,
            topics,
            timeout,
            fallback,
            local: LineLoading::default(),
            waiting,
            runtime: tokio::runtime::Handle::current(),
            listener,
            next: AtomicU64::new(0),
        })
    }

    /// Sends `request` and waits for its answer; `Ok(None)` when none came in time.
    async fn round_trip(&self, request: &ValidationRequest) -> Result<Option<ValidationResponse>> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .map_err(|_| bus_error("the validation lock is poisoned"))?
            .insert(request.request_id.clone(), tx);
        let payload = serde_json::to_vec(request)?;
        let message = Message::new(self.topics.validation_requests.clone(), payload)
            .with_key(request.session.clone().into_bytes());
        let sent = self.bus.publish(message, QoS::AtLeastOnce).await;
        let answer = match sent {
            Ok(()) => tokio::time::timeout(self.timeout, rx)
                .await
                .ok()
                .and_then(|r| r.ok()),
            Err(e) => {
                tracing::warn!(
                    "session {}: validation request not sent: {e}",
                    request.session
                );
                None
            }
        };
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.remove(&request.request_id);
        }
        Ok(answer)
    }
}

/// Checks that `verdicts` are one per accepted order of `result`.
pub fn check_verdicts(
    result: &ClearingResult,
    verdicts: &[Verdict],
) -> std::result::Result<(), String> {
    use platone_market::validation::OrderKind;
    let accepted: std::collections::HashSet<(OrderKind, &str)> = result
        .accepted_offers
        .iter()
        .map(|a| (OrderKind::Offer, a.id.as_str()))
        .chain(
            result
                .accepted_requests
                .iter()
                .map(|a| (OrderKind::Request, a.id.as_str())),
        )
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (i, v) in verdicts.iter().enumerate() {
        if !accepted.contains(&(v.kind, v.order.as_str())) {
            return Err(format!(
                "verdicts[{i}]: {} {:?} is not accepted in the result",
                v.kind.as_str(),
                v.order
            ));
        }
        if !seen.insert((v.kind, v.order.as_str())) {
            return Err(format!("verdicts[{i}]: {:?} is judged twice", v.order));
        }
    }
    if seen.len() != accepted.len() {
        return Err(format!(
            "{} verdicts for {} accepted orders",
            seen.len(),
            accepted.len()
        ));
    }
    Ok(())
}

impl SessionValidator for BusValidation {
    fn validates(&self, session: &Session) -> bool {
        // The remote validator knows the grid; a session without a network is still sent.
        let _ = session;
        true
    }

    fn validate(
        &self,
        session: &Session,
        round: usize,
        scenario: &Scenario,
        result: &ClearingResult,
    ) -> Result<Vec<Verdict>> {
        let sequence = self.next.fetch_add(1, Ordering::Relaxed);
        let request = ValidationRequest {
            format: VALIDATION_FORMAT.into(),
            request_id: format!(
                "{}:{round}:{}:{sequence}",
                session.id,
                chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
            ),
            session: session.id.clone(),
            round,
            book: ScenarioFile {
                unit: session.spec.unit,
                ..scenario.to_file()
            },
            result: result.clone(),
        };
        let answer = self.runtime.block_on(self.round_trip(&request))?;
        if let Some(response) = answer {
            return match check_verdicts(result, &response.verdicts) {
                Ok(()) => Ok(response.verdicts),
                Err(reason) => Err(PlatformError::Validation(format!(
                    "the validator{} answered wrongly: {reason}",
                    response
                        .validator
                        .map(|v| format!(" {v}"))
                        .unwrap_or_default()
                ))),
            };
        }
        let why = format!("no validation answer within {:?}", self.timeout);
        match self.fallback {
            ValidationFallback::Fail => Err(PlatformError::Validation(why)),
            ValidationFallback::Local => {
                tracing::warn!("session {}: {why}: validated in process", session.id);
                self.local.validate(session, round, scenario, result)
            }
            ValidationFallback::Accept => {
                tracing::warn!("session {}: {why}: accepted unvalidated", session.id);
                Ok(all_green(result, &format!("not validated: {why}")))
            }
        }
    }
}

/// A green verdict with `reason` for every accepted order.
fn all_green(result: &ClearingResult, reason: &str) -> Vec<Verdict> {
    use platone_market::validation::OrderKind;
    let verdict = |kind, order: &str| Verdict {
        kind,
        order: order.to_owned(),
        light: Light::Green,
        reason: reason.to_owned(),
        curtail_to: None,
    };
    result
        .accepted_offers
        .iter()
        .map(|a| verdict(OrderKind::Offer, &a.id))
        .chain(
            result
                .accepted_requests
                .iter()
                .map(|a| verdict(OrderKind::Request, &a.id)),
        )
        .collect()
}

/// The validator's side: answers every [`ValidationRequest`] on `topics.validation_requests`
/// with `validator`'s verdicts, as `name`, until the bus closes or the task is aborted.
/// Requests that cannot be read are dead-lettered.
pub async fn answer_validations(
    bus: Arc<dyn Bus>,
    topics: BusTopics,
    validator: Arc<dyn GridValidator + Send + Sync>,
    name: String,
) -> Result<JoinHandle<()>> {
    let filter = TopicFilter::new(topics.validation_requests.clone()).map_err(bus_error)?;
    let mut requests = bus
        .subscribe(filter, QoS::AtLeastOnce)
        .await
        .map_err(bus_error)?;
    Ok(tokio::spawn(async move {
        while let Some(delivery) = requests.next_delivery().await {
            let message = delivery.message.clone();
            let read = serde_json::from_slice::<ValidationRequest>(&message.payload)
                .map_err(|e| format!("not a validation request: {e}"))
                .and_then(|r| {
                    if r.format != VALIDATION_FORMAT {
                        return Err(format!(
                            "format {:?}, expected {VALIDATION_FORMAT}",
                            r.format
                        ));
                    }
                    let scenario =
                        Scenario::from_file(r.book.clone()).map_err(|e| format!("book: {e}"))?;
                    Ok((r, scenario))
                });
            match read {
                Ok((request, scenario)) => {
                    let checker = validator.clone();
                    let result = request.result.clone();
                    let verdicts =
                        tokio::task::spawn_blocking(move || checker.validate(&scenario, &result))
                            .await;
                    match verdicts {
                        Ok(verdicts) => {
                            let response = ValidationResponse {
                                request_id: request.request_id,
                                verdicts,
                                validator: Some(name.clone()),
                            };
                            let answer = serde_json::to_vec(&response).map(|payload| {
                                Message::new(topics.validation_responses.clone(), payload)
                                    .with_key(request.session.into_bytes())
                            });
                            match answer {
                                Ok(answer) => {
                                    if let Err(e) = bus.publish(answer, QoS::AtLeastOnce).await {
                                        tracing::error!("validation answer not sent: {e}");
                                    }
                                }
                                Err(e) => tracing::error!("validation answer not written: {e}"),
                            }
                        }
                        Err(e) => tracing::error!("the validator stopped: {e}"),
                    }
                }
                Err(reason) => dead_letter(&*bus, &topics.dead_letter, &message, &reason).await,
            }
            if let Err(e) = delivery.ack().await {
                tracing::warn!("validation request not acknowledged: {e}");
            }
        }
    }))
}

/// Where and how participants' outcomes are delivered.
#[derive(Clone)]
pub struct OutcomeTopics {
    /// The bus.
    pub bus: Arc<dyn Publisher>,
    /// Each participant's outcome goes to `{prefix}/{participant}`.
    pub prefix: String,
    /// How long a message may wait for the bus's acknowledgement before the delivery counts
    /// as failed (and is tried again).
    pub timeout: Duration,
}

impl std::fmt::Debug for OutcomeTopics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutcomeTopics")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl OutcomeTopics {
    /// Outcomes on `bus` under `prefix`, each acknowledged within 10 s.
    pub fn new(bus: Arc<dyn Publisher>, prefix: impl Into<String>) -> Self {
        OutcomeTopics {
            bus,
            prefix: prefix.into(),
            timeout: Duration::from_secs(10),
        }
    }

    /// The topic of `participant`'s outcomes: `{prefix}/{participant}`, with MQTT's reserved
    /// `/`, `+` and `#` of the participant's name written as `_` (one topic level).
    pub fn topic_of(&self, participant: &str) -> String {
        let level: String = participant
            .chars()
            .map(|c| if matches!(c, '/' | '+' | '#') { '_' } else { c })
            .collect();
        format!("{}/{level}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_is_one_topic_level() {
        let topics = OutcomeTopics::new(Arc::new(platone_bus::MemoryBus::new()), "p/o");
        assert_eq!(topics.topic_of("agg-1"), "p/o/agg-1");
        assert_eq!(topics.topic_of("a/b+c#"), "p/o/a_b_c_");
    }
}
