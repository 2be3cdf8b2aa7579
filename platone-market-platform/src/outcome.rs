//! What a cleared session yields: the awards, the result's registration on the ledger, and
//! each award's Merkle proof (FR-MP-BC-01/02).
//!
//! The registration is one batch certificate of source `market-SESSION` whose leaves are, in
//! order, a [`ResultRecord`] (the session and the SHA-256 of the result's canonical JSON) and
//! every [`Award`]; its Merkle root is the awards root. A participant checks its award with the
//! award's JSON, its proof and the ledger alone (`POST /api/verify` of the BAL, or
//! `platone_certify::verify_with_ledger`), without trusting the platform.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use platone_certify::{
    AnchorStatus, BatchPolicy, Batcher, Digest, Ledger, Proof, Scheme, canonicalize_json,
};
use platone_market::clearing::ClearingResult;
use platone_market::scenario::Scenario;
use platone_market::validation::Verdict;
use serde::{Deserialize, Serialize};

use crate::error::{PlatformError, Result};

/// The first leaf of a session's registration: which result it registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResultRecord {
    /// The session.
    pub session: String,
    /// SHA-256 of the result's canonical JSON (`platone-cert/1`).
    pub result_hash: Digest,
    /// How many awards follow it in the batch.
    pub awards: u64,
}

/// One accepted order: who gets what (MOMV-04).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Award {
    /// The session.
    pub session: String,
    /// The order's id.
    pub order: String,
    /// `request` or `offer`.
    pub kind: String,
    /// The participant who posted the order.
    pub participant: String,
    /// Its location (bus, PoD or area).
    pub location: String,
    /// `up` or `down`.
    pub direction: String,
    /// The delivery slot's name.
    pub slot: String,
    /// The accepted quantity, in the session's unit.
    pub quantity: f64,
    /// The order's own price per unit (an offer's ask, a request's limit), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_price: Option<f64>,
    /// The slot's clearing price in the order's direction, when the algorithm sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearing_price: Option<f64>,
}

/// An award with its proof against the registered awards root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertifiedAward {
    /// The award (the certified record is exactly this object).
    pub award: Award,
    /// Its inclusion proof, with the anchor.
    pub proof: Proof,
}

/// Where a session's result is registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Registration {
    /// SHA-256 of the result's canonical JSON.
    pub result_hash: Digest,
    /// The Merkle root over the result record and the awards.
    pub awards_root: Digest,
    /// The batch (`market-SESSION:0`).
    pub batch_id: String,
    /// The batch certificate's hash.
    pub certificate_hash: Digest,
    /// Whether and where the certificate is anchored.
    pub anchor: AnchorStatus,
    /// The registration of `result_hash` and `awards_root` in the `MarketRegistry` contract,
    /// when the platform registers on a chain (a participant then checks its award with the
    /// contract's `verifyAward`, keccak-256 of the award's canonical JSON and the proof's
    /// siblings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_chain: Option<crate::market_chain::ChainReceipt>,
}

/// Everything a cleared session yields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outcome {
    /// The clearing result, as `platone market clear` writes it.
    #[schema(value_type = Object)]
    pub result: ClearingResult,
    /// The validator's last verdicts (green and amber only once validated).
    #[schema(value_type = Vec<Object>)]
    pub verdicts: Vec<Verdict>,
    /// The awards with their proofs, once registered.
    #[serde(default)]
    pub awards: Vec<CertifiedAward>,
    /// The registration, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
    /// The baselines the aggregators declared for their accepted offers (order → baseline).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub baselines: BTreeMap<String, f64>,
    /// The settlement of every accepted offer, once settled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settlements: Vec<crate::settlement::AwardSettlement>,
}

/// The awards of `result` in `scenario`: accepted offers then accepted requests, in book
/// order.
pub fn awards(session: &str, scenario: &Scenario, result: &ClearingResult) -> Vec<Award> {
    let book = &scenario.book;
    let slot_name = |slot: usize| book.slots.get(slot).cloned().unwrap_or_default();
    let price = |slot: usize, direction: platone_market::Direction| {
        result
            .prices
            .get(&slot_name(slot))
            .and_then(|p| p.get(direction))
    };
    let mut out = Vec::with_capacity(result.accepted_offers.len() + result.accepted_requests.len());
    for accepted in &result.accepted_offers {
        if let Some(o) = book.offers.iter().find(|o| o.id == accepted.id) {
            out.push(Award {
                session: session.to_owned(),
                order: o.id.clone(),
                kind: "offer".into(),
                participant: o.participant.clone(),
                location: o.location.clone(),
                direction: o.direction.as_str().into(),
                slot: slot_name(o.slot),
                quantity: accepted.quantity,
                order_price: Some(o.price),
                clearing_price: price(o.slot, o.direction),
            });
        }
    }
    for accepted in &result.accepted_requests {
        if let Some(r) = book.requests.iter().find(|r| r.id == accepted.id) {
            out.push(Award {
                session: session.to_owned(),
                order: r.id.clone(),
                kind: "request".into(),
                participant: r.participant.clone(),
                location: r.location.clone(),
                direction: r.direction.as_str().into(),
                slot: slot_name(r.slot),
                quantity: accepted.quantity,
                order_price: r.price,
                clearing_price: price(r.slot, r.direction),
            });
        }
    }
    out
}

/// SHA-256 of a serialisable value's canonical JSON.
pub fn canonical_hash<T: Serialize>(value: &T) -> Result<Digest> {
    let text = serde_json::to_string(value)
        .map_err(|e| PlatformError::Store(format!("the result does not serialise: {e}")))?;
    let mut canonical = Vec::with_capacity(text.len());
    canonicalize_json(&text, &mut canonical)?;
    Ok(Digest::sha256(&canonical))
}

/// The ledger source of a session's registration.
pub fn registration_source(session: &str) -> String {
    format!("market-{session}")
}

/// Certifies `result` and `awards` as one batch and anchors it in `ledger`. The certificate is
/// dated `sealed_at` (the session's gate closure), so registering the same result again gives
/// the same certificate, which the ledger takes as already anchored.
pub async fn register(
    session: &str,
    result: &ClearingResult,
    awards: Vec<Award>,
    sealed_at: DateTime<Utc>,
    ledger: &dyn Ledger,
) -> Result<(Registration, Vec<CertifiedAward>)> {
    let result_hash = canonical_hash(result)?;
    let source = registration_source(session);
    let sealed_at = sealed_at.fixed_offset();
    let mut batcher = Batcher::new(
        Scheme::Keccak,
        BatchPolicy {
            max_records: awards.len() + 2,
            window: TimeDelta::days(3650),
        },
    );
    let record = ResultRecord {
        session: session.to_owned(),
        result_hash,
        awards: awards.len() as u64,
    };
    batcher.add(&source, &serde_json::to_value(&record)?, sealed_at)?;
    for award in &awards {
        batcher.add(&source, &serde_json::to_value(award)?, sealed_at)?;
    }
    let sealed = batcher
        .flush(sealed_at)?
        .into_iter()
        .next()
        .ok_or_else(|| PlatformError::Store("the registration batch did not seal".into()))?;
    let anchor = ledger.anchor(&sealed.certificate).await?;
    let mut proofs = sealed.proofs.into_iter().skip(1);
    let mut certified = Vec::with_capacity(awards.len());
    for award in awards {
        let mut proof = proofs
            .next()
            .ok_or_else(|| PlatformError::Store("an award has no proof".into()))?;
        if let Some(a) = anchor.anchor() {
            proof.upgrade(a)?;
        }
        certified.push(CertifiedAward { award, proof });
    }
    Ok((
        Registration {
            result_hash,
            awards_root: sealed.certificate.root,
            batch_id: sealed.certificate.batch_id.clone(),
            certificate_hash: sealed.certificate_hash,
            anchor,
            on_chain: None,
        },
        certified,
    ))
}
