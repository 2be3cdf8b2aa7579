//! [`MarketChain`] on the `MarketRegistry` and `FlexToken` contracts of a `platone-chain`
//! deployment (feature `chain`).

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use platone_certify::Digest;
use platone_chain::{Address, B256, MarketClient, U256};

use crate::error::{PlatformError, Result};
use crate::market_chain::{ChainReceipt, MarketChain};

/// Token base units of the platform (2 decimals) → FlexToken units (18 decimals).
const UNIT_SCALE: u64 = 10_000_000_000_000_000;

/// The market contracts of a deployment, with the wallet of each participant tokens are
/// minted to. A session's id on chain is the keccak-256 of its name, a settlement's the
/// keccak-256 of [`settlement_id`](crate::market_chain::settlement_id).
#[derive(Debug, Clone)]
pub struct OnChainMarket {
    market: MarketClient,
    registry: Address,
    token: Address,
    wallets: BTreeMap<String, Address>,
}

impl OnChainMarket {
    /// The contracts `market` talks to (a client with the market operator's key), the
    /// `registry` and `token` addresses (for receipts), and the participants' wallets.
    pub fn new(
        market: MarketClient,
        registry: Address,
        token: Address,
        wallets: BTreeMap<String, Address>,
    ) -> Self {
        OnChainMarket {
            market,
            registry,
            token,
            wallets,
        }
    }

    /// The on-chain id of `name` (a session or a settlement).
    pub fn chain_id_of(name: &str) -> B256 {
        B256::from(Digest::keccak256(name.as_bytes()).0)
    }
}

fn chain(e: impl std::fmt::Display) -> PlatformError {
    PlatformError::Chain(e.to_string())
}

/// The receipt of a transaction the platform sent (`r`: alloy's transaction receipt).
macro_rules! sent {
    ($contract:expr, $r:expr) => {
        ChainReceipt {
            contract: $contract,
            transaction: Some(format!("{:#x}", $r.transaction_hash)),
            block: $r.block_number,
        }
    };
}

impl MarketChain for OnChainMarket {
    fn describe(&self) -> String {
        format!(
            "MarketRegistry {:#x}, FlexToken {:#x}",
            self.registry, self.token
        )
    }

    fn register_result<'a>(
        &'a self,
        session: &'a str,
        result_hash: Digest,
        awards_root: Digest,
    ) -> BoxFuture<'a, Result<ChainReceipt>> {
        Box::pin(async move {
            let id = Self::chain_id_of(session);
            let contract = format!("MarketRegistry {:#x}", self.registry);
            if let Some(held) = self.market.result_of(id).await.map_err(chain)? {
                if held.result_hash == result_hash && held.awards_root == awards_root {
                    return Ok(ChainReceipt {
                        contract,
                        transaction: None,
                        block: None,
                    });
                }
                return Err(PlatformError::Chain(format!(
                    "session {session} is registered on chain with result {} and awards root {}, not {result_hash} and {awards_root}",
                    held.result_hash, held.awards_root
                )));
            }
            let r = self
                .market
                .register_result(id, result_hash, awards_root)
                .await
                .map_err(chain)?;
            Ok(sent!(contract, r))
        })
    }

    fn mint<'a>(
        &'a self,
        participant: &'a str,
        amount: u64,
        settlement: &'a str,
    ) -> BoxFuture<'a, Result<ChainReceipt>> {
        Box::pin(async move {
            let contract = format!("FlexToken {:#x}", self.token);
            let to = *self.wallets.get(participant).ok_or_else(|| {
                PlatformError::Chain(format!("no wallet is configured for {participant}"))
            })?;
            let id = Self::chain_id_of(settlement);
            if self.market.settled(id).await.map_err(chain)? {
                return Ok(ChainReceipt {
                    contract,
                    transaction: None,
                    block: None,
                });
            }
            let units = U256::from(amount) * U256::from(UNIT_SCALE);
            let r = self
                .market
                .mint_for_delivery(to, units, id)
                .await
                .map_err(chain)?;
            Ok(sent!(contract, r))
        })
    }
}
