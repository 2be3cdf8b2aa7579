//! The in-process bus.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use crate::bus::{Bus, Publisher, Receiver, Subscriber, Subscription};
use crate::error::BusResult;
use crate::message::{Delivery, Message, QoS};
use crate::topic::{TopicFilter, validate_topic};

/// Default number of deliveries a subscriber may have queued before publishers wait.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The embedded bus: MQTT wildcard routing inside the process, zero-copy payloads.
///
/// **Slow subscribers.** Each subscription has a bounded queue ([`MemoryBus::with_capacity`]).
/// When a matching subscriber's queue is full, `publish` waits (back-pressure) — whatever the
/// QoS — so nothing is ever dropped; a publisher is as fast as the slowest matching subscriber.
/// Shared subscriptions (`$share/{group}/…`) deliver each message to one member, round robin.
///
/// ```
/// # tokio_test_block_on(async {
/// use platone_bus::{MemoryBus, Message, Publisher, QoS, Subscriber, TopicFilter};
/// let bus = MemoryBus::new();
/// let mut sub = bus.subscribe(TopicFilter::new("a/+").unwrap(), QoS::AtLeastOnce).await.unwrap();
/// bus.publish(Message::new("a/b", "hello"), QoS::AtLeastOnce).await.unwrap();
/// let d = sub.next_delivery().await.unwrap();
/// assert_eq!(&d.message.payload[..], b"hello");
/// d.ack().await.unwrap();
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    subs: RwLock<Vec<Sub>>,
    next_id: AtomicU64,
    round_robin: AtomicUsize,
    capacity: usize,
}

#[derive(Debug, Clone)]
struct Sub {
    id: u64,
    filter: TopicFilter,
    tx: mpsc::Sender<Delivery>,
}

struct Unsubscribe {
    inner: Weak<Inner>,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade()
            && let Ok(mut subs) = inner.subs.write()
        {
            subs.retain(|s| s.id != self.id);
        }
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        MemoryBus::new()
    }
}

impl MemoryBus {
    /// A bus whose subscribers queue up to [`DEFAULT_CAPACITY`] deliveries.
    pub fn new() -> Self {
        MemoryBus::with_capacity(DEFAULT_CAPACITY)
    }

    /// A bus whose subscribers queue up to `capacity` deliveries (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryBus {
            inner: Arc::new(Inner {
                subs: RwLock::new(Vec::new()),
                next_id: AtomicU64::new(0),
                round_robin: AtomicUsize::new(0),
                capacity: capacity.max(1),
            }),
        }
    }

    /// Number of live subscriptions.
    pub fn subscriber_count(&self) -> usize {
        self.inner.subs.read().map(|s| s.len()).unwrap_or(0)
    }

    fn targets(&self, topic: &str) -> Vec<mpsc::Sender<Delivery>> {
        let Ok(subs) = self.inner.subs.read() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut groups: Vec<(&str, &str, Vec<&Sub>)> = Vec::new();
        for s in subs.iter().filter(|s| s.filter.matches(topic)) {
            match s.filter.share_group() {
                None => out.push(s.tx.clone()),
                Some(g) => match groups
                    .iter_mut()
                    .find(|(gg, f, _)| *gg == g && *f == s.filter.filter())
                {
                    Some((_, _, members)) => members.push(s),
                    None => groups.push((g, s.filter.filter(), vec![s])),
                },
            }
        }
        if !groups.is_empty() {
            let turn = self.inner.round_robin.fetch_add(1, Ordering::Relaxed);
            for (_, _, members) in groups {
                if let Some(s) = members.get(turn % members.len()) {
                    out.push(s.tx.clone());
                }
            }
        }
        out
    }
}

impl Publisher for MemoryBus {
    fn publish(&self, message: Message, _qos: QoS) -> BoxFuture<'_, BusResult<()>> {
        Box::pin(async move {
            validate_topic(&message.topic)?;
            let targets = self.targets(&message.topic);
            for tx in targets {
                // A closed receiver means the subscription was dropped: nothing to deliver to.
                let _ = tx.send(Delivery::new(message.clone(), None)).await;
            }
            Ok(())
        })
    }
}

impl Subscriber for MemoryBus {
    fn subscribe(&self, filter: TopicFilter, _qos: QoS) -> BoxFuture<'_, BusResult<Subscription>> {
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(self.inner.capacity);
            let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut subs) = self.inner.subs.write() {
                subs.push(Sub { id, filter, tx });
            }
            let guard = Unsubscribe {
                inner: Arc::downgrade(&self.inner),
                id,
            };
            Ok(Subscription::new(
                Receiver::Bounded(rx),
                Arc::new(AtomicU64::new(0)),
                Some(Box::new(guard)),
            ))
        })
    }
}

impl Bus for MemoryBus {
    fn describe(&self) -> String {
        "memory://".to_owned()
    }
}
