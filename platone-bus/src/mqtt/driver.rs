//! The task that drives rumqttc's event loop and matches broker acknowledgements to publishes.
//!
//! rumqttc reports `Outgoing::Publish(pkid)` in the order requests leave its channel, so the
//! waiters of publishes are queued in the same order (under `publish_order`) and given their
//! packet id when it is reported; `PubAck`/`PubComp` then completes them. Subscriptions work
//! the same way with `Outgoing::Subscribe` and `SubAck`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use rumqttc::{
    AsyncClient, Event, EventLoop, Incoming, Outgoing, Publish, Request, SubscribeReasonCode,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::{MqttConfig, mqtt_qos};
use crate::bus::{Receiver, Subscription};
use crate::error::{BusError, BusResult};
use crate::message::{AckFn, Delivery, Headers, Message, QoS};
use crate::topic::TopicFilter;

/// Waits for the broker's acknowledgement of one publish.
pub(crate) struct Waiter {
    pub topic: String,
    pub tx: oneshot::Sender<BusResult<()>>,
}

type SubDone = oneshot::Sender<BusResult<()>>;

struct SubWaiter {
    filter: String,
    qos: QoS,
    tx: Option<oneshot::Sender<BusResult<()>>>,
}

#[derive(Clone)]
pub(crate) enum SubTx {
    Bounded(mpsc::Sender<Delivery>),
    Unbounded(mpsc::UnboundedSender<Delivery>),
}

struct LocalSub {
    id: u64,
    filter: TopicFilter,
    qos: QoS,
    tx: SubTx,
    lagged: Arc<AtomicU64>,
}

#[derive(Default)]
struct State {
    publish_fifo: VecDeque<Waiter>,
    publish_acks: HashMap<u16, Waiter>,
    collided: VecDeque<Waiter>,
    subscribe_fifo: VecDeque<SubWaiter>,
    subscribe_acks: HashMap<u16, SubWaiter>,
    subs: Vec<LocalSub>,
    next_sub: u64,
    /// Received before any matching local subscription existed (unacknowledged).
    orphans: VecDeque<Publish>,
    /// Requests rumqttc held unsent at the last disconnect (the front of the waiter queues):
    /// they are dropped if the session is lost.
    lost_publishes: usize,
    lost_subscribes: usize,
    disconnected: bool,
}

/// Held orphans beyond this are QoS 0 messages and are discarded (logged).
const MAX_ORPHANS: usize = 10_000;

pub(crate) struct Shared {
    pub connected: watch::Sender<bool>,
    pub publish_order: tokio::sync::Mutex<()>,
    pub subscribe_order: tokio::sync::Mutex<()>,
    state: Mutex<State>,
    qos0_queue: usize,
    describe: String,
    /// Reconnects of a persistent session that the broker answered with "no session present".
    sessions_lost: AtomicU64,
}

pub(crate) struct TaskGuard(JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct AckGroup {
    remaining: AtomicUsize,
    client: AsyncClient,
    publish: Publish,
}

impl AckGroup {
    async fn ack_one(self: Arc<Self>) -> BusResult<()> {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.client
                .ack(&self.publish)
                .await
                .map_err(|e| BusError::Connection {
                    broker: String::new(),
                    reason: format!("acknowledging: {e}"),
                })?;
        }
        Ok(())
    }

    /// From the event loop task: never awaits the request channel.
    fn ack_one_now(self: &Arc<Self>) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            ack_without_blocking(&self.client, &self.publish);
        }
    }
}

fn ack_without_blocking(client: &AsyncClient, publish: &Publish) {
    if publish.qos == rumqttc::QoS::AtMostOnce {
        return;
    }
    if client.try_ack(publish).is_err() {
        let client = client.clone();
        let publish = publish.clone();
        tokio::spawn(async move {
            let _ = client.ack(&publish).await;
        });
    }
}

impl Shared {
    pub fn sessions_lost(&self) -> u64 {
        self.sessions_lost.load(Ordering::Relaxed)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the queues inconsistent in a way that
        // matters more than stopping; recover the guard.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push_publish(&self, waiter: Waiter) {
        self.state().publish_fifo.push_back(waiter);
    }

    pub fn pop_last_publish(&self) {
        self.state().publish_fifo.pop_back();
    }

    pub fn push_subscribe(
        &self,
        filter: String,
        qos: QoS,
        tx: Option<oneshot::Sender<BusResult<()>>>,
    ) {
        self.state()
            .subscribe_fifo
            .push_back(SubWaiter { filter, qos, tx });
    }

    pub fn pop_last_subscribe(&self) {
        self.state().subscribe_fifo.pop_back();
    }

    pub fn add_subscription(
        self: &Arc<Self>,
        client: &AsyncClient,
        filter: TopicFilter,
        qos: QoS,
    ) -> Subscription {
        let lagged = Arc::new(AtomicU64::new(0));
        let (tx, rx) = self.channel(qos);
        let guard = self.attach(client, filter, qos, tx, lagged.clone());
        Subscription::new(rx, lagged, Some(Box::new(guard)))
    }

    /// A delivery channel for a subscription at `qos`: bounded for QoS 0, unbounded (bounded
    /// by the broker's in-flight window) otherwise.
    pub fn channel(&self, qos: QoS) -> (SubTx, Receiver) {
        if qos == QoS::AtMostOnce {
            let (tx, rx) = mpsc::channel(self.qos0_queue.max(1));
            (SubTx::Bounded(tx), Receiver::Bounded(rx))
        } else {
            let (tx, rx) = mpsc::unbounded_channel();
            (SubTx::Unbounded(tx), Receiver::Unbounded(rx))
        }
    }

    /// Routes what arrives for `filter` on this connection into `tx` (several connections may
    /// feed one channel) until the returned guard is dropped.
    pub fn attach(
        self: &Arc<Self>,
        client: &AsyncClient,
        filter: TopicFilter,
        qos: QoS,
        tx: SubTx,
        lagged: Arc<AtomicU64>,
    ) -> RemoveSub {
        let mut state = self.state();
        let id = state.next_sub;
        state.next_sub += 1;
        state.subs.push(LocalSub {
            id,
            filter: filter.clone(),
            qos,
            tx,
            lagged,
        });
        // Hand over what arrived before this subscription existed.
        let orphans: Vec<Publish> = {
            let (take, keep): (Vec<Publish>, Vec<Publish>) = state
                .orphans
                .drain(..)
                .partition(|p| filter.matches(&p.topic));
            state.orphans = keep.into();
            take
        };
        for p in orphans {
            route(&mut state, client, p, &self.describe);
        }
        drop(state);
        RemoveSub {
            shared: Arc::downgrade(self),
            id,
        }
    }
}

/// Stops local delivery of one subscription when dropped.
pub(crate) struct RemoveSub {
    shared: std::sync::Weak<Shared>,
    id: u64,
}

impl Drop for RemoveSub {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.state().subs.retain(|s| s.id != self.id);
        }
    }
}

pub(crate) fn spawn(
    client: AsyncClient,
    eventloop: EventLoop,
    config: &MqttConfig,
    describe: String,
) -> (Arc<Shared>, TaskGuard) {
    let (connected, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        connected,
        publish_order: tokio::sync::Mutex::new(()),
        subscribe_order: tokio::sync::Mutex::new(()),
        state: Mutex::new(State::default()),
        qos0_queue: config.qos0_queue,
        describe,
        sessions_lost: AtomicU64::new(0),
    });
    let task = tokio::spawn(drive(client, eventloop, shared.clone(), Timing::of(config)));
    (shared, TaskGuard(task))
}

/// The connection's timing settings.
struct Timing {
    backoff_min: Duration,
    backoff_max: Duration,
    persistent: bool,
    hold_after_state_loss: Duration,
}

impl Timing {
    fn of(config: &MqttConfig) -> Timing {
        Timing {
            backoff_min: config.reconnect_min,
            backoff_max: config.reconnect_max,
            persistent: !config.clean_session,
            // Not polling the connection for longer than the keep-alive would end it.
            hold_after_state_loss: config.hold_after_state_loss.min(config.keep_alive),
        }
    }
}

async fn drive(client: AsyncClient, mut eventloop: EventLoop, shared: Arc<Shared>, timing: Timing) {
    let mut backoff = timing.backoff_min;
    let mut connected_before = false;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(ack))) => {
                backoff = timing.backoff_min;
                tracing::debug!(broker = %shared.describe, session_present = ack.session_present, "connected");
                let state_lost = connected_before && timing.persistent && !ack.session_present;
                connected_before = true;
                on_connected(&shared, &client, ack.session_present);
                if state_lost {
                    let n = shared.sessions_lost.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::error!(
                        broker = %shared.describe,
                        times = n,
                        hold = ?timing.hold_after_state_loss,
                        "the broker lost this persistent session: it restarted without its state (is its persistence file writable?), so the durable subscriptions of its clients are gone too and what is published to it before they subscribe again is discarded; holding publishes for the time given"
                    );
                    // Nothing is sent meanwhile: publishes wait in the request channel,
                    // unconfirmed.
                    tokio::time::sleep(timing.hold_after_state_loss).await;
                }
                shared.connected.send_replace(true);
            }
            Ok(Event::Incoming(Incoming::Publish(p))) => {
                let mut state = shared.state();
                route(&mut state, &client, p, &shared.describe);
            }
            Ok(Event::Incoming(Incoming::PubAck(a))) => complete(&shared, a.pkid),
            Ok(Event::Incoming(Incoming::PubComp(c))) => complete(&shared, c.pkid),
            Ok(Event::Incoming(Incoming::SubAck(s))) => {
                let waiter = shared.state().subscribe_acks.remove(&s.pkid);
                if let Some(w) = waiter {
                    let refused = s
                        .return_codes
                        .iter()
                        .any(|c| matches!(c, SubscribeReasonCode::Failure));
                    if let Some(tx) = w.tx {
                        let _ = tx.send(if refused {
                            Err(BusError::SubscribeRefused { filter: w.filter })
                        } else {
                            Ok(())
                        });
                    }
                }
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                let mut state = shared.state();
                if pkid == 0 {
                    if let Some(w) = state.publish_fifo.pop_front() {
                        let _ = w.tx.send(Ok(()));
                    }
                } else if !state.publish_acks.contains_key(&pkid) {
                    let next = match state.collided.pop_front() {
                        Some(w) => Some(w),
                        None => state.publish_fifo.pop_front(),
                    };
                    if let Some(w) = next {
                        state.publish_acks.insert(pkid, w);
                    }
                }
                // Otherwise: a retransmission after a reconnect.
            }
            Ok(Event::Outgoing(Outgoing::AwaitAck(_))) => {
                let mut state = shared.state();
                if let Some(w) = state.publish_fifo.pop_front() {
                    state.collided.push_back(w);
                }
            }
            Ok(Event::Outgoing(Outgoing::Subscribe(pkid))) => {
                let mut state = shared.state();
                if let Some(w) = state.subscribe_fifo.pop_front() {
                    state.subscribe_acks.insert(pkid, w);
                }
            }
            Ok(_) => {}
            Err(e) => {
                shared.connected.send_replace(false);
                {
                    let mut state = shared.state();
                    if !state.disconnected {
                        state.disconnected = true;
                        // rumqttc moved the requests still in its channel to `pending`,
                        // without a packet id; they are dropped if the session is lost. Count
                        // them there, not in our queues: a publish made in the meantime is
                        // already waiting in the channel again and will be sent.
                        let (publishes, subscribes) = unsent_requests(&eventloop.pending);
                        state.lost_publishes = publishes;
                        state.lost_subscribes = subscribes;
                    }
                }
                tracing::warn!(broker = %shared.describe, error = %e, retry_in = ?backoff, "MQTT connection");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(timing.backoff_max);
            }
        }
    }
}

/// Publishes and subscriptions in `pending` that were never sent (no packet id yet): the front
/// of the waiter queues.
fn unsent_requests(pending: &VecDeque<Request>) -> (usize, usize) {
    pending
        .iter()
        .fold((0, 0), |(publishes, subscribes), request| match request {
            Request::Publish(p) if p.pkid == 0 => (publishes + 1, subscribes),
            Request::Subscribe(s) if s.pkid == 0 => (publishes, subscribes + 1),
            _ => (publishes, subscribes),
        })
}

fn complete(shared: &Shared, pkid: u16) {
    if let Some(w) = shared.state().publish_acks.remove(&pkid) {
        let _ = w.tx.send(Ok(()));
    }
}

fn on_connected(shared: &Arc<Shared>, client: &AsyncClient, session_present: bool) {
    let mut state = shared.state();
    let was_disconnected = std::mem::take(&mut state.disconnected);
    let mut resubscribe: Vec<(String, QoS, Option<SubDone>)> = Vec::new();
    // Subscriptions in flight at the disconnect are made again, whatever the session.
    let in_flight: Vec<SubWaiter> = state.subscribe_acks.drain().map(|(_, w)| w).collect();
    if was_disconnected && !session_present {
        // rumqttc dropped the requests it held; those publishes were never confirmed.
        let lost = state.lost_publishes.min(state.publish_fifo.len());
        let mut failed: Vec<Waiter> = state.publish_fifo.drain(..lost).collect();
        failed.extend(state.publish_acks.drain().map(|(_, w)| w));
        failed.extend(state.collided.drain(..));
        for w in failed {
            let _ = w.tx.send(Err(BusError::NotConfirmed {
                topic: w.topic,
                reason: "the broker lost the session".into(),
            }));
        }
        let lost = state.lost_subscribes.min(state.subscribe_fifo.len());
        let lost_subs: Vec<SubWaiter> = state.subscribe_fifo.drain(..lost).collect();
        let mut pending_tx: Vec<(String, oneshot::Sender<BusResult<()>>)> = in_flight
            .into_iter()
            .chain(lost_subs)
            .filter_map(|w| w.tx.map(|tx| (w.filter, tx)))
            .collect();
        let mut seen = Vec::new();
        for s in &state.subs {
            let f = s.filter.as_str().to_owned();
            if seen.contains(&f) {
                continue;
            }
            seen.push(f.clone());
            let tx = pending_tx
                .iter()
                .position(|(pf, _)| *pf == f)
                .map(|i| pending_tx.swap_remove(i).1);
            resubscribe.push((f, s.qos, tx));
        }
        for (filter, tx) in pending_tx {
            let _ = tx.send(Err(BusError::Connection {
                broker: shared.describe.clone(),
                reason: format!("session lost while subscribing to {filter}"),
            }));
        }
    } else {
        resubscribe.extend(in_flight.into_iter().map(|w| (w.filter, w.qos, w.tx)));
    }
    state.lost_publishes = 0;
    state.lost_subscribes = 0;
    drop(state);
    if resubscribe.is_empty() {
        return;
    }
    // Never await the request channel from the event loop task.
    let shared = shared.clone();
    let client = client.clone();
    tokio::spawn(async move {
        for (filter, qos, tx) in resubscribe {
            let _order = shared.subscribe_order.lock().await;
            shared.push_subscribe(filter.clone(), qos, tx);
            if client
                .subscribe(filter.clone(), mqtt_qos(qos))
                .await
                .is_err()
            {
                shared.pop_last_subscribe();
                return;
            }
            tracing::debug!(broker = %shared.describe, %filter, "resubscribed");
        }
    });
}

/// Delivers an incoming publish to every matching local subscription.
fn route(state: &mut State, client: &AsyncClient, p: Publish, describe: &str) {
    let matching: Vec<usize> = state
        .subs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.filter.matches(&p.topic))
        .map(|(i, _)| i)
        .collect();
    if matching.is_empty() {
        if p.qos == rumqttc::QoS::AtMostOnce && state.orphans.len() >= MAX_ORPHANS {
            tracing::warn!(broker = %describe, topic = %p.topic, "QoS 0 message with no subscriber discarded");
        } else {
            state.orphans.push_back(p);
        }
        return;
    }
    let message = Message {
        topic: p.topic.clone(),
        key: None,
        payload: Bytes::clone(&p.payload),
        headers: Headers::new(),
        timestamp: Utc::now(),
    };
    let needs_ack = p.qos != rumqttc::QoS::AtMostOnce;
    let redelivered = p.dup;
    let group = Arc::new(AckGroup {
        remaining: AtomicUsize::new(matching.len()),
        client: client.clone(),
        publish: p,
    });
    let mut closed = Vec::new();
    for i in matching {
        let Some(sub) = state.subs.get(i) else {
            continue;
        };
        let ack: Option<AckFn> = if needs_ack {
            let g = group.clone();
            Some(Box::new(move || Box::pin(g.ack_one())))
        } else {
            None
        };
        let mut delivery = Delivery::new(message.clone(), ack);
        delivery.redelivered = redelivered;
        let sent = match &sub.tx {
            SubTx::Unbounded(tx) => tx.send(delivery).map_err(|_| true),
            SubTx::Bounded(tx) => tx.try_send(delivery).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => false,
                mpsc::error::TrySendError::Closed(_) => true,
            }),
        };
        match sent {
            Ok(()) => {}
            Err(is_closed) => {
                if is_closed {
                    closed.push(sub.id);
                } else {
                    let n = sub.lagged.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(broker = %describe, filter = %sub.filter, lagged = n, "slow subscriber: QoS 0 message discarded");
                }
                group.ack_one_now();
            }
        }
    }
    state.subs.retain(|s| !closed.contains(&s.id));
}
