//! Deploying the five contracts and the deployment file other tools read.
//!
//! The deployment file is a contract between tools: `platone chain deploy` writes it and every
//! `--ledger eth:DEPLOYMENT.json` reads it:
//!
//! ```json
//! {"chain_id": 31337, "rpc": "http://127.0.0.1:8545",
//!  "contracts": {"CertificationAnchor": "0x…", "DeviceRegistry": "0x…",
//!                "SubscriptionRegistry": "0x…", "MarketRegistry": "0x…", "FlexToken": "0x…"}}
//! ```

use std::path::Path;
use std::str::FromStr;

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::client::ChainClient;
use crate::contracts::{
    CertificationAnchor, DeviceRegistry, FlexToken, MarketRegistry, SubscriptionRegistry,
};
use crate::error::{ChainError, Result};

/// Where the five contracts of one deployment are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// The chain's id.
    pub chain_id: u64,
    /// The JSON-RPC URL the contracts were deployed through.
    pub rpc: String,
    /// The contracts' addresses.
    pub contracts: Contracts,
}

/// The addresses of the five contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct Contracts {
    /// Aggregate anchoring of batch certificates.
    pub CertificationAnchor: Address,
    /// PoD → device address, with history.
    pub DeviceRegistry: Address,
    /// Data subscriptions (D2.13 Table 1).
    pub SubscriptionRegistry: Address,
    /// Market results and award roots.
    pub MarketRegistry: Address,
    /// The settlement token.
    pub FlexToken: Address,
}

impl Deployment {
    /// Reads a deployment file; the error names the file and, for bad JSON, the line and
    /// column.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ChainError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| ChainError::Corrupt {
            path: path.to_path_buf(),
            message: format!("not a deployment file: {e}"),
        })
    }

    /// Writes the deployment file (pretty JSON, trailing newline).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| ChainError::Unexpected(format!("deployment: {e}")))?;
        text.push('\n');
        std::fs::write(path, text).map_err(|e| ChainError::io(path, e))
    }

    /// Deploys the five contracts from the client's key, which receives every role.
    pub async fn deploy(client: &ChainClient) -> Result<Self> {
        let admin = client.require_sender("deploying contracts")?;
        let p = client.provider();
        // Every constructor is `(address admin)` and can only revert with `ZeroAdmin`, which
        // CertificationAnchor's error set decodes for all five.
        macro_rules! deploy {
            ($contract:ident) => {
                client
                    .with_gas($contract::deploy_builder(p, admin))
                    .deploy()
                    .await
                    .map_err(|e| {
                        client.contract_error::<CertificationAnchor::CertificationAnchorErrors>(
                            e,
                            stringify!($contract),
                            "constructor",
                        )
                    })?
            };
        }
        let contracts = Contracts {
            CertificationAnchor: deploy!(CertificationAnchor),
            DeviceRegistry: deploy!(DeviceRegistry),
            SubscriptionRegistry: deploy!(SubscriptionRegistry),
            MarketRegistry: deploy!(MarketRegistry),
            FlexToken: deploy!(FlexToken),
        };
        Ok(Deployment {
            chain_id: client.chain_id(),
            rpc: client.config().rpc.clone(),
            contracts,
        })
    }

    /// Checks that the client's node is this deployment's chain and that each contract has
    /// code there.
    pub async fn check(&self, client: &ChainClient) -> Result<()> {
        use alloy::providers::Provider;
        if client.chain_id() != self.chain_id {
            return Err(ChainError::Config(format!(
                "the deployment is on chain {}, node {} is on chain {}",
                self.chain_id,
                client.config().rpc,
                client.chain_id()
            )));
        }
        for (name, address) in self.contracts.named() {
            let code = client
                .provider()
                .get_code_at(address)
                .await
                .map_err(|e| crate::client::unavailable(&client.config().rpc, &e))?;
            if code.is_empty() {
                return Err(ChainError::Config(format!(
                    "no contract {name} at {address} on chain {}",
                    self.chain_id
                )));
            }
        }
        Ok(())
    }

    /// Grants `role` to `account` on every contract that has it (the client's key must hold
    /// the admin role there).
    pub async fn grant(&self, client: &ChainClient, role: Role, account: Address) -> Result<()> {
        client.require_sender("granting a role")?;
        let p = client.provider();
        let id = role.id();
        for (name, address) in self.contracts.named() {
            if !role.contracts().contains(&name) {
                continue;
            }
            // `grantRole` is OpenZeppelin AccessControl's, the same function and errors in every
            // contract: one binding serves them all.
            let access = CertificationAnchor::new(address, p.clone());
            client
                .transact::<_, CertificationAnchor::CertificationAnchorErrors>(
                    access.grantRole(id, account),
                    name,
                    "grantRole",
                )
                .await?;
        }
        Ok(())
    }
}

impl Contracts {
    /// Each contract's name and address, in deployment order.
    pub fn named(&self) -> [(&'static str, Address); 5] {
        [
            ("CertificationAnchor", self.CertificationAnchor),
            ("DeviceRegistry", self.DeviceRegistry),
            ("SubscriptionRegistry", self.SubscriptionRegistry),
            ("MarketRegistry", self.MarketRegistry),
            ("FlexToken", self.FlexToken),
        ]
    }
}

/// A role of the contracts (OpenZeppelin `AccessControl`; the id is the keccak-256 of the
/// name, the admin role's is zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// `DEFAULT_ADMIN_ROLE`, on every contract: grants and revokes roles.
    Admin,
    /// `ANCHORER_ROLE` on `CertificationAnchor`.
    Anchorer,
    /// `DSO_ROLE` on `DeviceRegistry`.
    Dso,
    /// `MARKET_OPERATOR_ROLE` on `MarketRegistry` and `FlexToken`.
    MarketOperator,
}

impl Role {
    /// The role's name as the contracts spell it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "DEFAULT_ADMIN_ROLE",
            Role::Anchorer => "ANCHORER_ROLE",
            Role::Dso => "DSO_ROLE",
            Role::MarketOperator => "MARKET_OPERATOR_ROLE",
        }
    }

    /// The role's id.
    pub fn id(self) -> B256 {
        match self {
            Role::Admin => B256::ZERO,
            other => alloy::primitives::keccak256(other.name()),
        }
    }

    /// The contracts that have the role.
    pub fn contracts(self) -> &'static [&'static str] {
        match self {
            Role::Admin => &[
                "CertificationAnchor",
                "DeviceRegistry",
                "SubscriptionRegistry",
                "MarketRegistry",
                "FlexToken",
            ],
            Role::Anchorer => &["CertificationAnchor"],
            Role::Dso => &["DeviceRegistry"],
            Role::MarketOperator => &["MarketRegistry", "FlexToken"],
        }
    }
}

impl FromStr for Role {
    type Err = ChainError;

    /// Parses `admin`, `anchorer`, `dso`, `market-operator` or the contracts' names
    /// (`ANCHORER_ROLE` …).
    fn from_str(text: &str) -> Result<Self> {
        let role = match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "admin" | "default-admin-role" | "default-admin" => Role::Admin,
            "anchorer" | "anchorer-role" => Role::Anchorer,
            "dso" | "dso-role" => Role::Dso,
            "market-operator" | "market-operator-role" => Role::MarketOperator,
            _ => {
                return Err(ChainError::Config(format!(
                    "unknown role {text:?}: admin, anchorer, dso or market-operator"
                )));
            }
        };
        Ok(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ids_are_the_contracts_constants() {
        assert_eq!(
            Role::Anchorer.id().to_string(),
            "0x4b3e6527f1b0d33beb6c20e3c362af276f03c4526b5f8b6d118672f0d75a60eb"
        );
        assert_eq!(
            Role::Dso.id().to_string(),
            "0xfc6fedba4f60966af04fb463477e2c54be241cb881c6772b95e5a4e56a6e25e3"
        );
        assert_eq!(
            Role::MarketOperator.id().to_string(),
            "0x55049dd3b89514f54f939cb6b3d0bd764d192f30d61ca6964b2cacf4a9134af1"
        );
        assert_eq!(
            "MARKET_OPERATOR_ROLE".parse::<Role>().unwrap(),
            Role::MarketOperator
        );
        assert!("owner".parse::<Role>().is_err());
    }

    #[test]
    fn a_deployment_file_reads_back_and_names_its_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.json");
        let a = Address::repeat_byte(0x11);
        let d = Deployment {
            chain_id: 31337,
            rpc: "http://127.0.0.1:8545".into(),
            contracts: Contracts {
                CertificationAnchor: a,
                DeviceRegistry: a,
                SubscriptionRegistry: a,
                MarketRegistry: a,
                FlexToken: a,
            },
        };
        d.save(&path).unwrap();
        assert_eq!(Deployment::load(&path).unwrap(), d);
        std::fs::write(&path, "{\"chain_id\": 1,\n \"rpc\": 3}").unwrap();
        let e = Deployment::load(&path).unwrap_err().to_string();
        assert!(e.contains("d.json") && e.contains("line 2"), "{e}");
    }
}
