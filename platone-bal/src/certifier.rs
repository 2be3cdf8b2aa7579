//! The certifier: batches stored measurements per source, seals, anchors and records the
//! certification references in the SCD, with the crash safety of [`crate::journal`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use platone_bus::Delivery;
use platone_certify::{Batcher, FileLedger, Ledger, Proof, SealedBatch};
use platone_model::{DeviceId, Timestamp};
use platone_scd::{
    AnyStore, CertificationRecord, CertificationRef, MeasurementQuery, Principal, Store,
};

use crate::config::BalConfig;
use crate::error::{BalError, Result};
use crate::journal::{Journal, PendingBatch, PendingRecord, SealedBatches};
use crate::metrics::Metrics;

/// Compact the journal once it is larger than this and some batches were sealed since.
const COMPACT_AFTER_BYTES: u64 = 32 * 1024 * 1024;

/// Work for the certifier: newly stored measurements and the deliveries to acknowledge once
/// they are journaled.
pub(crate) struct Job {
    /// The stored measurements, in arrival order.
    pub records: Vec<PendingRecord>,
    /// Whether some of them may have been stored before (the SCD reported duplicates).
    pub check_duplicates: bool,
    /// The broker deliveries the records came in (and any dead-lettered ones), acknowledged
    /// once the records are journaled.
    pub deliveries: Vec<Delivery>,
}

pub(crate) struct Certifier {
    pmu: Batcher,
    cim: Batcher,
    open: HashMap<String, VecDeque<PendingRecord>>,
    open_keys: HashSet<(String, i64)>,
    journal: Journal,
    sealed: SealedBatches,
    unanchored: Vec<PendingBatch>,
    sealed_since_compact: usize,
    store: AnyStore,
    ledger: Arc<FileLedger>,
    metrics: Arc<Metrics>,
}

impl Certifier {
    /// Opens the certifier: finishes sealed batches a previous run left, continues every
    /// source's chain from the ledger and rebuilds the open batches from the journal.
    pub async fn open(
        config: &BalConfig,
        store: AnyStore,
        ledger: Arc<FileLedger>,
        metrics: Arc<Metrics>,
    ) -> Result<Certifier> {
        let (journal, replay) = Journal::open(&config.data)?;
        let mut certifier = Certifier {
            pmu: Batcher::new(config.scheme, config.batch.pmu()),
            cim: Batcher::new(config.scheme, config.batch.meter()),
            open: HashMap::new(),
            open_keys: HashSet::new(),
            journal,
            sealed: SealedBatches::open(config.data.join("sealed"))?,
            unanchored: Vec::new(),
            sealed_since_compact: 0,
            store,
            ledger,
            metrics,
        };
        let mut finished = HashSet::new();
        for batch in certifier.sealed.list()? {
            finished.extend(batch.keys());
            certifier.record(batch).await?;
        }
        for source in certifier.ledger.sources() {
            if let Some(last) = certifier.ledger.last_certificate(&source) {
                if source.ends_with("/cim") {
                    certifier.cim.resume(&last)?;
                } else if source.ends_with("/pmu") {
                    certifier.pmu.resume(&last)?;
                }
            }
        }
        let now = platone_certify::now();
        let mut sealed = Vec::new();
        for record in replay {
            if !finished.contains(&record.key()) {
                sealed.extend(certifier.push(record, now)?);
            }
        }
        for batch in sealed {
            certifier.finish(batch).await?;
        }
        certifier.compact()?;
        Ok(certifier)
    }

    /// Takes a job: drops measurements already certified or waiting, journals the rest,
    /// acknowledges the deliveries, batches and seals.
    pub async fn take(&mut self, job: Job) -> Result<()> {
        let mut records = Vec::with_capacity(job.records.len());
        // A repeated delivery may come in the same group as the first one: the store counts
        // the second as a duplicate, and it must not be batched twice.
        let mut in_job = HashSet::new();
        for record in job.records {
            if !job.check_duplicates
                || (in_job.insert(record.key()) && self.needs_certifying(&record).await?)
            {
                records.push(record);
            }
        }
        self.journal.append(&records)?;
        for delivery in job.deliveries {
            if let Err(e) = delivery.ack().await {
                // The broker will deliver it again; the store and this certifier drop the
                // repetition.
                tracing::warn!("acknowledging a delivery failed: {e}");
            }
        }
        let now = platone_certify::now();
        let mut sealed = Vec::new();
        for record in records {
            sealed.extend(self.push(record, now)?);
        }
        for batch in sealed {
            self.finish(batch).await?;
        }
        self.maybe_compact()
    }

    /// Seals the batches whose window ran out and retries anchoring any left pending.
    pub async fn tick(&mut self) -> Result<()> {
        let now = platone_certify::now();
        let mut sealed = self.pmu.tick(now)?;
        sealed.extend(self.cim.tick(now)?);
        for batch in sealed {
            self.finish(batch).await?;
        }
        for batch in std::mem::take(&mut self.unanchored) {
            self.record(batch).await?;
        }
        self.maybe_compact()
    }

    /// Seals and records every open batch (at shutdown).
    pub async fn flush(&mut self) -> Result<()> {
        let now = platone_certify::now();
        let mut sealed = self.pmu.flush(now)?;
        sealed.extend(self.cim.flush(now)?);
        for batch in sealed {
            self.finish(batch).await?;
        }
        for batch in std::mem::take(&mut self.unanchored) {
            self.record(batch).await?;
        }
        self.compact()
    }

    fn push(&mut self, record: PendingRecord, now: Timestamp) -> Result<Vec<SealedBatch>> {
        let batcher = if record.source.ends_with("/cim") {
            &mut self.cim
        } else {
            &mut self.pmu
        };
        let sealed = batcher.add(&record.source, &record.measurement, now)?;
        self.open_keys.insert(record.key());
        self.open
            .entry(record.source.clone())
            .or_default()
            .push_back(record);
        Metrics::add(&self.metrics.measurements_batched, 1);
        Ok(sealed)
    }

    /// Whether a measurement the SCD already had still needs certifying: not waiting in an
    /// open batch, and without a certification reference in the store.
    async fn needs_certifying(&self, record: &PendingRecord) -> Result<bool> {
        let key = record.key();
        if self.open_keys.contains(&key) {
            return Ok(false);
        }
        let m = &record.measurement;
        let query = MeasurementQuery::device(DeviceId::clone(&m.source))
            .between(m.timestamp, m.timestamp + chrono::TimeDelta::nanoseconds(1));
        let page = self
            .store
            .query_measurements(&Principal::Operator, &query)
            .await?;
        let certified = page.items.iter().any(|item| {
            item.certification.is_some() && item.measurement.series_key().to_string() == key.0
        });
        Ok(!certified)
    }

    async fn finish(&mut self, batch: SealedBatch) -> Result<()> {
        let certificate = batch.certificate;
        let count = usize::try_from(certificate.leaf_count).unwrap_or(usize::MAX);
        let queue = self.open.entry(certificate.source.clone()).or_default();
        if queue.len() < count || batch.proofs.len() != count {
            return Err(BalError::Certify(platone_certify::CertifyError::Batch {
                batch_id: certificate.batch_id.clone(),
                message: format!("certifies {count} records, {} are open", queue.len()),
            }));
        }
        let members: Vec<PendingRecord> = queue.drain(..count).collect();
        let root_hex = certificate.root.to_string();
        let mut records = Vec::with_capacity(count);
        let mut arrived = Vec::with_capacity(count);
        for (record, proof) in members.iter().zip(batch.proofs) {
            self.open_keys.remove(&record.key());
            let certification = CertificationRef {
                batch_id: certificate.batch_id.clone(),
                leaf_index: proof.leaf_index,
                root_hex: root_hex.clone(),
                proof: proof_json(&proof)?,
            };
            records.push(CertificationRecord::of(&record.measurement, certification));
            arrived.push(record.arrived);
        }
        let source = certificate.source.clone();
        let pending = PendingBatch {
            certificate,
            records,
            arrived,
        };
        self.sealed.write(&pending)?;
        self.journal.sealed(&source, count)?;
        self.sealed_since_compact += 1;
        Metrics::add(&self.metrics.batches_sealed, 1);
        self.record(pending).await
    }

    /// Anchors a sealed batch and records its certification references in the SCD.
    async fn record(&mut self, mut batch: PendingBatch) -> Result<()> {
        let status = self.ledger.anchor(&batch.certificate).await?;
        let Some(anchor) = status.anchor().cloned() else {
            self.unanchored.push(batch);
            return Ok(());
        };
        Metrics::add(&self.metrics.batches_anchored, 1);
        for record in &mut batch.records {
            let mut proof: Proof = serde_json::from_value(record.certification.proof.clone())
                .map_err(|e| platone_certify::CertifyError::Serialise(e.to_string()))?;
            proof.upgrade(&anchor)?;
            record.certification.proof = proof_json(&proof)?;
        }
        if let Err(e) = self.store.attach_certifications(&batch.records).await {
            // One record the store refuses (say, certified already by an earlier delivery)
            // must not cost the others their reference: record them one by one.
            tracing::warn!(
                "batch {}: recording all references failed ({e}); recording one by one",
                batch.certificate.batch_id
            );
            for record in &batch.records {
                if let Err(e) = self
                    .store
                    .attach_certifications(std::slice::from_ref(record))
                    .await
                {
                    tracing::warn!(
                        "batch {}: {} at {}: {e}",
                        batch.certificate.batch_id,
                        record.series,
                        record.timestamp
                    );
                }
            }
        }
        let count = batch.records.len() as u64;
        Metrics::add(&self.metrics.measurements_certified, count);
        let latency: i64 = batch
            .arrived
            .iter()
            .map(|a| (anchor.time - *a).num_milliseconds().max(0))
            .sum();
        Metrics::add(
            &self.metrics.anchor_latency_ms_sum,
            u64::try_from(latency).unwrap_or(0),
        );
        self.sealed.remove(&batch.certificate.batch_id)
    }

    fn maybe_compact(&mut self) -> Result<()> {
        if self.sealed_since_compact > 0 && self.journal.len_bytes() > COMPACT_AFTER_BYTES {
            self.compact()?;
        }
        Ok(())
    }

    fn compact(&mut self) -> Result<()> {
        // Per source the queue keeps arrival order, which is all a replay needs.
        self.journal.compact(self.open.values().flatten())?;
        self.sealed_since_compact = 0;
        Ok(())
    }
}

fn proof_json(proof: &Proof) -> Result<serde_json::Value> {
    serde_json::to_value(proof)
        .map_err(|e| BalError::Certify(platone_certify::CertifyError::Serialise(e.to_string())))
}
