//! The services wired together on one bus and one store: [`Dsotp`].

use std::sync::{Arc, Mutex};

use platone_bus::Bus;
use platone_scd::Store;
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::consumer::ServiceStatus;
use crate::dispatch::{AckListenerStatus, DispatchConfig, Dispatcher, SetPointCertifier};
use crate::error::Result;
use crate::estimation::{EstimatorConfig, EstimatorStatus, StateEstimator};
use crate::power::{PowerService, PowerServiceOptions};
use crate::timeseries::{RecorderOptions, RecorderStatus, TimeSeriesRecorder};
use crate::topics::DsotpTopics;
use crate::validation::{AcValidator, AcValidatorConfig, ValidationService, ValidationStats};

/// The name the validation service answers as.
pub const VALIDATOR_NAME: &str = "platone-dsotp";

/// What the DSOTP runs on.
pub struct DsotpParts {
    /// The databus.
    pub bus: Arc<dyn Bus>,
    /// The SCD store of the time series and set points.
    pub store: Arc<dyn Store>,
    /// The topics.
    pub topics: DsotpTopics,
    /// The estimator's configuration, when there is a grid model.
    pub estimator: Option<EstimatorConfig>,
    /// The AC validation of market results on the estimator's grid model (answered only when
    /// there is one), its operating point following each estimate.
    pub validation: Option<AcValidatorConfig>,
    /// Set-point dispatch: its settings and where set points and acknowledgements are
    /// certified.
    pub dispatch: Option<(DispatchConfig, Arc<dyn SetPointCertifier>)>,
}

impl std::fmt::Debug for DsotpParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DsotpParts")
            .field("bus", &self.bus.describe())
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

struct Inner {
    bus: Arc<dyn Bus>,
    store: Arc<dyn Store>,
    topics: DsotpTopics,
    power: Arc<PowerService>,
    recorder: Arc<TimeSeriesRecorder>,
    estimator: Option<StateEstimator>,
    validation: Option<ValidationService>,
    dispatcher: Option<Dispatcher>,
    tasks: Mutex<Vec<(&'static str, JoinHandle<()>)>>,
}

/// The DSO Technical Platform's services running on one bus (cheap to clone).
#[derive(Clone)]
pub struct Dsotp {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dsotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dsotp")
            .field("bus", &self.inner.bus.describe())
            .finish_non_exhaustive()
    }
}

/// The services' state, for `/health`.
#[derive(Debug, Clone, Serialize)]
pub struct DsotpHealth {
    /// `ok`, or `degraded` while a service's step fails (and is retried).
    pub status: String,
    /// The bus.
    pub bus: String,
    /// The power calculation.
    pub power: ServiceStatus,
    /// The time-series recorder's bus side.
    pub timeseries: ServiceStatus,
    /// What it stored.
    pub stored: RecorderStatus,
    /// The estimator's bus side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimation_bus: Option<ServiceStatus>,
    /// The estimator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimation: Option<EstimatorStatus>,
    /// The validation service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationStats>,
    /// The dispatcher's acknowledgement listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch: Option<AckListenerStatus>,
    /// Services whose task has ended (their subscription closed): the platform is degraded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped: Vec<&'static str>,
    /// The crate's version.
    pub version: String,
}

impl Dsotp {
    /// Starts every service on `parts.bus`; once this returns, each is subscribed.
    pub async fn start(parts: DsotpParts) -> Result<Self> {
        let DsotpParts {
            bus,
            store,
            topics,
            estimator,
            validation,
            dispatch,
        } = parts;
        let power = Arc::new(PowerService::new(PowerServiceOptions {
            topics: topics.clone(),
            ..PowerServiceOptions::default()
        }));
        let recorder = Arc::new(TimeSeriesRecorder::new(
            store.clone(),
            RecorderOptions {
                topics: topics.clone(),
                ..RecorderOptions::default()
            },
        ));
        let estimator = match estimator {
            Some(mut config) => {
                config.check()?;
                config.topics = topics.clone();
                Some(StateEstimator::new(config))
            }
            None => None,
        };
        let mut tasks = vec![
            ("power", power.clone().start(bus.clone()).await?),
            ("timeseries", recorder.clone().start(bus.clone()).await?),
        ];
        if let Some(estimator) = &estimator {
            tasks.push(("estimation", estimator.start(bus.clone()).await?));
        }
        let validation = match (validation, &estimator) {
            (Some(config), Some(estimator)) => {
                let validator = AcValidator::new(estimator.config().network.clone(), config)?;
                let shared = Arc::new(std::sync::RwLock::new(validator));
                let service =
                    ValidationService::start(bus.clone(), &topics, shared.clone(), VALIDATOR_NAME)
                        .await?;
                tasks.push((
                    "validation operating point",
                    tokio::spawn(follow_estimates(estimator.clone(), shared)),
                ));
                Some(service)
            }
            _ => None,
        };
        let dispatcher = match dispatch {
            Some((config, certifier)) => Some(
                Dispatcher::start(
                    bus.clone(),
                    store.clone(),
                    certifier,
                    topics.clone(),
                    config,
                )
                .await?,
            ),
            None => None,
        };
        Ok(Dsotp {
            inner: Arc::new(Inner {
                bus,
                store,
                topics,
                power,
                recorder,
                estimator,
                validation,
                dispatcher,
                tasks: Mutex::new(tasks),
            }),
        })
    }

    /// The bus.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.inner.bus
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The topics.
    pub fn topics(&self) -> &DsotpTopics {
        &self.inner.topics
    }

    /// The state estimator, when there is a grid model.
    pub fn estimator(&self) -> Option<&StateEstimator> {
        self.inner.estimator.as_ref()
    }

    /// The validation service, when there is a grid model.
    pub fn validation(&self) -> Option<&ValidationService> {
        self.inner.validation.as_ref()
    }

    /// The set-point dispatcher, when configured.
    pub fn dispatcher(&self) -> Option<&Dispatcher> {
        self.inner.dispatcher.as_ref()
    }

    /// The services' state.
    pub fn health(&self) -> DsotpHealth {
        let power = self.inner.power.counters();
        let recorder = self.inner.recorder.counters();
        let estimation_bus = self.inner.estimator.as_ref().map(|e| e.counters());
        let dispatch = self
            .inner
            .dispatcher
            .as_ref()
            .map(Dispatcher::listener_status);
        let stopped: Vec<&'static str> = self
            .inner
            .tasks
            .lock()
            .map(|tasks| {
                tasks
                    .iter()
                    .filter(|(_, t)| t.is_finished())
                    .map(|(name, _)| *name)
                    .collect()
            })
            .unwrap_or_default();
        let degraded = !stopped.is_empty()
            || power.failing()
            || recorder.failing()
            || estimation_bus.as_ref().is_some_and(|c| c.failing())
            || self
                .inner
                .validation
                .as_ref()
                .is_some_and(|v| !v.is_running());
        DsotpHealth {
            status: if degraded { "degraded" } else { "ok" }.into(),
            bus: self.inner.bus.describe(),
            power: power.status(),
            timeseries: recorder.status(),
            stored: self.inner.recorder.counts().status(),
            estimation_bus: estimation_bus.map(|c| c.status()),
            estimation: self.inner.estimator.as_ref().map(|e| e.status()),
            validation: self.inner.validation.as_ref().map(ValidationService::stats),
            dispatch,
            stopped,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// Stops the services (messages in flight stay unacknowledged on the bus, to come again).
    pub fn stop(&self) {
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            for (_, task) in tasks.drain(..) {
                task.abort();
            }
        }
        if let Some(d) = &self.inner.dispatcher {
            d.shutdown();
        }
    }
}

/// Sets the validator's operating point to each converged estimate (on a blocking thread:
/// the write lock waits for a validation in progress).
async fn follow_estimates(
    estimator: StateEstimator,
    validator: crate::validation::SharedValidator,
) {
    let mut updates = estimator.updates();
    while updates.changed().await.is_ok() {
        let latest = updates.borrow_and_update().clone();
        let Some(estimation) = latest else { continue };
        let validator = validator.clone();
        let set = tokio::task::spawn_blocking(move || {
            let Ok(mut v) = validator.write() else {
                return;
            };
            if let Err(e) = v.set_operating_point(&estimation.buses) {
                tracing::warn!(
                    "validation: the estimate {} is no operating point: {e}",
                    estimation.id
                );
            }
        });
        if set.await.is_err() {
            return;
        }
    }
}
