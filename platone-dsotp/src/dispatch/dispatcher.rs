//! [`Dispatcher`]: stores, publishes, tracks, retries and reports set points.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use platone_bus::{Bus, Message, QoS};
use platone_scd::Store;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::activation::Activation;
use super::certify::{DispatchRecord, SetPointCertifier};
use super::certifying::{CertJob, certify_loop};
use super::config::DispatchConfig;
use super::listener::listen;
use super::state::{Entry, State, Tracked};
use super::status::{ActivationStatus, ActivationSummary, DeliveryStatus};
use crate::error::{DsotpError, Result};
use crate::topics::DsotpTopics;

/// Counters of the acknowledgement listener.
#[derive(Debug, Default)]
pub(crate) struct AckCounters {
    pub received: AtomicU64,
    pub stored: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub store_failures: AtomicU64,
}

/// A snapshot of the acknowledgement listener's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckListenerStatus {
    /// Messages read on `{setpoints}/+/ack`.
    pub received: u64,
    /// Acknowledgements stored in the SCD.
    pub stored: u64,
    /// Messages set aside on `{dead_letters}/dispatch`.
    pub dead_lettered: u64,
    /// Acknowledgements the store refused for a passing reason; left unacknowledged on the
    /// bus, so they come again.
    pub store_failures: u64,
}

/// What the dispatcher's tasks share.
pub(crate) struct Inner {
    pub bus: Arc<dyn Bus>,
    pub store: Arc<dyn Store>,
    pub topics: DsotpTopics,
    pub config: DispatchConfig,
    pub state: Mutex<State>,
    pub certify_tx: mpsc::UnboundedSender<CertJob>,
    pub counters: AckCounters,
    pub stop: watch::Receiver<bool>,
}

impl Inner {
    /// The state, also after a panic elsewhere poisoned the lock (every change to it is
    /// completed under the lock, so it stays consistent).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands a record to the certifier, counted against `target`'s activation. Call with the
    /// state locked (`state`).
    pub fn certify(
        &self,
        state: &mut State,
        target: Option<(String, usize)>,
        record: DispatchRecord,
    ) {
        if let Some((activation, _)) = &target
            && let Some(t) = state.activations.get_mut(activation)
        {
            t.certifying += 1;
        }
        if self.certify_tx.send(CertJob { target, record }).is_err() {
            tracing::warn!("the certifier has stopped: a record is left uncertified");
        }
    }

    /// The topic of `pod`'s set points.
    fn set_point_topic(&self, pod: &str) -> String {
        format!("{}/{pod}", self.topics.setpoints)
    }
}

/// Dispatches activations as set points to Light Nodes and follows them up.
///
/// One background task listens on `{setpoints}/+/ack` (subscribed before [`start`](Self::start)
/// returns, so no acknowledgement is missed); one certifies set points and acknowledgements in
/// batches; each activation has a task that retries its unanswered set points and publishes
/// the final report. All of them stop when the dispatcher is shut down or dropped.
///
/// Statuses are kept in memory (the SCD keeps the set points and acknowledgements themselves):
/// [`forget`](Self::forget) an activation once it is no longer needed.
pub struct Dispatcher {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("topics", &self.inner.topics)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Dispatcher {
    /// Subscribes to `{setpoints}/+/ack` on `bus` (QoS 1) and starts the listener and the
    /// certification task. Set points and acknowledgements are stored in `store` and
    /// certified by `certifier`.
    pub async fn start(
        bus: Arc<dyn Bus>,
        store: Arc<dyn Store>,
        certifier: Arc<dyn SetPointCertifier>,
        topics: DsotpTopics,
        config: DispatchConfig,
    ) -> Result<Dispatcher> {
        config.validate()?;
        let filter = topics.subscription("dispatch", &format!("{}/+/ack", topics.setpoints))?;
        let acks = bus
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .map_err(DsotpError::bus)?;
        let (stop, stopped) = watch::channel(false);
        let (certify_tx, jobs) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            bus,
            store,
            topics,
            config,
            state: Mutex::new(State::default()),
            certify_tx,
            counters: AckCounters::default(),
            stop: stopped,
        });
        tokio::spawn(listen(inner.clone(), acks));
        tokio::spawn(certify_loop(inner.clone(), certifier, jobs));
        Ok(Dispatcher { inner, stop })
    }

    /// Validates and splits `activation`, stores every set point (`put_set_point`), hands
    /// them to the certifier and publishes each on `{setpoints}/{pod}` at QoS 1, many at once.
    /// Returns once every set point was published (or its publication failed, which the
    /// retries take over) — not once acknowledged: see [`wait`](Self::wait).
    ///
    /// An invalid activation fails with [`DsotpError::Invalid`] naming the field, an id
    /// dispatched before with [`DsotpError::Invalid`] at `id`, a store failure with
    /// [`DsotpError::Store`] (nothing is published then; dispatching again is safe: storing
    /// the same set points again changes nothing).
    pub async fn dispatch(&self, activation: Activation) -> Result<ActivationStatus> {
        let inner = &self.inner;
        let set_points = activation.split()?;
        let id = activation.id.clone();
        let already =
            || DsotpError::invalid("id", format!("activation {id:?} is already dispatched"));
        if inner.lock().activations.contains_key(&id) {
            return Err(already());
        }
        // Owned futures (no closure borrowing into them), so that `dispatch` stays `Send`.
        let store = inner.store.clone();
        let mut stored = futures::stream::iter(set_points.clone())
            .map(move |sp| {
                let store = store.clone();
                async move {
                    store
                        .put_set_point(&sp)
                        .await
                        .map_err(|e| DsotpError::store(format!("set point {}: {e}", sp.id)))
                }
            })
            .buffer_unordered(inner.config.store_concurrency);
        while let Some(result) = stored.next().await {
            result?;
        }
        drop(stored);

        let mut entries = Vec::with_capacity(set_points.len());
        for sp in set_points {
            let payload = serde_json::to_vec(&sp)
                .map_err(|e| DsotpError::invalid(format!("set point {}", sp.id), e))?;
            let pod = sp.pod.as_ref().map(|p| p.as_str()).unwrap_or_default();
            let topic = inner.set_point_topic(pod);
            let mut entry = Entry::new(sp, topic, payload);
            entry.attempts = 1;
            entry.in_flight = true;
            entries.push(entry);
        }
        let first: Vec<Publication> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| Publication {
                index: i,
                topic: e.topic.clone(),
                payload: e.payload.clone(),
            })
            .collect();
        {
            let mut state = inner.lock();
            if state.activations.contains_key(&id) {
                return Err(already());
            }
            let records: Vec<DispatchRecord> = entries
                .iter()
                .map(|e| DispatchRecord::SetPoint(e.set_point.clone()))
                .collect();
            for (i, e) in entries.iter().enumerate() {
                state
                    .by_set_point
                    .insert(e.set_point.id.clone(), (id.clone(), i));
            }
            let tracked = Tracked::new(activation, platone_certify::now(), entries);
            state.evict_settled(inner.config.keep_activations.saturating_sub(1));
            state.activations.insert(id.clone(), tracked);
            for (i, record) in records.into_iter().enumerate() {
                inner.certify(&mut state, Some((id.clone(), i)), record);
            }
        }
        tracing::info!(activation = %id, set_points = first.len(), "dispatching");
        publish_all(inner, &id, first).await;
        tokio::spawn(supervise(inner.clone(), id.clone()));
        self.status(&id)
    }

    /// The status of activation `id`, or [`DsotpError::NotFound`].
    pub fn status(&self, id: &str) -> Result<ActivationStatus> {
        self.inner
            .lock()
            .activations
            .get(id)
            .map(Tracked::report)
            .ok_or_else(|| not_found(id))
    }

    /// Every activation tracked, by id.
    pub fn activations(&self) -> Vec<ActivationSummary> {
        self.inner
            .lock()
            .activations
            .values()
            .map(Tracked::summary)
            .collect()
    }

    /// Waits until activation `id` is settled (every set point acknowledged, refused or
    /// undelivered, and every certification finished) or `timeout` has passed, and gives its
    /// status then (`settled` tells which). [`DsotpError::NotFound`] for an unknown id.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<ActivationStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let notify = self
                .inner
                .lock()
                .activations
                .get(id)
                .map(|t| t.notify.clone())
                .ok_or_else(|| not_found(id))?;
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Woken on every acknowledgement: only the settled flag is looked at, the whole
            // status is built once, at the end.
            let settled = self
                .inner
                .lock()
                .activations
                .get(id)
                .map(Tracked::settled)
                .ok_or_else(|| not_found(id))?;
            if settled {
                return self.status(id);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.status(id);
            }
        }
    }

    /// Stops tracking activation `id` (its retries end); [`DsotpError::NotFound`] if unknown.
    pub fn forget(&self, id: &str) -> Result<()> {
        self.inner
            .lock()
            .forget(id)
            .map(drop)
            .ok_or_else(|| not_found(id))
    }

    /// The acknowledgement listener's counters.
    pub fn listener_status(&self) -> AckListenerStatus {
        let c = &self.inner.counters;
        AckListenerStatus {
            received: c.received.load(Ordering::Relaxed),
            stored: c.stored.load(Ordering::Relaxed),
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
            store_failures: c.store_failures.load(Ordering::Relaxed),
        }
    }

    /// The topics.
    pub fn topics(&self) -> &DsotpTopics {
        &self.inner.topics
    }

    /// The configuration.
    pub fn config(&self) -> &DispatchConfig {
        &self.inner.config
    }

    /// Stops the listener, the certification task and every retry (also done on drop).
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

fn not_found(id: &str) -> DsotpError {
    DsotpError::NotFound {
        what: "activation",
        id: id.to_owned(),
    }
}

/// One publication of a set point.
pub(crate) struct Publication {
    index: usize,
    topic: String,
    payload: Vec<u8>,
}

/// Publishes set points of activation `id`, many at once, recording each outcome.
async fn publish_all(inner: &Inner, id: &str, publications: Vec<Publication>) {
    let bus = inner.bus.clone();
    let mut sent = futures::stream::iter(publications)
        .map(move |p| {
            let bus = bus.clone();
            async move {
                let message = Message::new(p.topic, p.payload);
                (p.index, bus.publish(message, QoS::AtLeastOnce).await)
            }
        })
        .buffer_unordered(inner.config.publish_concurrency);
    while let Some((index, outcome)) = sent.next().await {
        let mut state = inner.lock();
        let Some(tracked) = state.activations.get_mut(id) else {
            continue;
        };
        let mut to = None;
        if let Some(e) = tracked.entries.get_mut(index) {
            e.in_flight = false;
            e.last_attempt = Some(Instant::now());
            match outcome {
                Ok(()) => {
                    e.last_sent = Some(platone_certify::now());
                    if e.status == DeliveryStatus::Pending {
                        e.reason = None;
                        to = Some(DeliveryStatus::Sent);
                    }
                }
                Err(err) => {
                    tracing::warn!(set_point = %e.set_point.id, "publication failed: {err}");
                    if !e.status.is_final() {
                        e.reason = Some(format!("publication failed: {err}"));
                    }
                }
            }
        }
        if let Some(to) = to {
            tracked.set_status(index, to);
        }
    }
}

/// What a scan of an activation found.
struct Scan {
    /// Set points to publish again.
    due: Vec<Publication>,
    /// When to look again.
    next: Instant,
    /// Some set point became undelivered.
    changed: bool,
}

/// Marks set points whose last wait ran out undelivered (or their window ended), and picks
/// those to publish again. `None` once the activation is forgotten.
fn scan(inner: &Inner, id: &str) -> Option<Scan> {
    let config = &inner.config;
    let mut state = inner.lock();
    let tracked = state.activations.get_mut(id)?;
    let now = Instant::now();
    let wall = platone_certify::now();
    let mut next = now + config.wait_after(1);
    let mut due = Vec::new();
    let mut undelivered = Vec::new();
    for (i, e) in tracked.entries.iter_mut().enumerate() {
        if e.status.is_final() || e.in_flight {
            continue;
        }
        let Some(last) = e.last_attempt else { continue };
        if e.set_point.valid_to <= wall {
            undelivered.push((i, "its window ended before it was acknowledged".to_owned()));
            continue;
        }
        let deadline = last + config.wait_after(e.attempts);
        if now < deadline {
            next = next.min(deadline);
        } else if e.attempts >= config.max_attempts {
            undelivered.push((
                i,
                format!("no acknowledgement after {} attempts", e.attempts),
            ));
        } else {
            e.attempts += 1;
            e.in_flight = true;
            due.push(Publication {
                index: i,
                topic: e.topic.clone(),
                payload: e.payload.clone(),
            });
        }
    }
    let changed = !undelivered.is_empty();
    for (i, reason) in undelivered {
        if let Some(e) = tracked.entries.get_mut(i) {
            tracing::warn!(set_point = %e.set_point.id, "undelivered: {reason}");
            e.reason = Some(reason);
        }
        tracked.set_status(i, DeliveryStatus::Undelivered);
    }
    if changed {
        tracked.notify.notify_waiters();
    }
    Some(Scan { due, next, changed })
}

/// Follows activation `id` until it is settled: publishes unanswered set points again when
/// their wait runs out, gives them up after the last attempt, then reports.
async fn supervise(inner: Arc<Inner>, id: String) {
    let mut stop = inner.stop.clone();
    let mut next_scan = Instant::now();
    loop {
        let Some(notify) = inner.lock().activations.get(&id).map(|t| t.notify.clone()) else {
            return;
        };
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if Instant::now() >= next_scan {
            let Some(found) = scan(&inner, &id) else {
                return;
            };
            next_scan = found.next;
            if !found.due.is_empty() {
                tracing::info!(activation = %id, set_points = found.due.len(), "publishing again");
                publish_all(&inner, &id, found.due).await;
                continue;
            }
            if found.changed {
                continue;
            }
        }
        let settled = match inner.lock().activations.get(&id) {
            Some(t) => t.settled(),
            None => return,
        };
        if settled {
            report(&inner, &id).await;
            return;
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(next_scan) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Publishes activation `id`'s final status on `{reports}/{id}` and logs what went wrong.
async fn report(inner: &Inner, id: &str) {
    let status = {
        let mut state = inner.lock();
        let Some(tracked) = state.activations.get_mut(id) else {
            return;
        };
        if tracked.reported {
            return;
        }
        tracked.reported = true;
        tracked.report()
    };
    let c = status.counts;
    let undelivered = status.undelivered();
    if undelivered.is_empty() && c.rejected == 0 {
        tracing::info!(activation = %id, accepted = c.accepted, applied = c.applied, "activation dispatched");
    } else {
        let pods: Vec<&str> = undelivered.iter().map(|p| p.as_str()).collect();
        tracing::warn!(
            activation = %id,
            accepted = c.accepted,
            applied = c.applied,
            rejected = c.rejected,
            undelivered = c.undelivered,
            "activation dispatched with set points not taken; undelivered at PoDs {pods:?}"
        );
    }
    let topic = format!("{}/{id}", inner.config.reports);
    match serde_json::to_vec(&status) {
        Ok(body) => {
            let message = Message::new(topic.clone(), body).with_key(id.as_bytes().to_vec());
            if let Err(e) = inner.bus.publish(message, QoS::AtLeastOnce).await {
                tracing::error!("{topic}: the activation's report was not published: {e}");
            }
        }
        Err(e) => tracing::error!("{topic}: the activation's report does not serialise: {e}"),
    }
}
