//! Transport-agnostic publish/subscribe for the Platone SDK.
//!
//! One way to publish and subscribe whatever the broker: an in-memory bus by default, MQTT and
//! Kafka adapters for deployments, MQTT topic filters and bridge-style topic remapping, and a
//! bridge that forwards between any two buses without losing messages. A bus carries bytes with
//! a topic, a key and headers; decoding happens where messages are consumed.
//!
//! ```
//! use platone_bus::{MemoryBus, Message, Publisher, QoS, Subscriber, TopicFilter};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let bus = MemoryBus::new();
//! let filter = TopicFilter::new("platone/bal/devices/+/measurements").unwrap();
//! let mut sub = bus.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
//! let msg = Message::new("platone/bal/devices/pmu-1/measurements", "{\"v\":230.1}");
//! bus.publish(msg, QoS::AtLeastOnce).await.unwrap();
//! let delivery = sub.next_delivery().await.unwrap();
//! assert_eq!(delivery.message.topic, "platone/bal/devices/pmu-1/measurements");
//! delivery.ack().await.unwrap(); // processed: the broker may forget it
//! # });
//! ```
//!
//! # Delivery guarantees
//!
//! | Adapter | Publish completes when | Subscriber receives | Acknowledgement | Slow consumer | Restart of the broker |
//! |---|---|---|---|---|---|
//! | [`MemoryBus`] | every matching subscriber has it queued | every message once, in order per publisher | nothing to do (in-process) | publisher waits (bounded queue, back-pressure) | — (in-process, lost with the process) |
//! | [`MqttBus`] QoS 0 | handed to the connection | at most once | none | bounded queue; overflow discarded, counted in [`Subscription::lagged`] and logged | messages in flight are lost |
//! | [`MqttBus`] QoS 1 | the broker's PUBACK | at least once (duplicates possible, flagged `redelivered`) | PUBACK sent on [`Delivery::ack`] | broker's in-flight window (back-pressure) | unacknowledged publishes resent after reconnect; if the broker lost the session they fail with [`BusError::NotConfirmed`]; persistent session keeps queued messages |
//! | [`MqttBus`] QoS 2 | the broker's PUBCOMP | exactly once per session | PUBREC on [`Delivery::ack`] | as QoS 1 | as QoS 1; safe only with `max_inflight` ≤ the broker's `max_inflight_messages` |
//! | `KafkaBus` (feature `kafka`) | the record is written with `acks=all` (idempotent producer) | at least once, in order per partition | offsets committed only up to the oldest unacknowledged record of each partition | consumer reads ahead a bounded number of records | the producer retries; the group resumes from the committed offset |
//! | [`Bridge`] | — | at least once from source to sink; forwarded in arrival order (retries aside) unless [`BridgeConfig::source_connections`] > 1 | source acknowledged after the sink confirmed | bounded in-flight | retries until the sink confirms; redelivery from the source |
//!
//! MQTT 3.1.1 carries neither headers nor keys: they are dropped on [`MqttBus`].
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod bridge;
mod bus;
mod error;
#[cfg(feature = "kafka")]
mod kafka;
mod kafka_name;
mod memory;
mod message;
mod mqtt;
mod topic;
mod topic_map;
mod url;

pub use bridge::{
    BRIDGE_ORIGIN, Bridge, BridgeConfig, BridgeCounters, CounterSnapshot, DEAD_LETTER_REASON,
    ORIGINAL_TOPIC, PayloadTransform, Route, TransformError, bridge_identity,
};
pub use bus::{Bus, Publisher, Subscriber, Subscription};
pub use error::{BusError, BusResult};
#[cfg(feature = "kafka")]
pub use kafka::{KafkaBus, KafkaConfig, KafkaSasl};
pub use kafka_name::{KafkaNaming, MAX_KAFKA_NAME, TOPIC_HEADER};
pub use memory::{DEFAULT_CAPACITY, MemoryBus};
pub use message::{Delivery, Headers, Message, QoS};
pub use mqtt::{DEFAULT_MAX_PACKET, MqttBus, MqttConfig, TlsConfig};
/// The rdkafka crate, for librdkafka settings and its mock cluster.
#[cfg(feature = "kafka")]
pub use rdkafka;
pub use topic::{MAX_TOPIC_LEN, TopicFilter, validate_topic};
pub use topic_map::{Direction, TopicMap};
pub use url::BusUrl;
