//! How a client talks to a chain: node, confirmations, gas price policy, polling.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The gas price a transaction offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum GasPolicy {
    /// EIP-1559 fees as the node estimates them.
    #[default]
    Eip1559,
    /// Legacy (type 0) transactions at a fixed gas price in wei, as on a Besu-style
    /// proof-of-authority network with free gas (`gas_price: 0`).
    Legacy {
        /// The gas price in wei.
        gas_price: u128,
    },
}

/// A client's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    /// The node's JSON-RPC URL (`http://…` or `https://…`).
    pub rpc: String,
    /// The chain id the node must report; `None` takes the node's.
    pub chain_id: Option<u64>,
    /// Blocks a transaction needs (its own included) before it counts as confirmed; 1 takes
    /// the block that mined it.
    pub confirmations: u64,
    /// The gas price policy.
    pub gas: GasPolicy,
    /// How often a ledger looks for receipts and anchors what is pending, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            rpc: "http://127.0.0.1:8545".into(),
            chain_id: None,
            confirmations: 1,
            gas: GasPolicy::Eip1559,
            poll_interval_ms: 1000,
        }
    }
}

impl ChainConfig {
    /// Settings for the node at `rpc`, with the defaults otherwise.
    pub fn new(rpc: impl Into<String>) -> Self {
        ChainConfig {
            rpc: rpc.into(),
            ..ChainConfig::default()
        }
    }

    /// The poll interval.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(1))
    }
}
