//! The state estimation service (FR-DSOTP-SE-01/02, PMU-01, DA-02, AS-01).
//!
//! The [`StateEstimator`] holds the grid model (a [`platone_grid::Network`]) and a
//! [`MeasurementMap`] from platform series to estimator measurements. Running on a bus, it keeps
//! the latest value of every series the map routes (PMU phasors, meter powers, the power
//! service's flows), builds the unified measurement set from those no older than
//! [`EstimatorConfig::max_age`] behind the newest, runs weighted least squares
//! ([`platone_grid::estimate`]) every [`EstimatorConfig::period`] and on demand, and publishes
//! the state vector in the SOGNO estimator output format, one message per node on
//! `{estimates}/{node}` ([`sogno`]). The last [`EstimatorConfig::history`] estimations are
//! kept for the REST API (`POST /api/estimations`, `GET /api/estimations[/{id}]`): state,
//! residuals, bad data removed, unobservable buses.
//!
//! ```
//! use platone_dsotp::estimation::{EstimatorConfig, StateEstimator, Trigger};
//! use platone_grid::{GridMeasurement, Location, Quantity, parse_case};
//!
//! let case = "mpc.baseMVA = 100;
//! mpc.bus = [1 3 0 0 0 0 1 1 0 20 1 1.1 0.9; 2 1 1 0.5 0 0 1 1 0 20 1 1.1 0.9];
//! mpc.gen = [1 0 0 100 -100 1 100 1 200 0];
//! mpc.branch = [1 2 0.01 0.05 0 0 0 0 0 0 1 -360 360];";
//! let estimator = StateEstimator::new(EstimatorConfig::new(parse_case(case)?));
//! let m = |quantity, location, value| GridMeasurement { quantity, location, value, sigma: 0.01 };
//! let given = vec![
//!     m(Quantity::VoltageMagnitude, Location::Bus(1), 1.0),
//!     m(Quantity::ActiveInjection, Location::Bus(2), -1.0),
//!     m(Quantity::ReactiveInjection, Location::Bus(2), -0.5),
//! ];
//! let estimation = estimator.estimate_given(given, Trigger::Request);
//! assert!(estimation.converged);
//! assert!(estimation.buses[1].vm < 1.0); // the load pulls bus 2 down
//! # Ok::<(), platone_dsotp::DsotpError>(())
//! ```

mod latest;
pub mod sogno;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platone_bus::{Bus, Message, QoS, Subscription};
use platone_grid::{
    BadDatum, BusState, EstimationOptions, GridError, GridMeasurement, MeasurementMap, Network,
    Residual,
};
use platone_model::Timestamp;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::consumer::{Handled, ServiceCounters, consume};
use crate::error::{DsotpError, Result};
use crate::message::DeviceMeasurements;
use crate::topics::DsotpTopics;

pub use latest::{FUTURE_SKEW, LatestValues};

/// What the estimator runs on.
#[derive(Debug, Clone)]
pub struct EstimatorConfig {
    /// The grid model.
    pub network: Network,
    /// Platform series → estimator measurements.
    pub map: MeasurementMap,
    /// Options of the WLS estimator.
    pub options: EstimationOptions,
    /// Estimate this often (`None`: only on demand).
    pub period: Option<Duration>,
    /// Series whose latest value is older than this behind the newest are left out.
    pub max_age: Duration,
    /// Estimations kept for the API.
    pub history: usize,
    /// The topics (input `{devices}/#` and `{power}/#`, output `{estimates}/{node}`).
    pub topics: DsotpTopics,
    /// The SOGNO component name of each bus (default `BUS{number}`).
    pub bus_names: BTreeMap<u64, String>,
}

impl EstimatorConfig {
    /// Checks the measurement map against the grid model and the timing: every route's bus
    /// or branch exists, its scale is finite and not zero, its standard deviation finite and
    /// above zero; `max_age` at most a day. The error names `map.routes[i]`.
    pub fn check(&self) -> Result<()> {
        for (i, route) in self.map.routes.iter().enumerate() {
            let at = |field: &str| format!("map.routes[{i}].{field}");
            match route.location {
                platone_grid::Location::Bus(bus) => {
                    if self.network.bus_index(bus).is_none() {
                        return Err(DsotpError::invalid(
                            at("location"),
                            format!("bus {bus} is not in the grid model"),
                        ));
                    }
                }
                platone_grid::Location::Branch { index, .. } => {
                    if index == 0 || index > self.network.branches.len() {
                        return Err(DsotpError::invalid(
                            at("location"),
                            format!(
                                "branch {index} is not in the grid model (1 to {})",
                                self.network.branches.len()
                            ),
                        ));
                    }
                }
            }
            if !route.scale.is_finite() || route.scale == 0.0 {
                return Err(DsotpError::invalid(
                    at("scale"),
                    format!("{} is not a finite, non-zero factor", route.scale),
                ));
            }
            if !route.sigma.is_finite() || route.sigma <= 0.0 {
                return Err(DsotpError::invalid(
                    at("sigma"),
                    format!("{} is not a standard deviation above 0", route.sigma),
                ));
            }
        }
        if self.max_age > Duration::from_secs(86_400) {
            return Err(DsotpError::invalid(
                "estimation.max_age_ms",
                "at most a day",
            ));
        }
        Ok(())
    }

    /// Defaults on `network`: no routes, default options, on demand, 10 s, 100 kept.
    pub fn new(network: Network) -> Self {
        EstimatorConfig {
            network,
            map: MeasurementMap::default(),
            options: EstimationOptions::default(),
            period: None,
            max_age: Duration::from_secs(10),
            history: 100,
            topics: DsotpTopics::default(),
            bus_names: BTreeMap::new(),
        }
    }
}

/// Why an estimation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The period.
    Period,
    /// A request (the API, a caller).
    Request,
}

/// One estimation, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimation {
    /// Its id (`se-1`, `se-2`…).
    pub id: String,
    /// When it ran.
    pub at: Timestamp,
    /// Why.
    pub trigger: Trigger,
    /// Whether it ran on given measurements rather than the live ones.
    pub given: bool,
    /// The newest measurement time used (live runs).
    pub measured_at: Option<Timestamp>,
    /// How many measurements it used.
    pub measurement_count: usize,
    /// The measurements it used (given runs and live ones alike), in the order residuals and
    /// bad data refer to.
    pub measurements: Vec<GridMeasurement>,
    /// Whether WLS converged.
    pub converged: bool,
    /// Gauss–Newton iterations.
    pub iterations: usize,
    /// `J(x)`, when it ran.
    pub objective: Option<f64>,
    /// The chi-square threshold `J` was tested against.
    pub chi_square_threshold: Option<f64>,
    /// The state, in case order (the `buses` array of `platone grid se`).
    pub buses: Vec<BusState>,
    /// Each measurement's residual.
    pub residuals: Vec<Residual>,
    /// Measurements removed as bad data.
    pub bad_data: Vec<BadDatum>,
    /// Buses the measurements cannot observe (the estimation did not run).
    pub unobservable: Vec<u64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How long it took, ms.
    pub elapsed_ms: f64,
}

/// A line of the estimation list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimationSummary {
    /// Its id.
    pub id: String,
    /// When it ran.
    pub at: Timestamp,
    /// Why.
    pub trigger: Trigger,
    /// Whether it converged.
    pub converged: bool,
    /// Measurements used.
    pub measurement_count: usize,
    /// Bad data removed.
    pub bad_data: usize,
    /// Why it failed.
    pub error: Option<String>,
}

struct Inner {
    config: EstimatorConfig,
    latest: LatestValues,
    history: Mutex<VecDeque<Arc<Estimation>>>,
    next: AtomicU64,
    counters: Arc<ServiceCounters>,
    published: AtomicU64,
    updates: watch::Sender<Option<Arc<Estimation>>>,
    bus: Mutex<Option<Arc<dyn Bus>>>,
}

/// The state estimation service (cheap to clone: clones share the model, the latest values
/// and the history).
#[derive(Clone)]
pub struct StateEstimator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StateEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateEstimator")
            .field("buses", &self.inner.config.network.buses.len())
            .field("routes", &self.inner.config.map.routes.len())
            .finish_non_exhaustive()
    }
}

/// What the estimator shows on `/health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimatorStatus {
    /// Series with a latest value.
    pub series: usize,
    /// Estimations run.
    pub estimations: u64,
    /// SOGNO messages published.
    pub published: u64,
    /// Measurements refused for a time stamp ahead of the clock.
    pub ahead_of_clock: u64,
    /// The last estimation, briefly.
    pub last: Option<EstimationSummary>,
}

impl StateEstimator {
    /// An estimator with this configuration.
    pub fn new(config: EstimatorConfig) -> Self {
        let latest = LatestValues::new(config.map.clone());
        StateEstimator {
            inner: Arc::new(Inner {
                config,
                latest,
                history: Mutex::new(VecDeque::new()),
                next: AtomicU64::new(1),
                counters: Arc::default(),
                published: AtomicU64::new(0),
                updates: watch::channel(None).0,
                bus: Mutex::new(None),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EstimatorConfig {
        &self.inner.config
    }

    /// Its bus counters.
    pub fn counters(&self) -> Arc<ServiceCounters> {
        self.inner.counters.clone()
    }

    /// Takes measurements in as the latest values of their series (those the map routes).
    pub fn observe(&self, measurements: &[platone_model::Measurement]) {
        self.inner.latest.observe(measurements);
    }

    /// Each new estimation, as it is made (for the validation service's operating point).
    pub fn updates(&self) -> watch::Receiver<Option<Arc<Estimation>>> {
        self.inner.updates.subscribe()
    }

    /// Estimates on the live measurements now (blocking: run it off the async executor, as
    /// [`StateEstimator::trigger`] does).
    pub fn estimate_live(&self, trigger: Trigger) -> Arc<Estimation> {
        let config = &self.inner.config;
        let (measurements, measured_at) = self.inner.latest.unified(config.max_age);
        self.record(self.solve(measurements, measured_at, trigger, false))
    }

    /// Estimates on `measurements` instead of the live ones (blocking).
    pub fn estimate_given(
        &self,
        measurements: Vec<GridMeasurement>,
        trigger: Trigger,
    ) -> Arc<Estimation> {
        self.record(self.solve(measurements, None, trigger, true))
    }

    /// Estimates now on a blocking thread (on `given` measurements, or the live ones) and,
    /// for the live ones, publishes the state when the service runs on a bus. An estimation
    /// on given measurements is a what-if: kept for the API, neither published nor handed to
    /// [`StateEstimator::updates`].
    pub async fn trigger(&self, given: Option<Vec<GridMeasurement>>) -> Result<Arc<Estimation>> {
        let this = self.clone();
        let estimation = tokio::task::spawn_blocking(move || match given {
            Some(m) => this.estimate_given(m, Trigger::Request),
            None => this.estimate_live(Trigger::Request),
        })
        .await
        .map_err(|e| DsotpError::Service(format!("estimation task: {e}")))?;
        // Only the live state goes on the bus (a what-if is read through the API).
        let bus = self.inner.bus.lock().ok().and_then(|b| b.clone());
        if let Some(bus) = bus
            && !estimation.given
        {
            self.publish(bus.as_ref(), &estimation).await;
        }
        Ok(estimation)
    }

    /// The estimations kept, oldest first.
    pub fn estimations(&self) -> Vec<EstimationSummary> {
        self.inner
            .history
            .lock()
            .map(|h| h.iter().map(|e| summary(e)).collect())
            .unwrap_or_default()
    }

    /// One kept estimation.
    pub fn estimation(&self, id: &str) -> Result<Arc<Estimation>> {
        self.inner
            .history
            .lock()
            .ok()
            .and_then(|h| h.iter().find(|e| e.id == id).cloned())
            .ok_or_else(|| DsotpError::NotFound {
                what: "estimation",
                id: id.to_owned(),
            })
    }

    /// The service's state for `/health`.
    pub fn status(&self) -> EstimatorStatus {
        let last = self
            .inner
            .history
            .lock()
            .ok()
            .and_then(|h| h.back().map(|e| summary(e)));
        EstimatorStatus {
            series: self.inner.latest.len(),
            estimations: self.inner.next.load(Ordering::Relaxed) - 1,
            published: self.inner.published.load(Ordering::Relaxed),
            ahead_of_clock: self.inner.latest.refused(),
            last,
        }
    }

    fn solve(
        &self,
        measurements: Vec<GridMeasurement>,
        measured_at: Option<Timestamp>,
        trigger: Trigger,
        given: bool,
    ) -> Estimation {
        let config = &self.inner.config;
        let id = format!("se-{}", self.inner.next.fetch_add(1, Ordering::Relaxed));
        let at = chrono::Utc::now().fixed_offset();
        let started = Instant::now();
        let result = platone_grid::estimate(&config.network, &measurements, &config.options);
        let mut e = Estimation {
            id,
            at,
            trigger,
            given,
            measured_at,
            measurement_count: measurements.len(),
            measurements,
            converged: false,
            iterations: 0,
            objective: None,
            chi_square_threshold: None,
            buses: Vec::new(),
            residuals: Vec::new(),
            bad_data: Vec::new(),
            unobservable: Vec::new(),
            error: None,
            elapsed_ms: 0.0,
        };
        match result {
            Ok(r) => {
                e.converged = r.converged;
                e.iterations = r.iterations;
                e.objective = Some(r.objective);
                e.chi_square_threshold = Some(r.chi_square_threshold);
                e.buses = r.buses;
                e.residuals = r.residuals;
                e.bad_data = r.bad_data;
                if !r.converged {
                    e.error = Some(format!("no convergence in {} iterations", r.iterations));
                }
            }
            Err(GridError::Unobservable { buses }) => {
                e.error = Some(format!("{} buses are unobservable", buses.len()));
                e.unobservable = buses;
            }
            Err(other) => e.error = Some(other.to_string()),
        }
        e.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        e
    }

    fn record(&self, estimation: Estimation) -> Arc<Estimation> {
        let estimation = Arc::new(estimation);
        if let Ok(mut h) = self.inner.history.lock() {
            h.push_back(estimation.clone());
            while h.len() > self.inner.config.history.max(1) {
                h.pop_front();
            }
        }
        // A what-if on given measurements is no news about the grid.
        if estimation.converged && !estimation.given {
            self.inner.updates.send_replace(Some(estimation.clone()));
        }
        estimation
    }

    /// Publishes a converged estimation's state, one SOGNO message per node (QoS 1; a node
    /// that cannot be published is logged and counted in the service's retries, the next
    /// estimation supersedes it).
    pub async fn publish(&self, bus: &dyn Bus, estimation: &Estimation) {
        if !estimation.converged {
            return;
        }
        let config = &self.inner.config;
        let messages = sogno::state_messages(&config.network, estimation, &config.bus_names);
        let sends = messages.into_iter().map(|(node, grouped)| {
            let topic = format!("{}/{node}", config.topics.estimates);
            let payload = serde_json::to_vec(&grouped).unwrap_or_default();
            async move {
                (
                    topic.clone(),
                    bus.publish(Message::new(topic, payload), QoS::AtLeastOnce)
                        .await,
                )
            }
        });
        let mut failed = false;
        for (topic, sent) in futures::future::join_all(sends).await {
            match sent {
                Ok(()) => {
                    self.inner.published.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    failed = true;
                    self.inner.counters.retrying(format!("{topic}: {e}"));
                }
            }
        }
        if !failed {
            self.inner.counters.recovered();
        }
    }

    /// Runs on `bus`: keeps the latest values of `{devices}/#` and `{power}/#` and estimates
    /// every period (when one is set), publishing each state, until the subscriptions end.
    pub async fn run(&self, bus: Arc<dyn Bus>) -> Result<()> {
        let subscriptions = self.subscribe(bus.clone()).await?;
        self.serve(bus, subscriptions).await;
        Ok(())
    }

    /// Subscribes, then runs on a task: once this returns, no measurement is missed.
    pub async fn start(&self, bus: Arc<dyn Bus>) -> Result<JoinHandle<()>> {
        let subscriptions = self.subscribe(bus.clone()).await?;
        let this = self.clone();
        Ok(tokio::spawn(
            async move { this.serve(bus, subscriptions).await },
        ))
    }

    async fn subscribe(&self, bus: Arc<dyn Bus>) -> Result<Vec<Subscription>> {
        let topics = &self.inner.config.topics;
        let mut subscriptions = Vec::new();
        for (k, filter) in [
            format!("{}/#", topics.devices),
            format!("{}/#", topics.power),
        ]
        .iter()
        .enumerate()
        {
            let parsed = topics.subscription(&format!("estimation-{}", k + 1), filter)?;
            subscriptions.push(
                bus.subscribe(parsed, QoS::AtLeastOnce)
                    .await
                    .map_err(DsotpError::bus)?,
            );
        }
        if let Ok(mut b) = self.inner.bus.lock() {
            *b = Some(bus);
        }
        Ok(subscriptions)
    }

    async fn serve(&self, bus: Arc<dyn Bus>, subscriptions: Vec<Subscription>) {
        let topics = &self.inner.config.topics;
        let dead_letters = format!("{}/estimation", topics.dead_letters);
        let readers = subscriptions.into_iter().map(|subscription| {
            let bus = bus.clone();
            let dead_letters = dead_letters.clone();
            async move {
                let handler = |message: Message| async move {
                    match DeviceMeasurements::from_json(&message.payload) {
                        Ok(m) => {
                            self.observe(&m.measurements);
                            Handled::Done
                        }
                        Err(e) => Handled::Unusable(e.to_string()),
                    }
                };
                consume(
                    subscription,
                    1024,
                    bus.as_ref(),
                    &dead_letters,
                    &self.inner.counters,
                    handler,
                )
                .await;
            }
        });
        let reading = futures::future::join_all(readers);
        match self.inner.config.period {
            Some(period) => {
                let ticking = async {
                    let mut ticks = tokio::time::interval(period);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        ticks.tick().await;
                        if self.inner.latest.is_empty() {
                            continue;
                        }
                        let this = self.clone();
                        let Ok(estimation) = tokio::task::spawn_blocking(move || {
                            this.estimate_live(Trigger::Period)
                        })
                        .await
                        else {
                            continue;
                        };
                        self.publish(bus.as_ref(), &estimation).await;
                    }
                };
                tokio::select! {
                    _ = reading => {}
                    () = ticking => {}
                }
            }
            None => {
                reading.await;
            }
        }
    }
}

fn summary(e: &Estimation) -> EstimationSummary {
    EstimationSummary {
        id: e.id.clone(),
        at: e.at,
        trigger: e.trigger,
        converged: e.converged,
        measurement_count: e.measurement_count,
        bad_data: e.bad_data.len(),
        error: e.error.clone(),
    }
}
