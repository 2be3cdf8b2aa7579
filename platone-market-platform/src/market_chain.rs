//! Registration of results and minting of settlement tokens on a chain (FR-MP-BC-01/02,
//! FR-MP-SET-05): the `MarketRegistry` and `FlexToken` contracts of `platone-chain` (feature
//! `chain`, [`OnChainMarket`](crate::chain::OnChainMarket)), beside the ledger's certification
//! of every award, which stays the proof a participant checks.

use futures::future::BoxFuture;
use platone_certify::Digest;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What a chain answered for a registration or a mint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainReceipt {
    /// The contract (`MarketRegistry 0x…`, `FlexToken 0x…`).
    pub contract: String,
    /// The transaction, when this call sent one (none when the chain already held it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<String>,
    /// Its block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
}

/// The settlement id of one settled award: `SESSION/ORDER` (minted once).
pub fn settlement_id(session: &str, order: &str) -> String {
    format!("{session}/{order}")
}

/// The market's contracts on a chain, as the platform calls them.
///
/// The contract an implementer keeps: both calls are **idempotent**, because the platform
/// calls again after a restart or a failure — registering a session whose identical result
/// the chain already holds answers `Ok` (without a transaction), a different result for the
/// same session is an error; minting a settlement id the chain already minted answers `Ok`
/// without minting again. A call that could not reach the chain is an error the platform
/// retries at its next clock tick.
pub trait MarketChain: Send + Sync {
    /// A short description for logs and `/health`.
    fn describe(&self) -> String;

    /// Registers `session`'s result hash and awards root.
    fn register_result<'a>(
        &'a self,
        session: &'a str,
        result_hash: Digest,
        awards_root: Digest,
    ) -> BoxFuture<'a, Result<ChainReceipt>>;

    /// Mints `amount` token base units (2 decimals) to `participant` for `settlement`.
    fn mint<'a>(
        &'a self,
        participant: &'a str,
        amount: u64,
        settlement: &'a str,
    ) -> BoxFuture<'a, Result<ChainReceipt>>;
}
