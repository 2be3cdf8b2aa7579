//! The transport-agnostic traits and the subscription stream.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures::Stream;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

use crate::error::BusResult;
use crate::message::{Delivery, Message, QoS};
use crate::topic::TopicFilter;

/// Publishes messages.
pub trait Publisher: Send + Sync {
    /// Publishes `message`. With [`QoS::AtLeastOnce`] or better the future completes only once
    /// the broker has acknowledged the message (for [`QoS::AtMostOnce`], once it is handed to
    /// the connection).
    fn publish(&self, message: Message, qos: QoS) -> BoxFuture<'_, BusResult<()>>;
}

/// Subscribes to topics.
pub trait Subscriber: Send + Sync {
    /// Subscribes to `filter` and returns the stream of deliveries. The subscription is
    /// established (acknowledged by the broker) when the future completes.
    fn subscribe(&self, filter: TopicFilter, qos: QoS) -> BoxFuture<'_, BusResult<Subscription>>;

    /// Subscribes to `filter` through up to `connections` connections that share the
    /// subscription, so that the broker keeps one in-flight window per connection. **Messages
    /// of one topic may then arrive out of order** (the broker hands each message to any one of
    /// the connections). On MQTT this is the shared subscription `$share/{group}/{filter}`
    /// (see [`MqttBus`](crate::MqttBus)); buses without shared subscriptions make one ordinary
    /// subscription, which is also what `connections` ≤ 1 gives everywhere.
    fn subscribe_shared(
        &self,
        filter: TopicFilter,
        qos: QoS,
        connections: usize,
    ) -> BoxFuture<'_, BusResult<Subscription>> {
        let _ = connections;
        self.subscribe(filter, qos)
    }
}

/// A bus: publishes and subscribes.
pub trait Bus: Publisher + Subscriber {
    /// A short description for logs (`mqtt://127.0.0.1:1883`, `memory://`…).
    fn describe(&self) -> String;
}

pub(crate) enum Receiver {
    Bounded(mpsc::Receiver<Delivery>),
    Unbounded(mpsc::UnboundedReceiver<Delivery>),
}

/// The deliveries of one subscription, in order. Dropping it unsubscribes (on the memory bus) or
/// stops local delivery (on the broker adapters, whose session keeps the subscription).
pub struct Subscription {
    rx: Receiver,
    lagged: Arc<AtomicU64>,
    _guard: Option<Box<dyn Send + Sync>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("lagged", &self.lagged())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(
        rx: Receiver,
        lagged: Arc<AtomicU64>,
        guard: Option<Box<dyn Send + Sync>>,
    ) -> Self {
        Subscription {
            rx,
            lagged,
            _guard: guard,
        }
    }

    /// The next delivery; `None` once the bus is closed.
    pub async fn next_delivery(&mut self) -> Option<Delivery> {
        match &mut self.rx {
            Receiver::Bounded(rx) => rx.recv().await,
            Receiver::Unbounded(rx) => rx.recv().await,
        }
    }

    /// How many QoS 0 messages were discarded because this subscriber fell behind (always 0 on
    /// the memory bus, which applies back-pressure instead). Never silent: each loss is also
    /// logged.
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }
}

impl Stream for Subscription {
    type Item = Delivery;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        match &mut self.rx {
            Receiver::Bounded(rx) => rx.poll_recv(cx),
            Receiver::Unbounded(rx) => rx.poll_recv(cx),
        }
    }
}
