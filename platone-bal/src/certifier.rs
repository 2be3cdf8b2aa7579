//! The certifier: batches stored measurements per source, seals, anchors and records the
//! certification references in the SCD, with the crash safety of [`crate::journal`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use platone_bus::Delivery;
use platone_certify::{Batcher, FileLedger, Ledger, Proof, SealedBatch};
use platone_model::{DeviceId, Timestamp};
use platone_scd::{
    AnyStore, CertificationRecord, CertificationRef, MeasurementQuery, Principal, Store,
};

use crate::config::BalConfig;
use crate::error::{BalError, Result};
use crate::journal::{Journal, PendingBatch, PendingLeaf, PendingRecord, SealedBatches};
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

impl Job {
    /// Appends a later job: its records and deliveries come after this one's.
    pub fn merge(&mut self, later: Job) {
        self.records.extend(later.records);
        self.check_duplicates |= later.check_duplicates;
        self.deliveries.extend(later.deliveries);
    }
}

pub(crate) struct Certifier {
    pmu: Batcher,
    cim: Batcher,
    open: HashMap<String, VecDeque<PendingRecord>>,
    open_keys: HashSet<(String, i64)>,
    journal: Journal,
    sealed: SealedBatches,
    /// Sealed batches the ledger has not confirmed yet, with the file that keeps them.
    unanchored: Vec<(Vec<PendingBatch>, PathBuf)>,
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
        let (left, files) = certifier.sealed.list()?;
        for batch in &left {
            finished.extend(batch.keys());
        }
        certifier.record(left, files).await?;
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
        certifier.finish(sealed).await?;
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
        self.finish(sealed).await?;
        self.maybe_compact()
    }

    /// Seals the batches whose window ran out and retries anchoring any left pending.
    pub async fn tick(&mut self) -> Result<()> {
        let now = platone_certify::now();
        let mut sealed = self.pmu.tick(now)?;
        sealed.extend(self.cim.tick(now)?);
        self.finish(sealed).await?;
        self.retry_unanchored().await?;
        self.maybe_compact()
    }

    /// Seals and records every open batch (at shutdown).
    pub async fn flush(&mut self) -> Result<()> {
        let now = platone_certify::now();
        let mut sealed = self.pmu.flush(now)?;
        sealed.extend(self.cim.flush(now)?);
        self.finish(sealed).await?;
        self.retry_unanchored().await?;
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

    /// Takes the records of a sealed batch out of its source's open queue and gives the batch
    /// with their proofs (not yet anchored).
    fn pending(&mut self, batch: SealedBatch) -> Result<PendingBatch> {
        let certificate = batch.certificate;
        let count = usize::try_from(certificate.leaf_count).unwrap_or(usize::MAX);
        let queue = self.open.entry(certificate.source.clone()).or_default();
        if queue.len() < count || batch.proofs.len() != count {
            return Err(BalError::Certify(platone_certify::CertifyError::Batch {
                batch_id: certificate.batch_id.clone(),
                message: format!("certifies {count} records, {} are open", queue.len()),
            }));
        }
        let mut leaves = Vec::with_capacity(count);
        for (record, proof) in queue.drain(..count).zip(batch.proofs) {
            let key = record.key();
            self.open_keys.remove(&key);
            leaves.push(PendingLeaf {
                series: key.0,
                timestamp: record.measurement.timestamp,
                proof,
                arrived: record.arrived,
            });
        }
        Ok(PendingBatch {
            certificate,
            leaves,
        })
    }

    /// Finishes batches sealed together: one synced file and one journal sync for all of
    /// them, then anchoring and recording.
    async fn finish(&mut self, sealed: Vec<SealedBatch>) -> Result<()> {
        let batches = sealed
            .into_iter()
            .map(|batch| self.pending(batch))
            .collect::<Result<Vec<_>>>()?;
        let Some(file) = self.sealed.write(&batches)? else {
            return Ok(());
        };
        self.journal.sealed(
            batches
                .iter()
                .map(|b| (b.certificate.source.as_str(), b.leaves.len())),
        )?;
        self.sealed_since_compact += batches.len();
        Metrics::add(&self.metrics.batches_sealed, batches.len() as u64);
        self.record(batches, vec![file]).await
    }

    /// Retries the batches the ledger had not confirmed.
    async fn retry_unanchored(&mut self) -> Result<()> {
        for (batches, file) in std::mem::take(&mut self.unanchored) {
            self.record(batches, vec![file]).await?;
        }
        Ok(())
    }

    /// Anchors sealed batches and records their certification references in the SCD (one
    /// transaction for all), then removes `files`, which hold them. Batches the ledger leaves
    /// pending are written to a file of their own and retried at the next tick.
    async fn record(&mut self, batches: Vec<PendingBatch>, files: Vec<PathBuf>) -> Result<()> {
        let certificates: Vec<_> = batches.iter().map(|b| b.certificate.clone()).collect();
        let statuses = self.ledger.anchor_all(&certificates).await?;
        // Every anchored batch's references, and where each batch's are in it.
        let mut all: Vec<CertificationRecord> = Vec::new();
        let mut spans = Vec::new();
        let mut waiting = Vec::new();
        for (batch, status) in batches.into_iter().zip(statuses) {
            let Some(anchor) = status.anchor() else {
                waiting.push(batch);
                continue;
            };
            let latency: i64 = batch
                .leaves
                .iter()
                .map(|leaf| (anchor.time - leaf.arrived).num_milliseconds().max(0))
                .sum();
            Metrics::add(&self.metrics.batches_anchored, 1);
            Metrics::add(
                &self.metrics.anchor_latency_ms_sum,
                u64::try_from(latency).unwrap_or(0),
            );
            let root_hex = batch.certificate.root.to_string();
            let start = all.len();
            for leaf in batch.leaves {
                let mut proof = leaf.proof;
                proof.upgrade(anchor)?;
                all.push(CertificationRecord {
                    series: leaf.series,
                    timestamp: leaf.timestamp,
                    certification: CertificationRef {
                        batch_id: batch.certificate.batch_id.clone(),
                        leaf_index: proof.leaf_index,
                        root_hex: root_hex.clone(),
                        proof: proof_json(&proof)?,
                    },
                });
            }
            spans.push(start..all.len());
        }
        if let Err(e) = self.store.attach_certifications(&all).await {
            tracing::warn!(
                "recording {} references failed ({e}); recording batch by batch",
                all.len()
            );
            for span in spans {
                self.attach_batch(all.get(span).unwrap_or_default()).await;
            }
        }
        Metrics::add(&self.metrics.measurements_certified, all.len() as u64);
        if let Some(file) = self.sealed.write(&waiting)? {
            self.unanchored.push((waiting, file));
        }
        for file in files {
            self.sealed.remove(&file)?;
        }
        Ok(())
    }

    /// Records one batch's references; one record the store refuses (say, certified already
    /// by an earlier delivery) must not cost the others theirs, so on failure they are
    /// recorded one by one.
    async fn attach_batch(&self, records: &[CertificationRecord]) {
        let Some(id) = records.first().map(|r| &r.certification.batch_id) else {
            return;
        };
        let Err(e) = self.store.attach_certifications(records).await else {
            return;
        };
        tracing::warn!("batch {id}: recording all references failed ({e}); recording one by one");
        for record in records {
            if let Err(e) = self
                .store
                .attach_certifications(std::slice::from_ref(record))
                .await
            {
                tracing::warn!("batch {id}: {} at {}: {e}", record.series, record.timestamp);
            }
        }
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
