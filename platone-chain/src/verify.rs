//! [`ChainVerifier`]: checks records against their proofs and the chain alone — no local
//! ledger, no key.

use std::collections::HashMap;

use alloy::primitives::{Address, FixedBytes};
use platone_certify::verify::MismatchReason;
use platone_certify::{ChainAnchor, Digest, Proof, Verification, verify_canonical_with_hash};

use crate::client::ChainClient;
use crate::contracts::CertificationAnchor;
use crate::deployment::Deployment;
use crate::error::{ChainError, Result};

/// Verifies records against proofs whose `anchor` is on chain (see
/// [`platone_certify::chain_anchor`]), asking the node once per anchor position and once per
/// batch.
///
/// A record verifies when it hashes to its proof's leaf, the leaf's path leads to the batch
/// root, the certificate the anchor carries names that root and hashes to the proof's
/// certificate, the anchor's path leads from that hash to the anchored root, the deployment's
/// `CertificationAnchor` holds that root at the anchor's position, and its `verifyBatch`
/// accepts the certificate hash and path. Anything else is a [`Verification::Mismatch`] naming
/// what failed; a node that cannot be reached is an [`Err`].
///
/// What the chain alone cannot tell is whether the batch's certificate follows the previous
/// batch of its source: that link is checked where the certificates are (a ledger, or
/// `certificates.jsonl`).
#[derive(Debug)]
pub struct ChainVerifier {
    client: ChainClient,
    deployment: Deployment,
    /// position → the root the contract holds there (`None`: no anchor at that position).
    roots: HashMap<u64, Option<Digest>>,
    /// (position, certificate hash, path) → `verifyBatch`'s answer.
    batches: HashMap<(u64, Digest, Vec<Digest>), bool>,
}

impl ChainVerifier {
    /// A verifier of anchors in `deployment`'s `CertificationAnchor`, read through `client`
    /// (which needs no key).
    pub fn new(client: ChainClient, deployment: Deployment) -> Self {
        ChainVerifier {
            client,
            deployment,
            roots: HashMap::new(),
            batches: HashMap::new(),
        }
    }

    /// Verifies one record (its canonical bytes) against its proof and the chain.
    pub async fn verify_canonical(
        &mut self,
        canonical: &[u8],
        proof: &Proof,
    ) -> Result<Verification> {
        let Some(anchor) = proof.anchor.anchor() else {
            return Ok(mismatch(format!(
                "batch {} is not anchored yet (the proof is pending)",
                proof.batch_id
            )));
        };
        let Some(chain) = anchor.chain.as_deref() else {
            return Ok(mismatch(format!(
                "batch {} is anchored in {}, not on chain",
                proof.batch_id, anchor.ledger
            )));
        };
        if let Err(reason) = self.check_deployment(chain) {
            return Ok(Verification::Mismatch { reason });
        }
        if let Err(reason) = chain.check(proof) {
            return Ok(Verification::Mismatch { reason });
        }
        let offline = verify_canonical_with_hash(
            canonical,
            proof,
            &chain.certificate,
            &chain.certificate_hash,
        );
        if !offline.is_verified() {
            return Ok(offline);
        }
        match self.check_on_chain(anchor.position, chain).await? {
            Ok(()) => Ok(Verification::Verified),
            Err(reason) => Ok(Verification::Mismatch { reason }),
        }
    }

    /// Checks an anchor against the contract: it holds `chain.root` at `position` and its
    /// `verifyBatch` accepts the certificate hash and path.
    pub async fn check_on_chain(
        &mut self,
        position: u64,
        chain: &ChainAnchor,
    ) -> Result<std::result::Result<(), MismatchReason>> {
        let contract = CertificationAnchor::new(
            self.deployment.contracts.CertificationAnchor,
            self.client.provider().clone(),
        );
        let held = match self.roots.get(&position) {
            Some(root) => *root,
            None => {
                let root = match contract.anchorAt(position).call().await {
                    Ok(at) => Some(Digest(at.root.0)),
                    Err(e) => match self.call_error(e, "anchorAt") {
                        ChainError::Reverted { reason, .. }
                            if reason.contains("UnknownPosition") =>
                        {
                            None
                        }
                        other => return Err(other),
                    },
                };
                self.roots.insert(position, root);
                root
            }
        };
        match held {
            None => {
                return Ok(Err(MismatchReason::Anchor(format!(
                    "the contract holds no anchor at position {position}"
                ))));
            }
            Some(root) if root != chain.root => {
                return Ok(Err(MismatchReason::Anchor(format!(
                    "the contract holds root {root} at position {position}, the proof names {}",
                    chain.root
                ))));
            }
            Some(_) => {}
        }
        let key = (position, chain.certificate_hash, chain.path.clone());
        let accepted = match self.batches.get(&key) {
            Some(accepted) => *accepted,
            None => {
                let path: Vec<FixedBytes<32>> =
                    chain.path.iter().map(|d| FixedBytes(d.0)).collect();
                let accepted = contract
                    .verifyBatch(position, FixedBytes(chain.certificate_hash.0), path)
                    .call()
                    .await
                    .map_err(|e| self.call_error(e, "verifyBatch"))?;
                self.batches.insert(key, accepted);
                accepted
            }
        };
        Ok(if accepted {
            Ok(())
        } else {
            Err(MismatchReason::Anchor(format!(
                "the contract's verifyBatch refuses certificate {} at position {position}",
                chain.certificate_hash
            )))
        })
    }

    /// The anchor must name this deployment's chain and contract.
    fn check_deployment(&self, chain: &ChainAnchor) -> std::result::Result<(), MismatchReason> {
        let expected = self.deployment.contracts.CertificationAnchor;
        if chain.chain_id != self.deployment.chain_id {
            return Err(MismatchReason::Anchor(format!(
                "the proof is anchored on chain {}, the deployment is on chain {}",
                chain.chain_id, self.deployment.chain_id
            )));
        }
        match chain.contract.parse::<Address>() {
            Ok(contract) if contract == expected => Ok(()),
            _ => Err(MismatchReason::Anchor(format!(
                "the proof is anchored in contract {}, the deployment's CertificationAnchor is {expected}",
                chain.contract
            ))),
        }
    }

    fn call_error(&self, e: alloy::contract::Error, function: &'static str) -> ChainError {
        self.client
            .contract_error::<CertificationAnchor::CertificationAnchorErrors>(
                e,
                "CertificationAnchor",
                function,
            )
    }
}

fn mismatch(message: String) -> Verification {
    Verification::Mismatch {
        reason: MismatchReason::Anchor(message),
    }
}
