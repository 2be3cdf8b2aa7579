//! Supervision of the BAL's long-running tasks.
//!
//! Every task runs under a [`Supervisor`]: a task that returns an error, panics, or ends while
//! the BAL is not stopping is marked failed in [`Health`] and reported on the supervisor's
//! failure channel, which [`Bal::failed`](crate::Bal::failed) waits on — a process embedding
//! the BAL then stops (the `platone bal` command exits non-zero) rather than running
//! half-dead.
//!
//! Tasks that write and sync files (the certifier's journal, the recorder's sealed-batch files
//! and the file ledger) run on threads of their own, each with a single-threaded runtime, so
//! that a blocking `fsync` never holds one of the async workers that serve the broker and the
//! REST API.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::{BalError, Result};
use crate::health::Health;

/// Watches tasks and reports the first that fails.
#[derive(Debug, Clone)]
pub(crate) struct Supervisor {
    health: Health,
    stopping: watch::Receiver<bool>,
    failure: watch::Sender<Option<String>>,
}

/// A supervised task: on the async runtime, or on a thread of its own.
#[derive(Debug)]
pub(crate) enum Task {
    /// A task of the async runtime.
    Async(JoinHandle<Result<()>>),
    /// A task on a dedicated thread.
    Thread {
        /// Its outcome.
        result: oneshot::Receiver<Result<()>>,
        /// Dropping or firing this ends the task where it waits next.
        abort: Option<oneshot::Sender<()>>,
    },
}

impl Task {
    /// Waits for the task's outcome; a task that was aborted or whose thread died gives
    /// [`BalError::Stopped`].
    pub async fn join(self, name: &'static str) -> Result<()> {
        match self {
            Task::Async(handle) => handle.await.map_err(|_| BalError::Stopped(name))?,
            Task::Thread { result, abort } => {
                let outcome = result.await.map_err(|_| BalError::Stopped(name))?;
                drop(abort);
                outcome
            }
        }
    }

    /// Ends the task where it waits next, without letting it finish its work (a crash, for
    /// recovery tests).
    pub fn abort(&mut self) {
        match self {
            Task::Async(handle) => handle.abort(),
            Task::Thread { abort, .. } => {
                if let Some(abort) = abort.take() {
                    let _ = abort.send(());
                }
            }
        }
    }
}

impl Supervisor {
    /// A supervisor for a BAL whose stop is signalled on `stopping`.
    pub fn new(health: Health, stopping: watch::Receiver<bool>) -> Self {
        let (failure, _) = watch::channel(None);
        Supervisor {
            health,
            stopping,
            failure,
        }
    }

    /// A receiver of the first failure.
    pub fn failures(&self) -> watch::Receiver<Option<String>> {
        self.failure.subscribe()
    }

    /// Wraps `task` so that its failure is reported.
    fn watched<F>(&self, name: &'static str, task: F) -> impl Future<Output = Result<()>> + use<F>
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let supervisor = self.clone();
        async move {
            let outcome = AssertUnwindSafe(task).catch_unwind().await;
            let why = match &outcome {
                Ok(Ok(())) if *supervisor.stopping.borrow() => None,
                Ok(Ok(())) => Some("ended while the BAL was running".to_owned()),
                Ok(Err(BalError::Interrupted)) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(panic) => Some(format!("panicked: {}", panic_text(panic.as_ref()))),
            };
            if let Some(why) = why {
                supervisor.health.task_failed(name, why.clone());
                supervisor.failure.send_if_modified(|first| {
                    if first.is_some() {
                        return false;
                    }
                    *first = Some(format!("the {name} task stopped: {why}"));
                    true
                });
            }
            match outcome {
                Ok(Err(BalError::Interrupted)) => Ok(()),
                Ok(result) => result,
                Err(_) => Err(BalError::Stopped(name)),
            }
        }
    }

    /// Runs `task` on the async runtime.
    pub fn spawn<F>(&self, name: &'static str, task: F) -> Task
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        Task::Async(tokio::spawn(self.watched(name, task)))
    }

    /// Runs `task` on a thread of its own with a single-threaded runtime (for work that
    /// blocks on file syncs).
    pub fn spawn_thread<F>(&self, name: &'static str, task: F) -> Result<Task>
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let (result_tx, result) = oneshot::channel();
        let (abort, aborted) = oneshot::channel::<()>();
        let watched = self.watched(name, task);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name(format!("platone-bal-{name}"))
            .build()
            .map_err(|e| BalError::io(format!("<{name} thread runtime>"), e))?;
        std::thread::Builder::new()
            .name(format!("platone-bal-{name}"))
            .spawn(move || {
                let outcome = runtime.block_on(async move {
                    tokio::select! {
                        outcome = watched => Some(outcome),
                        _ = aborted => None,
                    }
                });
                if let Some(outcome) = outcome {
                    let _ = result_tx.send(outcome);
                }
            })
            .map_err(|e| BalError::io(format!("<{name} thread>"), e))?;
        Ok(Task::Thread {
            result,
            abort: Some(abort),
        })
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_task_is_reported_once_a_stopped_one_not() {
        let health = Health::new();
        let (stop, stopping) = watch::channel(false);
        let supervisor = Supervisor::new(health.clone(), stopping);
        let mut failures = supervisor.failures();
        let task = supervisor.spawn("ingest", async { Err(BalError::Stopped("certifier")) });
        failures.changed().await.unwrap();
        let first = failures.borrow().clone().unwrap();
        assert!(
            first.contains("ingest") && first.contains("certifier"),
            "{first}"
        );
        assert!(task.join("ingest").await.is_err());
        assert_eq!(health.report().status, "failed");

        // On a thread of its own, a task that ends while the BAL runs is a failure too.
        let task = supervisor
            .spawn_thread("recorder", async { Ok(()) })
            .unwrap();
        task.join("recorder").await.unwrap();
        assert!(health.report().failed_tasks.contains_key("recorder"));

        // Once stopping, ending is normal.
        let health = Health::new();
        let (_, stopping) = watch::channel(true);
        let supervisor = Supervisor::new(health.clone(), stopping);
        let task = supervisor
            .spawn_thread("certifier", async { Ok(()) })
            .unwrap();
        task.join("certifier").await.unwrap();
        assert!(health.report().is_ready());
        drop(stop);
    }

    #[tokio::test]
    async fn a_panicking_task_is_reported() {
        let health = Health::new();
        let (_stop, stopping) = watch::channel(false);
        let supervisor = Supervisor::new(health.clone(), stopping);
        let task = supervisor.spawn("forwarder", async {
            if health_is_checked() {
                panic!("boom");
            }
            Ok(())
        });
        assert!(task.join("forwarder").await.is_err());
        assert_eq!(health.report().failed_tasks["forwarder"], "panicked: boom");
    }

    fn health_is_checked() -> bool {
        true
    }
}
