//! `platone demo --chain`: the demo's BAL anchoring on a local anvil (one block a second),
//! its proofs then checked from the chain alone.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use platone_bal::Bal;
use platone_certify::{Ledger, Proof, Verification, canonicalize_json};
use platone_chain::{
    ChainClient, ChainConfig, ChainVerifier, Deployment, EthereumLedger, LedgerOptions,
    parse_private_key,
};
use platone_testkit::{ANVIL_KEYS, Anvil, AnvilOptions};
use serde_json::Value;

use crate::chain::chain_error;
use crate::demo::Check;
use crate::error::{CliError, CliResult};
use crate::ledgers::AnchoringLedger;

/// How long the demo waits for its anchors to be mined.
const SETTLE: Duration = Duration::from_secs(60);

/// The node, the deployment and the anchoring ledger of one demo run.
pub struct DemoChain {
    node: Anvil,
    client: ChainClient,
    deployment: Deployment,
    anchoring: AnchoringLedger,
}

impl DemoChain {
    /// Starts anvil (one block a second), deploys the contracts from its first key and opens
    /// the Ethereum ledger in `data/chain-ledger`; the deployment file goes to
    /// `data/deployment.json`.
    pub async fn start(data: &Path) -> CliResult<Self> {
        let node = Anvil::start_with(AnvilOptions {
            block_time: Some(1),
            ..AnvilOptions::default()
        })
        .map_err(|e| CliError::input(format!("--chain needs anvil: {e}")))?;
        let key = parse_private_key(ANVIL_KEYS[0]).map_err(CliError::input)?;
        let mut config = ChainConfig::new(node.url());
        config.chain_id = Some(node.chain_id());
        config.poll_interval_ms = 250;
        let client = ChainClient::connect(config, Some(key))
            .await
            .map_err(chain_error)?;
        let deployment = Deployment::deploy(&client).await.map_err(chain_error)?;
        std::fs::create_dir_all(data)
            .map_err(|e| CliError::input(format!("{}: {e}", data.display())))?;
        deployment
            .save(&data.join("deployment.json"))
            .map_err(chain_error)?;
        let ledger = EthereumLedger::open(
            data.join("chain-ledger"),
            client.clone(),
            deployment.clone(),
            LedgerOptions::default(),
        )
        .await
        .map_err(chain_error)?;
        Ok(DemoChain {
            node,
            client,
            deployment,
            anchoring: AnchoringLedger::start(ledger),
        })
    }

    /// The node's URL.
    pub fn url(&self) -> String {
        self.node.url()
    }

    /// The ledger the BAL anchors on.
    pub fn ledger(&self) -> Arc<dyn Ledger> {
        self.anchoring.ledger().clone()
    }

    /// Anchors on chain every batch the BAL sealed, then has the BAL record them.
    pub async fn settle(&self, bal: &Bal) -> CliResult {
        self.anchoring
            .ledger()
            .flush(SETTLE)
            .await
            .map_err(chain_error)?;
        bal.flush().await.map_err(CliError::input)
    }

    /// What the chain holds (anchors, batches, gas) and the sample's proofs checked from
    /// the chain alone.
    pub async fn checks(&self, measurements: u64, sample: &[Value]) -> Vec<Check> {
        let aggregates = self.anchoring.ledger().aggregates();
        let batches: usize = aggregates.iter().map(|a| a.batches.len()).sum();
        let mut gas = 0u64;
        let mut problems = Vec::new();
        for aggregate in &aggregates {
            let Some(transaction) = aggregate.anchored_by else {
                problems.push(format!("anchor of root {} not confirmed", aggregate.root));
                continue;
            };
            match self.client.receipt(transaction).await {
                Ok(Some(receipt)) => gas += receipt.gas_used,
                Ok(None) => problems.push(format!("no receipt for {transaction}")),
                Err(e) => problems.push(e.to_string()),
            }
        }
        let per_million = gas as f64 * 1e6 / measurements.max(1) as f64;
        let mut checks = vec![Check {
            what: "batches anchored on chain",
            seen: if problems.is_empty() {
                format!(
                    "{batches} batches in {} transactions, {gas} gas ({:.2} M gas per million \
                     measurements)",
                    aggregates.len(),
                    per_million / 1e6
                )
            } else {
                problems.join("; ")
            },
            held: problems.is_empty() && batches > 0,
        }];

        let mut verifier = ChainVerifier::new(self.client.clone(), self.deployment.clone());
        let (mut verified, mut failures) = (0, Vec::new());
        let mut canonical = Vec::new();
        for item in sample {
            canonical.clear();
            let outcome = match serde_json::from_value::<Proof>(item["proof"].clone()) {
                Err(e) => Err(format!("proof: {e}")),
                Ok(proof) => {
                    match canonicalize_json(&item["measurement"].to_string(), &mut canonical) {
                        Err(e) => Err(format!("record: {e}")),
                        Ok(()) => match verifier.verify_canonical(&canonical, &proof).await {
                            Ok(Verification::Verified) => Ok(()),
                            Ok(other) => Err(format!("{other:?}")),
                            Err(e) => Err(e.to_string()),
                        },
                    }
                }
            };
            match outcome {
                Ok(()) => verified += 1,
                Err(e) => failures.push(e),
            }
        }
        checks.push(Check {
            what: "proofs verified from the chain alone",
            seen: if failures.is_empty() {
                format!("{verified} / {} (anchorAt and verifyBatch)", sample.len())
            } else {
                failures.join("; ")
            },
            held: !sample.is_empty() && failures.is_empty(),
        });
        checks
    }

    /// Stops anchoring and the node.
    pub async fn stop(self) -> CliResult {
        let outcome = self.anchoring.stop(SETTLE).await;
        drop(self.node);
        outcome
    }
}
