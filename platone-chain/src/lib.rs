//! Platone on an Ethereum chain: the five contracts of `contracts/` (certification anchors,
//! device and subscription registries, market results, the settlement token), a client that
//! deploys and calls them with [alloy](https://alloy.rs), and [`EthereumLedger`], a
//! [`platone_certify::Ledger`] that anchors many batch certificates per transaction.
//!
//! ```no_run
//! use platone_chain::{ChainClient, ChainConfig, Deployment, EthereumLedger, LedgerOptions};
//! use platone_certify::Ledger;
//! # async fn run(certificates: Vec<platone_certify::BatchCertificate>) -> platone_chain::Result<()> {
//! let key = platone_chain::read_key_file("anchorer.key".as_ref())?;
//! let deployment = Deployment::load("deployment.json".as_ref())?;
//! let client = ChainClient::connect(ChainConfig::new(deployment.rpc.clone()), Some(key)).await?;
//! let ledger = EthereumLedger::open("ledger", client, deployment, LedgerOptions::default()).await?;
//! ledger.anchor_all(&certificates).await?; // durable locally, pending on chain
//! ledger.flush(std::time::Duration::from_secs(60)).await?; // one transaction for them all
//! let anchor = ledger.chain_anchor(&certificates[0].batch_id).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod contracts;
pub mod deployment;
pub mod device_keys;
mod error;
pub mod ledger;
pub mod registries;
pub mod verify;

/// The address, hash and integer types of the API, from alloy.
pub use alloy::primitives::{Address, B256, U256};
pub use client::{ChainClient, parse_private_key, read_key_file};
pub use config::{ChainConfig, GasPolicy};
pub use deployment::{Contracts, Deployment, Role};
pub use device_keys::ChainDeviceRegistry;
pub use error::{ChainError, Result};
pub use ledger::{EthereumLedger, LedgerOptions, Progress};
pub use platone_certify::ChainAnchor;
pub use registries::{
    DeviceEntry, DeviceRegistryClient, MarketClient, RegisteredResult, Subscription,
    SubscriptionClient, SubscriptionStatus,
};
pub use verify::ChainVerifier;
