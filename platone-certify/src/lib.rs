//! Certification for the Platone SDK.
//!
//! This crate makes stored measurements tamper-evident: canonical hashing of records
//! (`platone-cert/1`, RFC 8785 JSON), Merkle batch certificates with self-contained proofs that
//! anyone can verify offline, device signatures (secp256k1, EIP-712 / EIP-191) with a key
//! registry, and the [`Ledger`] on which certificates are anchored, with the embedded
//! [`FileLedger`] by default.
//!
//! ```
//! use platone_certify::{Batcher, BatchPolicy, Scheme, verify_record};
//!
//! let now = platone_model::parse_timestamp("2024-03-01T12:00:00Z")?;
//! let mut batcher = Batcher::new(Scheme::Keccak, BatchPolicy::pmu());
//! let records: Vec<serde_json::Value> = (0..5)
//!     .map(|i| serde_json::json!({"source": "pmu-7", "value": 230.0 + f64::from(i)}))
//!     .collect();
//! for r in &records {
//!     batcher.add("pmu-7", r, now)?;
//! }
//! let batch = batcher.flush(now)?.remove(0);
//! assert_eq!(batch.certificate.leaf_count, 5);
//! for (record, proof) in records.iter().zip(&batch.proofs) {
//!     assert!(verify_record(record, proof, &batch.certificate).is_verified());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod batcher;
pub mod canonical;
pub mod certificate;
pub mod chain_anchor;
pub mod envelope;
pub mod error;
mod journal;
pub mod ledger;
#[cfg(feature = "openapi")]
mod openapi;
pub mod proof;
pub mod registry;
pub mod scheme;
pub mod signature;
pub mod stream;
pub mod tree;
pub mod verify;

pub use batcher::{BatchPolicy, Batcher, SealedBatch, SealedTree, certify_leaves, seal_leaves};
pub use canonical::{CANONICAL_ENCODING, Certifiable, JsonRecord, canonicalize_json};
pub use certificate::{Anchor, AnchorStatus, BatchCertificate, now};
pub use chain_anchor::ChainAnchor;
pub use envelope::{SignatureScheme, SignedEnvelope};
pub use error::{CertifyError, Result};
pub use ledger::{BoxFuture, FileLedger, Ledger, LedgerEntry, LedgerVerifier, verify_with_ledger};
pub use proof::{PROOF_FORMAT, Proof};
pub use scheme::{Digest, Scheme};
pub use signature::{DeviceKey, DevicePacket};
pub use stream::{CertifiedStream, StreamOptions, certify_json_lines, write_proof_lines};
pub use tree::MerkleTree;
pub use verify::{
    MismatchReason, Verification, verify_canonical, verify_canonical_with_hash, verify_leaf,
    verify_leaf_with_hash, verify_record,
};
