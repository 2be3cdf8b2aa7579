//! Ingest: device packets from the bus → envelope and signature check → decode → store in
//! the SCD → forward to the DSOTP topics → hand to the certifier. A packet that cannot be used
//! goes to the dead-letter topic with the reason; everything else flows on.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use platone_bus::{Bus, Delivery, Message, QoS};
use platone_certify::SignedEnvelope;
use platone_model::{DeviceId, Measurement, Timestamp};
use platone_scd::{AnyStore, InsertReport, Store};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::certifier::Job;
use crate::config::BalConfig;
use crate::decode::{PacketKind, PayloadDecoder, parse_topic};
use crate::directory::Directory;
use crate::health::{Engine, Health, Retried, retry_while_unavailable};
use crate::journal::PendingRecord;
use crate::metrics::Metrics;

/// Why a packet (or part of one) was dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The topic the packet came on.
    pub topic: String,
    /// The device, when the topic names one.
    pub device: Option<String>,
    /// The step that refused it: `topic`, `envelope`, `signature`, `decode`, `scope` (a
    /// reading for a PoD the device does not serve), `store`.
    pub stage: &'static str,
    /// What is wrong, and where.
    pub reason: String,
}

/// The dead letter published to `{dlq}/{device}`.
#[derive(Debug, Serialize)]
struct DeadLetter<'a> {
    #[serde(flatten)]
    rejection: &'a Rejection,
    received: String,
    payload: String,
    payload_encoding: &'static str,
}

/// What the BAL forwards to `{forward}/devices/{device}/{pmu|cim}`.
#[derive(Debug, Serialize)]
struct Forwarded<'a> {
    device: &'a str,
    /// The address that signed the packet; `null` for an unsigned packet.
    signer: Option<String>,
    measurements: &'a [Measurement],
}

/// A part of an accepted packet that is set aside: the stage that refused it and why.
type Problem = (&'static str, String);

/// A packet that was accepted.
struct Accepted {
    device: DeviceId,
    kind: PacketKind,
    signer: Option<String>,
    measurements: Vec<Measurement>,
    /// Its position in the group of deliveries.
    message: usize,
}

impl Accepted {
    fn rejection(&self, topic: &str, stage: &'static str, reason: String) -> Rejection {
        Rejection {
            topic: topic.to_owned(),
            device: Some(self.device.to_string()),
            stage,
            reason,
        }
    }
}

pub(crate) struct Ingest {
    pub bus: Arc<dyn Bus>,
    pub store: AnyStore,
    pub directory: Directory,
    pub decoder: PayloadDecoder,
    pub metrics: Arc<Metrics>,
    pub config: Arc<BalConfig>,
    pub certifier: mpsc::Sender<Job>,
    pub forward: mpsc::Sender<Message>,
    pub health: Health,
    /// Set when the BAL stops: a wait for an unavailable SCD ends.
    pub stop: watch::Receiver<bool>,
}

impl Ingest {
    /// Processes a group of deliveries that arrived together: one SCD transaction for all.
    ///
    /// A packet, or a measurement, that cannot be used or stored is dead-lettered with its
    /// reason and acknowledged with the others; only an SCD that is unavailable holds the group
    /// (retried with back-off, nothing new taken meanwhile). Gives
    /// [`BalError::Interrupted`](crate::BalError::Interrupted) when the BAL is stopped while it
    /// waits for the SCD: the group then stays unacknowledged at the broker.
    pub async fn process(&mut self, deliveries: Vec<Delivery>) -> crate::Result<()> {
        let now = platone_certify::now();
        Metrics::add(&self.metrics.ingest_groups, 1);
        let mut accepted = Vec::with_capacity(deliveries.len());
        // Deliveries are not `Sync`: work on their messages (cheap clones of shared payloads).
        let messages: Vec<Message> = deliveries.iter().map(|d| d.message.clone()).collect();
        for (index, message) in messages.iter().enumerate() {
            Metrics::add(&self.metrics.packets_received, 1);
            match self.accept(message, index, now) {
                Ok((mut packet, problems)) => {
                    for (stage, reason) in problems {
                        let rejection = packet.rejection(&message.topic, stage, reason);
                        self.dead_letter(&rejection, &message.payload).await;
                    }
                    self.set_aside_unstorable(&mut packet, message).await;
                    accepted.push(packet);
                }
                Err(rejection) => self.dead_letter(&rejection, &message.payload).await,
            }
        }
        let report = self.store_packets(&mut accepted, &messages).await?;
        let batch_len: usize = accepted.iter().map(|p| p.measurements.len()).sum();
        Metrics::add(&self.metrics.measurements_decoded, batch_len as u64);
        let conflicting: std::collections::HashSet<usize> =
            report.conflicts.iter().map(|c| c.index).collect();
        for conflict in &report.conflicts {
            let device = accepted
                .iter()
                .flat_map(|p| p.measurements.iter())
                .nth(conflict.index)
                .map(|m| m.source.to_string())
                .unwrap_or_default();
            let rejection = Rejection {
                topic: format!("{}/{device}", self.config.topics.devices),
                device: Some(device),
                stage: "store",
                reason: format!(
                    "{} at {}: stored with value {}, offered {} — the stored value is kept",
                    conflict.series, conflict.timestamp, conflict.stored, conflict.offered
                ),
            };
            self.dead_letter(&rejection, &Bytes::new()).await;
        }
        Metrics::add(&self.metrics.measurements_stored, report.inserted);
        Metrics::add(&self.metrics.measurements_duplicate, report.duplicates);
        Metrics::add(
            &self.metrics.measurements_conflicting,
            report.conflicts.len() as u64,
        );
        let mut records = Vec::with_capacity(batch_len);
        let mut index = 0usize;
        for packet in &accepted {
            let source = PendingRecord::source_of(packet.device.as_str(), packet.kind);
            let mut kept = Vec::with_capacity(packet.measurements.len());
            for m in &packet.measurements {
                if !conflicting.contains(&index) {
                    kept.push(m.clone());
                }
                index += 1;
            }
            self.forward(packet, &kept).await;
            records.extend(kept.into_iter().map(|measurement| PendingRecord {
                source: source.clone(),
                measurement,
                arrived: now,
            }));
        }
        let job = Job {
            records,
            check_duplicates: report.duplicates > 0,
            deliveries,
        };
        self.certifier
            .send(job)
            .await
            .map_err(|_| crate::BalError::Stopped("certifier"))
    }

    /// Dead-letters the measurements of `packet` that no store can hold (an invalid value, a
    /// timestamp outside the years the store covers) before they reach the bulk insert, where
    /// one would fail all the others.
    async fn set_aside_unstorable(&self, packet: &mut Accepted, message: &Message) {
        let mut refused = Vec::new();
        let mut index = 0usize;
        packet.measurements.retain(|m| {
            let check = platone_scd::check_measurement(index, m);
            index += 1;
            match check {
                Ok(_) => true,
                Err(e) => {
                    refused.push(e.to_string());
                    false
                }
            }
        });
        for reason in refused {
            let rejection = packet.rejection(&message.topic, "store", reason);
            self.dead_letter(&rejection, &message.payload).await;
        }
    }

    /// Stores the accepted packets' measurements in one transaction. Should the store refuse
    /// the batch for a record in it, packets are stored one by one, and a refused packet's
    /// measurements one by one: what the store refuses is dead-lettered and taken out of its
    /// packet, the rest is stored. The report's indices count the measurements left, in order.
    async fn store_packets(
        &self,
        accepted: &mut [Accepted],
        messages: &[Message],
    ) -> crate::Result<InsertReport> {
        let batch: Vec<Measurement> = accepted
            .iter()
            .flat_map(|p| p.measurements.iter().cloned())
            .collect();
        if batch.is_empty() {
            return Ok(InsertReport::default());
        }
        match self.insert(&batch).await? {
            Ok(report) => return Ok(report),
            Err(e) => tracing::warn!(
                "the SCD refused a group of {} measurements ({e}); storing packet by packet",
                batch.len()
            ),
        }
        let mut total = InsertReport::default();
        let mut offset = 0usize;
        for packet in accepted.iter_mut() {
            let mut report = match self.insert(&packet.measurements).await? {
                Ok(report) => report,
                Err(_) => self.store_one_by_one(packet, messages).await?,
            };
            for conflict in &mut report.conflicts {
                conflict.index += offset;
            }
            offset += packet.measurements.len();
            total.absorb(report);
        }
        Ok(total)
    }

    /// Stores a packet's measurements one at a time, dead-lettering each the store refuses.
    async fn store_one_by_one(
        &self,
        packet: &mut Accepted,
        messages: &[Message],
    ) -> crate::Result<InsertReport> {
        let mut report = InsertReport::default();
        let mut kept = Vec::with_capacity(packet.measurements.len());
        for m in std::mem::take(&mut packet.measurements) {
            match self.insert(std::slice::from_ref(&m)).await? {
                Ok(mut one) => {
                    for conflict in &mut one.conflicts {
                        conflict.index = kept.len();
                    }
                    report.absorb(one);
                    kept.push(m);
                }
                Err(e) => {
                    let topic = messages
                        .get(packet.message)
                        .map_or_else(String::new, |msg| msg.topic.clone());
                    let rejection = packet.rejection(&topic, "store", e.to_string());
                    let payload = messages
                        .get(packet.message)
                        .map_or_else(Bytes::new, |msg| msg.payload.clone());
                    self.dead_letter(&rejection, &payload).await;
                }
            }
        }
        packet.measurements = kept;
        Ok(report)
    }

    /// Inserts a batch, retrying while the SCD is unavailable (the packets stay
    /// unacknowledged at the broker meanwhile, and `/ready` says why). The inner error is the
    /// store's refusal of the records themselves.
    async fn insert(
        &self,
        batch: &[Measurement],
    ) -> crate::Result<Result<InsertReport, platone_scd::ScdError>> {
        if batch.is_empty() {
            return Ok(Ok(InsertReport::default()));
        }
        let outcome = retry_while_unavailable(
            &self.health,
            Engine::Store,
            &self.stop,
            platone_scd::ScdError::is_unavailable,
            || self.store.insert_measurements(batch),
        )
        .await;
        match outcome {
            Retried::Done(result) => Ok(result),
            Retried::Stopped => Err(crate::BalError::Interrupted),
        }
    }

    /// Checks a packet: its topic, its envelope and signature (before anything of the
    /// payload is decoded), then decodes it. `now` is when the BAL received it: a device key
    /// must be valid then.
    fn accept(
        &mut self,
        message: &Message,
        index: usize,
        now: Timestamp,
    ) -> Result<(Accepted, Vec<Problem>), Rejection> {
        let topic = &message.topic;
        let reject = |device: Option<&DeviceId>, stage: &'static str, reason: String| Rejection {
            topic: topic.clone(),
            device: device.map(ToString::to_string),
            stage,
            reason,
        };
        let (device, kind) = parse_topic(&self.config.topics.devices, topic)
            .map_err(|reason| reject(None, "topic", reason))?;
        let raw: &[u8] = &message.payload;
        let envelope = match SignedEnvelope::detect(raw) {
            None if self.config.require_signatures => {
                return Err(reject(
                    Some(&device),
                    "signature",
                    "unsigned packet refused: signatures are required".into(),
                ));
            }
            None => None,
            Some(Err(e)) => return Err(reject(Some(&device), "envelope", e.to_string())),
            Some(Ok(envelope)) => Some(envelope),
        };
        // The signature is checked before the payload is decoded: an unsigned or forged
        // packet costs no decoding and leaves no decoder state behind.
        let (signer, payload) = match &envelope {
            Some(envelope) => {
                let verified = self
                    .directory
                    .verify(envelope, &device, now)
                    .map_err(|reason| reject(Some(&device), "signature", reason))?;
                (
                    Some(verified.signer.to_checksum(None)),
                    std::borrow::Cow::Owned(verified.payload),
                )
            }
            None => (None, std::borrow::Cow::Borrowed(raw)),
        };
        let decoded = self
            .decoder
            .decode(&device, kind, &payload)
            .map_err(|reason| reject(Some(&device), "decode", reason))?;
        // Counted once the packet is accepted: a malformed packet is a dead letter only.
        let counter = match signer {
            Some(_) => &self.metrics.packets_signed,
            None => &self.metrics.packets_unsigned,
        };
        Metrics::add(counter, 1);
        let mut problems: Vec<Problem> = decoded
            .problems
            .into_iter()
            .map(|reason| ("decode", reason))
            .collect();
        let mut measurements = Vec::with_capacity(decoded.measurements.len());
        for m in decoded.measurements {
            let m = self.directory.assign_pod(m, &device);
            match self.directory.check_scope(&m, &device) {
                Ok(()) => measurements.push(m),
                Err(reason) => problems.push(("scope", reason)),
            }
        }
        Ok((
            Accepted {
                device,
                kind,
                signer,
                measurements,
                message: index,
            },
            problems,
        ))
    }

    async fn forward(&self, packet: &Accepted, measurements: &[Measurement]) {
        let prefix = &self.config.topics.forward;
        if prefix.is_empty() || measurements.is_empty() {
            return;
        }
        let body = Forwarded {
            device: packet.device.as_str(),
            signer: packet.signer.clone(),
            measurements,
        };
        let payload = match serde_json::to_vec(&body) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("forwarding {}: {e}", packet.device);
                return;
            }
        };
        let topic = format!(
            "{prefix}/devices/{}/{}",
            packet.device,
            packet.kind.as_str()
        );
        // Back-pressure: waits while the forwarder is behind.
        let _ = self.forward.send(Message::new(topic, payload)).await;
    }

    async fn dead_letter(&self, rejection: &Rejection, payload: &Bytes) {
        Metrics::add(&self.metrics.packets_dead_lettered, 1);
        tracing::warn!(
            "dead letter from {}: {} ({})",
            rejection.topic,
            rejection.reason,
            rejection.stage
        );
        let (payload, payload_encoding) = match std::str::from_utf8(payload) {
            Ok(text) => (text.to_owned(), "utf8"),
            Err(_) => (STANDARD.encode(payload), "base64"),
        };
        let letter = DeadLetter {
            rejection,
            received: now_text(platone_certify::now()),
            payload,
            payload_encoding,
        };
        let Ok(body) = serde_json::to_vec(&letter) else {
            return;
        };
        let device = rejection.device.as_deref().unwrap_or("unknown");
        let topic = format!("{}/{device}", self.config.topics.dlq);
        if let Err(e) = self
            .bus
            .publish(Message::new(topic, body), QoS::AtLeastOnce)
            .await
        {
            tracing::error!("publishing a dead letter failed: {e}");
        }
    }
}

fn now_text(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Forwards messages to the DSOTP topics with a bounded number of publishes in flight.
pub(crate) async fn run_forwarder(
    bus: Arc<dyn Bus>,
    rx: mpsc::Receiver<Message>,
    metrics: Arc<Metrics>,
) -> crate::Result<()> {
    use futures::StreamExt;
    let stream = tokio_stream_from(rx);
    stream
        .map(|message| {
            let bus = bus.clone();
            async move { bus.publish(message, QoS::AtLeastOnce).await }
        })
        .buffer_unordered(64)
        .for_each(|result| {
            match result {
                Ok(()) => Metrics::add(&metrics.messages_forwarded, 1),
                Err(e) => {
                    Metrics::add(&metrics.forwarding_failures, 1);
                    tracing::warn!("forwarding to the DSOTP failed: {e}");
                }
            }
            futures::future::ready(())
        })
        .await;
    Ok(())
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
