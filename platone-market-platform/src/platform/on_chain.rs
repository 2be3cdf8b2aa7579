//! The platform's steps on the market's contracts: each published result registered (in the
//! pipeline), and each settled award's tokens minted — once, retried until the chain has them.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{MarketPlatform, SCHEDULER};
use crate::error::Result;
use crate::market_chain::{ChainReceipt, MarketChain, settlement_id};
use crate::session::SessionStatus;

/// A settled award's order, participant and tokens.
type SettledAward = (String, String, u64);

/// The audit event of a minted settlement; its detail begins with the settlement id.
const MINTED: &str = "minted";

/// A receipt as the audit trail writes it.
pub(super) fn receipt_text(r: &ChainReceipt) -> String {
    match (&r.transaction, r.block) {
        (Some(tx), Some(block)) => format!("{}, transaction {tx} in block {block}", r.contract),
        (Some(tx), None) => format!("{}, transaction {tx}", r.contract),
        _ => format!("{}, already there", r.contract),
    }
}

impl MarketPlatform {
    /// Registers results and mints settlement tokens on `chain` from now on.
    pub fn with_market_chain(mut self, chain: Arc<dyn MarketChain>) -> Self {
        self.market_chain = Some(chain);
        self
    }

    /// The market's contracts, when configured.
    pub fn market_chain(&self) -> Option<&Arc<dyn MarketChain>> {
        self.market_chain.as_ref()
    }

    fn chain_failed(&self, failure: Option<String>) {
        if let Ok(mut last) = self.chain_failure.lock() {
            *last = failure;
        }
    }

    /// Why the last call to the chain failed, while something waits for it.
    pub fn chain_failure(&self) -> Option<String> {
        self.chain_failure.lock().ok().and_then(|f| f.clone())
    }

    /// Registers `session`'s result on the chain, when one is configured (a failure is kept
    /// for `/health` and returned: the pipeline stops there and runs again at the next tick).
    pub(super) async fn register_on_chain(
        &self,
        session: &str,
        registration: &crate::outcome::Registration,
    ) -> Result<Option<ChainReceipt>> {
        let Some(chain) = &self.market_chain else {
            return Ok(None);
        };
        let registered = chain
            .register_result(session, registration.result_hash, registration.awards_root)
            .await;
        match registered {
            Ok(receipt) => {
                self.chain_failed(None);
                Ok(Some(receipt))
            }
            Err(e) => {
                self.chain_failed(Some(format!("session {session}: {e}")));
                Err(e)
            }
        }
    }

    /// Mints on the chain the tokens of every settled award not minted yet (one settlement id
    /// per award, [`settlement_id`]), recording each in the session's audit trail (`minted`).
    /// Returns how many were minted; without a chain, nothing is done. The first failure stops
    /// the round (tried again at the next call) and shows in [`MarketPlatform::chain_failure`].
    pub async fn mint_settlements(&self) -> Result<usize> {
        let Some(chain) = self.market_chain.clone() else {
            return Ok(0);
        };
        let settled: Vec<(String, Vec<SettledAward>)> = self
            .books()?
            .values()
            .filter(|b| b.session.status == SessionStatus::Settled)
            .map(|b| {
                let awards = b
                    .outcome
                    .iter()
                    .flat_map(|o| o.settlements.iter())
                    .filter(|s| s.tokens > 0)
                    .map(|s| (s.settlement.order.clone(), s.participant.clone(), s.tokens))
                    .collect();
                (b.session.id.clone(), awards)
            })
            .collect();
        let mut minted = 0;
        for (session, awards) in settled {
            if self.finished(MINTED, &session, |_| false)? {
                continue;
            }
            let done: BTreeSet<String> = self
                .store
                .audit_trail(&session)?
                .into_iter()
                .filter(|e| e.event == MINTED)
                .filter_map(|e| e.detail.split(' ').next().map(str::to_owned))
                .collect();
            for (order, participant, tokens) in awards {
                let id = settlement_id(&session, &order);
                if done.contains(&id) {
                    continue;
                }
                match chain.mint(&participant, tokens, &id).await {
                    Ok(receipt) => {
                        self.chain_failed(None);
                        self.audit(
                            &session,
                            SCHEDULER,
                            MINTED,
                            format!(
                                "{id} {tokens} units to {participant}: {}",
                                receipt_text(&receipt)
                            ),
                        )?;
                        minted += 1;
                    }
                    Err(e) => {
                        let failure = format!("minting {id}: {e}");
                        tracing::warn!("{failure} (tried again)");
                        self.chain_failed(Some(failure));
                        return Err(e);
                    }
                }
            }
            // Every award of the session is minted: its trail is not read again.
            self.finish(MINTED, &session);
        }
        Ok(minted)
    }
}
