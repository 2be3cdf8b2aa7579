//! The batcher: per source, a batch closes at N records or after a time window, whichever
//! comes first, and yields a [`BatchCertificate`] chained to the source's previous one plus a
//! [`Proof`] per record.
//!
//! Rules for time:
//! - The window is measured on the clock the caller passes (`now`): arrival time in a live
//!   system, the record's own time when replaying a file. A batch opens with its first record;
//!   when a record arrives at or after `opened + window`, the open batch is sealed first and the
//!   record opens the next one. [`Batcher::tick`] seals batches whose window ran out with no
//!   new record.
//! - Leaves are in arrival order. Records may arrive out of order: the certificate's
//!   `first_timestamp` and `last_timestamp` are the earliest and latest record timestamps in the
//!   batch, not the first and last arrivals.
//! - A late record (its timestamp before the `last_timestamp` of the source's previous sealed
//!   batch) is never dropped or rejected: it is certified in the open batch, and counted in
//!   [`SealedBatch::late_records`] so the caller can report it. A certificate proves a record
//!   existed no later than the batch's `created_at`, whatever time the record claims.
//!
//! A live batcher measures windows on its clock and dates each certificate by it
//! ([`Batcher::add`]); a replay of recorded data measures them on the records' own times and
//! dates every certificate at one moment ([`Batcher::add_leaf_with_clock`], used by
//! [`certify_json_lines`](crate::stream::certify_json_lines)). Both seal through the same code:
//! [`seal_leaves`] builds the tree and the certificate chained to the source's previous one.

use std::collections::HashMap;

use chrono::TimeDelta;
use platone_model::Timestamp;

use crate::canonical::Certifiable;
use crate::certificate::{AnchorStatus, BatchCertificate};
use crate::error::{CertifyError, Result};
use crate::proof::{PROOF_FORMAT, Proof};
use crate::scheme::{Digest, Scheme};
use crate::tree::MerkleTree;

/// When batches close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// A batch closes when it holds this many records (at least 1).
    pub max_records: usize,
    /// A batch closes this long after it opened.
    pub window: TimeDelta,
}

impl BatchPolicy {
    /// PMU data, as in the field trial: 180 measurements or 3 minutes.
    pub fn pmu() -> Self {
        BatchPolicy {
            max_records: 180,
            window: TimeDelta::minutes(3),
        }
    }

    /// Smart-meter data: every 15 minutes (at most 4096 records per batch).
    pub fn smart_meter() -> Self {
        BatchPolicy {
            max_records: 4096,
            window: TimeDelta::minutes(15),
        }
    }
}

/// A sealed batch: its certificate and one proof per record, in leaf order.
#[derive(Debug, Clone)]
pub struct SealedBatch {
    /// The certificate.
    pub certificate: BatchCertificate,
    /// The certificate's hash (what the next certificate of the source points back to).
    pub certificate_hash: Digest,
    /// One proof per record, in the order the records were added.
    pub proofs: Vec<Proof>,
    /// How many records were late (timestamp before the previous batch's last timestamp).
    pub late_records: u64,
}

/// A sealed batch as its Merkle tree: the certificate, and the tree from which each record's
/// proof is made on demand (for large inputs, proofs can be written out without holding a
/// [`Proof`] per record).
#[derive(Debug, Clone)]
pub struct SealedTree {
    /// The certificate.
    pub certificate: BatchCertificate,
    /// The certificate's hash (what the next certificate of the source points back to).
    pub certificate_hash: Digest,
    /// The tree over the batch's leaves, in the order the records were added.
    pub tree: MerkleTree,
    /// How many records were late (timestamp before the previous batch's last timestamp).
    pub late_records: u64,
}

impl SealedTree {
    /// The proof of the record at `index`, with `anchor`'s status.
    pub fn proof(&self, index: usize, anchor: &AnchorStatus) -> Result<Proof> {
        let leaf = self.tree.leaf(index).ok_or_else(|| {
            CertifyError::Tree(format!(
                "leaf {index} of a tree of {}",
                self.tree.leaf_count()
            ))
        })?;
        Ok(Proof {
            format: PROOF_FORMAT.to_owned(),
            batch_id: self.certificate.batch_id.clone(),
            scheme: self.certificate.scheme,
            leaf_index: index as u64,
            leaf_count: self.certificate.leaf_count,
            leaf,
            siblings: self.tree.path(index)?,
            root: self.certificate.root,
            certificate: self.certificate_hash,
            anchor: anchor.clone(),
        })
    }

    /// Appends one proof line (the proof's JSON, as [`Proof::to_json`] writes it, and a newline)
    /// per record to `out`, in leaf order, each with `anchor`'s status.
    pub fn write_proof_lines(&self, anchor: &AnchorStatus, out: &mut Vec<u8>) -> Result<()> {
        let template = Proof {
            format: PROOF_FORMAT.to_owned(),
            batch_id: self.certificate.batch_id.clone(),
            scheme: self.certificate.scheme,
            leaf_index: 0,
            leaf_count: self.certificate.leaf_count,
            leaf: Digest::default(),
            siblings: Vec::new(),
            root: self.certificate.root,
            certificate: self.certificate_hash,
            anchor: anchor.clone(),
        };
        crate::proof::write_json_lines(&self.tree, &template, out)
    }

    /// The batch with every proof made (anchor pending).
    pub fn into_batch(self) -> Result<SealedBatch> {
        let pending = AnchorStatus::Pending;
        let proofs = (0..self.tree.leaf_count())
            .map(|index| self.proof(index, &pending))
            .collect::<Result<Vec<_>>>()?;
        Ok(SealedBatch {
            certificate: self.certificate,
            certificate_hash: self.certificate_hash,
            proofs,
            late_records: self.late_records,
        })
    }
}

#[derive(Debug, Default)]
struct SourceState {
    leaves: Vec<Digest>,
    opened_at: Option<Timestamp>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    late: u64,
    next_sequence: u64,
    previous: Option<Digest>,
    previous_last: Option<Timestamp>,
}

/// Groups records into batches per source and certifies them.
#[derive(Debug)]
pub struct Batcher {
    scheme: Scheme,
    policy: BatchPolicy,
    sources: HashMap<String, SourceState>,
    buffer: Vec<u8>,
}

impl Batcher {
    /// A batcher for `scheme` closing batches by `policy` (a `max_records` of 0 counts as 1).
    pub fn new(scheme: Scheme, mut policy: BatchPolicy) -> Self {
        policy.max_records = policy.max_records.max(1);
        Batcher {
            scheme,
            policy,
            sources: HashMap::new(),
            buffer: Vec::with_capacity(512),
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Continues `source`'s chain after an existing certificate (read back from a ledger).
    pub fn resume(&mut self, last: &BatchCertificate) -> Result<()> {
        let hash = last.hash()?;
        let state = self.sources.entry(last.source.clone()).or_default();
        state.next_sequence = last.sequence + 1;
        state.previous = Some(hash);
        state.previous_last = last.last_timestamp;
        Ok(())
    }

    /// Adds a record of `source` arriving at `now`; returns the batches this sealed (none, one,
    /// or two when an expired window and a full batch close together).
    pub fn add<R: Certifiable + ?Sized>(
        &mut self,
        source: &str,
        record: &R,
        now: Timestamp,
    ) -> Result<Vec<SealedBatch>> {
        self.buffer.clear();
        record.write_canonical(&mut self.buffer)?;
        let leaf = self.scheme.leaf_hash(&self.buffer);
        self.add_leaf(source, leaf, record.timestamp(), now)
    }

    /// Adds a record already reduced to its leaf hash (see [`Scheme::leaf_hash`]).
    pub fn add_leaf(
        &mut self,
        source: &str,
        leaf: Digest,
        timestamp: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<SealedBatch>> {
        into_batches(self.add_leaf_with_clock(source, leaf, timestamp, Some(now), now)?)
    }

    /// [`add_leaf`](Self::add_leaf) with the window's clock and the certificates' creation
    /// time given apart, and sealed batches returned as trees.
    ///
    /// `clock` is the time the window is measured on (a live system's arrival time, or the
    /// record's own time when replaying recorded data); `None` is a record that does not move
    /// the clock: it neither opens a window nor closes one, and only counts towards
    /// `max_records`. Every batch this seals is dated `created_at`.
    pub fn add_leaf_with_clock(
        &mut self,
        source: &str,
        leaf: Digest,
        timestamp: Option<Timestamp>,
        clock: Option<Timestamp>,
        created_at: Timestamp,
    ) -> Result<Vec<SealedTree>> {
        let (scheme, policy) = (self.scheme, self.policy);
        let state = match self.sources.get_mut(source) {
            Some(s) => s,
            None => self.sources.entry(source.to_owned()).or_default(),
        };
        let mut sealed = Vec::new();
        if let (Some(opened), Some(now)) = (state.opened_at, clock)
            && now - opened >= policy.window
        {
            sealed.push(seal(scheme, source, state, created_at)?);
        }
        if state.opened_at.is_none() {
            state.opened_at = clock;
        }
        state.leaves.push(leaf);
        if let Some(t) = timestamp {
            if state.previous_last.is_some_and(|p| t < p) {
                state.late += 1;
            }
            state.first = Some(state.first.map_or(t, |f| f.min(t)));
            state.last = Some(state.last.map_or(t, |l| l.max(t)));
        }
        if state.leaves.len() >= policy.max_records {
            sealed.push(seal(scheme, source, state, created_at)?);
        }
        Ok(sealed)
    }

    /// Seals every open batch whose window has run out by `now`.
    pub fn tick(&mut self, now: Timestamp) -> Result<Vec<SealedBatch>> {
        let (scheme, window) = (self.scheme, self.policy.window);
        let mut sealed = Vec::new();
        let mut names: Vec<&String> = self.sources.keys().collect();
        names.sort();
        let names: Vec<String> = names.into_iter().cloned().collect();
        for name in names {
            if let Some(state) = self.sources.get_mut(&name)
                && state.opened_at.is_some_and(|o| now - o >= window)
            {
                sealed.push(seal(scheme, &name, state, now)?.into_batch()?);
            }
        }
        Ok(sealed)
    }

    /// Seals every open batch now (at shutdown or the end of an input).
    pub fn flush(&mut self, now: Timestamp) -> Result<Vec<SealedBatch>> {
        into_batches(self.flush_trees(now)?)
    }

    /// [`flush`](Self::flush), dating the certificates `created_at` and returning trees.
    pub fn flush_trees(&mut self, created_at: Timestamp) -> Result<Vec<SealedTree>> {
        let scheme = self.scheme;
        let mut names: Vec<String> = self.sources.keys().cloned().collect();
        names.sort();
        let mut sealed = Vec::new();
        for name in names {
            if let Some(state) = self.sources.get_mut(&name)
                && !state.leaves.is_empty()
            {
                sealed.push(seal(scheme, &name, state, created_at)?);
            }
        }
        Ok(sealed)
    }
}

fn into_batches(trees: Vec<SealedTree>) -> Result<Vec<SealedBatch>> {
    trees.into_iter().map(SealedTree::into_batch).collect()
}

/// Seals `state`'s open batch dated `created_at` and moves its chain on.
fn seal(
    scheme: Scheme,
    source: &str,
    state: &mut SourceState,
    created_at: Timestamp,
) -> Result<SealedTree> {
    let sealed = seal_leaves(
        scheme,
        source,
        state.next_sequence,
        state.previous,
        &state.leaves,
        state.first.take(),
        state.last.take(),
        created_at,
    )?;
    state.leaves.clear();
    state.opened_at = None;
    state.next_sequence += 1;
    state.previous = Some(sealed.certificate_hash);
    state.previous_last = sealed.certificate.last_timestamp.or(state.previous_last);
    Ok(SealedTree {
        late_records: std::mem::take(&mut state.late),
        ..sealed
    })
}

/// Seals one batch of leaf hashes: builds the tree and the certificate at `sequence` of
/// `source`'s chain, pointing back to `previous`.
#[allow(clippy::too_many_arguments)]
pub fn seal_leaves(
    scheme: Scheme,
    source: &str,
    sequence: u64,
    previous: Option<Digest>,
    leaves: &[Digest],
    first_timestamp: Option<Timestamp>,
    last_timestamp: Option<Timestamp>,
    created_at: Timestamp,
) -> Result<SealedTree> {
    let tree = MerkleTree::new(scheme, leaves)?;
    let certificate = BatchCertificate {
        batch_id: BatchCertificate::batch_id_for(source, sequence),
        source: source.to_owned(),
        sequence,
        scheme,
        root: tree.root(),
        leaf_count: leaves.len() as u64,
        first_timestamp,
        last_timestamp,
        created_at,
        previous,
    };
    let certificate_hash = certificate.hash()?;
    Ok(SealedTree {
        certificate,
        certificate_hash,
        tree,
        late_records: 0,
    })
}

/// Certifies one batch of leaf hashes: [`seal_leaves`] and every proof.
#[allow(clippy::too_many_arguments)]
pub fn certify_leaves(
    scheme: Scheme,
    source: &str,
    sequence: u64,
    previous: Option<Digest>,
    leaves: &[Digest],
    first_timestamp: Option<Timestamp>,
    last_timestamp: Option<Timestamp>,
    created_at: Timestamp,
) -> Result<SealedBatch> {
    seal_leaves(
        scheme,
        source,
        sequence,
        previous,
        leaves,
        first_timestamp,
        last_timestamp,
        created_at,
    )?
    .into_batch()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::verify_record;

    fn t(s: &str) -> Timestamp {
        platone_model::parse_timestamp(s).unwrap()
    }

    #[test]
    fn closes_at_n_records_and_chains_per_source() {
        let mut b = Batcher::new(
            Scheme::Sha256,
            BatchPolicy {
                max_records: 3,
                window: TimeDelta::minutes(3),
            },
        );
        let now = t("2024-01-01T00:00:00Z");
        let mut sealed = Vec::new();
        let mut records = Vec::new();
        for i in 0..7 {
            let r = serde_json::json!({"i": i});
            sealed.extend(b.add("a", &r, now).unwrap());
            records.push(r);
            sealed.extend(b.add("b", &serde_json::json!({"j": i}), now).unwrap());
        }
        sealed.extend(b.flush(now).unwrap());
        let a: Vec<&SealedBatch> = sealed
            .iter()
            .filter(|s| s.certificate.source == "a")
            .collect();
        assert_eq!(
            a.iter().map(|s| s.proofs.len()).collect::<Vec<_>>(),
            [3, 3, 1]
        );
        assert_eq!(a[0].certificate.previous, None);
        assert_eq!(a[1].certificate.previous, Some(a[0].certificate_hash));
        assert_eq!(a[2].certificate.previous, Some(a[1].certificate_hash));
        assert_eq!(a[2].certificate.batch_id, "a:2");
        for (i, r) in records.iter().enumerate() {
            let s = a[i / 3];
            assert!(verify_record(r, &s.proofs[i % 3], &s.certificate).is_verified());
        }
    }

    #[test]
    fn window_closes_batches_and_late_records_are_counted() {
        let mut b = Batcher::new(Scheme::Keccak, BatchPolicy::pmu());
        let rec = |ts: &str| serde_json::json!({"timestamp": ts, "v": 1});
        assert!(
            b.add("p", &rec("2024-01-01T00:00:10Z"), t("2024-01-01T00:00:10Z"))
                .unwrap()
                .is_empty()
        );
        assert!(
            b.add("p", &rec("2024-01-01T00:00:05Z"), t("2024-01-01T00:01:00Z"))
                .unwrap()
                .is_empty()
        );
        let s = b
            .add("p", &rec("2024-01-01T00:03:20Z"), t("2024-01-01T00:03:20Z"))
            .unwrap();
        assert_eq!(s.len(), 1);
        let c = &s[0].certificate;
        assert_eq!(c.leaf_count, 2);
        assert_eq!(c.first_timestamp, Some(t("2024-01-01T00:00:05Z")));
        assert_eq!(c.last_timestamp, Some(t("2024-01-01T00:00:10Z")));
        // A late record (before the previous batch's last timestamp) is certified and counted.
        b.add("p", &rec("2024-01-01T00:00:01Z"), t("2024-01-01T00:03:30Z"))
            .unwrap();
        assert!(b.tick(t("2024-01-01T00:04:00Z")).unwrap().is_empty());
        let s = b.tick(t("2024-01-01T00:06:20Z")).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].certificate.leaf_count, 2);
        assert_eq!(s[0].late_records, 1);
        assert!(b.flush(t("2024-01-01T00:07:00Z")).unwrap().is_empty());
    }
}
