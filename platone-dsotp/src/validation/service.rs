//! The validation service on the bus: the Market Platform's requests in, verdicts out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use platone_bus::{Bus, Delivery, Message, QoS};
use platone_market::scenario::Scenario;
use platone_market::validation::{
    Light, VALIDATION_FORMAT, ValidationRequest, ValidationResponse, Verdict,
};
use serde::Serialize;
use tokio::task::JoinHandle;

use super::ac::AcValidator;
use crate::dead_letter::dead_letter;
use crate::error::{DsotpError, Result};
use crate::topics::DsotpTopics;

/// The validator the service answers with, shared with whoever keeps it current (the
/// estimation service sets its operating point; a new grid model replaces it whole).
pub type SharedValidator = Arc<RwLock<AcValidator>>;

/// The service's counters (cumulative since it started).
#[derive(Debug, Default)]
pub struct ValidationCounters {
    answered: AtomicU64,
    red: AtomicU64,
    dead_lettered: AtomicU64,
    failed: AtomicU64,
}

/// A snapshot of [`ValidationCounters`], for a `/health` endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ValidationStats {
    /// Requests answered.
    pub answered: u64,
    /// Red verdicts sent (over all answers).
    pub red: u64,
    /// Requests that could not be read, dead-lettered.
    pub dead_lettered: u64,
    /// Answers or dead letters that could not be published (the request is left
    /// unacknowledged, so that the broker delivers it again).
    pub failed: u64,
}

impl ValidationCounters {
    /// The current values.
    pub fn snapshot(&self) -> ValidationStats {
        ValidationStats {
            answered: self.answered.load(Ordering::Relaxed),
            red: self.red.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// The DSOTP's market validation service (FR-MP-MOMV-02/03): answers every
/// [`ValidationRequest`] on [`DsotpTopics::validation_requests`] with a
/// [`ValidationResponse`] on [`DsotpTopics::validation_responses`] (keyed by the session),
/// one verdict per accepted order from the shared [`AcValidator`], as `name`.
///
/// A request that cannot be read (a decoding error, not JSON, not a request, another format,
/// a book that is not a valid scenario) is dead-lettered on `{dead_letters}/validation` and
/// acknowledged; the following requests flow on. A request is acknowledged to the broker only
/// once answered (or dead-lettered): when the answer cannot be published it stays
/// unacknowledged and the broker delivers it again (MQTT after a reconnect, Kafka from its
/// uncommitted offset).
///
/// The task stops when the bus closes the subscription, or on [`ValidationService::shutdown`]
/// or drop.
#[derive(Debug)]
pub struct ValidationService {
    validator: SharedValidator,
    counters: Arc<ValidationCounters>,
    task: JoinHandle<()>,
}

impl Drop for ValidationService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the service needs to handle one delivery.
struct Handler {
    bus: Arc<dyn Bus>,
    responses: String,
    dead_letters: String,
    validator: SharedValidator,
    name: String,
    counters: Arc<ValidationCounters>,
}

impl ValidationService {
    /// Subscribes to `topics.validation_requests` on `bus` (from within a Tokio runtime; the
    /// subscription is established when this returns) and answers with `validator` as
    /// `name`.
    pub async fn start(
        bus: Arc<dyn Bus>,
        topics: &DsotpTopics,
        validator: SharedValidator,
        name: impl Into<String>,
    ) -> Result<Self> {
        let filter = topics.subscription("validation", &topics.validation_requests)?;
        // Checked now rather than at the first answer.
        for (field, topic) in [
            ("topics.validation_responses", &topics.validation_responses),
            ("topics.dead_letters", &topics.dead_letters),
        ] {
            platone_bus::validate_topic(topic).map_err(|e| DsotpError::invalid(field, e))?;
        }
        let mut requests = bus
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .map_err(DsotpError::bus)?;
        let counters = Arc::new(ValidationCounters::default());
        let handler = Handler {
            bus,
            responses: topics.validation_responses.clone(),
            dead_letters: format!("{}/validation", topics.dead_letters),
            validator: validator.clone(),
            name: name.into(),
            counters: counters.clone(),
        };
        let task = tokio::spawn(async move {
            while let Some(delivery) = requests.next_delivery().await {
                handler.handle(delivery).await;
            }
            tracing::info!("validation: the request subscription closed");
        });
        Ok(ValidationService {
            validator,
            counters,
            task,
        })
    }

    /// The validator answering (lock it for writing to set its operating point or to replace
    /// it).
    pub fn validator(&self) -> &SharedValidator {
        &self.validator
    }

    /// The counters, shared (for a `/health` endpoint that outlives a borrow).
    pub fn counters(&self) -> Arc<ValidationCounters> {
        self.counters.clone()
    }

    /// The counters now.
    pub fn stats(&self) -> ValidationStats {
        self.counters.snapshot()
    }

    /// Whether the service is still answering.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops answering. Requests not yet acknowledged stay with the broker.
    pub fn shutdown(self) -> ValidationStats {
        self.task.abort();
        self.counters.snapshot()
    }
}

/// Reads a request: the JSON, the format, the book.
fn read(delivery: &Delivery) -> std::result::Result<(ValidationRequest, Scenario), String> {
    if let Some(e) = &delivery.decode_error {
        return Err(format!("undecodable message: {e}"));
    }
    let request: ValidationRequest = serde_json::from_slice(&delivery.message.payload)
        .map_err(|e| format!("not a validation request: {e}"))?;
    if request.format != VALIDATION_FORMAT {
        return Err(format!(
            "format {:?}, expected {VALIDATION_FORMAT}",
            request.format
        ));
    }
    let scenario = Scenario::from_file(request.book.clone()).map_err(|e| format!("book: {e}"))?;
    Ok((request, scenario))
}

impl Handler {
    /// Answers (or dead-letters) the request, trying again with back-off while the answer
    /// cannot be published: the requests behind it wait (back-pressure), none is dropped.
    async fn handle(&self, delivery: Delivery) {
        let mut attempt = 0u32;
        loop {
            let handled = match read(&delivery) {
                Ok((request, scenario)) => self.answer(request, scenario, &delivery.message).await,
                Err(reason) => self.reject(&delivery.message, &reason).await,
            };
            if handled {
                break;
            }
            tokio::time::sleep(crate::consumer::backoff(attempt)).await;
            attempt = attempt.saturating_add(1);
        }
        if let Err(e) = delivery.ack().await {
            tracing::warn!("validation request not acknowledged: {e}");
        }
    }

    /// Dead-letters an unreadable request; whether that worked.
    async fn reject(&self, message: &Message, reason: &str) -> bool {
        match dead_letter(&*self.bus, &self.dead_letters, message, reason).await {
            Ok(()) => {
                self.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Validates and publishes the answer; whether it was sent.
    async fn answer(
        &self,
        request: ValidationRequest,
        scenario: Scenario,
        message: &Message,
    ) -> bool {
        let validator = self.validator.clone();
        let result = request.result;
        let checked = tokio::task::spawn_blocking(move || {
            let validator = validator.read().unwrap_or_else(|e| e.into_inner());
            validator.check(&scenario, &result)
        })
        .await;
        let report = match checked {
            Ok(report) => report,
            Err(e) => {
                // Not expected (the validator does not panic on input); the request is set
                // aside rather than retried for ever.
                tracing::error!(
                    "validation {}: the validator failed: {e}",
                    request.request_id
                );
                return self
                    .reject(message, &format!("the validator failed: {e}"))
                    .await;
            }
        };
        let red = count_red(&report.verdicts);
        if red > 0 {
            tracing::info!(
                "validation {} (session {}, round {}): {red} red of {}",
                request.request_id,
                request.session,
                request.round,
                report.verdicts.len()
            );
        }
        let response = ValidationResponse {
            request_id: request.request_id,
            verdicts: report.verdicts,
            validator: Some(self.name.clone()),
        };
        let payload = match serde_json::to_vec(&response) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(
                    "validation {}: answer not written: {e}",
                    response.request_id
                );
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        };
        let answer =
            Message::new(self.responses.clone(), payload).with_key(request.session.into_bytes());
        match self.bus.publish(answer, QoS::AtLeastOnce).await {
            Ok(()) => {
                self.counters.answered.fetch_add(1, Ordering::Relaxed);
                self.counters.red.fetch_add(red, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::error!("validation {}: answer not sent: {e}", response.request_id);
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

fn count_red(verdicts: &[Verdict]) -> u64 {
    verdicts.iter().filter(|v| v.light == Light::Red).count() as u64
}
