//! The loop every databus service runs: read deliveries, handle a bounded number at a time,
//! acknowledge each once handled, dead-letter what cannot be used.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use platone_bus::{Delivery, Message, Publisher, Subscription};
use serde::Serialize;

use crate::dead_letter::dead_letter;

/// Counters of one databus service, for `/health` and the metrics.
#[derive(Debug, Default)]
pub struct ServiceCounters {
    received: AtomicU64,
    handled: AtomicU64,
    dead_lettered: AtomicU64,
    retries: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A snapshot of [`ServiceCounters`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    /// Messages read from the bus.
    pub received: u64,
    /// Messages handled and acknowledged (dead letters included).
    pub handled: u64,
    /// Messages set aside as unusable.
    pub dead_lettered: u64,
    /// Times a step (publish, store) failed and was tried again.
    pub retries: u64,
    /// The last failure that was retried, while it lasts (cleared by the next success).
    pub last_error: Option<String>,
}

impl ServiceCounters {
    /// The counts now.
    pub fn status(&self) -> ServiceStatus {
        ServiceStatus {
            received: self.received.load(Ordering::Relaxed),
            handled: self.handled.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// Records a failure that will be retried.
    pub fn retrying(&self, what: impl std::fmt::Display) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(what.to_string());
        }
    }

    /// Records that the step that failed works again.
    pub fn recovered(&self) {
        if let Ok(mut e) = self.last_error.lock()
            && e.is_some()
        {
            *e = None;
        }
    }

    /// Whether a step is failing now.
    pub fn failing(&self) -> bool {
        self.last_error.lock().map(|e| e.is_some()).unwrap_or(true)
    }
}

/// What a handler did with a message.
#[derive(Debug)]
pub(crate) enum Handled {
    /// Used; acknowledge it.
    Done,
    /// Unusable for this reason: dead-letter it, then acknowledge it.
    Unusable(String),
}

/// Back-off between attempts of a step that fails: 50 ms doubling up to 5 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << attempt.min(7)).min(5_000))
}

/// Runs `attempt` until it succeeds, waiting [`backoff`] between tries and counting each
/// failure in `counters` (the step is never given up: the service waits, and the bounded
/// number of messages in flight makes that back-pressure on the bus).
pub(crate) async fn until_done<T, E, F, Fut>(
    counters: &ServiceCounters,
    what: &str,
    attempt: F,
) -> T
where
    E: std::fmt::Display,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 0u32;
    loop {
        match attempt().await {
            Ok(value) => {
                if tries > 0 {
                    counters.recovered();
                }
                return value;
            }
            Err(e) => {
                tracing::warn!("{what}: {e} (trying again)");
                counters.retrying(format!("{what}: {e}"));
                tokio::time::sleep(backoff(tries)).await;
                tries = tries.saturating_add(1);
            }
        }
    }
}

/// Reads `subscription` until it ends, handling at most `max_in_flight` messages at a time
/// with `handler`; each delivery is acknowledged once handled, an unusable one after it was
/// dead-lettered on `dead_letter_topic` (a dead letter that cannot be published is tried
/// again with back-off, holding the rest back).
pub(crate) async fn consume<H, Fut>(
    mut subscription: Subscription,
    max_in_flight: usize,
    bus: &dyn Publisher,
    dead_letter_topic: &str,
    counters: &ServiceCounters,
    handler: H,
) where
    H: Fn(Message) -> Fut,
    Fut: Future<Output = Handled>,
{
    let max_in_flight = max_in_flight.max(1);
    let mut in_flight = FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            next = subscription.next_delivery(), if open && in_flight.len() < max_in_flight => {
                match next {
                    Some(delivery) => {
                        counters.received.fetch_add(1, Ordering::Relaxed);
                        in_flight.push(handle(delivery, &handler));
                    }
                    None => open = false,
                }
            }
            Some((delivery, handled)) = in_flight.next(), if !in_flight.is_empty() => {
                finish(delivery, handled, bus, dead_letter_topic, counters).await;
            }
            else => break,
        }
    }
}

async fn handle<H, Fut>(delivery: Delivery, handler: &H) -> (Delivery, Handled)
where
    H: Fn(Message) -> Fut,
    Fut: Future<Output = Handled>,
{
    if let Some(e) = &delivery.decode_error {
        let reason = format!("undecodable: {e}");
        return (delivery, Handled::Unusable(reason));
    }
    let handled = handler(delivery.message.clone()).await;
    (delivery, handled)
}

async fn finish(
    delivery: Delivery,
    handled: Handled,
    bus: &dyn Publisher,
    dead_letter_topic: &str,
    counters: &ServiceCounters,
) {
    if let Handled::Unusable(reason) = &handled {
        // Set aside before it is acknowledged: tried again until the bus takes it.
        until_done(counters, "dead-lettering", || {
            dead_letter(bus, dead_letter_topic, &delivery.message, reason)
        })
        .await;
        counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }
    let topic = delivery.message.topic.clone();
    if let Err(e) = delivery.ack().await {
        tracing::warn!("{topic}: not acknowledged: {e}");
        return;
    }
    counters.handled.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_five_seconds() {
        assert_eq!(backoff(0), Duration::from_millis(50));
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(30), Duration::from_millis(5_000));
    }
}
