//! `platone bal`: the Blockchain Access Layer on one machine or against real brokers.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use platone_bal::{Bal, BalConfig};

use crate::api_args::ApiArgs;
use crate::error::{CliError, CliResult};
use crate::ledgers::{ChainKeyArgs, LedgerChoice};

/// Options of `platone bal` (each overrides the configuration file).
#[derive(Debug, Args)]
pub struct BalArgs {
    /// Configuration file (TOML); the options below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// External MQTT broker: mqtt://HOST:PORT or mqtts://HOST:PORT.
    #[arg(long, conflicts_with = "embedded_broker")]
    mqtt: Option<String>,
    /// The CA certificate (PEM) of an mqtts:// broker.
    #[arg(long, value_name = "PEM")]
    mqtt_ca: Option<PathBuf>,
    /// The BAL's client certificate (PEM) for mutual TLS with an mqtts:// broker (with
    /// --mqtt-key).
    #[arg(long, value_name = "PEM", requires = "mqtt_key")]
    mqtt_cert: Option<PathBuf>,
    /// The private key (PEM) of --mqtt-cert.
    #[arg(long, value_name = "PEM", requires = "mqtt_cert")]
    mqtt_key: Option<PathBuf>,
    /// Grant and revoke consumers' read access, and devices' publishing rights, through
    /// Mosquitto's dynamic-security plugin as this administrator account (with
    /// --dynsec-password-file).
    #[arg(long, value_name = "NAME", requires = "dynsec_password_file")]
    dynsec_user: Option<String>,
    /// A file holding the --dynsec-user account's password (its first line).
    #[arg(long, value_name = "FILE", requires = "dynsec_user")]
    dynsec_password_file: Option<PathBuf>,
    /// Run the embedded broker on this address (the default when no broker is given:
    /// 127.0.0.1:1883).
    #[arg(long)]
    embedded_broker: Option<SocketAddr>,
    /// Address of the REST API [default: 127.0.0.1:8082].
    #[arg(long)]
    http: Option<SocketAddr>,
    /// Data directory: SCD, ledger, device registry, journal [default: ./platone-data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Close certification batches at this many records (PMU and meter batches).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Close certification batches this many seconds after they opened (PMU and meter).
    #[arg(long)]
    batch_window: Option<u64>,
    /// A static REST token, for tests and demonstrations only: PARTICIPANT=TOKEN
    /// (repeatable; the participant `dso` sees everything).
    #[arg(long = "token", value_name = "PARTICIPANT=TOKEN")]
    tokens: Vec<String>,
    #[command(flatten)]
    api: ApiArgs,
    /// Refuse packets without a valid device signature.
    #[arg(long)]
    require_signatures: bool,
    /// Anchor on chain: `eth:DEPLOYMENT.json` (with `--chain-key`) instead of the file ledger
    /// of the data directory; the certificates and the anchor journal are kept in
    /// `DATA/chain-ledger/`, and each proof carries its on-chain anchor.
    #[arg(long, value_name = "eth:DEPLOYMENT.json")]
    ledger: Option<String>,
    #[command(flatten)]
    chain: ChainKeyArgs,
    /// Check device signatures against the deployment's on-chain `DeviceRegistry`
    /// (`eth:DEPLOYMENT.json`; read only, synced every poll interval) instead of the embedded
    /// registry; the DSO registers keys with `platone chain devices`.
    #[arg(long, value_name = "eth:DEPLOYMENT.json")]
    device_registry: Option<String>,
}

impl BalArgs {
    /// The configuration: the file, then the options.
    pub fn config(&self) -> CliResult<BalConfig> {
        let mut config = match &self.config {
            Some(path) => BalConfig::from_file(path).map_err(CliError::input)?,
            None => BalConfig::default(),
        };
        if let Some(url) = &self.mqtt {
            config.mqtt = Some(url.clone());
            config.embedded_broker = None;
        }
        if let Some(addr) = self.embedded_broker {
            config.embedded_broker = Some(addr);
            config.mqtt = None;
        }
        if let Some(ca) = &self.mqtt_ca {
            config.mqtt_ca = Some(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&self.mqtt_cert, &self.mqtt_key) {
            config.mqtt_cert = Some(cert.clone());
            config.mqtt_key = Some(key.clone());
        }
        if let (Some(user), Some(password_file)) = (&self.dynsec_user, &self.dynsec_password_file) {
            let timeout_secs = config.dynsec.as_ref().map_or(5, |d| d.timeout_secs);
            config.dynsec = Some(platone_bal::config::DynsecConfig {
                user: user.clone(),
                password_file: password_file.clone(),
                timeout_secs,
            });
        }
        if let Some(http) = self.http {
            config.http = http;
        }
        if let Some(data) = &self.data {
            config.data = data.clone();
        }
        if let Some(size) = self.batch_size {
            config.batch.pmu_size = size;
            config.batch.meter_size = size;
        }
        if let Some(window) = self.batch_window {
            config.batch.pmu_window_secs = window;
            config.batch.meter_window_secs = window;
        }
        for token in &self.tokens {
            config.add_token(token).map_err(CliError::usage)?;
        }
        self.api.apply(&mut config.api, CLIENTS_VAR);
        config.require_signatures |= self.require_signatures;
        config.validate().map_err(CliError::usage)?;
        Ok(config)
    }
}

/// The environment variable holding embedded issuer clients of `platone bal` (white-space
/// separated).
pub const CLIENTS_VAR: &str = "PLATONE_BAL_CLIENTS";

/// Runs the BAL until Ctrl-C (or SIGTERM), then stops gracefully. Should one of its tasks stop
/// unexpectedly, the BAL is stopped and the command fails (exit 1) rather than run half-dead.
pub fn run(args: BalArgs) -> CliResult {
    let config = args.config()?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let ledger = args
            .ledger
            .as_deref()
            .map(LedgerChoice::parse)
            .transpose()?;
        let registry = args
            .device_registry
            .as_deref()
            .map(LedgerChoice::parse)
            .transpose()?;
        match (ledger, registry) {
            (None, None) => serve(Bal::start(config).await.map_err(CliError::input)?).await,
            (Some(LedgerChoice::File(_)), _) | (_, Some(LedgerChoice::File(_))) => {
                Err(CliError::usage(
                    "the BAL keeps its file ledger and device registry in the data directory; \
                     --ledger and --device-registry take eth:DEPLOYMENT.json",
                ))
            }
            #[cfg(feature = "chain")]
            (ledger, registry) => on_chain(args.chain, config, ledger, registry).await,
            #[cfg(not(feature = "chain"))]
            _ => Err(crate::ledgers::no_chain_support()),
        }
    })
}

/// The BAL with an Ethereum ledger, an on-chain device registry, or both (`eth:` choices).
#[cfg(feature = "chain")]
async fn on_chain(
    chain: ChainKeyArgs,
    config: BalConfig,
    ledger: Option<LedgerChoice>,
    registry: Option<LedgerChoice>,
) -> CliResult {
    use std::sync::Arc;

    let anchoring = match &ledger {
        Some(LedgerChoice::Eth(deployment)) => {
            let key = chain.require_key(deployment)?;
            let dir = config.data.join("chain-ledger");
            let ledger = crate::ledgers::open_eth(deployment, &dir, key, &chain.gas).await?;
            Some(crate::ledgers::AnchoringLedger::start(ledger))
        }
        _ => None,
    };
    let syncing = match &registry {
        Some(LedgerChoice::Eth(deployment)) => {
            Some(crate::ledgers::SyncingRegistry::start(deployment).await?)
        }
        _ => None,
    };
    let ledger = anchoring
        .as_ref()
        .map(|a| a.ledger().clone() as Arc<dyn platone_certify::Ledger>);
    let device_registry = syncing.as_ref().map(|s| s.registry());
    let bal = Bal::start_with_engines(config, ledger, device_registry)
        .await
        .map_err(CliError::input)?;
    let served = serve(bal).await;
    if let Some(syncing) = syncing {
        syncing.stop().await;
    }
    let anchored = match anchoring {
        Some(anchoring) => anchoring.stop(ANCHOR_ON_STOP).await,
        None => Ok(()),
    };
    served.and(anchored)
}

/// How long a stopping BAL waits for the chain to anchor what it queued.
#[cfg(feature = "chain")]
const ANCHOR_ON_STOP: std::time::Duration = std::time::Duration::from_secs(60);

/// Serves until a stop signal or a task's failure, then stops.
async fn serve(bal: Bal) -> CliResult {
    eprintln!(
        "BAL running: devices publish to {} under platone/bal/devices/DEVICE/{{pmu,cim}}; \
         REST API on {} (Ctrl-C stops)",
        bal.mqtt_url(),
        bal.api_url()
    );
    let failed = bal.failed();
    let failure = tokio::select! {
        () = crate::signal::stop_signal() => None,
        why = failed => Some(why),
    };
    if let Some(why) = failure {
        tracing::error!("{why}; stopping");
        let outcome = bal.shutdown().await;
        return Err(CliError::input(match outcome {
            Err(e) => format!("{why} ({e})"),
            Ok(_) => why,
        }));
    }
    eprintln!("stopping: closing and anchoring open batches…");
    let totals = bal.shutdown().await.map_err(CliError::input)?;
    eprintln!(
        "stopped: {} packets, {} measurements stored, {} batches anchored, {} dead letters",
        totals.packets_received,
        totals.measurements_stored,
        totals.batches_anchored,
        totals.packets_dead_lettered
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        bal: BalArgs,
    }

    fn config(args: &[&str]) -> CliResult<BalConfig> {
        let parsed = Command::try_parse_from(std::iter::once("bal").chain(args.iter().copied()))
            .map_err(|e| CliError::usage(e.to_string()))?;
        parsed.bal.config()
    }

    #[test]
    fn mutual_tls_and_dynamic_security_options_reach_the_configuration() {
        let config = config(&[
            "--mqtt",
            "mqtts://broker.example:8883",
            "--mqtt-ca",
            "ca.pem",
            "--mqtt-cert",
            "bal.pem",
            "--mqtt-key",
            "bal.key",
            "--dynsec-user",
            "bal-admin",
            "--dynsec-password-file",
            "dynsec.password",
        ])
        .unwrap();
        assert_eq!(config.mqtt_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(config.mqtt_cert, Some(PathBuf::from("bal.pem")));
        assert_eq!(config.mqtt_key, Some(PathBuf::from("bal.key")));
        let dynsec = config.dynsec.unwrap();
        assert_eq!(dynsec.user, "bal-admin");
        assert_eq!(dynsec.password_file, PathBuf::from("dynsec.password"));
        assert_eq!(dynsec.timeout_secs, 5);
    }

    #[test]
    fn a_certificate_needs_its_key_and_an_account_its_password_file() {
        for args in [
            &["--mqtt", "mqtts://b:8883", "--mqtt-cert", "bal.pem"][..],
            &["--mqtt", "mqtts://b:8883", "--mqtt-key", "bal.key"],
            &["--mqtt", "mqtt://b:1883", "--dynsec-user", "admin"],
            &["--mqtt", "mqtt://b:1883", "--dynsec-password", "secret"],
        ] {
            assert!(config(args).is_err(), "{args:?}");
        }
        // The plugin is Mosquitto's: not with the embedded broker.
        assert!(config(&["--dynsec-user", "admin", "--dynsec-password-file", "pw"]).is_err());
    }

    #[test]
    fn https_issuer_and_oidc_options_reach_the_configuration() {
        let parsed = config(&[
            "--tls-cert",
            "bal.pem",
            "--tls-key",
            "bal.key",
            "--tls-client-ca",
            "ca.pem",
            "--client",
            "dso=s1:dso",
            "--client",
            "agg-1=s2:aggregator",
            "--public-url",
            "https://bal.example:8082",
            "--oidc-issuer",
            "https://kc.example/realms/platone",
            "--oidc-audience",
            "bal",
            "--oidc-roles-claim",
            "resource_access.bal.roles",
        ])
        .unwrap();
        let tls = parsed.api.tls.as_ref().unwrap();
        assert_eq!(
            tls.client_ca.as_deref(),
            Some(std::path::Path::new("ca.pem"))
        );
        assert!(!parsed.api.insecure_http);
        assert_eq!(parsed.api.clients, ["dso=s1:dso", "agg-1=s2:aggregator"]);
        assert_eq!(parsed.api.client_specs().unwrap()[1].roles, ["aggregator"]);
        let oidc = parsed.api.oidc.as_ref().unwrap();
        assert_eq!(oidc.audience.as_deref(), Some("bal"));
        assert_eq!(oidc.roles_claim, "resource_access.bal.roles");
        assert_eq!(
            parsed.api.public_url.as_deref(),
            Some("https://bal.example:8082")
        );

        // Plain HTTP only when asked, and never beside a certificate.
        assert!(config(&["--insecure-http"]).unwrap().api.insecure_http);
        assert!(config(&["--insecure-http", "--tls-cert", "c", "--tls-key", "k"]).is_err());
        assert!(
            config(&["--tls-cert", "c"]).is_err(),
            "a certificate needs its key"
        );
        assert!(
            config(&["--oidc-audience", "bal"]).is_err(),
            "an audience needs an issuer"
        );
    }
}
