//! Ingest: device packets from the bus → envelope and signature check → decode → store in
//! the SCD → forward to the DSOTP topics → hand to the certifier. A packet that cannot be used
//! goes to the dead-letter topic with the reason; everything else flows on.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use platone_bus::{Bus, Delivery, Message, QoS};
use platone_certify::SignedEnvelope;
use platone_model::{DeviceId, Measurement, Timestamp};
use platone_scd::{AnyStore, InsertReport, Store};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::certifier::Job;
use crate::config::BalConfig;
use crate::decode::{PacketKind, PayloadDecoder, parse_topic};
use crate::directory::Directory;
use crate::journal::PendingRecord;
use crate::metrics::Metrics;

/// Why a packet (or part of one) was dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The topic the packet came on.
    pub topic: String,
    /// The device, when the topic names one.
    pub device: Option<String>,
    /// The step that refused it: `topic`, `envelope`, `signature`, `decode`, `store`.
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

/// A packet that was accepted.
struct Accepted {
    device: DeviceId,
    kind: PacketKind,
    signer: Option<String>,
    measurements: Vec<Measurement>,
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
}

impl Ingest {
    /// Processes a group of deliveries that arrived together: one SCD transaction for all.
    pub async fn process(&mut self, deliveries: Vec<Delivery>) -> crate::Result<()> {
        let now = platone_certify::now();
        Metrics::add(&self.metrics.ingest_groups, 1);
        let mut accepted = Vec::with_capacity(deliveries.len());
        // Deliveries are not `Sync`: work on their messages (cheap clones of shared payloads).
        let messages: Vec<Message> = deliveries.iter().map(|d| d.message.clone()).collect();
        for message in &messages {
            Metrics::add(&self.metrics.packets_received, 1);
            match self.accept(message) {
                Ok((packet, problems)) => {
                    for reason in problems {
                        let rejection = Rejection {
                            topic: message.topic.clone(),
                            device: Some(packet.device.to_string()),
                            stage: "decode",
                            reason,
                        };
                        self.dead_letter(&rejection, &message.payload).await;
                    }
                    accepted.push(packet);
                }
                Err(rejection) => self.dead_letter(&rejection, &message.payload).await,
            }
        }
        let batch: Vec<Measurement> = accepted
            .iter()
            .flat_map(|p| p.measurements.iter().cloned())
            .collect();
        Metrics::add(&self.metrics.measurements_decoded, batch.len() as u64);
        let report = self.store_batch(&batch).await?;
        let conflicting: std::collections::HashSet<usize> =
            report.conflicts.iter().map(|c| c.index).collect();
        for conflict in &report.conflicts {
            let device = batch
                .get(conflict.index)
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
        let mut records = Vec::with_capacity(batch.len());
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

    /// Stores a batch, retrying while the SCD is unreachable (the packets stay
    /// unacknowledged at the broker meanwhile).
    async fn store_batch(&self, batch: &[Measurement]) -> crate::Result<InsertReport> {
        if batch.is_empty() {
            return Ok(InsertReport::default());
        }
        let mut delay = std::time::Duration::from_millis(100);
        loop {
            match self.store.insert_measurements(batch).await {
                Ok(report) => return Ok(report),
                Err(e @ platone_scd::ScdError::InvalidRecord { .. }) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!("storing {} measurements failed, retrying: {e}", batch.len());
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                }
            }
        }
    }

    fn accept(&mut self, message: &Message) -> Result<(Accepted, Vec<String>), Rejection> {
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
        let payload = match &envelope {
            Some(envelope) => envelope
                .payload_bytes()
                .map_err(|e| reject(Some(&device), "envelope", e.to_string()))?,
            None => std::borrow::Cow::Borrowed(raw),
        };
        let decoded = self
            .decoder
            .decode(&device, kind, &payload)
            .map_err(|reason| reject(Some(&device), "decode", reason))?;
        let signer = match &envelope {
            Some(envelope) => {
                let at = decoded
                    .measurements
                    .first()
                    .map_or_else(platone_certify::now, |m| m.timestamp);
                let at = u64::try_from(at.timestamp()).unwrap_or(0);
                let address = self
                    .directory
                    .verify(envelope, &device, at)
                    .map_err(|reason| reject(Some(&device), "signature", reason))?;
                Metrics::add(&self.metrics.packets_signed, 1);
                Some(address.to_checksum(None))
            }
            None => {
                Metrics::add(&self.metrics.packets_unsigned, 1);
                None
            }
        };
        let measurements = decoded
            .measurements
            .into_iter()
            .map(|m| self.directory.assign_pod(m, &device))
            .collect();
        Ok((
            Accepted {
                device,
                kind,
                signer,
                measurements,
            },
            decoded.problems,
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
) {
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
                Err(e) => tracing::warn!("forwarding to the DSOTP failed: {e}"),
            }
            futures::future::ready(())
        })
        .await;
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
