//! [`ChainDeviceRegistry`]: the on-chain `DeviceRegistry` behind platone-certify's
//! [`DeviceRegistry`] trait, so that a receiver (the BAL) checks device signatures against
//! keys only the DSO role can change.
//!
//! Signature checks are synchronous and frequent (one per packet), so they read a mirror of
//! the contract's histories; [`sync`](ChainDeviceRegistry::sync) brings it up to date from the
//! contract's `DeviceRegistered`, `DeviceRotated` and `DeviceRevoked` events (each PoD they
//! name has its history read again) and [`run`](ChainDeviceRegistry::run) does so every poll
//! interval. A key change is therefore seen within one poll interval of its block.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use alloy::primitives::Address;
use platone_certify::registry::{DeviceRegistry, KeyValidity, SignedKeyChange};
use platone_certify::{CertifyError, Result as CertifyResult};

use crate::client::ChainClient;
use crate::contracts::DeviceRegistry as DeviceRegistryContract;
use crate::deployment::Deployment;
use crate::error::Result;
use crate::registries::DeviceRegistryClient;

#[derive(Debug, Default)]
struct Mirror {
    keys: HashMap<String, Vec<KeyValidity>>,
    /// Key changes seen (events).
    changes: u64,
    /// The first block not read yet.
    next_block: u64,
}

/// The on-chain device registry as a [`DeviceRegistry`] (see the [module docs](self)).
#[derive(Debug)]
pub struct ChainDeviceRegistry {
    registry: DeviceRegistryClient,
    client: ChainClient,
    address: Address,
    mirror: RwLock<Mirror>,
}

impl ChainDeviceRegistry {
    /// The registry of `deployment`, read through `client` (no key needed), mirrored up to
    /// the latest block.
    pub async fn open(client: ChainClient, deployment: &Deployment) -> Result<Self> {
        deployment.check(&client).await?;
        let registry = ChainDeviceRegistry {
            registry: DeviceRegistryClient::new(client.clone(), deployment),
            address: deployment.contracts.DeviceRegistry,
            client,
            mirror: RwLock::new(Mirror::default()),
        };
        registry.sync().await?;
        Ok(registry)
    }

    /// Reads the key changes mined since the last sync; gives the number of PoDs whose
    /// history was read again. On error the mirror is left as it was.
    pub async fn sync(&self) -> Result<usize> {
        let from = self.read().next_block;
        let latest = self.client.latest_block().await?;
        if from > latest {
            return Ok(0);
        }
        let contract = DeviceRegistryContract::new(self.address, self.client.provider().clone());
        let error = |e| {
            self.client
                .contract_error::<DeviceRegistryContract::DeviceRegistryErrors>(
                    e,
                    "DeviceRegistry",
                    "events",
                )
        };
        let mut pods = BTreeSet::new();
        let mut changes = 0u64;
        // The PoD each key-change event of the range names.
        macro_rules! read_events {
            ($filter:ident) => {
                for (event, _) in contract
                    .$filter()
                    .from_block(from)
                    .to_block(latest)
                    .query()
                    .await
                    .map_err(error)?
                {
                    pods.insert(event.pod);
                    changes += 1;
                }
            };
        }
        read_events!(DeviceRegistered_filter);
        read_events!(DeviceRotated_filter);
        read_events!(DeviceRevoked_filter);
        let mut histories = Vec::with_capacity(pods.len());
        for pod in pods {
            let history = self.registry.history(&pod).await?;
            let keys = history
                .into_iter()
                .map(|e| KeyValidity {
                    address: e.device,
                    valid_from: e.valid_from,
                    valid_until: e.valid_until,
                })
                .collect();
            histories.push((pod, keys));
        }
        let updated = histories.len();
        let mut mirror = self
            .mirror
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        mirror.keys.extend(histories);
        mirror.changes += changes;
        mirror.next_block = latest + 1;
        Ok(updated)
    }

    /// Syncs every poll interval until `shutdown` completes; errors are logged and retried
    /// (the mirror keeps answering with what it has).
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        let this = self;
        crate::client::poll_until(
            shutdown,
            self.client.config().poll_interval(),
            move || async move {
                this.sync()
                    .await
                    .map(|_| false)
                    .map_err(|e| (format!("device registry {}", this.address), e))
            },
        )
        .await;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Mirror> {
        self.mirror
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl DeviceRegistry for ChainDeviceRegistry {
    /// No single signer: every holder of the contract's DSO role may change keys, by
    /// transaction. The zero address.
    fn dso(&self) -> Address {
        Address::ZERO
    }

    /// The key changes seen so far.
    fn nonce(&self) -> u64 {
        self.read().changes
    }

    /// Refused: the on-chain registry changes only by transactions of a DSO role holder
    /// (`DeviceRegistryClient`, `platone chain devices register|rotate|revoke`).
    fn apply(&mut self, change: &SignedKeyChange) -> CertifyResult<()> {
        Err(CertifyError::Registry(format!(
            "the on-chain device registry {} changes only by DSO transactions; the signed \
             change of {} was not applied",
            self.address, change.pod
        )))
    }

    fn history(&self, pod: &str) -> Vec<KeyValidity> {
        self.read().keys.get(pod).cloned().unwrap_or_default()
    }
}
