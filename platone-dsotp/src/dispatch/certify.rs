//! Certification of set points and acknowledgements: [`SetPointCertifier`], and its embedded
//! default [`LedgerCertifier`] on platone-certify's batcher and a ledger (the BAL's machinery).
//!
//! **What is certified.** Each record is the JSON form of the [`SetPoint`] (as stored in the
//! SCD and published to the Light Node) or of the [`SetPointAck`] (as the Light Node sent it
//! and the SCD stores it), reduced to its `platone-cert/1` canonical bytes (RFC 8785 JSON) —
//! the generic record path of platone-certify ([`Certifiable`] for JSON values), the one the
//! Market Platform uses for awards. The BAL's own certifier is bound to measurements and its
//! journal, so the DSOTP reuses the parts under it: the [`Batcher`] (Merkle batches chained per
//! source) and a [`Ledger`] (the [`FileLedger`] by default).
//!
//! **Sources.** Set points are certified under `{source}/setpoints`, acknowledgements under
//! `{source}/acks` (`source` is `dsotp-dispatch` by default), each a chain of batch
//! certificates. A batch's first and last timestamps are the set points' window starts, or
//! the acknowledgements' `at`.
//!
//! **Verifying.** A proof and the record's JSON are enough, with the ledger:
//! `platone_certify::verify_with_ledger(&serde_json::to_value(&set_point)?, &proof, &ledger)`,
//! or the BAL's `POST /api/verify`.

use std::path::Path;
use std::sync::Arc;

use chrono::TimeDelta;
use platone_certify::{
    BatchCertificate, BatchPolicy, Batcher, BoxFuture, Certifiable, FileLedger, Ledger, Proof,
    Scheme, SealedBatch,
};
use platone_model::{SetPoint, Timestamp};
use platone_scd::SetPointAck;

use crate::error::{DsotpError, Result};

/// A record the dispatcher certifies.
#[derive(Debug, Clone, PartialEq)]
pub enum DispatchRecord {
    /// A set point, as stored and sent.
    SetPoint(SetPoint),
    /// A Light Node's acknowledgement, as received and stored.
    Ack(SetPointAck),
}

impl DispatchRecord {
    /// The JSON whose canonical bytes are certified (the set point's or the
    /// acknowledgement's own JSON form).
    pub fn to_json(&self) -> Result<serde_json::Value> {
        match self {
            DispatchRecord::SetPoint(sp) => serde_json::to_value(sp),
            DispatchRecord::Ack(ack) => serde_json::to_value(ack),
        }
        .map_err(certification)
    }

    /// The record's time: a set point's window start, an acknowledgement's `at`.
    pub fn timestamp(&self) -> Timestamp {
        match self {
            DispatchRecord::SetPoint(sp) => sp.valid_from,
            DispatchRecord::Ack(ack) => ack.at,
        }
    }
}

/// Certifies set points and acknowledgements in batches (object-safe: the dispatcher holds an
/// `Arc<dyn SetPointCertifier>`).
pub trait SetPointCertifier: Send + Sync {
    /// Certifies `records` and gives one proof per record, in their order. All or nothing: on
    /// error no proof is given (and trying the same records again is safe).
    fn certify<'a>(&'a self, records: &'a [DispatchRecord]) -> BoxFuture<'a, Result<Vec<Proof>>>;
}

/// A record on its way into a batch: its JSON and its time.
struct Leaf {
    json: serde_json::Value,
    timestamp: Timestamp,
}

impl Certifiable for Leaf {
    fn write_canonical(&self, out: &mut Vec<u8>) -> platone_certify::Result<()> {
        self.json.write_canonical(out)
    }

    fn timestamp(&self) -> Option<Timestamp> {
        Some(self.timestamp)
    }
}

fn certification(e: impl std::fmt::Display) -> DsotpError {
    DsotpError::Certification(e.to_string())
}

/// The embedded certifier: each call seals the records into Merkle batches (at most
/// `max_batch` records each) with platone-certify's [`Batcher`], continuing each source's
/// chain from the ledger, and anchors them all on the [`Ledger`] at once (one fsync for the
/// [`FileLedger`]). Proofs carry the anchor when the ledger confirms at once (the file ledger
/// does), `pending` otherwise.
pub struct LedgerCertifier {
    ledger: Arc<dyn Ledger>,
    scheme: Scheme,
    source: String,
    max_batch: usize,
    /// One call at a time: each continues the chains the previous one left.
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for LedgerCertifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerCertifier")
            .field("ledger", &self.ledger.name())
            .field("scheme", &self.scheme)
            .field("source", &self.source)
            .field("max_batch", &self.max_batch)
            .finish()
    }
}

impl LedgerCertifier {
    /// The default source prefix.
    pub const DEFAULT_SOURCE: &'static str = "dsotp-dispatch";
    /// The default largest batch.
    pub const DEFAULT_MAX_BATCH: usize = 4096;

    /// A certifier anchoring on `ledger`, Keccak-256 (the BAL's default scheme), source
    /// [`DEFAULT_SOURCE`](Self::DEFAULT_SOURCE), batches of at most
    /// [`DEFAULT_MAX_BATCH`](Self::DEFAULT_MAX_BATCH).
    pub fn new(ledger: Arc<dyn Ledger>) -> Self {
        LedgerCertifier {
            ledger,
            scheme: Scheme::Keccak,
            source: Self::DEFAULT_SOURCE.to_owned(),
            max_batch: Self::DEFAULT_MAX_BATCH,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The embedded default: a [`FileLedger`] in `{data_dir}/ledger`.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self> {
        let ledger = FileLedger::open(data_dir.as_ref().join("ledger")).map_err(certification)?;
        Ok(Self::new(Arc::new(ledger)))
    }

    /// Another source prefix.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Another Merkle scheme.
    pub fn with_scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// Another largest batch (at least 1).
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    /// The source of set-point batches: `{source}/setpoints`.
    pub fn set_point_source(&self) -> String {
        format!("{}/setpoints", self.source)
    }

    /// The source of acknowledgement batches: `{source}/acks`.
    pub fn ack_source(&self) -> String {
        format!("{}/acks", self.source)
    }

    async fn certify_all(&self, records: &[DispatchRecord]) -> Result<Vec<Proof>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let _one_at_a_time = self.lock.lock().await;
        let now = platone_certify::now();
        let mut batcher = Batcher::new(
            self.scheme,
            BatchPolicy {
                max_records: self.max_batch,
                window: TimeDelta::days(36_500),
            },
        );
        let sources = [self.set_point_source(), self.ack_source()];
        for source in &sources {
            if let Some(last) = self
                .ledger
                .last_certificate(source)
                .await
                .map_err(certification)?
            {
                batcher.resume(&last).map_err(certification)?;
            }
        }
        // Sealed batches, each with the positions (in `records`) of its leaves.
        let mut sealed: Vec<(SealedBatch, Vec<usize>)> = Vec::new();
        for (kind, source) in sources.iter().enumerate() {
            let positions: Vec<usize> = records
                .iter()
                .enumerate()
                .filter(|(_, r)| usize::from(matches!(r, DispatchRecord::Ack(_))) == kind)
                .map(|(i, _)| i)
                .collect();
            if positions.is_empty() {
                continue;
            }
            let mut batches = Vec::new();
            for &i in &positions {
                let leaf = Leaf {
                    json: records[i].to_json()?,
                    timestamp: records[i].timestamp(),
                };
                batches.extend(batcher.add(source, &leaf, now).map_err(certification)?);
            }
            batches.extend(batcher.flush(now).map_err(certification)?);
            let mut rest = positions.into_iter();
            for batch in batches {
                let mine: Vec<usize> = rest.by_ref().take(batch.proofs.len()).collect();
                sealed.push((batch, mine));
            }
        }
        let certificates: Vec<BatchCertificate> =
            sealed.iter().map(|(b, _)| b.certificate.clone()).collect();
        let anchors = self
            .ledger
            .anchor_all(&certificates)
            .await
            .map_err(certification)?;
        let mut proofs: Vec<Option<Proof>> = vec![None; records.len()];
        for ((batch, positions), anchor) in sealed.into_iter().zip(anchors) {
            for (mut proof, i) in batch.proofs.into_iter().zip(positions) {
                if let Some(a) = anchor.anchor() {
                    proof.upgrade(a).map_err(certification)?;
                }
                if let Some(slot) = proofs.get_mut(i) {
                    *slot = Some(proof);
                }
            }
        }
        proofs
            .into_iter()
            .map(|p| p.ok_or_else(|| certification("a record was left out of its batch")))
            .collect()
    }
}

impl SetPointCertifier for LedgerCertifier {
    fn certify<'a>(&'a self, records: &'a [DispatchRecord]) -> BoxFuture<'a, Result<Vec<Proof>>> {
        Box::pin(self.certify_all(records))
    }
}

#[cfg(test)]
mod tests {
    use platone_certify::{AnchorStatus, verify_with_ledger};
    use platone_model::{DeviceId, MeasurementKind, PodId, Unit, parse_timestamp};
    use platone_scd::AckOutcome;

    use super::*;

    fn set_point(id: &str) -> SetPoint {
        let mut sp = SetPoint::new(
            id,
            DeviceId::new("ln-1").unwrap(),
            MeasurementKind::Power,
            Unit::Watt,
            -2500.0,
            parse_timestamp("2026-12-07T18:00:00Z").unwrap(),
            parse_timestamp("2026-12-07T18:15:00Z").unwrap(),
        )
        .unwrap();
        sp.pod = Some(PodId::new("POD-1").unwrap());
        sp
    }

    fn ack(id: &str) -> SetPointAck {
        SetPointAck {
            set_point: id.into(),
            device: DeviceId::new("ln-1").unwrap(),
            at: parse_timestamp("2026-12-07T17:55:00Z").unwrap(),
            outcome: AckOutcome::Accepted,
            reason: None,
        }
    }

    #[tokio::test]
    async fn records_are_certified_in_chained_batches_and_verify_against_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let certifier = LedgerCertifier::open(dir.path()).unwrap().with_max_batch(2);
        let records = vec![
            DispatchRecord::SetPoint(set_point("a/1")),
            DispatchRecord::Ack(ack("a/1")),
            DispatchRecord::SetPoint(set_point("a/2")),
            DispatchRecord::SetPoint(set_point("a/3")),
        ];
        let proofs = certifier.certify(&records).await.unwrap();
        assert_eq!(proofs.len(), 4);
        assert_eq!(proofs[0].batch_id, "dsotp-dispatch/setpoints:0");
        assert_eq!(proofs[2].batch_id, "dsotp-dispatch/setpoints:0");
        assert_eq!(proofs[3].batch_id, "dsotp-dispatch/setpoints:1");
        assert_eq!(proofs[1].batch_id, "dsotp-dispatch/acks:0");
        for (record, proof) in records.iter().zip(&proofs) {
            assert!(matches!(proof.anchor, AnchorStatus::Anchored(_)));
            let json = record.to_json().unwrap();
            let verified = verify_with_ledger(&json, proof, &**certifier.ledger())
                .await
                .unwrap();
            assert!(verified.is_verified(), "{verified:?}");
        }
        // A tampered record does not verify.
        let mut forged = set_point("a/1");
        forged.value = 0.0;
        let json = serde_json::to_value(&forged).unwrap();
        let verified = verify_with_ledger(&json, &proofs[0], &**certifier.ledger())
            .await
            .unwrap();
        assert!(!verified.is_verified());

        // A certifier opened again on the same ledger continues the chains.
        drop(certifier);
        let again = LedgerCertifier::open(dir.path()).unwrap();
        let more = vec![DispatchRecord::Ack(ack("a/2"))];
        let proofs = again.certify(&more).await.unwrap();
        assert_eq!(proofs[0].batch_id, "dsotp-dispatch/acks:1");
        let verified =
            verify_with_ledger(&more[0].to_json().unwrap(), &proofs[0], &**again.ledger())
                .await
                .unwrap();
        assert!(verified.is_verified(), "{verified:?}");
        assert!(again.certify(&[]).await.unwrap().is_empty());
    }
}
