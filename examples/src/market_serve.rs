//! `platone market serve`: the Market Platform on embedded defaults (SQLite, the file ledger
//! and the embedded token issuer in its data directory) or with an OpenID Connect issuer.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use platone_bus::Publisher;
use platone_certify::{FileLedger, Ledger};
use platone_market_platform::bus::{BusTopics, BusValidation, OutcomeTopics, ValidationFallback};
use platone_market_platform::grid_data::ScdGridData;
use platone_market_platform::{PlatformConfig, PlatformEngines, PlatformServer};
use platone_scd::AnyStore;

use crate::api_args::ApiArgs;
use crate::bridge::{EndConfig, open_bus};
use crate::error::{CliError, CliResult};
use crate::ledgers::{ChainKeyArgs, LedgerChoice};

/// The environment variable holding embedded issuer clients of `platone market serve`
/// (white-space separated).
pub const CLIENTS_VAR: &str = "PLATONE_MARKET_CLIENTS";

/// Options of `platone market serve` (each overrides the configuration file).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML); the options below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address of the REST API [default: 127.0.0.1:8083].
    #[arg(long)]
    http: Option<SocketAddr>,
    /// Data directory: the database, the ledger, the issuer's key
    /// [default: ./platone-market-data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// The database of sessions, orders, outcomes and the audit trail: postgres://… or
    /// sqlite://PATH [default: DATA/market.db].
    #[arg(long)]
    database: Option<String>,
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    bus: BusArgs,
    /// Where results are registered: a file ledger's directory [default: DATA/ledger], or
    /// `eth:DEPLOYMENT.json` — results registered in the deployment's MarketRegistry and
    /// settlement tokens minted by its FlexToken (with --chain-key; the awards' certificates
    /// stay in DATA/ledger).
    #[arg(long)]
    ledger: Option<String>,
    #[command(flatten)]
    chain: ChainKeyArgs,
    /// `PARTICIPANT=0xADDRESS`: the wallet a participant's settlement tokens are minted to
    /// (with --ledger eth:…; repeatable).
    #[arg(long = "wallet")]
    wallets: Vec<String>,
}

/// Where the DSO's technical validation of results happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidationMode {
    /// In process: the DC line-loading check on each session's network.
    Local,
    /// A round trip over the bus to the DSO's validator.
    Bus,
}

/// What happens when the validator does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FallbackArg {
    /// The session fails.
    Fail,
    /// The in-process line-loading check.
    Local,
    /// Published unvalidated (every verdict says so).
    Accept,
}

/// The bus options of `platone market serve`.
#[derive(Debug, Args)]
pub struct BusArgs {
    /// The bus the platform delivers each participant's outcome on (and validates over, with
    /// `--validation bus`): mqtt://, mqtts:// or kafka://.
    #[arg(long)]
    bus: Option<String>,
    /// The bus's CA certificate (PEM): TLS for mqtts:// and Kafka.
    #[arg(long)]
    bus_ca: Option<PathBuf>,
    /// The platform's client certificate on the bus (PEM; mutual TLS, with --bus-key).
    #[arg(long)]
    bus_cert: Option<PathBuf>,
    /// The key of --bus-cert (PEM).
    #[arg(long)]
    bus_key: Option<PathBuf>,
    /// The platform's client id on the bus (and Kafka consumer group).
    #[arg(long, default_value = "platone-market")]
    bus_client_id: String,
    /// Where results are validated.
    #[arg(long, value_enum, default_value = "local")]
    validation: ValidationMode,
    /// Seconds to wait for the validator's answer (with --validation bus).
    #[arg(long, default_value_t = 30)]
    validation_timeout: u64,
    /// What happens without an answer in time.
    #[arg(long, value_enum, default_value = "fail")]
    validation_fallback: FallbackArg,
    /// The Shared Customer Database (sqlite://PATH or postgres://…): orders' PoDs are checked
    /// against its registry, and sessions may be settled from its metered data.
    #[arg(long)]
    scd: Option<String>,
}

impl BusArgs {
    /// The engines these options ask for, on `ledger`.
    async fn engines(&self, ledger: Arc<dyn Ledger>) -> CliResult<PlatformEngines> {
        let mut engines = PlatformEngines::on_ledger(ledger);
        if let Some(url) = &self.scd {
            let store = AnyStore::open(url)
                .await
                .map_err(|e| CliError::input(format!("--scd {url}: {e}")))?;
            engines.grid_data = Some(Arc::new(ScdGridData::new(Arc::new(store))));
        }
        let Some(url) = &self.bus else {
            if self.validation == ValidationMode::Bus {
                return Err(CliError::usage("--validation bus needs --bus"));
            }
            return Ok(engines);
        };
        let end = EndConfig {
            url: Some(url.clone()),
            ca: self.bus_ca.clone(),
            cert: self.bus_cert.clone(),
            key: self.bus_key.clone(),
            client_id: Some(self.bus_client_id.clone()),
            // On Kafka, each participant's outcomes get their own topic
            // (platone.market.outcomes.PARTICIPANT), which the cluster's ACLs can guard.
            kafka_levels: Some(4),
            ..EndConfig::default()
        };
        let bus = open_bus("bus", url, &end, &self.bus_client_id, Duration::ZERO)?;
        let topics = BusTopics::default();
        engines.outcomes = Some(OutcomeTopics::new(
            bus.clone() as Arc<dyn Publisher>,
            topics.outcomes.clone(),
        ));
        if self.validation == ValidationMode::Bus {
            let fallback = match self.validation_fallback {
                FallbackArg::Fail => ValidationFallback::Fail,
                FallbackArg::Local => ValidationFallback::Local,
                FallbackArg::Accept => ValidationFallback::Accept,
            };
            let validation = BusValidation::start(
                bus,
                topics,
                Duration::from_secs(self.validation_timeout),
                fallback,
            )
            .await
            .map_err(CliError::input)?;
            engines.validator = Arc::new(validation);
        }
        Ok(engines)
    }
}

impl ServeArgs {
    /// The configuration: the file's, then the options.
    pub fn config(&self) -> CliResult<PlatformConfig> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
                PlatformConfig::from_toml(&text)
                    .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?
            }
            None => PlatformConfig::default(),
        };
        if let Some(http) = self.http {
            config.http = http;
        }
        if let Some(data) = &self.data {
            config.data = data.clone();
        }
        if let Some(database) = &self.database {
            config.database = Some(database.clone());
        }
        self.api.apply_checked(&mut config.api, CLIENTS_VAR)?;
        Ok(config)
    }
}

/// Serves until Ctrl-C (or SIGTERM), then stops gracefully.
pub fn run(args: ServeArgs) -> CliResult {
    let config = args.config()?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let choice = args
            .ledger
            .as_deref()
            .map(LedgerChoice::parse)
            .transpose()?;
        let directory = match &choice {
            Some(LedgerChoice::File(dir)) => dir.clone(),
            _ => config.data.join("ledger"),
        };
        let ledger = FileLedger::open(directory).map_err(CliError::input)?;
        #[allow(unused_mut)]
        let mut engines = args.bus.engines(Arc::new(ledger)).await?;
        if let Some(LedgerChoice::Eth(deployment)) = &choice {
            #[cfg(feature = "chain")]
            {
                engines.market_chain =
                    Some(market_contracts(deployment, &args.chain, &args.wallets).await?);
            }
            #[cfg(not(feature = "chain"))]
            {
                let _ = deployment;
                return Err(crate::ledgers::no_chain_support());
            }
        }
        let server = PlatformServer::start_with(config, engines)
            .await
            .map_err(CliError::input)?;
        eprintln!("Market Platform on {}", server.api_url());
        crate::signal::stop_signal().await;
        server.shutdown().await.map_err(CliError::input)
    })
}

/// The MarketRegistry and FlexToken of `deployment`, written with the key of `chain`.
#[cfg(feature = "chain")]
async fn market_contracts(
    deployment: &std::path::Path,
    chain: &ChainKeyArgs,
    wallets: &[String],
) -> CliResult<Arc<dyn platone_market_platform::market_chain::MarketChain>> {
    use std::collections::BTreeMap;

    use platone_market_platform::chain::OnChainMarket;

    let mut addresses = BTreeMap::new();
    for wallet in wallets {
        let (who, address) = wallet
            .split_once('=')
            .and_then(|(w, a)| Some((w, a.parse::<platone_chain::Address>().ok()?)))
            .filter(|(w, _)| !w.is_empty())
            .ok_or_else(|| {
                CliError::usage(format!(
                    "--wallet {wallet:?}: expected PARTICIPANT=0xADDRESS"
                ))
            })?;
        addresses.insert(who.to_owned(), address);
    }
    let key = chain.require_key(deployment)?;
    let (deployment, client) = crate::chain::open(deployment, Some(key), &chain.gas).await?;
    Ok(Arc::new(OnChainMarket::new(
        platone_chain::MarketClient::new(client, &deployment),
        deployment.contracts.MarketRegistry,
        deployment.contracts.FlexToken,
        addresses,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn config(args: &[&str]) -> CliResult<PlatformConfig> {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all)
            .map_err(|e| CliError::usage(e.to_string()))?
            .serve
            .config()
    }

    #[test]
    fn flags_override_the_defaults_and_tls_is_required() {
        let e = config(&[]).unwrap_err().to_string();
        assert!(e.contains("--tls-cert"), "{e}");
        let c = config(&[
            "--insecure-http",
            "--http",
            "127.0.0.1:9000",
            "--client",
            "mo=s:market-operator",
        ])
        .unwrap();
        assert!(c.api.insecure_http);
        assert_eq!(c.http.port(), 9000);
        assert_eq!(c.api.clients, ["mo=s:market-operator"]);
        let c = config(&[
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--oidc-issuer",
            "https://idp.example",
        ])
        .unwrap();
        assert_eq!(
            c.api.oidc.unwrap().audience,
            None,
            "the platform's own audience"
        );
    }
}
