//! The Kafka adapter (rdkafka, feature `kafka`).
//!
//! * **Producer**: idempotent (`enable.idempotence=true`, hence `acks=all`); `publish` completes
//!   when the record is written. The Kafka topic is named by [`KafkaNaming`]; the record key is
//!   the message key or else the full MQTT-style topic, which also travels in the
//!   [`TOPIC_HEADER`] header together with the message headers.
//! * **Consumer**: one consumer group member per subscription (the group is
//!   [`KafkaConfig::group_id`], or the share group of a `$share/{group}/…` filter). Offsets are
//!   stored only for acknowledged records and only up to the oldest unacknowledged record of
//!   each partition, then committed automatically: a crash redelivers what was not
//!   acknowledged. Records whose topic does not match the filter are skipped (and count as
//!   acknowledged); records without a decodable topic are delivered with
//!   [`Delivery::decode_error`](crate::Delivery::decode_error) set.
//! * **Security**: TLS (CA) and mutual TLS (client certificate and key), PEM; SASL (PLAIN,
//!   SCRAM-SHA-256/512) optional.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Header, Headers as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::bus::{Bus, Publisher, Receiver, Subscriber, Subscription};
use crate::error::{BusError, BusResult};
use crate::kafka_name::{KafkaNaming, TOPIC_HEADER};
use crate::message::{AckFn, Delivery, Headers, Message, QoS};
use crate::topic::{TopicFilter, validate_topic};

/// SASL credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaSasl {
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: String,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for KafkaSasl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSasl")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Connection settings of a [`KafkaBus`].
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `host:port,host:port`.
    pub bootstrap_servers: String,
    /// Consumer group of subscriptions without a share group.
    pub group_id: String,
    /// MQTT ↔ Kafka topic naming.
    pub naming: KafkaNaming,
    /// CA certificate(s), PEM: enables TLS.
    pub ca_pem: Option<String>,
    /// Client certificate and key, PEM: mutual TLS.
    pub client_pem: Option<(String, String)>,
    /// SASL credentials.
    pub sasl: Option<KafkaSasl>,
    /// How long a publish may take, retries included.
    pub delivery_timeout: Duration,
    /// Records a subscription reads ahead of the consumer.
    pub read_ahead: usize,
    /// Further librdkafka properties, applied last.
    pub extra: Vec<(String, String)>,
}

impl KafkaConfig {
    /// Defaults for the given bootstrap servers and consumer group.
    pub fn new(bootstrap_servers: impl Into<String>, group_id: impl Into<String>) -> Self {
        KafkaConfig {
            bootstrap_servers: bootstrap_servers.into(),
            group_id: group_id.into(),
            naming: KafkaNaming::default(),
            ca_pem: None,
            client_pem: None,
            sasl: None,
            delivery_timeout: Duration::from_secs(60),
            read_ahead: 1024,
            extra: Vec::new(),
        }
    }

    fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers);
        let tls = self.ca_pem.is_some() || self.client_pem.is_some();
        let protocol = match (tls, self.sasl.is_some()) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        };
        c.set("security.protocol", protocol);
        if let Some(ca) = &self.ca_pem {
            c.set("ssl.ca.pem", ca);
        }
        if let Some((cert, key)) = &self.client_pem {
            c.set("ssl.certificate.pem", cert);
            c.set("ssl.key.pem", key);
        }
        if let Some(s) = &self.sasl {
            c.set("sasl.mechanism", &s.mechanism);
            c.set("sasl.username", &s.username);
            c.set("sasl.password", &s.password);
        }
        c
    }
}

fn kafka_err(op: &'static str) -> impl Fn(rdkafka::error::KafkaError) -> BusError {
    move |e| BusError::Kafka {
        op,
        reason: e.to_string(),
    }
}

/// A bus on a Kafka cluster. Cloning shares the producer.
#[derive(Clone)]
pub struct KafkaBus {
    config: Arc<KafkaConfig>,
    producer: FutureProducer,
    describe: String,
}

impl std::fmt::Debug for KafkaBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBus")
            .field("brokers", &self.describe)
            .finish()
    }
}

impl KafkaBus {
    /// Creates the producer (connections are made lazily). Must be called within a tokio
    /// runtime.
    pub fn connect(config: KafkaConfig) -> BusResult<KafkaBus> {
        let mut c = config.client_config();
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set(
                "message.timeout.ms",
                config.delivery_timeout.as_millis().to_string(),
            );
        for (k, v) in &config.extra {
            c.set(k, v);
        }
        let producer: FutureProducer = c.create().map_err(kafka_err("config"))?;
        let describe = format!("kafka://{}", config.bootstrap_servers);
        Ok(KafkaBus {
            config: Arc::new(config),
            producer,
            describe,
        })
    }

    /// The naming in use.
    pub fn naming(&self) -> KafkaNaming {
        self.config.naming
    }

    async fn publish_inner(&self, message: Message) -> BusResult<()> {
        validate_topic(&message.topic)?;
        let topic = self.config.naming.kafka_topic(&message.topic)?;
        let mut headers = OwnedHeaders::new().insert(Header {
            key: TOPIC_HEADER,
            value: Some(message.topic.as_bytes()),
        });
        for (k, v) in message.headers.iter() {
            if k != TOPIC_HEADER {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
        }
        let key: &[u8] = match &message.key {
            Some(k) => k,
            None => message.topic.as_bytes(),
        };
        let record = FutureRecord::to(&topic)
            .key(key)
            .payload(&message.payload[..])
            .headers(headers)
            .timestamp(message.timestamp.timestamp_millis());
        self.producer
            .send(record, self.config.delivery_timeout)
            .await
            .map(|_| ())
            .map_err(|(e, _)| BusError::NotConfirmed {
                topic: message.topic.clone(),
                reason: e.to_string(),
            })
    }

    async fn subscribe_inner(&self, filter: TopicFilter) -> BusResult<Subscription> {
        let kafka_topic = self.config.naming.kafka_subscription(&filter)?;
        let group = filter
            .share_group()
            .map(str::to_owned)
            .unwrap_or_else(|| self.config.group_id.clone());
        let mut c = self.config.client_config();
        c.set("group.id", &group)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set("auto.commit.interval.ms", "500")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("topic.metadata.refresh.interval.ms", "2000");
        for (k, v) in &self.config.extra {
            c.set(k, v);
        }
        let consumer: StreamConsumer = c.create().map_err(kafka_err("config"))?;
        consumer
            .subscribe(&[&kafka_topic])
            .map_err(kafka_err("subscribe"))?;
        let consumer = Arc::new(consumer);
        let (tx, rx) = mpsc::channel(self.config.read_ahead.max(1));
        let task = tokio::spawn(consume(consumer, filter, tx, self.describe.clone()));
        Ok(Subscription::new(
            Receiver::Bounded(rx),
            Arc::new(AtomicU64::new(0)),
            Some(Box::new(AbortOnDrop(task))),
        ))
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Default)]
struct PartitionTrack {
    pending: BTreeSet<i64>,
    next: i64,
}

/// Which offsets of each partition are delivered but not yet acknowledged.
#[derive(Default)]
struct Tracker {
    partitions: Mutex<HashMap<(String, i32), PartitionTrack>>,
}

impl Tracker {
    fn received(&self, topic: &str, partition: i32, offset: i64) {
        let mut parts = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        let t = parts.entry((topic.to_owned(), partition)).or_default();
        if offset < t.next {
            // Rewound (rebalance or reset): what follows will be delivered again.
            t.pending.retain(|o| *o < offset);
        }
        t.pending.insert(offset);
        t.next = offset + 1;
    }

    /// Marks `offset` acknowledged and returns the last offset that may be committed.
    fn acked(&self, topic: &str, partition: i32, offset: i64) -> Option<i64> {
        let mut parts = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        let t = parts.get_mut(&(topic.to_owned(), partition))?;
        t.pending.remove(&offset);
        let upto = t.pending.first().copied().unwrap_or(t.next);
        (upto > 0).then_some(upto - 1)
    }
}

fn ack_fn(
    consumer: Arc<StreamConsumer>,
    tracker: Arc<Tracker>,
    topic: String,
    partition: i32,
    offset: i64,
) -> AckFn {
    Box::new(move || {
        Box::pin(async move {
            if let Some(last) = tracker.acked(&topic, partition, offset) {
                // `store_offset` records `last + 1` as the position to commit.
                if let Err(e) = consumer.store_offset(&topic, partition, last) {
                    // The partition was revoked: its records will be delivered again elsewhere.
                    tracing::debug!(%topic, partition, offset, error = %e, "offset not stored");
                }
            }
            Ok(())
        })
    })
}

fn decode(m: &BorrowedMessage<'_>) -> Result<Message, Box<(Message, String)>> {
    let payload = Bytes::copy_from_slice(m.payload().unwrap_or_default());
    let timestamp = m
        .timestamp()
        .to_millis()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or_else(Utc::now);
    let mut headers = Headers::new();
    let mut topic = None;
    let mut bad_header = None;
    if let Some(hs) = m.headers() {
        for h in hs.iter() {
            let value = h.value.map(std::str::from_utf8);
            match (h.key, value) {
                (TOPIC_HEADER, Some(Ok(t))) => topic = Some(t.to_owned()),
                (k, Some(Ok(v))) => headers.insert(k, v),
                (k, None) => headers.insert(k, ""),
                (k, Some(Err(_))) => bad_header = Some(k.to_owned()),
            }
        }
    }
    let key = m.key().map(Bytes::copy_from_slice);
    let topic = topic.or_else(|| {
        key.as_ref()
            .and_then(|k| std::str::from_utf8(k).ok())
            .filter(|t| validate_topic(t).is_ok())
            .map(str::to_owned)
    });
    let raw = |topic: String| Message {
        topic,
        key: key.clone(),
        payload: payload.clone(),
        headers: headers.clone(),
        timestamp,
    };
    match (topic, bad_header) {
        (Some(t), None) if validate_topic(&t).is_ok() => Ok(raw(t)),
        (_, Some(h)) => Err(Box::new((
            raw(m.topic().to_owned()),
            format!(
                "header {h:?} is not UTF-8 (partition {}, offset {})",
                m.partition(),
                m.offset()
            ),
        ))),
        _ => Err(Box::new((
            raw(m.topic().to_owned()),
            format!(
                "no `{TOPIC_HEADER}` header nor UTF-8 topic key (partition {}, offset {})",
                m.partition(),
                m.offset()
            ),
        ))),
    }
}

async fn consume(
    consumer: Arc<StreamConsumer>,
    filter: TopicFilter,
    tx: mpsc::Sender<Delivery>,
    describe: String,
) {
    let tracker = Arc::new(Tracker::default());
    loop {
        let m = match consumer.recv().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(brokers = %describe, error = %e, "Kafka consumer");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let (topic, partition, offset) = (m.topic().to_owned(), m.partition(), m.offset());
        tracker.received(&topic, partition, offset);
        let ack = ack_fn(consumer.clone(), tracker.clone(), topic, partition, offset);
        let delivery = match decode(&m) {
            Ok(message) if filter.matches(&message.topic) => Delivery::new(message, Some(ack)),
            Ok(_) => {
                // Shares the Kafka topic but not the filter: skip, as acknowledged.
                let _ = ack().await;
                continue;
            }
            Err(bad) => {
                let (message, reason) = *bad;
                let mut d = Delivery::new(message, Some(ack));
                d.decode_error = Some(reason);
                d
            }
        };
        drop(m);
        if tx.send(delivery).await.is_err() {
            return;
        }
    }
}

impl Publisher for KafkaBus {
    fn publish(&self, message: Message, _qos: QoS) -> BoxFuture<'_, BusResult<()>> {
        Box::pin(self.publish_inner(message))
    }
}

impl Subscriber for KafkaBus {
    fn subscribe(&self, filter: TopicFilter, _qos: QoS) -> BoxFuture<'_, BusResult<Subscription>> {
        Box::pin(self.subscribe_inner(filter))
    }
}

impl Bus for KafkaBus {
    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_stop_at_the_oldest_unacknowledged() {
        let t = Tracker::default();
        for o in 0..5 {
            t.received("t", 0, o);
        }
        assert_eq!(t.acked("t", 0, 1), None);
        assert_eq!(t.acked("t", 0, 0), Some(1));
        assert_eq!(t.acked("t", 0, 4), Some(1));
        assert_eq!(t.acked("t", 0, 2), Some(2));
        assert_eq!(t.acked("t", 0, 3), Some(4));
        // Rewind: offsets from 3 on are delivered again.
        t.received("t", 0, 3);
        assert_eq!(t.acked("t", 0, 3), Some(3));
    }

    #[test]
    fn security_settings() {
        let mut c = KafkaConfig::new("127.0.0.1:9093", "g");
        assert_eq!(
            c.client_config().get("security.protocol"),
            Some("plaintext")
        );
        c.ca_pem = Some("CA".into());
        c.client_pem = Some(("CERT".into(), "KEY".into()));
        let cc = c.client_config();
        assert_eq!(cc.get("security.protocol"), Some("ssl"));
        assert_eq!(cc.get("ssl.ca.pem"), Some("CA"));
        assert_eq!(cc.get("ssl.certificate.pem"), Some("CERT"));
        assert_eq!(cc.get("ssl.key.pem"), Some("KEY"));
        c.sasl = Some(KafkaSasl {
            mechanism: "SCRAM-SHA-512".into(),
            username: "u".into(),
            password: "p".into(),
        });
        let cc = c.client_config();
        assert_eq!(cc.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(cc.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert!(
            !format!("{:?}", c.sasl).contains("password"),
            "no secret in Debug"
        );
    }
}
