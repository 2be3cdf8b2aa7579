//! Where on an Ethereum chain a batch certificate is anchored, with everything needed to check
//! it from the chain alone.
//!
//! An on-chain ledger anchors many batches per transaction: the `CertificationAnchor`
//! contract stores, at each position, the root of an OpenZeppelin `StandardMerkleTree`
//! (keccak, sorted pairs) over the certificate hashes of the batches it covers. A
//! [`ChainAnchor`] carries the batch's certificate, its hash, the path from that hash to the
//! anchored root, and where the root is (chain, contract, position, transaction, block). A
//! verifier then needs nothing but the record, its proof and a node:
//!
//! 1. the record hashes to the proof's leaf, whose path leads to the proof's root
//!    ([`verify_canonical_with_hash`](crate::verify_canonical_with_hash));
//! 2. the certificate names that root, batch, scheme and size, and hashes to
//!    `certificate_hash`, which is the proof's `certificate` ([`ChainAnchor::check`]);
//! 3. the path leads from `certificate_hash`'s leaf to `root`
//!    ([`ChainAnchor::path_reaches_root`]);
//! 4. the contract holds `root` at `position` (`anchorAt(position)`), or equally its
//!    `verifyBatch(position, certificate_hash, path)` returns true.

use serde::{Deserialize, Serialize};

use platone_model::Timestamp;

use crate::certificate::{Anchor, BatchCertificate};
use crate::error::{CertifyError, Result};
use crate::proof::Proof;
use crate::scheme::{Digest, Scheme};
use crate::tree::oz_process_proof;
use crate::verify::MismatchReason;

/// Where on chain a batch certificate is anchored (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainAnchor {
    /// The chain id (EIP-155).
    pub chain_id: u64,
    /// The `CertificationAnchor` contract: `0x` and 40 hex digits.
    pub contract: String,
    /// The anchored root (the aggregate tree over certificate hashes).
    pub root: Digest,
    /// The batch's certificate hash ([`BatchCertificate::hash`]).
    pub certificate_hash: Digest,
    /// The sibling hashes from the certificate hash's leaf to `root`, in OpenZeppelin
    /// `MerkleProof` order (sorted pairs, no direction flags).
    pub path: Vec<Digest>,
    /// The anchoring transaction's hash.
    pub transaction: Digest,
    /// The block that holds the transaction.
    pub block: u64,
    /// The batch's certificate, which binds the batch's Merkle root to `certificate_hash`.
    pub certificate: BatchCertificate,
}

impl ChainAnchor {
    /// The aggregate tree's leaf for `certificate_hash`: keccak256(keccak256(hash)), as
    /// OpenZeppelin's `StandardMerkleTree` hashes a `bytes32` value.
    pub fn leaf(&self) -> Digest {
        Scheme::keccak_leaf_of_content(self.certificate_hash)
    }

    /// Whether `path` leads from the certificate hash's leaf to `root` (offline).
    pub fn path_reaches_root(&self) -> bool {
        oz_process_proof(self.leaf(), &self.path) == self.root
    }

    /// Checks, offline, that this anchor covers `proof`'s batch: the certificate hashes to
    /// `certificate_hash`, which is the proof's certificate, and the path reaches `root`. The
    /// record itself is checked against [`certificate`](Self::certificate) by
    /// [`verify_canonical_with_hash`](crate::verify_canonical_with_hash).
    pub fn check(&self, proof: &Proof) -> std::result::Result<(), MismatchReason> {
        let hash = self
            .certificate
            .hash()
            .map_err(|e| MismatchReason::Anchor(e.to_string()))?;
        if hash != self.certificate_hash {
            return Err(MismatchReason::Anchor(format!(
                "the anchor's certificate hashes to {hash}, the anchor names {}",
                self.certificate_hash
            )));
        }
        if self.certificate_hash != proof.certificate {
            return Err(MismatchReason::Anchor(format!(
                "the proof's certificate is {}, the anchor's {}",
                proof.certificate, self.certificate_hash
            )));
        }
        if !self.path_reaches_root() {
            return Err(MismatchReason::Anchor(format!(
                "the anchor path does not lead from certificate {} to root {}",
                self.certificate_hash, self.root
            )));
        }
        Ok(())
    }

    /// The `ledger` name an anchor on this chain carries: `eip155:CHAIN_ID:CONTRACT`.
    pub fn ledger_name(&self) -> String {
        format!("eip155:{}:{}", self.chain_id, self.contract)
    }

    pub(crate) fn check_contract(contract: &str) -> Result<()> {
        let digits = contract.strip_prefix("0x").unwrap_or("");
        if digits.len() == 40 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(())
        } else {
            Err(CertifyError::malformed(
                "anchor",
                "contract",
                format!("{contract:?} is not 0x and 40 hex digits"),
            ))
        }
    }
}

/// [`Anchor`]'s JSON object: `ledger`, `entry`, `position`, `time`, and for an anchor on
/// chain every [`ChainAnchor`] field beside them (`position` is then the contract's position).
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        as = Anchor,
        description = "Where a batch certificate is anchored: `ledger`, `entry`, `position` and \
            `time`; on chain also every other member, all of them or none."
    )
)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnchorWire {
    /// The ledger: `file:PATH`, or `eip155:CHAIN_ID:CONTRACT` on chain.
    ledger: String,
    /// The ledger entry's hash, or the anchoring transaction's hash.
    entry: String,
    /// The entry's position (entry number, or the anchor's position in the contract).
    position: u64,
    /// When the ledger confirmed it (on chain: the block's time).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(deserialize_with = "strict_time")]
    time: Timestamp,
    /// On chain: the chain id (EIP-155).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chain_id: Option<u64>,
    /// On chain: the `CertificationAnchor` contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^0x[0-9a-fA-F]{40}$"))]
    contract: Option<String>,
    /// On chain: the anchored root of the aggregate tree over certificate hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    root: Option<Digest>,
    /// On chain: the batch's certificate hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate_hash: Option<Digest>,
    /// On chain: the sibling hashes from the certificate hash's leaf to `root`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<Vec<Digest>>,
    /// On chain: the anchoring transaction's hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transaction: Option<Digest>,
    /// On chain: the block that holds the transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    block: Option<u64>,
    /// On chain: the batch's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<BatchCertificate>,
}

/// An RFC 3339 time, strictly (four-digit year, two-digit fields): serde's reading of a
/// `chrono` time also takes forms such as `-026-12- 6T20:3:12Z`, which the binary proof's
/// reader (and every other reader of the anchor) refuses.
fn strict_time<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Timestamp, D::Error> {
    let text = String::deserialize(d)?;
    platone_model::parse_timestamp(&text)
        .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time: {e}")))
}

impl From<Anchor> for AnchorWire {
    fn from(a: Anchor) -> Self {
        let c = a.chain.map(|c| *c);
        AnchorWire {
            ledger: a.ledger,
            entry: a.entry,
            position: a.position,
            time: a.time,
            chain_id: c.as_ref().map(|c| c.chain_id),
            contract: c.as_ref().map(|c| c.contract.clone()),
            root: c.as_ref().map(|c| c.root),
            certificate_hash: c.as_ref().map(|c| c.certificate_hash),
            transaction: c.as_ref().map(|c| c.transaction),
            block: c.as_ref().map(|c| c.block),
            path: c.as_ref().map(|c| c.path.clone()),
            certificate: c.map(|c| c.certificate),
        }
    }
}

impl TryFrom<AnchorWire> for Anchor {
    type Error = String;

    /// The chain fields come all together or not at all.
    fn try_from(w: AnchorWire) -> std::result::Result<Self, String> {
        let present = [
            ("chain_id", w.chain_id.is_some()),
            ("contract", w.contract.is_some()),
            ("root", w.root.is_some()),
            ("certificate_hash", w.certificate_hash.is_some()),
            ("path", w.path.is_some()),
            ("transaction", w.transaction.is_some()),
            ("block", w.block.is_some()),
            ("certificate", w.certificate.is_some()),
        ];
        let chain = match (
            w.chain_id,
            w.contract,
            w.root,
            w.certificate_hash,
            w.path,
            w.transaction,
            w.block,
            w.certificate,
        ) {
            (
                Some(chain_id),
                Some(contract),
                Some(root),
                Some(certificate_hash),
                Some(path),
                Some(transaction),
                Some(block),
                Some(certificate),
            ) => {
                ChainAnchor::check_contract(&contract).map_err(|e| e.to_string())?;
                Some(Box::new(ChainAnchor {
                    chain_id,
                    contract,
                    root,
                    certificate_hash,
                    path,
                    transaction,
                    block,
                    certificate,
                }))
            }
            (None, None, None, None, None, None, None, None) => None,
            _ => {
                let missing: Vec<&str> = present
                    .iter()
                    .filter(|(_, here)| !here)
                    .map(|(name, _)| *name)
                    .collect();
                return Err(format!(
                    "an on-chain anchor needs every chain field; missing: {}",
                    missing.join(", ")
                ));
            }
        };
        Ok(Anchor {
            ledger: w.ledger,
            entry: w.entry,
            position: w.position,
            time: w.time,
            chain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AnchorStatus;
    use crate::proof::tests::sample_on_chain;

    /// The proof, with its chain anchor made true: its certificate and a two-leaf aggregate.
    fn consistent() -> (Proof, ChainAnchor) {
        let mut proof = sample_on_chain();
        let AnchorStatus::Anchored(anchor) = &mut proof.anchor else {
            unreachable!()
        };
        let chain = anchor.chain.as_deref_mut().unwrap();
        proof.certificate = chain.certificate_hash;
        let other = Scheme::keccak_leaf_of_content(Digest::sha256(b"another batch"));
        chain.path = vec![other];
        chain.root = Scheme::Keccak.node_hash(&chain.leaf(), &other);
        let chain = chain.clone();
        (proof, chain)
    }

    #[test]
    fn an_anchor_on_chain_is_one_object_with_every_field() {
        let proof = sample_on_chain();
        let json = serde_json::to_value(&proof.anchor).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "block",
                "certificate",
                "certificate_hash",
                "chain_id",
                "contract",
                "entry",
                "ledger",
                "path",
                "position",
                "root",
                "status",
                "time",
                "transaction"
            ]
        );
        let back: AnchorStatus = serde_json::from_value(json).unwrap();
        assert_eq!(back, proof.anchor);
    }

    #[test]
    fn a_partial_chain_anchor_is_refused_naming_what_is_missing() {
        let mut json = serde_json::to_value(sample_on_chain().anchor).unwrap();
        let object = json.as_object_mut().unwrap();
        object.remove("path");
        object.remove("block");
        let err = serde_json::from_value::<AnchorStatus>(json.clone())
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing: path, block"), "{err}");
        json["contract"] = "0x12".into();
        json["path"] = serde_json::json!([]);
        json["block"] = 1.into();
        let err = serde_json::from_value::<AnchorStatus>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("contract"), "{err}");
    }

    #[test]
    fn check_accepts_the_true_anchor_and_refuses_each_tampering() {
        let (proof, chain) = consistent();
        assert_eq!(chain.check(&proof), Ok(()));

        let mut other = chain.clone();
        other.certificate.leaf_count += 1;
        assert!(
            matches!(other.check(&proof), Err(MismatchReason::Anchor(m)) if m.contains("hashes to"))
        );

        let mut other = chain.clone();
        other.path[0].0[0] ^= 1;
        assert!(
            matches!(other.check(&proof), Err(MismatchReason::Anchor(m)) if m.contains("path"))
        );

        let mut other = chain.clone();
        other.root.0[31] ^= 1;
        assert!(other.check(&proof).is_err());

        let mut other_proof = proof.clone();
        other_proof.certificate = Digest::sha256(b"not it");
        assert!(
            matches!(chain.check(&other_proof), Err(MismatchReason::Anchor(m)) if m.contains("proof's certificate"))
        );
    }
}
