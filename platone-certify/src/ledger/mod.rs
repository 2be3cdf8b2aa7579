//! Ledgers on which batch certificates are anchored.
//!
//! The [`Ledger`] trait is asynchronous and shaped for a blockchain backend: [`Ledger::anchor`]
//! may return [`AnchorStatus::Pending`] (a transaction submitted, not yet confirmed), and
//! [`Ledger::status`] reports when it is confirmed. The embedded [`FileLedger`] confirms as soon
//! as the entry is fsync'd.

mod file;
mod index;

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use platone_model::Timestamp;

use crate::canonical::Certifiable;
use crate::certificate::{AnchorStatus, BatchCertificate};
use crate::error::Result;
use crate::proof::Proof;
use crate::scheme::Digest;
use crate::verify::{MismatchReason, Verification, verify_canonical_with_hash};

pub use file::FileLedger;

/// One ledger entry: a certificate, where it sits, and the hash chaining it to the entry before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// The entry's position, from 0.
    pub position: u64,
    /// The hash of the entry before (all zeros for the first).
    pub previous: Digest,
    /// The certificate.
    pub certificate: BatchCertificate,
    /// The certificate's hash.
    pub certificate_hash: Digest,
    /// When the ledger recorded it.
    pub recorded_at: Timestamp,
    /// This entry's hash: SHA-256(previous ‖ position as 8 bytes big-endian ‖ certificate_hash
    /// ‖ recorded_at as RFC 3339 text).
    pub entry: Digest,
}

impl LedgerEntry {
    /// The entry hash its fields call for.
    pub fn compute_hash(&self) -> Digest {
        entry_hash(
            &self.previous,
            self.position,
            &self.certificate_hash,
            &self.recorded_at,
        )
    }

    /// Checks the entry is whole: its certificate hashes to `certificate_hash`, its own hash is
    /// right, and the certificate is internally consistent.
    pub fn check(&self) -> std::result::Result<(), String> {
        let hash = self.certificate.hash().map_err(|e| e.to_string())?;
        if hash != self.certificate_hash {
            return Err(format!(
                "certificate of batch {} hashes to {hash}, the entry records {}",
                self.certificate.batch_id, self.certificate_hash
            ));
        }
        if self.compute_hash() != self.entry {
            return Err(format!(
                "entry {} hashes to {}, it records {}",
                self.position,
                self.compute_hash(),
                self.entry
            ));
        }
        self.certificate.check().map_err(|e| e.to_string())
    }
}

pub(crate) fn entry_hash(
    previous: &Digest,
    position: u64,
    certificate_hash: &Digest,
    recorded_at: &Timestamp,
) -> Digest {
    let mut data = Vec::with_capacity(112);
    data.extend_from_slice(&previous.0);
    data.extend_from_slice(&position.to_be_bytes());
    data.extend_from_slice(&certificate_hash.0);
    data.extend_from_slice(platone_model::format_timestamp(recorded_at).as_bytes());
    Digest::sha256(&data)
}

/// A problem found by a consistency check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerProblem {
    /// The entry (line) concerned, from 0.
    pub position: u64,
    /// Its byte offset in the ledger, when the ledger is a file.
    pub offset: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LedgerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(o) => write!(f, "entry {} (byte {o}): {}", self.position, self.message),
            None => write!(f, "entry {}: {}", self.position, self.message),
        }
    }
}

/// The outcome of a consistency check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsistencyReport {
    /// How many entries were checked.
    pub entries: u64,
    /// Everything found wrong; empty when the ledger is consistent.
    pub problems: Vec<LedgerProblem>,
}

impl ConsistencyReport {
    /// Whether no problem was found.
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A boxed, sendable future borrowing from `'a`: what [`Ledger`] methods return, so that the
/// trait stays object-safe (`Arc<dyn Ledger>`) while implementations stay asynchronous.
///
/// An implementation writes `Box::pin(async move { … })`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A ledger of batch certificates, object-safe: the BAL and the CLI hold an `Arc<dyn Ledger>`.
///
/// # Contract
///
/// Every implementation (the embedded [`FileLedger`], a blockchain ledger) keeps these rules;
/// the BAL relies on them to retry without duplicating and to never lose a certificate.
///
/// * **Idempotent anchoring.** Anchoring a certificate whose batch is already in the ledger
///   *with the same certificate hash* succeeds and returns that batch's current status (the
///   same anchor once anchored); nothing is recorded twice. The same batch with a *different*
///   certificate is refused ([`CertifyError::Refused`](crate::CertifyError::Refused)).
/// * **Chain refusal.** Certificates of one source form a chain: sequence 0 has no `previous`,
///   sequence `n + 1` points back (`previous`) to the hash of sequence `n`. A certificate that
///   does not follow the last one of its source in the ledger (a gap, a fork, a wrong
///   `previous`) is refused with [`CertifyError::Refused`](crate::CertifyError::Refused). In [`Ledger::anchor_all`]
///   certificates earlier in the same call count as already in the ledger; a refusal refuses
///   the whole call (nothing of it is recorded), so a caller can retry it as a unit.
/// * **Pending and Anchored.** `anchor` returns [`AnchorStatus::Anchored`] once the entry is
///   durable (fsync'd for a file, confirmed at the ledger's required depth for a chain) and
///   [`AnchorStatus::Pending`] while it is only submitted. [`Ledger::status`] turns from
///   `Pending` to `Anchored` when it becomes durable, and never back; `get` and `list` only
///   return durable entries. A pending certificate already counts for chaining and
///   idempotence.
/// * **Errors.** [`CertifyError::Unavailable`](crate::CertifyError::Unavailable) (and [`CertifyError::Io`](crate::CertifyError::Io)) mean the engine could
///   not be reached or could not write — *nothing was decided*, the caller retries later with
///   the same certificates ([`CertifyError::is_retryable`](crate::CertifyError::is_retryable)). [`CertifyError::Refused`](crate::CertifyError::Refused) means
///   the ledger decided against this certificate; retrying it will not help. Any other error
///   is a bad argument (a certificate that is not internally consistent).
/// * **Reads are consistent with writes**: once `anchor` returned, `status` and (once
///   anchored) `get` see the entry in the same process.
pub trait Ledger: Send + Sync {
    /// A name for the ledger, used in anchors (`file:PATH`, `eip155:CHAIN:CONTRACT`).
    fn name(&self) -> String;

    /// Submits a certificate. A ledger that confirms later returns
    /// [`AnchorStatus::Pending`]; anchoring the same certificate again is idempotent, and a
    /// certificate that breaks its source's chain is refused (see the trait's contract).
    fn anchor<'a>(
        &'a self,
        certificate: &'a BatchCertificate,
    ) -> BoxFuture<'a, Result<AnchorStatus>>;

    /// Submits several certificates at once (one fsync or one transaction where the ledger
    /// can), in order; all or nothing.
    fn anchor_all<'a>(
        &'a self,
        certificates: &'a [BatchCertificate],
    ) -> BoxFuture<'a, Result<Vec<AnchorStatus>>>;

    /// The anchor status of a batch submitted earlier: `Pending` until confirmed, `None` when
    /// the ledger never saw it.
    fn status<'a>(&'a self, batch_id: &'a str) -> BoxFuture<'a, Result<Option<AnchorStatus>>>;

    /// The entry of a batch, once confirmed.
    fn get<'a>(&'a self, batch_id: &'a str) -> BoxFuture<'a, Result<Option<LedgerEntry>>>;

    /// The confirmed entries of `source` whose sequence numbers lie in `sequences`, in order.
    fn list<'a>(
        &'a self,
        source: &'a str,
        sequences: Range<u64>,
    ) -> BoxFuture<'a, Result<Vec<LedgerEntry>>>;

    /// Every source with a certificate in the ledger (pending ones included), sorted.
    fn sources(&self) -> BoxFuture<'_, Result<Vec<String>>>;

    /// The latest certificate of `source` (pending ones included), to resume its chain.
    fn last_certificate<'a>(
        &'a self,
        source: &'a str,
    ) -> BoxFuture<'a, Result<Option<BatchCertificate>>>;

    /// Re-reads the whole ledger and checks every entry, the entry chain and every source's
    /// certificate chain. This is an explicit, possibly long operation (it reads everything);
    /// opening a ledger does not do it.
    fn check_consistency(&self) -> BoxFuture<'_, Result<ConsistencyReport>>;
}

/// Verifies a record against its proof and the ledger: the certificate must be in the ledger,
/// whole, at the anchor the proof names (if any), and follow its predecessor; then content,
/// path and root are checked against the ledger's certificate.
pub async fn verify_with_ledger<L: Ledger + ?Sized, R: Certifiable + ?Sized>(
    record: &R,
    proof: &Proof,
    ledger: &L,
) -> Result<Verification> {
    let canonical = match record.canonical_bytes() {
        Ok(b) => b,
        Err(e) => {
            return Ok(Verification::mismatch(MismatchReason::Content(format!(
                "record cannot be canonicalised: {e}"
            ))));
        }
    };
    verify_canonical_with_ledger(&canonical, proof, ledger).await
}

/// [`verify_with_ledger`] for a record already in canonical bytes.
pub async fn verify_canonical_with_ledger<L: Ledger + ?Sized>(
    canonical: &[u8],
    proof: &Proof,
    ledger: &L,
) -> Result<Verification> {
    LedgerVerifier::new(ledger)
        .verify_canonical(canonical, proof)
        .await
}

/// Verifies many records against one ledger, checking each batch's ledger entry and chain
/// link once.
pub struct LedgerVerifier<'a, L: ?Sized> {
    ledger: &'a L,
    batches: HashMap<String, std::result::Result<LedgerEntry, MismatchReason>>,
}

impl<L: Ledger + ?Sized> std::fmt::Debug for LedgerVerifier<'_, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerVerifier")
            .field("ledger", &self.ledger.name())
            .field("batches", &self.batches.len())
            .finish()
    }
}

impl<'a, L: Ledger + ?Sized> LedgerVerifier<'a, L> {
    /// A verifier reading `ledger`.
    pub fn new(ledger: &'a L) -> Self {
        LedgerVerifier {
            ledger,
            batches: HashMap::new(),
        }
    }

    /// Verifies one record (canonical bytes) and its proof.
    pub async fn verify_canonical(
        &mut self,
        canonical: &[u8],
        proof: &Proof,
    ) -> Result<Verification> {
        if !self.batches.contains_key(&proof.batch_id) {
            let checked = check_batch(self.ledger, &proof.batch_id).await?;
            self.batches.insert(proof.batch_id.clone(), checked);
        }
        let entry = match self.batches.get(&proof.batch_id) {
            Some(Ok(entry)) => entry,
            Some(Err(reason)) => return Ok(Verification::mismatch(reason.clone())),
            None => {
                return Ok(Verification::mismatch(MismatchReason::Anchor(format!(
                    "batch {} is not in the ledger",
                    proof.batch_id
                ))));
            }
        };
        if let Some(chain) = proof.anchor.anchor().and_then(|a| a.chain.as_deref()) {
            if let Err(reason) = chain.check(proof) {
                return Ok(Verification::mismatch(reason));
            }
        } else if let Some(anchor) = proof.anchor.anchor()
            && (anchor.position != entry.position || anchor.entry != entry.entry.to_string())
        {
            return Ok(Verification::mismatch(MismatchReason::Anchor(format!(
                "proof names ledger entry {} ({}), the ledger has batch {} at entry {} ({})",
                anchor.position, anchor.entry, proof.batch_id, entry.position, entry.entry
            ))));
        }
        Ok(verify_canonical_with_hash(
            canonical,
            proof,
            &entry.certificate,
            &entry.certificate_hash,
        ))
    }
}

/// Checks a batch's ledger entry (present, whole) and its link to the batch before.
async fn check_batch<L: Ledger + ?Sized>(
    ledger: &L,
    batch_id: &str,
) -> Result<std::result::Result<LedgerEntry, MismatchReason>> {
    let Some(entry) = ledger.get(batch_id).await? else {
        return Ok(Err(MismatchReason::Anchor(format!(
            "batch {batch_id} is not in the ledger {}",
            ledger.name()
        ))));
    };
    if let Err(message) = entry.check() {
        return Ok(Err(MismatchReason::Anchor(message)));
    }
    let certificate = &entry.certificate;
    if certificate.sequence > 0 {
        let previous_id =
            BatchCertificate::batch_id_for(&certificate.source, certificate.sequence - 1);
        match ledger.get(&previous_id).await? {
            None => {
                return Ok(Err(MismatchReason::Chain(format!(
                    "previous batch {previous_id} is not in the ledger"
                ))));
            }
            Some(prev) if Some(prev.certificate_hash) != certificate.previous => {
                return Ok(Err(MismatchReason::Chain(format!(
                    "batch {} points back to {}, batch {previous_id} hashes to {}",
                    certificate.batch_id,
                    certificate
                        .previous
                        .map_or_else(|| "nothing".to_owned(), |d| d.to_string()),
                    prev.certificate_hash
                ))));
            }
            Some(prev) => {
                if let Err(message) = prev.check() {
                    return Ok(Err(MismatchReason::Chain(format!(
                        "previous batch {previous_id}: {message}"
                    ))));
                }
            }
        }
    }
    Ok(Ok(entry))
}
