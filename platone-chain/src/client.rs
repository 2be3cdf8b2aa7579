//! A connection to a node: provider, optional signing key, gas policy, confirmations.

use std::path::Path;

use alloy::contract::{CallBuilder, CallDecoder, Error as ContractError};
use alloy::network::{Ethereum, EthereumWallet};
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolInterface;
use alloy::transports::{RpcError, TransportError};

use crate::config::{ChainConfig, GasPolicy};
use crate::error::{ChainError, Result};

/// A connection to one node, with the key that signs transactions (none for a read-only
/// client). Cheap to clone.
#[derive(Clone)]
pub struct ChainClient {
    provider: DynProvider,
    config: ChainConfig,
    chain_id: u64,
    sender: Option<Address>,
}

impl std::fmt::Debug for ChainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainClient")
            .field("rpc", &self.config.rpc)
            .field("chain_id", &self.chain_id)
            .field("sender", &self.sender)
            .finish()
    }
}

impl ChainClient {
    /// Connects to `config.rpc`, signing with `key` when given, and checks the node's chain id
    /// against `config.chain_id` when set. The node must answer: an unreachable node is
    /// [`ChainError::Unavailable`].
    pub async fn connect(config: ChainConfig, key: Option<PrivateKeySigner>) -> Result<Self> {
        let url = config
            .rpc
            .parse()
            .map_err(|e| ChainError::Config(format!("rpc URL {:?}: {e}", config.rpc)))?;
        let sender = key.as_ref().map(|k| k.address());
        // The nonce is asked of the node for every transaction (`pending` count): a cached
        // nonce would skip one after a transaction the node refused (a revert at estimation),
        // and every later transaction would wait forever behind the gap.
        let builder = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id();
        let provider = match key {
            Some(key) => builder
                .wallet(EthereumWallet::from(key))
                .connect_http(url)
                .erased(),
            None => builder.connect_http(url).erased(),
        };
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| unavailable(&config.rpc, &e))?;
        if let Some(expected) = config.chain_id
            && expected != chain_id
        {
            return Err(ChainError::Config(format!(
                "node {} is on chain {chain_id}, the configuration says {expected}",
                config.rpc
            )));
        }
        Ok(ChainClient {
            provider,
            config,
            chain_id,
            sender,
        })
    }

    /// The provider, for calls this crate does not wrap.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The settings.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The node's chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The address that signs transactions, if this client has a key.
    pub fn sender(&self) -> Option<Address> {
        self.sender
    }

    /// The sender, or a configuration error naming `what` needs one.
    pub fn require_sender(&self, what: &str) -> Result<Address> {
        self.sender
            .ok_or_else(|| ChainError::Config(format!("{what} needs a signing key (--chain-key)")))
    }

    /// Applies the gas policy to a transaction about to be sent.
    pub fn with_gas<'p, D: CallDecoder>(
        &self,
        call: CallBuilder<&'p DynProvider, D, Ethereum>,
    ) -> CallBuilder<&'p DynProvider, D, Ethereum> {
        match self.config.gas {
            GasPolicy::Eip1559 => call,
            GasPolicy::Legacy { gas_price } => call.gas_price(gas_price),
        }
    }

    /// Sends a transaction (gas policy applied) and returns its hash once the node accepted
    /// it. `E` decodes the contract's custom errors for [`ChainError::Reverted`].
    pub async fn send<D: CallDecoder, E: SolInterface + std::fmt::Debug>(
        &self,
        call: CallBuilder<&DynProvider, D, Ethereum>,
        contract: &'static str,
        function: &'static str,
    ) -> Result<B256> {
        let pending = self
            .with_gas(call)
            .send()
            .await
            .map_err(|e| self.contract_error::<E>(e, contract, function))?;
        Ok(*pending.tx_hash())
    }

    /// Sends a transaction and waits until it is confirmed (see [`ChainClient::confirmed`]),
    /// polling at the configured interval; a failed transaction is [`ChainError::Failed`].
    pub async fn transact<D: CallDecoder, E: SolInterface + std::fmt::Debug>(
        &self,
        call: CallBuilder<&DynProvider, D, Ethereum>,
        contract: &'static str,
        function: &'static str,
    ) -> Result<TransactionReceipt> {
        let hash = self.send::<D, E>(call, contract, function).await?;
        self.wait_confirmed(hash).await
    }

    /// Polls until transaction `hash` is mined and confirmed; a transaction the node no longer
    /// knows (dropped from its pool, or lost in a restart) is [`ChainError::Unavailable`].
    pub async fn wait_confirmed(&self, hash: B256) -> Result<TransactionReceipt> {
        loop {
            match self.receipt(hash).await? {
                Some(receipt) if self.confirmed(&receipt).await? => {
                    if !receipt.status() {
                        return Err(ChainError::Failed {
                            transaction: hash.to_string(),
                        });
                    }
                    return Ok(receipt);
                }
                Some(_) => {}
                None if !self.knows_transaction(hash).await? => {
                    return Err(ChainError::Unavailable {
                        rpc: self.config.rpc.clone(),
                        reason: format!("the node dropped transaction {hash}"),
                    });
                }
                None => {}
            }
            tokio::time::sleep(self.config.poll_interval()).await;
        }
    }

    /// The receipt of a transaction, once mined.
    pub async fn receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>> {
        self.provider
            .get_transaction_receipt(hash)
            .await
            .map_err(|e| unavailable(&self.config.rpc, &e))
    }

    /// Whether the node still knows transaction `hash` (mined or waiting in its pool).
    pub async fn knows_transaction(&self, hash: B256) -> Result<bool> {
        self.provider
            .get_transaction_by_hash(hash)
            .await
            .map(|t| t.is_some())
            .map_err(|e| unavailable(&self.config.rpc, &e))
    }

    /// Whether a mined transaction has the configured number of confirmations.
    pub async fn confirmed(&self, receipt: &TransactionReceipt) -> Result<bool> {
        let Some(block) = receipt.block_number else {
            return Ok(false);
        };
        Ok(self.latest_block().await? + 1 >= block + self.config.confirmations.max(1))
    }

    /// The latest block number.
    pub async fn latest_block(&self) -> Result<u64> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| unavailable(&self.config.rpc, &e))
    }

    /// The timestamp (Unix seconds) of block `number`.
    pub async fn block_time(&self, number: u64) -> Result<u64> {
        let block = self
            .provider
            .get_block_by_number(number.into())
            .await
            .map_err(|e| unavailable(&self.config.rpc, &e))?
            .ok_or_else(|| ChainError::Unexpected(format!("block {number} is unknown")))?;
        Ok(block.header.timestamp)
    }

    /// Maps a contract call's error: a revert (decoded with `E`), a node refusal, or an
    /// unreachable node.
    pub fn contract_error<E: SolInterface + std::fmt::Debug>(
        &self,
        error: ContractError,
        contract: &'static str,
        function: &'static str,
    ) -> ChainError {
        if let Some(decoded) = error.as_decoded_interface_error::<E>() {
            return ChainError::Reverted {
                contract,
                function,
                reason: format!("{decoded:?}"),
            };
        }
        if let Some(data) = error.as_revert_data() {
            return ChainError::Reverted {
                contract,
                function,
                reason: format!("revert data 0x{}", hex::encode(&data)),
            };
        }
        match error {
            // A revert whose data the node did not return, only its message.
            ContractError::TransportError(RpcError::ErrorResp(payload))
                if payload.message.contains("revert") =>
            {
                ChainError::Reverted {
                    contract,
                    function,
                    reason: payload.message.to_string(),
                }
            }
            ContractError::TransportError(e) => unavailable(&self.config.rpc, &e),
            other => ChainError::Unexpected(format!("{contract}.{function}: {other}")),
        }
    }
}

pub(crate) fn unavailable(rpc: &str, error: &TransportError) -> ChainError {
    match error {
        RpcError::ErrorResp(payload) => ChainError::Rejected {
            rpc: rpc.to_owned(),
            reason: format!("{} (code {})", payload.message, payload.code),
        },
        other => ChainError::Unavailable {
            rpc: rpc.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// Reads a key file: one hex private key (with or without `0x`), surrounding whitespace
/// ignored. The error names the file but never shows its content.
pub fn read_key_file(path: &Path) -> Result<PrivateKeySigner> {
    let text = std::fs::read_to_string(path).map_err(|e| ChainError::io(path, e))?;
    parse_private_key(text.trim()).map_err(|message| ChainError::Corrupt {
        path: path.to_path_buf(),
        message,
    })
}

/// Parses a hex private key.
pub fn parse_private_key(text: &str) -> std::result::Result<PrivateKeySigner, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "a private key is 64 hex digits (with or without 0x); found {} characters",
            digits.len()
        ));
    }
    digits
        .parse::<PrivateKeySigner>()
        .map_err(|e| format!("not a valid secp256k1 private key: {e}"))
}

/// Runs `step` until `shutdown` completes: again at once when it says there is more to do
/// (`Ok(true)`), after `interval` when not, and after a back-off doubling up to 30 s while it
/// fails (each failure logged with the name it gives).
pub(crate) async fn poll_until<F>(
    shutdown: impl std::future::Future<Output = ()>,
    interval: std::time::Duration,
    mut step: impl FnMut() -> F,
) where
    F: std::future::Future<Output = std::result::Result<bool, (String, ChainError)>>,
{
    tokio::pin!(shutdown);
    let mut delay = interval;
    loop {
        match step().await {
            Ok(true) => delay = std::time::Duration::ZERO,
            Ok(false) => delay = interval,
            Err((what, e)) => {
                delay = (delay * 2).clamp(interval, std::time::Duration::from_secs(30));
                tracing::warn!(error = %e, retry_in = ?delay, "{what}: failed; retrying");
            }
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_checked_without_showing_the_key() {
        let key = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        let signer = parse_private_key(&format!("0x{key}")).unwrap();
        assert_eq!(
            signer.address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        assert_eq!(parse_private_key(key).unwrap().address(), signer.address());
        let short = parse_private_key("0x1234").unwrap_err();
        assert!(short.contains("64 hex digits"), "{short}");
        let zero = parse_private_key(&"0".repeat(64)).unwrap_err();
        assert!(zero.contains("not a valid"), "{zero}");
    }
}
