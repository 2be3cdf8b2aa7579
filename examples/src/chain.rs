//! `platone chain`: deploy the contracts, grant roles, manage the on-chain device registry.
//!
//! The deployment file written by `deploy` is what every `--deployment` and every
//! `--ledger eth:FILE` reads: `{"chain_id", "rpc", "contracts": {…}}`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use platone_chain::{
    Address, ChainClient, ChainConfig, ChainError, Deployment, DeviceRegistryClient, GasPolicy,
    Role, read_key_file,
};

use crate::error::{CliError, CliResult};
use crate::ledgers::GasArgs;

/// Subcommands of `platone chain`.
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Deploy the five contracts (CertificationAnchor, DeviceRegistry, SubscriptionRegistry,
    /// MarketRegistry, FlexToken); the key receives every role. Writes the deployment file.
    Deploy(DeployArgs),
    /// Grant a role (admin, anchorer, dso, market-operator) to an address on every contract
    /// that has it.
    Grant(GrantArgs),
    /// The on-chain device registry: register, rotate, revoke a PoD's device key, or ask
    /// which device held it at a time.
    #[command(subcommand)]
    Devices(DevicesCommand),
}

/// Options of `platone chain deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The node's JSON-RPC URL.
    #[arg(long)]
    pub rpc: String,
    /// A file holding the deploying private key (hex).
    #[arg(long)]
    pub key: PathBuf,
    /// Where to write the deployment file.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub gas: GasArgs,
}

/// Options of `platone chain grant`.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The deployment file.
    #[arg(long)]
    pub deployment: PathBuf,
    /// A file holding an admin's private key (hex).
    #[arg(long)]
    pub key: PathBuf,
    #[command(flatten)]
    pub gas: GasArgs,
    /// The role: admin, anchorer, dso or market-operator.
    pub role: String,
    /// The address receiving it.
    pub address: String,
}

/// Subcommands of `platone chain devices`.
#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Register a device for a PoD that has none open.
    Register(DeviceChangeArgs),
    /// Close the PoD's current device key and open a new one.
    Rotate(DeviceChangeArgs),
    /// Revoke the PoD's current device key.
    Revoke(PodChangeArgs),
    /// The device that held a PoD's key at a time (now by default), and its history.
    At(DeviceAtArgs),
}

/// The PoD a DSO changes, and how.
#[derive(Debug, Args)]
pub struct PodChangeArgs {
    /// The deployment file.
    #[arg(long)]
    pub deployment: PathBuf,
    /// A file holding a DSO's private key (hex).
    #[arg(long)]
    pub key: PathBuf,
    /// The PoD (or meter) id.
    #[arg(long)]
    pub pod: String,
    /// From when (Unix seconds or RFC 3339); now by default.
    #[arg(long)]
    pub from: Option<String>,
    #[command(flatten)]
    pub gas: GasArgs,
}

/// Options of `platone chain devices register|rotate`.
#[derive(Debug, Args)]
pub struct DeviceChangeArgs {
    #[command(flatten)]
    pub change: PodChangeArgs,
    /// The device's address.
    #[arg(long)]
    pub device: String,
}

/// Options of `platone chain devices at`.
#[derive(Debug, Args)]
pub struct DeviceAtArgs {
    /// The deployment file.
    #[arg(long)]
    pub deployment: PathBuf,
    /// The PoD (or meter) id.
    #[arg(long)]
    pub pod: String,
    /// The time (Unix seconds or RFC 3339); now by default.
    #[arg(long)]
    pub time: Option<String>,
}

/// Runs `platone chain …`.
pub fn run(command: ChainCommand) -> CliResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(run_async(command))
}

async fn run_async(command: ChainCommand) -> CliResult {
    match command {
        ChainCommand::Deploy(a) => {
            let client = connect(&a.rpc, None, Some(&a.key), &a.gas).await?;
            let deployment = Deployment::deploy(&client).await.map_err(chain_error)?;
            deployment.save(&a.out).map_err(chain_error)?;
            for (name, address) in deployment.contracts.named() {
                eprintln!("{name} {address}");
            }
            eprintln!(
                "deployed on chain {} by {}; deployment written to {}",
                deployment.chain_id,
                client.sender().map(|s| s.to_string()).unwrap_or_default(),
                a.out.display()
            );
            Ok(())
        }
        ChainCommand::Grant(a) => {
            let role: Role = a.role.parse().map_err(|e: ChainError| CliError::usage(e))?;
            let address = parse_address(&a.address)?;
            let (deployment, client) = open(&a.deployment, Some(&a.key), &a.gas).await?;
            deployment
                .grant(&client, role, address)
                .await
                .map_err(chain_error)?;
            eprintln!("granted {} to {address}", role.name());
            Ok(())
        }
        ChainCommand::Devices(c) => devices(c).await,
    }
}

async fn devices(command: DevicesCommand) -> CliResult {
    match command {
        DevicesCommand::Register(a) => {
            let (registry, device, from) = device_change(&a).await?;
            registry
                .register(&a.change.pod, device, from)
                .await
                .map_err(chain_error)?;
            eprintln!("registered {device} for {} from {from}", a.change.pod);
            Ok(())
        }
        DevicesCommand::Rotate(a) => {
            let (registry, device, from) = device_change(&a).await?;
            registry
                .rotate(&a.change.pod, device, from)
                .await
                .map_err(chain_error)?;
            eprintln!("rotated {} to {device} from {from}", a.change.pod);
            Ok(())
        }
        DevicesCommand::Revoke(a) => {
            let from = parse_time(a.from.as_deref())?;
            let (deployment, client) = open(&a.deployment, Some(&a.key), &a.gas).await?;
            DeviceRegistryClient::new(client, &deployment)
                .revoke(&a.pod, from)
                .await
                .map_err(chain_error)?;
            eprintln!("revoked the device key of {} from {from}", a.pod);
            Ok(())
        }
        DevicesCommand::At(a) => {
            let time = parse_time(a.time.as_deref())?;
            let (deployment, client) = open(&a.deployment, None, &GasArgs::default()).await?;
            let registry = DeviceRegistryClient::new(client, &deployment);
            let device = registry
                .device_at(&a.pod, time)
                .await
                .map_err(chain_error)?;
            let history = registry.history(&a.pod).await.map_err(chain_error)?;
            let answer = serde_json::json!({
                "pod": a.pod,
                "time": time,
                "device": device.map(|d| d.to_string()),
                "history": history,
            });
            println!("{answer}");
            Ok(())
        }
    }
}

async fn device_change(a: &DeviceChangeArgs) -> CliResult<(DeviceRegistryClient, Address, u64)> {
    let device = parse_address(&a.device)?;
    let c = &a.change;
    let from = parse_time(c.from.as_deref())?;
    let (deployment, client) = open(&c.deployment, Some(&c.key), &c.gas).await?;
    Ok((DeviceRegistryClient::new(client, &deployment), device, from))
}

pub(crate) async fn open(
    deployment: &Path,
    key: Option<&Path>,
    gas: &GasArgs,
) -> CliResult<(Deployment, ChainClient)> {
    let loaded = Deployment::load(deployment).map_err(chain_error)?;
    let client = connect(&loaded.rpc, Some(loaded.chain_id), key, gas).await?;
    loaded.check(&client).await.map_err(chain_error)?;
    Ok((loaded, client))
}

async fn connect(
    rpc: &str,
    chain_id: Option<u64>,
    key: Option<&Path>,
    gas: &GasArgs,
) -> CliResult<ChainClient> {
    let key = key
        .map(|k| read_key_file(k).map_err(chain_error))
        .transpose()?;
    let mut config = ChainConfig::new(rpc);
    config.chain_id = chain_id;
    config.confirmations = gas.confirmations.max(1);
    config.poll_interval_ms = 200;
    if let Some(gas_price) = gas.legacy_gas_price {
        config.gas = GasPolicy::Legacy { gas_price };
    }
    ChainClient::connect(config, key).await.map_err(chain_error)
}

pub(crate) fn chain_error(e: ChainError) -> CliError {
    CliError::input(e)
}

fn parse_address(text: &str) -> CliResult<Address> {
    text.parse().map_err(|e| {
        CliError::usage(format!(
            "{text:?} is not an address (0x + 40 hex digits): {e}"
        ))
    })
}

/// Unix seconds, or an RFC 3339 time; `None` is now.
fn parse_time(text: Option<&str>) -> CliResult<u64> {
    let Some(text) = text else {
        return Ok(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default());
    };
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    platone_model::parse_timestamp(text)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp()).ok())
        .ok_or_else(|| {
            CliError::usage(format!(
                "{text:?} is not a time: Unix seconds or RFC 3339 (2025-01-01T00:00:00Z)"
            ))
        })
}
