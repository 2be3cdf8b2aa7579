//! The recorder: anchors sealed batches on the ledger and records their certification
//! references in the SCD. It runs as a task of its own, so that the certifier goes on
//! journaling, acknowledging and hashing the next packets while the references of the batches
//! it sealed before are written.
//!
//! Batches reach it in the files that keep them ([`SealedBatches`]); a file is removed only
//! once its batches are recorded, so a crash in between leaves it for the next start. A ledger
//! or an SCD that is unavailable is waited for (retried with back-off, shown in `/ready`); a
//! reference the SCD refuses for itself is written to the rejected-references file with the
//! reason, durably, before the sealed file goes. Work queued while a recording runs is taken
//! together: one ledger call and one SCD transaction.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use platone_certify::{CertifyError, Ledger, Proof};
use platone_scd::{AnyStore, CertificationRecord, CertificationRef, ScdError, Store};
use tokio::sync::{mpsc, oneshot, watch};

use crate::certifier::on_disk;
use crate::error::{BalError, Result};
use crate::health::{Engine, Health, Retried, retry_while_unavailable};
use crate::journal::{PendingBatch, RejectedReferences, SealedBatches};
use crate::metrics::Metrics;

/// The most certified measurements recorded in one go when work queues up.
const MAX_RECORDS: usize = 65_536;

/// How often batches the ledger left pending are offered again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Work for the recorder.
pub(crate) enum Work {
    /// Batches sealed together, and the file that keeps them.
    Record {
        batches: Vec<PendingBatch>,
        file: PathBuf,
    },
    /// Answer once everything sent before is recorded (batches the ledger still leaves pending
    /// are offered once more first).
    Flush(oneshot::Sender<Result<()>>),
}

/// The identities (series key text, timestamp in nanoseconds) of measurements whose
/// certification references are now in the SCD.
pub(crate) type Recorded = Vec<(String, i64)>;

pub(crate) struct Recorder {
    store: AnyStore,
    ledger: Arc<dyn Ledger>,
    metrics: Arc<Metrics>,
    sealed: SealedBatches,
    rejected: RejectedReferences,
    health: Health,
    stop: watch::Receiver<bool>,
    /// Sealed batches the ledger has not confirmed yet, with the file that keeps them.
    unanchored: Vec<(Vec<PendingBatch>, PathBuf)>,
}

impl Recorder {
    pub fn new(
        store: AnyStore,
        ledger: Arc<dyn Ledger>,
        metrics: Arc<Metrics>,
        sealed: SealedBatches,
        rejected: RejectedReferences,
        health: Health,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Recorder {
            store,
            ledger,
            metrics,
            sealed,
            rejected,
            health,
            stop,
            unanchored: Vec::new(),
        }
    }

    /// Records work until its sender is dropped, then what is left. Every recording's
    /// measurements go to `recorded`.
    pub async fn run(
        mut self,
        mut work: mpsc::Receiver<Work>,
        recorded: mpsc::UnboundedSender<Recorded>,
    ) -> Result<()> {
        let mut retry = tokio::time::interval(RETRY_EVERY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                next = work.recv() => match next {
                    Some(Work::Record { batches, file }) => {
                        let (mut batches, mut files) = (batches, vec![file]);
                        let mut flush = None;
                        let mut count: usize = batches.iter().map(|b| b.leaves.len()).sum();
                        while count < MAX_RECORDS {
                            match work.try_recv() {
                                Ok(Work::Record { batches: more, file }) => {
                                    count += more.iter().map(|b| b.leaves.len()).sum::<usize>();
                                    batches.extend(more);
                                    files.push(file);
                                }
                                Ok(Work::Flush(reply)) => {
                                    flush = Some(reply);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        let _ = recorded.send(self.record(batches, files).await?);
                        if let Some(reply) = flush {
                            let _ = reply.send(self.retry(&recorded).await);
                        }
                    }
                    Some(Work::Flush(reply)) => {
                        let _ = reply.send(self.retry(&recorded).await);
                    }
                    None => break,
                },
                _ = retry.tick() => self.retry(&recorded).await?,
            }
        }
        self.retry(&recorded).await
    }

    /// Offers the batches the ledger had not confirmed again.
    async fn retry(&mut self, recorded: &mpsc::UnboundedSender<Recorded>) -> Result<()> {
        for (batches, file) in std::mem::take(&mut self.unanchored) {
            let _ = recorded.send(self.record(batches, vec![file]).await?);
        }
        Ok(())
    }

    /// Anchors sealed batches and records their certification references in the SCD (one
    /// transaction for all), then removes `files`, which hold them. Batches the ledger leaves
    /// pending are written to a file of their own and offered again later. Gives the
    /// measurements recorded.
    pub async fn record(
        &mut self,
        batches: Vec<PendingBatch>,
        files: Vec<PathBuf>,
    ) -> Result<Recorded> {
        let certificates: Vec<_> = batches.iter().map(|b| b.certificate.clone()).collect();
        let statuses = match retry_while_unavailable(
            &self.health,
            Engine::Ledger,
            &self.stop,
            ledger_unavailable,
            || self.ledger.anchor_all(&certificates),
        )
        .await
        {
            Retried::Done(statuses) => statuses?,
            Retried::Stopped => return Err(BalError::Interrupted),
        };
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
            // An anchor on chain carries the batch's certificate and aggregate path, the same
            // for every record: the SCD keeps the record's own proof, and the API adds the
            // anchor from the ledger when it serves the proof.
            let on_chain = anchor.chain.is_some();
            for leaf in batch.leaves {
                let mut proof = leaf.proof;
                if !on_chain {
                    proof.upgrade(anchor)?;
                }
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
        if let Err(e) = self.attach(&all).await? {
            tracing::warn!(
                "recording {} references failed ({e}); recording batch by batch",
                all.len()
            );
            for span in spans {
                self.attach_batch(all.get(span).unwrap_or_default()).await?;
            }
        }
        Metrics::add(&self.metrics.measurements_certified, all.len() as u64);
        if all.is_empty()
            && !waiting.is_empty()
            && let [file] = files.as_slice()
        {
            // Nothing anchored yet (a ledger that confirms later, a chain): the one file that
            // holds these batches holds exactly the waiting ones, and stays as it is.
            self.unanchored.push((waiting, file.clone()));
            return Ok(Vec::new());
        }
        let sealed = &self.sealed;
        let kept = on_disk(&self.health, &self.stop, || sealed.write(&waiting)).await?;
        for file in files {
            // A file that keeps just the waiting batches can have the name of the one they
            // came in: it stays.
            if kept.as_ref() != Some(&file) {
                on_disk(&self.health, &self.stop, || sealed.remove(&file)).await?;
            }
        }
        if let Some(file) = kept {
            self.unanchored.push((waiting, file));
        }
        Ok(all
            .into_iter()
            .map(|r| {
                let at = r.timestamp.timestamp_nanos_opt().unwrap_or(i64::MAX);
                (r.series, at)
            })
            .collect())
    }

    /// Attaches references, waiting while the SCD is unavailable; the inner error is the
    /// store's refusal of the references themselves.
    async fn attach(
        &self,
        records: &[CertificationRecord],
    ) -> Result<std::result::Result<(), ScdError>> {
        match retry_while_unavailable(
            &self.health,
            Engine::Store,
            &self.stop,
            ScdError::is_unavailable,
            || self.store.attach_certifications(records),
        )
        .await
        {
            Retried::Done(outcome) => Ok(outcome),
            Retried::Stopped => Err(BalError::Interrupted),
        }
    }

    /// Records one batch's references; one record the store refuses (say, certified already
    /// by an earlier delivery) must not cost the others theirs, so on failure they are
    /// recorded one by one, and what the store refuses is kept, with the reason, in the
    /// rejected-references file.
    async fn attach_batch(&self, records: &[CertificationRecord]) -> Result<()> {
        let Some(id) = records.first().map(|r| &r.certification.batch_id) else {
            return Ok(());
        };
        let Err(e) = self.attach(records).await? else {
            return Ok(());
        };
        tracing::warn!("batch {id}: recording all references failed ({e}); recording one by one");
        let mut refused = Vec::new();
        for record in records {
            if let Err(e) = self.attach(std::slice::from_ref(record)).await? {
                tracing::warn!(
                    "batch {id}: the SCD refuses the reference of {} at {}: {e}",
                    record.series,
                    record.timestamp
                );
                refused.push((record, e.to_string()));
            }
        }
        if !refused.is_empty() {
            Metrics::add(&self.metrics.references_rejected, refused.len() as u64);
            on_disk(&self.health, &self.stop, || self.rejected.append(&refused)).await?;
        }
        Ok(())
    }
}

/// Ledger errors that say the ledger cannot be written now (its file system, or the node
/// behind it) rather than that a certificate is refused.
fn ledger_unavailable(e: &CertifyError) -> bool {
    e.is_retryable()
}

fn proof_json(proof: &Proof) -> Result<serde_json::Value> {
    serde_json::to_value(proof)
        .map_err(|e| BalError::Certify(platone_certify::CertifyError::Serialise(e.to_string())))
}
