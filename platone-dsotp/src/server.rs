//! The DSOTP as a running server: [`DsotpServer`] opens the store, reads the grid model and
//! the measurement map, starts the services on the given bus and serves the API (HTTPS, or
//! plain HTTP when asked) until it is shut down. `platone dsotp` only wires this.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use platone_bus::Bus;
use platone_grid::{MeasurementMap, Network};
use platone_scd::{AnyStore, Store};
use platone_service::{IdentitySetup, ServeOptions, StaticTokens, Transport};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{DsotpState, router};
use crate::config::DsotpConfig;
use crate::dispatch::{LedgerCertifier, SetPointCertifier};
use crate::error::{DsotpError, Result};
use crate::estimation::EstimatorConfig;
use crate::platform::{Dsotp, DsotpParts};

/// The audience of the DSOTP's tokens unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "platone-dsotp";

/// How long requests in flight may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Reads a MATPOWER case file.
pub fn read_grid(path: &std::path::Path) -> Result<Network> {
    let bytes = std::fs::read(path).map_err(|source| DsotpError::Io {
        path: path.display().to_string(),
        source,
    })?;
    platone_grid::parse_case_bytes(&bytes)
        .map_err(|e| DsotpError::invalid(path.display().to_string(), e))
}

/// Reads a measurement map (`{"routes": [...]}`).
pub fn read_map(path: &std::path::Path) -> Result<MeasurementMap> {
    let bytes = std::fs::read(path).map_err(|source| DsotpError::Io {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        DsotpError::invalid(
            format!("{} line {} column {}", path.display(), e.line(), e.column()),
            e,
        )
    })
}

/// Opens the store the configuration names (its data directory's `dsotp.db` by default).
pub async fn open_store(config: &DsotpConfig) -> Result<Arc<dyn Store>> {
    let url = match &config.database {
        Some(url) if url.contains("://") => url.clone(),
        Some(path) => format!("sqlite://{path}"),
        None => format!("sqlite://{}", config.data.join("dsotp.db").display()),
    };
    let store = AnyStore::open(&url)
        .await
        .map_err(|e| DsotpError::invalid("database", e))?;
    Ok(Arc::new(store))
}

/// What a server runs on besides its configuration.
pub struct DsotpEngines {
    /// The databus.
    pub bus: Arc<dyn Bus>,
    /// The grid model, when not read from the configuration's `grid` file.
    pub network: Option<Network>,
    /// The measurement map, when not read from the configuration's `map` file.
    pub map: Option<MeasurementMap>,
    /// Routes added to the API (the validation and dispatch services' own).
    pub routes: Router<DsotpState>,
    /// Static bearer tokens (tests and demonstrations).
    pub static_tokens: StaticTokens,
}

impl std::fmt::Debug for DsotpEngines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DsotpEngines")
            .field("bus", &self.bus.describe())
            .finish_non_exhaustive()
    }
}

impl DsotpEngines {
    /// On `bus`, the rest from the configuration.
    pub fn on_bus(bus: Arc<dyn Bus>) -> Self {
        DsotpEngines {
            bus,
            network: None,
            map: None,
            routes: Router::new(),
            static_tokens: StaticTokens::new(),
        }
    }
}

/// A running DSOTP.
pub struct DsotpServer {
    dsotp: Dsotp,
    api_url: String,
    address: SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<platone_service::Result<()>>,
}

impl std::fmt::Debug for DsotpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DsotpServer")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

fn service(e: platone_service::ServiceError) -> DsotpError {
    DsotpError::invalid("api", e)
}

impl DsotpServer {
    /// Starts the DSOTP of `config` on `engines`.
    pub async fn start(config: DsotpConfig, engines: DsotpEngines) -> Result<Self> {
        let DsotpEngines {
            bus,
            network,
            map,
            routes,
            static_tokens,
        } = engines;
        config.api.validate().map_err(service)?;
        let transport = config.api.transport().map_err(service)?;
        if let Transport::Https(files) = &transport {
            files.server_config().map_err(service)?;
        }
        std::fs::create_dir_all(&config.data).map_err(|source| DsotpError::Io {
            path: config.data.display().to_string(),
            source,
        })?;
        let network = match (network, &config.grid) {
            (Some(n), _) => Some(n),
            (None, Some(path)) => Some(read_grid(path)?),
            (None, None) => None,
        };
        let map = match (map, &config.map) {
            (Some(m), _) => m,
            (None, Some(path)) => read_map(path)?,
            (None, None) => MeasurementMap::default(),
        };
        let estimator = network.map(|network| {
            let mut e = EstimatorConfig::new(network);
            e.map = map;
            let settings = &config.estimation;
            e.period = (settings.period_ms > 0).then(|| Duration::from_millis(settings.period_ms));
            e.max_age = Duration::from_millis(settings.max_age_ms);
            e.history = settings.history;
            e
        });
        let store = open_store(&config).await?;
        let certifier: Arc<dyn SetPointCertifier> = Arc::new(LedgerCertifier::open(&config.data)?);
        let dsotp = Dsotp::start(DsotpParts {
            bus,
            store,
            topics: config.topics.clone(),
            estimator,
            validation: Some(config.validation.clone()),
            dispatch: Some((config.dispatch.clone(), certifier)),
        })
        .await?;
        let listener = tokio::net::TcpListener::bind(config.http)
            .await
            .map_err(|e| DsotpError::invalid("http", format!("{}: {e}", config.http)))?;
        let address = listener
            .local_addr()
            .map_err(|e| DsotpError::invalid("http", e))?;
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
        let mut app = router(
            DsotpState {
                dsotp: dsotp.clone(),
                authentication: identity.authentication,
            },
            routes,
        );
        if let Some(issuer) = &identity.issuer {
            app = app.merge(issuer.clone().routes());
        }
        let (stop, mut stopped) = watch::channel(false);
        let options = ServeOptions {
            limits: config.api.limits(),
            grace: SHUTDOWN_GRACE,
        };
        let api_url = format!("{}://{address}", transport.scheme());
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.changed().await;
            };
            platone_service::serve(listener, app, &transport, &options, shutdown).await
        });
        tracing::info!("DSO Technical Platform on {api_url}");
        Ok(DsotpServer {
            dsotp,
            api_url,
            address,
            stop,
            server,
        })
    }

    /// The API's base URL.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The address the API listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The services.
    pub fn dsotp(&self) -> &Dsotp {
        &self.dsotp
    }

    /// Stops the services and the listener.
    pub async fn shutdown(self) -> Result<()> {
        self.dsotp.stop();
        let _ = self.stop.send(true);
        match self.server.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(service(e)),
            Err(e) => Err(DsotpError::Service(format!("the listener stopped: {e}"))),
        }
    }
}
