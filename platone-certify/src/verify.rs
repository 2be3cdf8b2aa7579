//! Verification of one record against its proof and certificate.

use std::fmt;

use crate::canonical::Certifiable;
use crate::certificate::BatchCertificate;
use crate::proof::Proof;
use crate::scheme::Digest;
use crate::tree::root_from_path;

/// What failed when a record does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MismatchReason {
    /// The record's content does not hash to the proof's leaf (the record was altered).
    Content(String),
    /// The proof's path does not lead from its leaf to its root (a sibling, the index or the
    /// size was altered), or the proof is malformed.
    Path(String),
    /// The proof leads to a root, but not to the certificate's root (or not the certificate's
    /// scheme, batch or size).
    Root(String),
    /// The certificate is missing from the ledger, differs from it, or the ledger entry is
    /// damaged.
    Anchor(String),
    /// The certificate does not follow its predecessor in its source's chain.
    Chain(String),
}

impl MismatchReason {
    /// The part that failed: `content`, `path`, `root`, `anchor` or `chain`.
    pub fn kind(&self) -> &'static str {
        match self {
            MismatchReason::Content(_) => "content",
            MismatchReason::Path(_) => "path",
            MismatchReason::Root(_) => "root",
            MismatchReason::Anchor(_) => "anchor",
            MismatchReason::Chain(_) => "chain",
        }
    }

    /// The explanation.
    pub fn message(&self) -> &str {
        match self {
            MismatchReason::Content(m)
            | MismatchReason::Path(m)
            | MismatchReason::Root(m)
            | MismatchReason::Anchor(m)
            | MismatchReason::Chain(m) => m,
        }
    }
}

impl fmt::Display for MismatchReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

/// The outcome of verifying one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The record is exactly the one certified.
    Verified,
    /// It is not; the reason says what failed.
    Mismatch {
        /// What failed.
        reason: MismatchReason,
    },
}

impl Verification {
    /// Whether the record verified.
    pub fn is_verified(&self) -> bool {
        matches!(self, Verification::Verified)
    }

    pub(crate) fn mismatch(reason: MismatchReason) -> Self {
        Verification::Mismatch { reason }
    }
}

/// Verifies a record against its proof and the certificate of its batch (content, path, root).
///
/// ```
/// use platone_certify::{Batcher, BatchPolicy, Scheme, verify_record};
/// let now = platone_model::parse_timestamp("2024-01-01T00:00:00Z")?;
/// let mut batcher = Batcher::new(Scheme::Sha256, BatchPolicy::pmu());
/// let record = serde_json::json!({"source": "pmu-1", "value": 1.5});
/// batcher.add("pmu-1", &record, now)?;
/// let sealed = batcher.flush(now)?.remove(0);
/// assert!(verify_record(&record, &sealed.proofs[0], &sealed.certificate).is_verified());
/// let altered = serde_json::json!({"source": "pmu-1", "value": 1.6});
/// assert!(!verify_record(&altered, &sealed.proofs[0], &sealed.certificate).is_verified());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_record<R: Certifiable + ?Sized>(
    record: &R,
    proof: &Proof,
    certificate: &BatchCertificate,
) -> Verification {
    match record.canonical_bytes() {
        Ok(bytes) => verify_canonical(&bytes, proof, certificate),
        Err(e) => Verification::mismatch(MismatchReason::Content(format!(
            "record cannot be canonicalised: {e}"
        ))),
    }
}

/// [`verify_record`] for a record already in canonical bytes.
pub fn verify_canonical(
    canonical: &[u8],
    proof: &Proof,
    certificate: &BatchCertificate,
) -> Verification {
    let leaf = proof.scheme.leaf_hash(canonical);
    if leaf != proof.leaf {
        return Verification::mismatch(MismatchReason::Content(format!(
            "record hashes to {leaf}, the proof certifies {}",
            proof.leaf
        )));
    }
    verify_leaf(proof, certificate)
}

/// Verifies the proof's own leaf against the certificate (path and root), without the record.
pub fn verify_leaf(proof: &Proof, certificate: &BatchCertificate) -> Verification {
    match certificate.hash() {
        Ok(hash) => verify_leaf_with_hash(proof, certificate, &hash),
        Err(e) => Verification::mismatch(MismatchReason::Anchor(e.to_string())),
    }
}

/// [`verify_canonical`] when the certificate's hash is already known (bulk verification).
pub fn verify_canonical_with_hash(
    canonical: &[u8],
    proof: &Proof,
    certificate: &BatchCertificate,
    certificate_hash: &Digest,
) -> Verification {
    let leaf = proof.scheme.leaf_hash(canonical);
    if leaf != proof.leaf {
        return Verification::mismatch(MismatchReason::Content(format!(
            "record hashes to {leaf}, the proof certifies {}",
            proof.leaf
        )));
    }
    verify_leaf_with_hash(proof, certificate, certificate_hash)
}

/// [`verify_leaf`] when the certificate's hash is already known: `certificate_hash` must be
/// [`BatchCertificate::hash`] of `certificate` (a ledger entry's checked `certificate_hash`).
pub fn verify_leaf_with_hash(
    proof: &Proof,
    certificate: &BatchCertificate,
    certificate_hash: &Digest,
) -> Verification {
    let computed = match root_from_path(
        proof.scheme,
        proof.leaf,
        proof.leaf_index,
        proof.leaf_count,
        &proof.siblings,
    ) {
        Ok(root) => root,
        Err(e) => return Verification::mismatch(MismatchReason::Path(e.to_string())),
    };
    let root_problem = if proof.batch_id != certificate.batch_id {
        Some(format!(
            "proof is for batch {}, the certificate is for {}",
            proof.batch_id, certificate.batch_id
        ))
    } else if proof.scheme != certificate.scheme {
        Some(format!(
            "proof uses {}, the certificate {}",
            proof.scheme, certificate.scheme
        ))
    } else if proof.leaf_count != certificate.leaf_count {
        Some(format!(
            "proof says the batch has {} records, the certificate {}",
            proof.leaf_count, certificate.leaf_count
        ))
    } else {
        None
    };
    if computed != certificate.root {
        let reason = if computed == proof.root {
            MismatchReason::Root(format!(
                "proof leads to root {computed}, the certificate's root is {}",
                certificate.root
            ))
        } else {
            MismatchReason::Path(format!(
                "path of leaf {} of {} leads to {computed}, not to the proof's root {}",
                proof.leaf_index, proof.leaf_count, proof.root
            ))
        };
        return Verification::mismatch(reason);
    }
    if let Some(message) = root_problem {
        return Verification::mismatch(MismatchReason::Root(message));
    }
    if proof.root != certificate.root {
        return Verification::mismatch(MismatchReason::Root(format!(
            "proof names root {}, the certificate's root is {}",
            proof.root, certificate.root
        )));
    }
    if *certificate_hash != proof.certificate {
        return Verification::mismatch(MismatchReason::Anchor(format!(
            "proof was issued under certificate {}, this certificate hashes to {certificate_hash}",
            proof.certificate
        )));
    }
    Verification::Verified
}
