//! What `/health` and `/ready` report: the state of each engine the BAL depends on (the SCD,
//! the ledger, the broker, the data directory's file system) and of each long-running task.
//!
//! A pipeline that finds an engine unavailable marks it here while it retries (with
//! back-pressure: nothing new is taken meanwhile) and clears the mark once the engine answers
//! again. A task that ends unexpectedly is marked failed; the process running the BAL then
//! exits non-zero (see [`Bal::failed`](crate::Bal::failed)).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::watch;

/// An engine the BAL depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Engine {
    /// The Shared Customer Database.
    Store,
    /// The ledger certificates are anchored on.
    Ledger,
    /// The MQTT broker devices publish to.
    Broker,
    /// The data directory's file system: the journal and the sealed-batch files (a full disk,
    /// an I/O error).
    Data,
    /// The broker's access control (dynamic security): grants, revocations and device rights
    /// wait to be applied.
    BrokerAccess,
    /// The OpenID Connect issuer whose keys the REST API checks tokens with: its discovery
    /// document or key set could not be fetched at the last try (tokens of keys already known
    /// still pass; others are answered 503 until it is back).
    Identity,
}

impl Engine {
    /// The engine's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Store => "store",
            Engine::Ledger => "ledger",
            Engine::Broker => "broker",
            Engine::Data => "data",
            Engine::BrokerAccess => "broker_access",
            Engine::Identity => "identity",
        }
    }
}

/// The state of one engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EngineState {
    /// `ok`, or `unavailable` while operations on it are being retried.
    #[schema(value_type = String, pattern = "^(ok|unavailable)$")]
    pub status: &'static str,
    /// The last error, while unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it became unavailable (RFC 3339), while it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub since: Option<String>,
    /// How many retries since it became unavailable.
    pub retries: u64,
}

impl EngineState {
    fn ok() -> Self {
        EngineState {
            status: "ok",
            error: None,
            since: None,
            retries: 0,
        }
    }
}

/// A snapshot of the BAL's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    /// `ok`; `degraded` while an engine is unavailable; `failed` once a task has stopped.
    #[schema(value_type = String, pattern = "^(ok|degraded|failed)$")]
    pub status: &'static str,
    /// Each engine's state, by name (`store`, `ledger`, `broker`, `data`, `broker_access`,
    /// `identity`).
    #[schema(value_type = BTreeMap<String, EngineState>)]
    pub engines: BTreeMap<&'static str, EngineState>,
    /// Tasks that stopped unexpectedly, with why (absent while none has).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = BTreeMap<String, String>, required = false)]
    pub failed_tasks: BTreeMap<&'static str, String>,
}

impl HealthReport {
    /// Whether the BAL takes and certifies packets now (every engine available, no task
    /// failed).
    pub fn is_ready(&self) -> bool {
        self.status == "ok"
    }

    /// Whether the BAL is alive (no task failed; an unavailable engine is waited for).
    pub fn is_alive(&self) -> bool {
        self.status != "failed"
    }
}

#[derive(Debug, Default)]
struct State {
    engines: BTreeMap<Engine, EngineState>,
    failed: BTreeMap<&'static str, String>,
}

/// The shared health state (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct Health {
    state: Arc<Mutex<State>>,
}

impl Health {
    /// Every engine available, no task failed.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks `engine` unavailable with `error` (one more retry if it already was); logs it.
    pub fn unavailable(&self, engine: Engine, error: &dyn std::fmt::Display) {
        let mut state = self.lock();
        let entry = state.engines.entry(engine).or_insert_with(EngineState::ok);
        if entry.status == "ok" {
            entry.since = Some(now_text());
            entry.retries = 0;
        } else {
            entry.retries += 1;
        }
        entry.status = "unavailable";
        entry.error = Some(error.to_string());
        tracing::warn!(
            engine = engine.as_str(),
            retries = entry.retries,
            "{} unavailable, retrying: {error}",
            engine.as_str()
        );
    }

    /// Marks `engine` available again.
    pub fn available(&self, engine: Engine) {
        let mut state = self.lock();
        if let Some(entry) = state.engines.get_mut(&engine)
            && entry.status != "ok"
        {
            tracing::info!(
                engine = engine.as_str(),
                "{} available again after {} retries",
                engine.as_str(),
                entry.retries
            );
            *entry = EngineState::ok();
        }
    }

    /// Marks task `name` as stopped unexpectedly, with why.
    pub fn task_failed(&self, name: &'static str, why: impl Into<String>) {
        let why = why.into();
        tracing::error!(task = name, "the {name} task stopped: {why}");
        self.lock().failed.insert(name, why);
    }

    /// The state now.
    pub fn report(&self) -> HealthReport {
        let state = self.lock();
        let mut engines: BTreeMap<&'static str, EngineState> =
            [Engine::Store, Engine::Ledger, Engine::Broker, Engine::Data]
                .into_iter()
                .map(|e| (e.as_str(), EngineState::ok()))
                .collect();
        for (engine, s) in &state.engines {
            engines.insert(engine.as_str(), s.clone());
        }
        let status = if !state.failed.is_empty() {
            "failed"
        } else if engines.values().any(|e| e.status != "ok") {
            "degraded"
        } else {
            "ok"
        };
        HealthReport {
            status,
            engines,
            failed_tasks: state.failed.clone(),
        }
    }
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How a retried operation ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Retried<T> {
    /// It succeeded, or failed for a reason that is not the engine's.
    Done(T),
    /// The BAL was stopped while the engine was unavailable.
    Stopped,
}

/// Retries `operation` while it fails with an error `unavailable` says is the engine's, marking
/// `engine` unavailable in `health` meanwhile (exponential back-off from 100 ms to 5 s); gives
/// the first success or the first error about the input itself, or [`Retried::Stopped`] once
/// `stop` is set while waiting.
pub(crate) async fn retry_while_unavailable<T, E, F, Fut>(
    health: &Health,
    engine: Engine,
    stop: &watch::Receiver<bool>,
    unavailable: impl Fn(&E) -> bool,
    mut operation: F,
) -> Retried<Result<T, E>>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut stop = stop.clone();
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match operation().await {
            Err(e) if unavailable(&e) => {
                health.unavailable(engine, &e);
                if *stop.borrow_and_update() {
                    return Retried::Stopped;
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => return Retried::Stopped,
                }
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
            outcome => {
                health.available(engine);
                return Retried::Done(outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_degrade_and_recover_tasks_fail() {
        let health = Health::new();
        assert!(health.report().is_ready());
        health.unavailable(Engine::Store, &"connection refused");
        health.unavailable(Engine::Store, &"connection refused");
        let report = health.report();
        assert_eq!(report.status, "degraded");
        assert!(report.is_alive() && !report.is_ready());
        assert_eq!(report.engines["store"].retries, 1);
        health.available(Engine::Store);
        assert!(health.report().is_ready());
        health.task_failed("ingest", "boom");
        let report = health.report();
        assert_eq!(report.status, "failed");
        assert!(!report.is_alive());
        assert_eq!(report.failed_tasks["ingest"], "boom");
    }

    #[tokio::test]
    async fn retries_until_the_engine_answers_or_the_bal_stops() {
        let health = Health::new();
        let (stop_tx, stop) = watch::channel(false);
        let mut calls = 0;
        let result = retry_while_unavailable(
            &health,
            Engine::Store,
            &stop,
            |e: &String| e == "down",
            || {
                calls += 1;
                let outcome = if calls < 4 {
                    Err("down".to_owned())
                } else {
                    Ok(calls)
                };
                async move { outcome }
            },
        )
        .await;
        assert_eq!(result, Retried::Done(Ok::<u32, String>(4)));
        assert!(health.report().is_ready());
        let refused = retry_while_unavailable(
            &health,
            Engine::Store,
            &stop,
            |e: &String| e == "down",
            || async { Err::<u32, String>("bad record".to_owned()) },
        )
        .await;
        assert_eq!(refused, Retried::Done(Err("bad record".to_owned())));
        // An engine that stays down holds the caller until the BAL stops.
        let waiting = retry_while_unavailable(
            &health,
            Engine::Store,
            &stop,
            |e: &String| e == "down",
            || async { Err::<u32, String>("down".to_owned()) },
        );
        let stopper = async {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let _ = stop_tx.send(true);
        };
        let (outcome, ()) = tokio::join!(waiting, stopper);
        assert_eq!(outcome, Retried::Stopped);
        assert_eq!(health.report().status, "degraded");
    }
}
