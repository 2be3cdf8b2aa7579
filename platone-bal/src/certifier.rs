//! The certifier: journals stored measurements, batches them per source and seals, with the
//! crash safety of [`crate::journal`]; the [`crate::recorder`] anchors the sealed batches and
//! records their certification references in the SCD meanwhile.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;

use platone_bus::Delivery;
use platone_certify::{Batcher, Ledger, SealedBatch};
use platone_model::{DeviceId, Timestamp};
use platone_scd::{AnyStore, MeasurementQuery, Principal, Store};
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::BalConfig;
use crate::error::{BalError, Result};
use crate::health::{Engine, Health, Retried, retry_while_unavailable};
use crate::journal::{
    Journal, PendingBatch, PendingLeaf, PendingRecord, RejectedReferences, SealedBatches,
};
use crate::metrics::Metrics;
use crate::recorder::{Recorded, Recorder, Work};

/// Compact the journal once it is larger than this and some batches were sealed since.
const COMPACT_AFTER_BYTES: u64 = 32 * 1024 * 1024;

/// How many groups of sealed batches wait for the recorder at most; the certifier waits
/// beyond that.
const RECORDER_QUEUE: usize = 4;

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
    /// The measurements batched and not yet recorded in the SCD (open, or sealed and on
    /// their way through the recorder).
    open_keys: HashSet<(String, i64)>,
    journal: Journal,
    sealed: SealedBatches,
    sealed_since_compact: usize,
    store: AnyStore,
    metrics: Arc<Metrics>,
    recorder: mpsc::Sender<Work>,
    recorded: mpsc::UnboundedReceiver<Recorded>,
    health: Health,
    stop: watch::Receiver<bool>,
}

impl Certifier {
    /// Opens the certifier: finishes sealed batches a previous run left, continues every
    /// source's chain from the ledger and rebuilds the open batches from the journal. Gives
    /// the recorder's task too, to be spawned: it ends once the certifier is dropped and
    /// everything sealed is recorded.
    pub async fn open(
        config: &BalConfig,
        store: AnyStore,
        ledger: Arc<dyn Ledger>,
        metrics: Arc<Metrics>,
        health: Health,
        stop: watch::Receiver<bool>,
    ) -> Result<(Certifier, impl Future<Output = Result<()>> + Send + 'static)> {
        let (journal, replay) = Journal::open(&config.data)?;
        let sealed = SealedBatches::open(config.data.join("sealed"))?;
        let mut recorder = Recorder::new(
            store.clone(),
            ledger.clone(),
            metrics.clone(),
            sealed.clone(),
            RejectedReferences::new(&config.data),
            health.clone(),
            stop.clone(),
        );
        let mut finished = HashSet::new();
        let (left, files) = sealed.list()?;
        for batch in &left {
            finished.extend(batch.keys());
        }
        recorder.record(left, files).await?;
        let (work_tx, work_rx) = mpsc::channel(RECORDER_QUEUE);
        let (recorded_tx, recorded_rx) = mpsc::unbounded_channel();
        let mut certifier = Certifier {
            pmu: Batcher::new(config.scheme, config.batch.pmu()),
            cim: Batcher::new(config.scheme, config.batch.meter()),
            open: HashMap::new(),
            open_keys: HashSet::new(),
            journal,
            sealed,
            sealed_since_compact: 0,
            store,
            metrics,
            recorder: work_tx,
            recorded: recorded_rx,
            health,
            stop,
        };
        for source in ledger.sources().await? {
            if let Some(last) = ledger.last_certificate(&source).await? {
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
        certifier.compact();
        Ok((certifier, recorder.run(work_rx, recorded_tx)))
    }

    /// Takes a job: drops measurements already certified or waiting, journals the rest,
    /// acknowledges the deliveries, batches and seals.
    pub async fn take(&mut self, job: Job) -> Result<()> {
        self.release();
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
        // Nothing is acknowledged before it is journaled: while the data directory cannot
        // be written (a full disk), the deliveries wait here and ingest waits behind them.
        let journal = &mut self.journal;
        on_disk(&self.health, &self.stop, || journal.append(&records)).await?;
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
        self.maybe_compact();
        Ok(())
    }

    /// Seals the batches whose window ran out.
    pub async fn tick(&mut self) -> Result<()> {
        self.release();
        let now = platone_certify::now();
        let mut sealed = self.pmu.tick(now)?;
        sealed.extend(self.cim.tick(now)?);
        self.finish(sealed).await?;
        self.maybe_compact();
        Ok(())
    }

    /// Seals every open batch and waits until the recorder has recorded everything sealed
    /// (at shutdown, or when asked).
    pub async fn flush(&mut self) -> Result<()> {
        let now = platone_certify::now();
        let mut sealed = self.pmu.flush(now)?;
        sealed.extend(self.cim.flush(now)?);
        self.finish(sealed).await?;
        let (reply, done) = oneshot::channel();
        self.send(Work::Flush(reply)).await?;
        done.await.map_err(|_| BalError::Stopped("recorder"))??;
        self.release();
        self.compact();
        Ok(())
    }

    /// Forgets the measurements the recorder has recorded since last asked: the SCD now
    /// answers for them.
    fn release(&mut self) {
        while let Ok(recorded) = self.recorded.try_recv() {
            for key in &recorded {
                self.open_keys.remove(key);
            }
        }
    }

    async fn send(&self, work: Work) -> Result<()> {
        self.recorder
            .send(work)
            .await
            .map_err(|_| BalError::Stopped("recorder"))
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
        let page = match retry_while_unavailable(
            &self.health,
            Engine::Store,
            &self.stop,
            platone_scd::ScdError::is_unavailable,
            || self.store.query_measurements(&Principal::Operator, &query),
        )
        .await
        {
            Retried::Done(page) => page?,
            Retried::Stopped => return Err(BalError::Interrupted),
        };
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
            // The key stays in `open_keys` until the recorder has recorded the batch.
            let key = record.key();
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
    /// them, then hands them to the recorder.
    async fn finish(&mut self, sealed: Vec<SealedBatch>) -> Result<()> {
        let batches = sealed
            .into_iter()
            .map(|batch| self.pending(batch))
            .collect::<Result<Vec<_>>>()?;
        let sealed_files = &self.sealed;
        let Some(file) = on_disk(&self.health, &self.stop, || sealed_files.write(&batches)).await?
        else {
            return Ok(());
        };
        let journal = &mut self.journal;
        on_disk(&self.health, &self.stop, || {
            journal.sealed(
                batches
                    .iter()
                    .map(|b| (b.certificate.source.as_str(), b.leaves.len())),
            )
        })
        .await?;
        self.sealed_since_compact += batches.len();
        Metrics::add(&self.metrics.batches_sealed, batches.len() as u64);
        self.send(Work::Record { batches, file }).await
    }

    fn maybe_compact(&mut self) {
        if self.sealed_since_compact > 0 && self.journal.len_bytes() > COMPACT_AFTER_BYTES {
            self.compact();
        }
    }

    /// Rewrites the journal with the open records only. A failure (a full disk) leaves the
    /// journal as it was, which is correct, only longer: it is logged and tried again later.
    fn compact(&mut self) {
        // Per source the queue keeps arrival order, which is all a replay needs.
        match self.journal.compact(self.open.values().flatten()) {
            Ok(()) => self.sealed_since_compact = 0,
            Err(e) => tracing::warn!("cannot compact the journal now, kept as it is: {e}"),
        }
    }
}

/// Runs a write to the data directory, retrying while the file system fails it (a full disk,
/// an I/O error) with the data directory shown unavailable in `/health` meanwhile; gives
/// [`BalError::Interrupted`] if the BAL stops while it waits. Each write either completes or
/// leaves its file as it was, so a retry is safe.
pub(crate) async fn on_disk<T>(
    health: &Health,
    stop: &watch::Receiver<bool>,
    mut write: impl FnMut() -> Result<T>,
) -> Result<T> {
    match retry_while_unavailable(health, Engine::Data, stop, BalError::is_storage, || {
        std::future::ready(write())
    })
    .await
    {
        Retried::Done(outcome) => outcome,
        Retried::Stopped => Err(BalError::Interrupted),
    }
}
