//! The platform as a running server: its configuration ([`PlatformConfig`], TOML) and
//! [`PlatformServer`], which opens the store and the ledger, sets up the token checks, serves
//! the API (HTTPS, or plain HTTP when asked) and runs the gate-closure clock until it is shut
//! down. `platone market serve` only wires this.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use platone_certify::{FileLedger, Ledger};
use platone_service::{
    EmbeddedIssuer, IdentitySetup, ServeOptions, ServiceSecurity, StaticTokens, Transport,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{PlatformState, router};
use crate::bus::OutcomeTopics;
use crate::error::{PlatformError, Result};
use crate::grid_data::GridData;
use crate::market_chain::MarketChain;
use crate::platform::{LineLoading, MarketPlatform, SessionValidator};
use crate::schedule::{MarketSchedule, ScheduledSessions};
use crate::store::{SqliteStore, open_store};

/// The audience of the platform's tokens unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "platone-market";

/// How long requests in flight may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The platform's configuration.
///
/// ```toml
/// data = "platone-market-data"     # the SQLite database, the file ledger, the issuer's key
/// http = "127.0.0.1:8083"
/// # database = "postgres://market@127.0.0.1:5432/platone"   # instead of DATA/market.db
/// [api]
/// clients = ["mo=change-me:market-operator", "dso-1=change-me:dso", "agg-1=change-me:aggregator"]
/// [api.tls]
/// cert = "/etc/platone/market.pem"
/// key = "/etc/platone/market.key"
/// [schedule]
/// time_zone = "Europe/Rome"
/// day_ahead = { gate_closure = "12:00" }
/// real_time = { every_minutes = 15, horizon_minutes = 240 }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformConfig {
    /// The data directory.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// Where the API listens.
    #[serde(default = "default_http")]
    pub http: SocketAddr,
    /// The database of sessions, orders, outcomes and the audit trail ([`open_store`]:
    /// `postgres://…` with the feature `postgres`, or `sqlite://PATH`); by default the SQLite
    /// file `market.db` of the data directory.
    #[serde(default)]
    pub database: Option<String>,
    /// The listener and the token issuers ([`ServiceSecurity`]).
    #[serde(default)]
    pub api: ServiceSecurity,
    /// Sessions opened by the platform's clock ([`MarketSchedule`]); without it, the operator
    /// opens each session.
    #[serde(default)]
    pub schedule: Option<MarketSchedule>,
}

fn default_data() -> PathBuf {
    PathBuf::from("platone-market-data")
}

fn default_http() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8083))
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig {
            data: default_data(),
            http: default_http(),
            database: None,
            api: ServiceSecurity::default(),
            schedule: None,
        }
    }
}

impl PlatformConfig {
    /// Reads a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| PlatformError::invalid("configuration", e))
    }
}

/// The engines a platform runs on besides its store: where results are registered, who
/// validates them, where participants' outcomes go, and tokens accepted besides the configured
/// issuers' (tests and demonstrations).
pub struct PlatformEngines {
    /// The ledger results are registered on.
    pub ledger: Arc<dyn Ledger>,
    /// The DSO's validation ([`LineLoading`] in process, or
    /// [`BusValidation`](crate::bus::BusValidation)).
    pub validator: Arc<dyn SessionValidator>,
    /// Where each participant's outcome is published, if anywhere.
    pub outcomes: Option<OutcomeTopics>,
    /// The SCD's PoD registry and metered data, if the platform checks PoDs and settles from
    /// metered data ([`ScdGridData`](crate::grid_data::ScdGridData)).
    pub grid_data: Option<Arc<dyn GridData>>,
    /// The market's contracts results are registered and tokens minted on, if any.
    pub market_chain: Option<Arc<dyn MarketChain>>,
    /// Static bearer tokens.
    pub static_tokens: StaticTokens,
}

impl std::fmt::Debug for PlatformEngines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformEngines")
            .field("ledger", &self.ledger.name())
            .field("outcomes", &self.outcomes)
            .finish_non_exhaustive()
    }
}

impl PlatformEngines {
    /// `ledger`, the in-process line-loading validation, no outcome topics, no static tokens.
    pub fn on_ledger(ledger: Arc<dyn Ledger>) -> Self {
        PlatformEngines {
            ledger,
            validator: Arc::new(LineLoading::default()),
            outcomes: None,
            grid_data: None,
            market_chain: None,
            static_tokens: StaticTokens::new(),
        }
    }
}

/// A running platform.
pub struct PlatformServer {
    platform: MarketPlatform,
    api_url: String,
    address: SocketAddr,
    issuer: Option<Arc<EmbeddedIssuer>>,
    stop: watch::Sender<bool>,
    server: JoinHandle<platone_service::Result<()>>,
    clock: JoinHandle<()>,
    ledger_holders: usize,
}

impl std::fmt::Debug for PlatformServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformServer")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

fn service(e: platone_service::ServiceError) -> PlatformError {
    PlatformError::invalid("api", e)
}

impl PlatformServer {
    /// Starts the platform of `config` with the file ledger of its data directory, the
    /// in-process line-loading validation and no static tokens.
    pub async fn start(config: PlatformConfig) -> Result<Self> {
        let ledger = FileLedger::open(config.data.join("ledger"))?;
        Self::start_with(config, PlatformEngines::on_ledger(Arc::new(ledger))).await
    }

    /// Starts the platform of `config` on `engines`.
    pub async fn start_with(config: PlatformConfig, engines: PlatformEngines) -> Result<Self> {
        let PlatformEngines {
            ledger,
            validator,
            outcomes,
            grid_data,
            market_chain,
            static_tokens,
        } = engines;
        config.api.validate().map_err(service)?;
        let schedule = config
            .schedule
            .clone()
            .map(ScheduledSessions::load)
            .transpose()?;
        let transport = config.api.transport().map_err(service)?;
        if let Transport::Https(files) = &transport {
            files.server_config().map_err(service)?;
        }
        std::fs::create_dir_all(&config.data)
            .map_err(|e| PlatformError::Store(format!("{}: {e}", config.data.display())))?;
        // The caller's references and this one (which the platform takes).
        let ledger_holders = Arc::strong_count(&ledger);
        let store = match &config.database {
            Some(database) => open_store(database)?,
            None => Arc::new(SqliteStore::open(&config.data.join("market.db"))?),
        };
        tracing::info!("the platform's store: {}", store.name());
        let mut platform = MarketPlatform::open(store, ledger, validator)?;
        if let Some(topics) = outcomes {
            platform = platform.deliver_outcomes_to(topics);
        }
        if let Some(grid_data) = grid_data {
            platform = platform.with_grid_data(grid_data);
        }
        if let Some(chain) = market_chain {
            platform = platform.with_market_chain(chain);
        }
        let listener = tokio::net::TcpListener::bind(config.http)
            .await
            .map_err(|e| PlatformError::invalid("http", format!("{}: {e}", config.http)))?;
        let address = listener
            .local_addr()
            .map_err(|e| PlatformError::invalid("http", e))?;
        let identity = config
            .api
            .identify(IdentitySetup {
                default_audience: DEFAULT_AUDIENCE,
                data_dir: &config.data,
                address,
                transport: &transport,
                static_tokens,
                on_fetch: None,
            })
            .map_err(service)?;
        let mut app = router(PlatformState {
            platform: platform.clone(),
            authentication: identity.authentication,
        });
        if let Some(issuer) = &identity.issuer {
            app = app.merge(issuer.clone().routes());
        }
        let (stop, stopped) = watch::channel(false);
        let options = ServeOptions {
            limits: config.api.limits(),
            grace: SHUTDOWN_GRACE,
        };
        let api_url = format!("{}://{address}", transport.scheme());
        let mut server_stop = stopped.clone();
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = server_stop.changed().await;
            };
            platone_service::serve(listener, app, &transport, &options, shutdown).await
        });
        let mut clock_stop = stopped;
        let clock = tokio::spawn(crate::clock::run_gate_closures(
            platform.clone(),
            schedule,
            async move {
                let _ = clock_stop.changed().await;
            },
        ));
        tracing::info!("Market Platform on {api_url}");
        Ok(PlatformServer {
            platform,
            api_url,
            address,
            issuer: identity.issuer,
            stop,
            server,
            clock,
            ledger_holders,
        })
    }

    /// The API's base URL (`https://ADDRESS`).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The address the API listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The embedded token issuer, when clients are configured.
    pub fn issuer(&self) -> Option<&EmbeddedIssuer> {
        self.issuer.as_deref()
    }

    /// The platform.
    pub fn platform(&self) -> &MarketPlatform {
        &self.platform
    }

    /// Stops the clock and the listener (requests in flight get [`SHUTDOWN_GRACE`]).
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        let _ = self.clock.await;
        let served = self.server.await;
        // The listener's last connections drop their router (and its ledger) just after it
        // returns; a platform started next on the same data directory needs the ledger.
        let ledger = self.platform.ledger().clone();
        drop(self.platform);
        if !platone_service::until_released(&ledger, self.ledger_holders, SHUTDOWN_GRACE).await {
            tracing::warn!("the ledger is still held after the shutdown");
        }
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(service(e)),
            Err(e) => Err(PlatformError::Store(format!("the listener stopped: {e}"))),
        }
    }
}
