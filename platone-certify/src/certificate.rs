//! Batch certificates (one per batch, chained per source) and anchor status.

use serde::{Deserialize, Serialize};

use platone_model::Timestamp;

use crate::canonical::Certifiable;
use crate::chain_anchor::{AnchorWire, ChainAnchor};
use crate::error::{CertifyError, Result};
use crate::scheme::{Digest, Scheme};

/// The current time, in UTC.
pub fn now() -> Timestamp {
    chrono::Utc::now().fixed_offset()
}

/// The certificate of one batch: what its Merkle root is and where it sits in its source's
/// chain. Its [`hash`](BatchCertificate::hash) is what the next certificate of the same source
/// points back to and what a ledger records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        description = "The certificate of one batch: its Merkle root and its place in its \
        source's chain (`previous` is the hash of the source's certificate before it)."
    )
)]
#[serde(deny_unknown_fields)]
pub struct BatchCertificate {
    /// The batch's identifier: `SOURCE:SEQUENCE`.
    pub batch_id: String,
    /// The source (device, PMU, meter) whose records the batch holds.
    pub source: String,
    /// The batch's position in its source's chain, from 0.
    pub sequence: u64,
    /// The Merkle scheme.
    pub scheme: Scheme,
    /// The Merkle root.
    pub root: Digest,
    /// The number of records (leaves).
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub leaf_count: u64,
    /// The earliest record timestamp in the batch, when records carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub first_timestamp: Option<Timestamp>,
    /// The latest record timestamp in the batch, when records carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_timestamp: Option<Timestamp>,
    /// When the batch was sealed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// The hash of the previous certificate of the same source (null for the first).
    #[serde(default)]
    pub previous: Option<Digest>,
}

impl BatchCertificate {
    /// The identifier of batch `sequence` of `source`.
    pub fn batch_id_for(source: &str, sequence: u64) -> String {
        format!("{source}:{sequence}")
    }

    /// SHA-256 of the certificate's `platone-cert/1` canonical JSON.
    pub fn hash(&self) -> Result<Digest> {
        let value =
            serde_json::to_value(self).map_err(|e| CertifyError::Serialise(e.to_string()))?;
        Ok(Digest::sha256(&value.canonical_bytes()?))
    }

    /// Checks the fields agree with each other (identifier, sizes, chain start).
    pub fn check(&self) -> Result<()> {
        let problem = if self.batch_id != Self::batch_id_for(&self.source, self.sequence) {
            Some("batch_id is not SOURCE:SEQUENCE")
        } else if self.leaf_count == 0 {
            Some("leaf_count is 0")
        } else if (self.sequence == 0) != self.previous.is_none() {
            Some("only the first certificate of a source lacks `previous`")
        } else {
            None
        };
        match problem {
            Some(message) => Err(CertifyError::Batch {
                batch_id: self.batch_id.clone(),
                message: message.into(),
            }),
            None => Ok(()),
        }
    }
}

/// Where a certificate is anchored.
///
/// In JSON, one object: `ledger`, `entry`, `position`, `time`, and for an anchor on chain the
/// [`ChainAnchor`] fields beside them (`chain_id`, `contract`, `root`, `certificate_hash`,
/// `path`, `transaction`, `block`, `certificate`) — all of them or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AnchorWire", into = "AnchorWire")]
pub struct Anchor {
    /// The ledger (`file:PATH` for a [`FileLedger`](crate::FileLedger),
    /// `eip155:CHAIN_ID:CONTRACT` on chain).
    pub ledger: String,
    /// The ledger entry's hash, or the anchoring transaction's hash.
    pub entry: String,
    /// The entry's position (entry number, or the anchor's position in the contract).
    pub position: u64,
    /// When the ledger confirmed it (on chain: the block's time).
    pub time: Timestamp,
    /// On chain: the path from the certificate to the anchored root and where that root is.
    pub chain: Option<Box<ChainAnchor>>,
}

/// Whether a certificate (and so each proof under it) is anchored yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
#[non_exhaustive]
pub enum AnchorStatus {
    /// Submitted or about to be; not yet confirmed by the ledger.
    Pending,
    /// Confirmed by the ledger.
    Anchored(Anchor),
}

impl AnchorStatus {
    /// Attaches `anchor` once it is known. Idempotent: upgrading again with the same anchor
    /// changes nothing and returns `Ok(false)`; a different anchor is a conflict.
    pub fn upgrade(&mut self, batch_id: &str, anchor: &Anchor) -> Result<bool> {
        match self {
            AnchorStatus::Pending => {
                *self = AnchorStatus::Anchored(anchor.clone());
                Ok(true)
            }
            AnchorStatus::Anchored(existing) if existing == anchor => Ok(false),
            AnchorStatus::Anchored(existing) => Err(CertifyError::AnchorConflict {
                batch_id: batch_id.to_owned(),
                existing: format!("{}#{}", existing.ledger, existing.position),
                offered: format!("{}#{}", anchor.ledger, anchor.position),
            }),
        }
    }

    /// The anchor, once there is one.
    pub fn anchor(&self) -> Option<&Anchor> {
        match self {
            AnchorStatus::Pending => None,
            AnchorStatus::Anchored(a) => Some(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(position: u64) -> Anchor {
        Anchor {
            ledger: "file:/tmp/l".into(),
            entry: "0xab".into(),
            position,
            time: platone_model::parse_timestamp("2024-01-01T00:00:00Z").unwrap(),
            chain: None,
        }
    }

    #[test]
    fn upgrade_is_idempotent_and_refuses_a_different_anchor() {
        let mut status = AnchorStatus::Pending;
        assert!(status.upgrade("s:0", &anchor(1)).unwrap());
        assert!(!status.upgrade("s:0", &anchor(1)).unwrap());
        assert!(matches!(
            status.upgrade("s:0", &anchor(2)),
            Err(CertifyError::AnchorConflict { .. })
        ));
        assert_eq!(status.anchor(), Some(&anchor(1)));
    }
}
