//! The crate's one error type.

use thiserror::Error;

/// Everything that can go wrong on a bus, saying where.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusError {
    /// A topic name (for publishing) is not valid.
    #[error("invalid topic name {topic:?} at byte {offset}: {reason}")]
    InvalidTopic {
        /// The topic as given.
        topic: String,
        /// Byte offset of the offending character.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A topic filter (for subscribing) is not valid.
    #[error("invalid topic filter {filter:?} at byte {offset}: {reason}")]
    InvalidFilter {
        /// The filter as given.
        filter: String,
        /// Byte offset of the offending character.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A bridge `topic` line (mosquitto syntax) is not valid.
    #[error("invalid topic mapping {line:?}, field {field}: {reason}")]
    InvalidMapping {
        /// The line as given.
        line: String,
        /// The field at fault (`pattern`, `direction`, `qos`, `local-prefix`, `remote-prefix`).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A topic cannot be given a Kafka name.
    #[error("topic {topic:?} cannot be named in Kafka: {reason}")]
    KafkaName {
        /// The MQTT-style topic or filter.
        topic: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A broker URL or adapter option is not valid.
    #[error("invalid configuration, {field}: {reason}")]
    Config {
        /// The option at fault.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// TLS material (CA, certificate, key) could not be used.
    #[error("TLS {what}: {reason}")]
    Tls {
        /// Which item (`ca`, `cert`, `key`, `config`).
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The connection to the broker failed or was lost.
    #[error("connection to {broker}: {reason}")]
    Connection {
        /// Broker address.
        broker: String,
        /// What happened.
        reason: String,
    },
    /// A publish was not confirmed by the broker (e.g. its session was lost); it may be retried.
    #[error("publish to {topic:?} not confirmed: {reason}")]
    NotConfirmed {
        /// The topic published to.
        topic: String,
        /// Why.
        reason: String,
    },
    /// The broker refused a subscription.
    #[error("subscription to {filter:?} refused by the broker")]
    SubscribeRefused {
        /// The filter.
        filter: String,
    },
    /// The message is larger than the configured packet size.
    #[error("message to {topic:?} is {size} bytes, above the limit of {limit}")]
    TooLarge {
        /// The topic.
        topic: String,
        /// Payload size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The QoS is not supported by this adapter.
    #[error("QoS {qos} is not supported by {adapter}: {reason}")]
    UnsupportedQos {
        /// The QoS level.
        qos: u8,
        /// The adapter.
        adapter: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The bus was closed.
    #[error("bus {0} is closed")]
    Closed(String),
    /// A Kafka client error.
    #[error("kafka {op}: {reason}")]
    Kafka {
        /// The operation (`produce`, `consume`, `commit`, `config`).
        op: &'static str,
        /// The client's message.
        reason: String,
    },
}

/// Result with [`BusError`].
pub type BusResult<T> = Result<T, BusError>;
