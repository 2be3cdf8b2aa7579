//! The acknowledgement listener: one subscription to `{setpoints}/+/ack` for every PoD; each
//! acknowledgement is stored, certified and applied to its set point's status, many at once.
//! A message that is not a usable acknowledgement is dead-lettered on `{dead_letters}/dispatch`
//! and acknowledged to the broker while the others flow.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use platone_bus::{Delivery, Subscription};
use platone_scd::{ScdError, SetPointAck};

use super::certify::DispatchRecord;
use super::dispatcher::Inner;
use crate::dead_letter::dead_letter;

/// How often storing an acknowledgement is tried before it is left to come again.
const STORE_ATTEMPTS: u32 = 3;

/// What became of one message.
enum Outcome {
    /// Stored (and applied when tracked): acknowledge it to the broker.
    Taken,
    /// Unusable, with the reason: dead-letter it, then acknowledge it.
    Unusable(String),
    /// Could not be stored for now: leave it unacknowledged so that it comes again.
    Later,
}

/// Reads acknowledgements until the dispatcher stops or the bus closes.
pub(crate) async fn listen(inner: Arc<Inner>, acks: Subscription) {
    let mut stop = inner.stop.clone();
    let concurrency = inner.config.store_concurrency;
    let handled = acks
        .map(|delivery| handle(inner.clone(), delivery))
        .buffer_unordered(concurrency);
    tokio::pin!(handled);
    loop {
        tokio::select! {
            next = handled.next() => if next.is_none() {
                tracing::warn!("the acknowledgement subscription ended");
                return;
            },
            _ = stop.changed() => return,
        }
    }
}

async fn handle(inner: Arc<Inner>, delivery: Delivery) {
    inner.counters.received.fetch_add(1, Ordering::Relaxed);
    // A store that fails is tried again with back-off (the acknowledgements behind this one
    // wait: back-pressure), never given up while the listener runs.
    let mut attempt = 0u32;
    let outcome = loop {
        let outcome = match &delivery.decode_error {
            Some(e) => Outcome::Unusable(format!("undecodable message: {e}")),
            None => take(&inner, &delivery.message.topic, &delivery.message.payload).await,
        };
        if !matches!(outcome, Outcome::Later) {
            break outcome;
        }
        inner
            .counters
            .store_failures
            .fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(crate::consumer::backoff(attempt)).await;
        attempt = attempt.saturating_add(1);
    };
    match outcome {
        Outcome::Taken => {}
        Outcome::Unusable(reason) => {
            let topic = format!("{}/dispatch", inner.topics.dead_letters);
            let mut attempt = 0u32;
            while dead_letter(&*inner.bus, &topic, &delivery.message, &reason)
                .await
                .is_err()
            {
                tokio::time::sleep(crate::consumer::backoff(attempt)).await;
                attempt = attempt.saturating_add(1);
            }
            inner.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        }
        Outcome::Later => return,
    }
    if let Err(e) = delivery.ack().await {
        tracing::warn!("acknowledgement not confirmed to the broker: {e}");
    }
}

/// The PoD of an acknowledgement topic `{setpoints}/{pod}/ack`.
fn pod_of<'t>(inner: &Inner, topic: &'t str) -> Option<&'t str> {
    topic
        .strip_prefix(inner.topics.setpoints.as_str())?
        .strip_prefix('/')?
        .strip_suffix("/ack")
}

/// Reads, checks, stores and applies one acknowledgement.
async fn take(inner: &Inner, topic: &str, payload: &[u8]) -> Outcome {
    let ack: SetPointAck = match serde_json::from_slice(payload) {
        Ok(ack) => ack,
        Err(e) => return Outcome::Unusable(format!("not a set-point acknowledgement: {e}")),
    };
    let located = inner.lock().locate(&ack.set_point);
    if let Some((activation, index)) = &located {
        let expected = inner
            .lock()
            .activations
            .get(activation)
            .and_then(|t| t.entries.get(*index))
            .and_then(|e| e.set_point.pod.clone());
        if let (Some(expected), Some(pod)) = (expected, pod_of(inner, topic))
            && expected.as_str() != pod
        {
            return Outcome::Unusable(format!(
                "acknowledgement of set point {} (PoD {expected}) on PoD {pod}'s topic",
                ack.set_point
            ));
        }
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match inner.store.acknowledge_set_point(&ack).await {
            Ok(()) => break,
            Err(ScdError::NotFound { record }) => {
                return Outcome::Unusable(format!("acknowledges an unknown {record}"));
            }
            Err(e @ (ScdError::InvalidRecord { .. } | ScdError::Conflict { .. })) => {
                return Outcome::Unusable(format!("the store refuses it: {e}"));
            }
            Err(e) if attempt < STORE_ATTEMPTS => {
                tracing::warn!(set_point = %ack.set_point, "storing an acknowledgement failed (trying again): {e}");
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            Err(e) => {
                tracing::error!(set_point = %ack.set_point, "acknowledgement not stored (it comes again): {e}");
                return Outcome::Later;
            }
        }
    }
    inner.counters.stored.fetch_add(1, Ordering::Relaxed);
    let mut state = inner.lock();
    // Looked up again: the activation may have been forgotten meanwhile.
    let target = state.locate(&ack.set_point);
    if let Some((activation, index)) = &target
        && let Some(tracked) = state.activations.get_mut(activation)
    {
        if tracked.acknowledge(*index, &ack) {
            tracing::debug!(set_point = %ack.set_point, outcome = ack.outcome.as_str(), "acknowledged");
        }
        tracked.notify.notify_waiters();
    }
    inner.certify(&mut state, target, DispatchRecord::Ack(ack));
    Outcome::Taken
}
