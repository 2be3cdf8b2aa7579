//! Typed clients of the device, subscription and market registries and of the settlement
//! token. Every transaction waits for the configured confirmations; a refusal by the contract
//! is [`ChainError::Reverted`] with the contract's custom error.

use alloy::primitives::{Address, B256, FixedBytes, U256};
use alloy::rpc::types::TransactionReceipt;
use platone_certify::Digest;
use serde::{Deserialize, Serialize};

use crate::client::ChainClient;
use crate::contracts::{DeviceRegistry, FlexToken, MarketRegistry, SubscriptionRegistry};
use crate::deployment::Deployment;
use crate::error::{ChainError, Result};

type DeviceErrors = DeviceRegistry::DeviceRegistryErrors;
type SubscriptionErrors = SubscriptionRegistry::SubscriptionRegistryErrors;
type MarketErrors = MarketRegistry::MarketRegistryErrors;
type TokenErrors = FlexToken::FlexTokenErrors;

/// One period of a PoD's device key on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEntry {
    /// The device's address.
    pub device: Address,
    /// Valid from (Unix seconds).
    pub valid_from: u64,
    /// Valid until (Unix seconds, exclusive); `None` while open.
    pub valid_until: Option<u64>,
    /// Whether the period was closed by a revocation.
    pub revoked: bool,
}

/// The on-chain `DeviceRegistry`: PoD → device address, with history; only the DSO role
/// writes.
#[derive(Debug, Clone)]
pub struct DeviceRegistryClient {
    client: ChainClient,
    address: Address,
}

impl DeviceRegistryClient {
    /// The registry of `deployment`.
    pub fn new(client: ChainClient, deployment: &Deployment) -> Self {
        DeviceRegistryClient {
            client,
            address: deployment.contracts.DeviceRegistry,
        }
    }

    fn contract(&self) -> DeviceRegistry::DeviceRegistryInstance<alloy::providers::DynProvider> {
        DeviceRegistry::new(self.address, self.client.provider().clone())
    }

    /// Registers `device` for `pod` from `from` (Unix seconds).
    pub async fn register(
        &self,
        pod: &str,
        device: Address,
        from: u64,
    ) -> Result<TransactionReceipt> {
        let c = self.contract();
        self.client
            .transact::<_, DeviceErrors>(
                c.register(pod.to_owned(), device, from),
                "DeviceRegistry",
                "register",
            )
            .await
    }

    /// Closes `pod`'s current key at `from` and opens `device` from then.
    pub async fn rotate(
        &self,
        pod: &str,
        device: Address,
        from: u64,
    ) -> Result<TransactionReceipt> {
        let c = self.contract();
        self.client
            .transact::<_, DeviceErrors>(
                c.rotate(pod.to_owned(), device, from),
                "DeviceRegistry",
                "rotate",
            )
            .await
    }

    /// Revokes `pod`'s current key from `at`: no device signs for it from then.
    pub async fn revoke(&self, pod: &str, at: u64) -> Result<TransactionReceipt> {
        let c = self.contract();
        self.client
            .transact::<_, DeviceErrors>(c.revoke(pod.to_owned(), at), "DeviceRegistry", "revoke")
            .await
    }

    /// The device that held `pod`'s key at `time`, if any.
    pub async fn device_at(&self, pod: &str, time: u64) -> Result<Option<Address>> {
        let c = self.contract();
        let device = c.deviceAt(pod.to_owned(), time).call().await.map_err(|e| {
            self.client
                .contract_error::<DeviceErrors>(e, "DeviceRegistry", "deviceAt")
        })?;
        Ok((device != Address::ZERO).then_some(device))
    }

    /// Every period of `pod`'s key, oldest first.
    pub async fn history(&self, pod: &str) -> Result<Vec<DeviceEntry>> {
        let c = self.contract();
        let entries = c.historyOf(pod.to_owned()).call().await.map_err(|e| {
            self.client
                .contract_error::<DeviceErrors>(e, "DeviceRegistry", "historyOf")
        })?;
        Ok(entries
            .into_iter()
            .map(|e| DeviceEntry {
                device: e.device,
                valid_from: e.validFrom,
                valid_until: (e.validUntil != 0).then_some(e.validUntil),
                revoked: e.revoked,
            })
            .collect())
    }
}

/// A subscription's status (D2.13 Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    /// Asked for by the consumer.
    Requested,
    /// Accepted by the provider.
    Accepted,
    /// Declined by the provider.
    Declined,
}

/// A subscription as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Its id, from 0.
    pub id: u64,
    /// The data provider's wallet.
    pub provider: Address,
    /// The consumer's wallet.
    pub consumer: Address,
    /// The topic.
    pub topic: String,
    /// The block time of its last change (Unix seconds).
    pub timestamp: u64,
    /// Its status.
    pub status: SubscriptionStatus,
}

/// The on-chain `SubscriptionRegistry`: a consumer requests, only the provider accepts or
/// declines.
#[derive(Debug, Clone)]
pub struct SubscriptionClient {
    client: ChainClient,
    address: Address,
}

impl SubscriptionClient {
    /// The registry of `deployment`.
    pub fn new(client: ChainClient, deployment: &Deployment) -> Self {
        SubscriptionClient {
            client,
            address: deployment.contracts.SubscriptionRegistry,
        }
    }

    fn contract(
        &self,
    ) -> SubscriptionRegistry::SubscriptionRegistryInstance<alloy::providers::DynProvider> {
        SubscriptionRegistry::new(self.address, self.client.provider().clone())
    }

    /// Requests a subscription to `topic` from `provider` (this client's key is the
    /// consumer); returns its id.
    pub async fn request(&self, provider: Address, topic: &str) -> Result<u64> {
        let c = self.contract();
        let receipt = self
            .client
            .transact::<_, SubscriptionErrors>(
                c.request(provider, topic.to_owned()),
                "SubscriptionRegistry",
                "request",
            )
            .await?;
        receipt
            .decoded_log::<SubscriptionRegistry::SubscriptionRequested>()
            .map(|log| log.data.id)
            .ok_or_else(|| {
                ChainError::Unexpected(
                    "request mined without its SubscriptionRequested event".into(),
                )
            })
    }

    /// Accepts subscription `id` (this client's key must be its provider).
    pub async fn accept(&self, id: u64) -> Result<TransactionReceipt> {
        let c = self.contract();
        self.client
            .transact::<_, SubscriptionErrors>(c.accept(id), "SubscriptionRegistry", "accept")
            .await
    }

    /// Declines subscription `id` (this client's key must be its provider).
    pub async fn decline(&self, id: u64) -> Result<TransactionReceipt> {
        let c = self.contract();
        self.client
            .transact::<_, SubscriptionErrors>(c.decline(id), "SubscriptionRegistry", "decline")
            .await
    }

    /// Subscription `id`.
    pub async fn subscription(&self, id: u64) -> Result<Subscription> {
        let c = self.contract();
        let s = c.subscription(id).call().await.map_err(|e| {
            self.client.contract_error::<SubscriptionErrors>(
                e,
                "SubscriptionRegistry",
                "subscription",
            )
        })?;
        convert_subscription(s)
    }

    /// Every subscription to `topic`, in id order.
    pub async fn subscriptions_of(&self, topic: &str) -> Result<Vec<Subscription>> {
        let c = self.contract();
        let all = c
            .subscriptionsOf(topic.to_owned())
            .call()
            .await
            .map_err(|e| {
                self.client.contract_error::<SubscriptionErrors>(
                    e,
                    "SubscriptionRegistry",
                    "subscriptionsOf",
                )
            })?;
        all.into_iter().map(convert_subscription).collect()
    }
}

fn convert_subscription(s: SubscriptionRegistry::Subscription) -> Result<Subscription> {
    let status = match s.status {
        0 => SubscriptionStatus::Requested,
        1 => SubscriptionStatus::Accepted,
        2 => SubscriptionStatus::Declined,
        other => {
            return Err(ChainError::Unexpected(format!(
                "subscription {} has status {other}",
                s.id
            )));
        }
    };
    Ok(Subscription {
        id: s.id,
        provider: s.provider,
        consumer: s.consumer,
        topic: s.topic,
        timestamp: s.timestamp,
        status,
    })
}

/// A market session's result as registered on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredResult {
    /// The hash of the published result.
    pub result_hash: Digest,
    /// The root of the awards' StandardMerkleTree.
    pub awards_root: Digest,
    /// The block time of the registration (Unix seconds).
    pub registered_at: u64,
}

/// The on-chain `MarketRegistry` and `FlexToken`: results registered once per session, awards
/// proved against their root, settlement tokens minted once per settlement.
#[derive(Debug, Clone)]
pub struct MarketClient {
    client: ChainClient,
    registry: Address,
    token: Address,
}

impl MarketClient {
    /// The market contracts of `deployment`.
    pub fn new(client: ChainClient, deployment: &Deployment) -> Self {
        MarketClient {
            client,
            registry: deployment.contracts.MarketRegistry,
            token: deployment.contracts.FlexToken,
        }
    }

    fn registry(&self) -> MarketRegistry::MarketRegistryInstance<alloy::providers::DynProvider> {
        MarketRegistry::new(self.registry, self.client.provider().clone())
    }

    fn token(&self) -> FlexToken::FlexTokenInstance<alloy::providers::DynProvider> {
        FlexToken::new(self.token, self.client.provider().clone())
    }

    /// Registers a session's result (market operator role; once per session).
    pub async fn register_result(
        &self,
        session: B256,
        result_hash: Digest,
        awards_root: Digest,
    ) -> Result<TransactionReceipt> {
        let c = self.registry();
        self.client
            .transact::<_, MarketErrors>(
                c.registerResult(
                    session,
                    FixedBytes(result_hash.0),
                    FixedBytes(awards_root.0),
                ),
                "MarketRegistry",
                "registerResult",
            )
            .await
    }

    /// The registered result of `session`, if any.
    pub async fn result_of(&self, session: B256) -> Result<Option<RegisteredResult>> {
        let c = self.registry();
        let registered = c.isRegistered(session).call().await.map_err(|e| {
            self.client
                .contract_error::<MarketErrors>(e, "MarketRegistry", "isRegistered")
        })?;
        if !registered {
            return Ok(None);
        }
        let r = c.resultOf(session).call().await.map_err(|e| {
            self.client
                .contract_error::<MarketErrors>(e, "MarketRegistry", "resultOf")
        })?;
        Ok(Some(RegisteredResult {
            result_hash: Digest(r.resultHash.0),
            awards_root: Digest(r.awardsRoot.0),
            registered_at: r.registeredAt,
        }))
    }

    /// Whether `award_hash` is in `session`'s awards tree, by `proof`.
    pub async fn verify_award(
        &self,
        session: B256,
        award_hash: Digest,
        proof: &[Digest],
    ) -> Result<bool> {
        let c = self.registry();
        let proof: Vec<FixedBytes<32>> = proof.iter().map(|d| FixedBytes(d.0)).collect();
        c.verifyAward(session, FixedBytes(award_hash.0), proof)
            .call()
            .await
            .map_err(|e| {
                self.client
                    .contract_error::<MarketErrors>(e, "MarketRegistry", "verifyAward")
            })
    }

    /// Mints `amount` tokens to `to` for settlement `settlement` (market operator role; once
    /// per settlement).
    pub async fn mint_for_delivery(
        &self,
        to: Address,
        amount: U256,
        settlement: B256,
    ) -> Result<TransactionReceipt> {
        let c = self.token();
        self.client
            .transact::<_, TokenErrors>(
                c.mintForDelivery(to, amount, settlement),
                "FlexToken",
                "mintForDelivery",
            )
            .await
    }

    /// The token balance of `account`.
    pub async fn balance_of(&self, account: Address) -> Result<U256> {
        let c = self.token();
        c.balanceOf(account).call().await.map_err(|e| {
            self.client
                .contract_error::<TokenErrors>(e, "FlexToken", "balanceOf")
        })
    }

    /// Whether settlement `settlement` was minted.
    pub async fn settled(&self, settlement: B256) -> Result<bool> {
        let c = self.token();
        c.settled(settlement).call().await.map_err(|e| {
            self.client
                .contract_error::<TokenErrors>(e, "FlexToken", "settled")
        })
    }
}
