//! Choosing a ledger on the command line: a file ledger's directory, or `eth:DEPLOYMENT.json`
//! for the `CertificationAnchor` of a deployment (with `--chain-key KEYFILE` where it writes).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{CliError, CliResult};

/// The ledger a `--ledger` option names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerChoice {
    /// A file ledger's directory (`DIR` or `file:DIR`).
    File(PathBuf),
    /// An Ethereum deployment file (`eth:DEPLOYMENT.json`).
    Eth(PathBuf),
}

impl LedgerChoice {
    /// Reads `DIR`, `file:DIR` or `eth:DEPLOYMENT.json`.
    pub fn parse(text: &str) -> CliResult<Self> {
        let choice = if let Some(path) = text.strip_prefix("eth:") {
            LedgerChoice::Eth(PathBuf::from(path))
        } else {
            LedgerChoice::File(PathBuf::from(text.strip_prefix("file:").unwrap_or(text)))
        };
        match &choice {
            LedgerChoice::Eth(p) | LedgerChoice::File(p) if p.as_os_str().is_empty() => Err(
                CliError::usage(format!("--ledger {text:?}: DIR or eth:DEPLOYMENT.json")),
            ),
            _ => Ok(choice),
        }
    }

    #[cfg_attr(not(feature = "chain"), allow(dead_code))]
    /// Where `platone certify batch` keeps the certificates and the anchor journal of an
    /// Ethereum ledger: beside the deployment file, `DEPLOYMENT.ledger/`.
    pub fn eth_local_dir(deployment: &Path) -> PathBuf {
        deployment.with_extension("ledger")
    }
}

/// How transactions are paid for.
#[derive(Debug, Clone, Args)]
pub struct GasArgs {
    /// Send legacy transactions at this gas price in wei (0 on a free-gas proof-of-authority
    /// network) instead of EIP-1559 fees.
    #[arg(long)]
    pub legacy_gas_price: Option<u128>,
    /// Blocks a transaction needs before it counts as done.
    #[arg(long, default_value_t = 1)]
    pub confirmations: u64,
}

impl Default for GasArgs {
    /// EIP-1559 fees, one confirmation: the options' defaults (and all a reader needs).
    fn default() -> Self {
        GasArgs {
            legacy_gas_price: None,
            confirmations: 1,
        }
    }
}

/// The key and gas settings of a command that writes to an `eth:` ledger.
#[derive(Debug, Clone, Args)]
pub struct ChainKeyArgs {
    /// With `--ledger eth:…`: a file holding the anchoring key (hex), which needs the
    /// anchorer role.
    #[arg(long)]
    pub chain_key: Option<PathBuf>,
    #[command(flatten)]
    pub gas: GasArgs,
}

impl ChainKeyArgs {
    #[cfg_attr(not(feature = "chain"), allow(dead_code))]
    /// The key file, which writing to `deployment` needs.
    pub fn require_key(&self, deployment: &Path) -> CliResult<&Path> {
        self.chain_key.as_deref().ok_or_else(|| {
            CliError::usage(format!(
                "--ledger eth:{} anchors on chain: give --chain-key KEYFILE",
                deployment.display()
            ))
        })
    }
}

/// The error for `eth:` in a build without the `chain` feature.
#[cfg(not(feature = "chain"))]
pub fn no_chain_support() -> CliError {
    CliError::usage(
        "this platone was built without Ethereum support: rebuild with `--features chain` \
         to use --ledger eth:…",
    )
}

#[cfg_attr(not(feature = "chain"), allow(dead_code))]
/// A runtime that can do network I/O (the chain client's HTTP).
pub fn io_runtime() -> CliResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))
}

#[cfg(feature = "chain")]
pub use on_chain::*;

#[cfg(feature = "chain")]
mod on_chain {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use platone_certify::BoxFuture;
    use platone_certify::registry::DeviceRegistry;
    use platone_chain::{ChainDeviceRegistry, ChainVerifier, EthereumLedger, LedgerOptions};

    use super::GasArgs;
    use crate::chain::{chain_error, open};
    use crate::error::{CliError, CliResult};

    /// The Ethereum ledger of `deployment`, keeping its local state in `dir`, anchoring with
    /// the key in `key`.
    pub async fn open_eth(
        deployment: &Path,
        dir: &Path,
        key: &Path,
        gas: &GasArgs,
    ) -> CliResult<EthereumLedger> {
        let (deployment, client) = open(deployment, Some(key), gas).await?;
        EthereumLedger::open(dir, client, deployment, LedgerOptions::default())
            .await
            .map_err(chain_error)
    }

    /// A verifier reading `deployment`'s node, with no key.
    pub async fn chain_verifier(deployment: &Path) -> CliResult<ChainVerifier> {
        let (deployment, client) = open(deployment, None, &GasArgs::default()).await?;
        Ok(ChainVerifier::new(client, deployment))
    }

    /// A loop of a chain engine running in a task of its own until stopped.
    struct Background {
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Background {
        /// Spawns `run(stopped)`, where `stopped` completes when [`stop`](Self::stop) is called.
        fn spawn<F>(run: impl FnOnce(BoxFuture<'static, ()>) -> F) -> Self
        where
            F: std::future::Future<Output = ()> + Send + 'static,
        {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(run(Box::pin(async {
                let _ = stopped.await;
            })));
            Background { stop, task }
        }

        async fn stop(self) {
            let _ = self.stop.send(());
            let _ = self.task.await;
        }
    }

    /// The on-chain device registry of a deployment, synced in the background.
    pub struct SyncingRegistry {
        registry: Arc<ChainDeviceRegistry>,
        syncing: Background,
    }

    impl SyncingRegistry {
        /// Reads `deployment`'s registry (no key) and keeps it in sync.
        pub async fn start(deployment: &Path) -> CliResult<Self> {
            let (deployment, client) = open(deployment, None, &GasArgs::default()).await?;
            let registry = Arc::new(
                ChainDeviceRegistry::open(client, &deployment)
                    .await
                    .map_err(chain_error)?,
            );
            let syncing = {
                let registry = Arc::clone(&registry);
                Background::spawn(|stopped| async move { registry.run(stopped).await })
            };
            Ok(SyncingRegistry { registry, syncing })
        }

        /// The registry, for signature checks.
        pub fn registry(&self) -> Arc<dyn DeviceRegistry> {
            self.registry.clone()
        }

        /// Stops syncing.
        pub async fn stop(self) {
            self.syncing.stop().await;
        }
    }

    /// An Ethereum ledger with its anchoring loop running in the background (what a
    /// long-running process such as the BAL needs: the ledger only queues certificates).
    pub struct AnchoringLedger {
        ledger: Arc<EthereumLedger>,
        anchoring: Background,
    }

    impl AnchoringLedger {
        /// Starts anchoring on `ledger`.
        pub fn start(ledger: EthereumLedger) -> Self {
            let ledger = Arc::new(ledger);
            let anchoring = {
                let ledger = Arc::clone(&ledger);
                Background::spawn(|stopped| async move { ledger.run(stopped).await })
            };
            AnchoringLedger { ledger, anchoring }
        }

        /// The ledger.
        pub fn ledger(&self) -> &Arc<EthereumLedger> {
            &self.ledger
        }

        /// Stops the loop, then anchors what is still queued, waiting up to `timeout`; what
        /// is left stays queued for the next start.
        pub async fn stop(self, timeout: Duration) -> CliResult {
            self.anchoring.stop().await;
            let left = self.ledger.pending_batches();
            if left == 0 {
                return Ok(());
            }
            eprintln!("anchoring the {left} batch(es) still queued…");
            self.ledger.flush(timeout).await.map_err(|e| {
                CliError::input(format!(
                    "{e}; the batches stay queued and are anchored at the next start"
                ))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_choices_parse() {
        assert_eq!(
            LedgerChoice::parse("eth:d.json").unwrap(),
            LedgerChoice::Eth("d.json".into())
        );
        assert_eq!(
            LedgerChoice::parse("file:l").unwrap(),
            LedgerChoice::File("l".into())
        );
        assert_eq!(
            LedgerChoice::parse("l").unwrap(),
            LedgerChoice::File("l".into())
        );
        assert!(LedgerChoice::parse("eth:").is_err());
        assert_eq!(
            LedgerChoice::eth_local_dir(Path::new("x/d.json")),
            Path::new("x/d.ledger")
        );
    }
}
