//! Messages, quality of service and deliveries awaiting acknowledgement.

use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::error::BusResult;

/// Quality of service of a publish or a subscription (MQTT's three levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    /// Fire and forget: may be lost.
    AtMostOnce,
    /// Confirmed by the broker; may be delivered more than once.
    #[default]
    AtLeastOnce,
    /// MQTT's four-way handshake (see the crate docs for where it is safe).
    ExactlyOnce,
}

impl QoS {
    /// The level as a number (0, 1, 2).
    pub fn level(self) -> u8 {
        match self {
            QoS::AtMostOnce => 0,
            QoS::AtLeastOnce => 1,
            QoS::ExactlyOnce => 2,
        }
    }

    /// The QoS with this number, if any.
    pub fn from_level(level: u8) -> Option<QoS> {
        match level {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

impl fmt::Display for QoS {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.level())
    }
}

/// Message headers: ordered name/value pairs (Kafka record headers; in-process on the memory
/// bus; not carried by MQTT 3.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `name` to `value`, replacing earlier values.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.0.retain(|(n, _)| *n != name);
        self.0.push((name, value.into()));
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| n != name);
    }

    /// All pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One message on a bus. Cloning shares the payload (`Bytes` is reference counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// MQTT-style topic name (`platone/bal/devices/pmu-1/measurements`).
    pub topic: String,
    /// Optional key (Kafka partitioning key; the full topic is used when absent).
    pub key: Option<Bytes>,
    /// The payload, never copied by the buses.
    pub payload: Bytes,
    /// Headers.
    pub headers: Headers,
    /// When the message was created (or received, for MQTT which does not carry it).
    pub timestamp: DateTime<Utc>,
}

impl Message {
    /// A message with the current time, no key and no headers.
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Message {
            topic: topic.into(),
            key: None,
            payload: payload.into(),
            headers: Headers::new(),
            timestamp: Utc::now(),
        }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }
}

/// The acknowledgement action of a delivery.
pub(crate) type AckFn = Box<dyn FnOnce() -> BoxFuture<'static, BusResult<()>> + Send>;

/// A received message that the consumer acknowledges once processed.
///
/// Until [`Delivery::ack`] is called the broker keeps the message: MQTT redelivers it after a
/// reconnect (persistent session), Kafka does not commit its offset (nor any later offset of its
/// partition). Dropping a delivery without acknowledging it leaves it unacknowledged.
pub struct Delivery {
    /// The message.
    pub message: Message,
    /// The broker flagged this as a possible redelivery.
    pub redelivered: bool,
    /// Set when the adapter could not decode the record into a message (the message then
    /// carries the raw payload and the adapter's own topic name).
    pub decode_error: Option<String>,
    ack: Option<AckFn>,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("message", &self.message)
            .field("redelivered", &self.redelivered)
            .field("decode_error", &self.decode_error)
            .field("needs_ack", &self.ack.is_some())
            .finish()
    }
}

impl Delivery {
    /// A delivery with an acknowledgement action (`None`: nothing to acknowledge).
    pub(crate) fn new(message: Message, ack: Option<AckFn>) -> Self {
        Delivery {
            message,
            redelivered: false,
            decode_error: None,
            ack,
        }
    }

    /// Acknowledges the delivery: the broker may now forget it.
    pub async fn ack(mut self) -> BusResult<()> {
        match self.ack.take() {
            Some(ack) => ack().await,
            None => Ok(()),
        }
    }
}
