//! `platone market serve`: the Market Platform on embedded defaults (SQLite, the file ledger
//! and the embedded token issuer in its data directory) or with an OpenID Connect issuer.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use platone_market_platform::{PlatformConfig, PlatformServer};

use crate::api_args::ApiArgs;
use crate::error::{CliError, CliResult};

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
    #[command(flatten)]
    api: ApiArgs,
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
        self.api.apply(&mut config.api, CLIENTS_VAR);
        config.api.validate().map_err(CliError::usage)?;
        config.api.transport().map_err(CliError::usage)?;
        Ok(config)
    }
}

/// Serves until Ctrl-C (or SIGTERM), then stops gracefully.
pub fn run(args: ServeArgs) -> CliResult {
    let config = args.config()?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let server = PlatformServer::start(config)
            .await
            .map_err(CliError::input)?;
        eprintln!("Market Platform on {}", server.api_url());
        crate::signal::stop_signal().await;
        server.shutdown().await.map_err(CliError::input)
    })
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
