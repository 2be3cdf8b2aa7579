//! The gate-closure clock: closes every session whose gate has passed and runs its pipeline
//! (and, after a restart, finishes the pipeline of a session it stopped in).

use std::time::Duration;

use chrono::Utc;

use crate::platform::{MarketPlatform, SCHEDULER};

/// How often the clock looks at the sessions' gates.
pub const TICK: Duration = Duration::from_millis(250);

/// Runs until `stop` resolves. A session whose pipeline fails is marked `failed` with why (and
/// logged); the others go on.
pub async fn run_gate_closures(platform: MarketPlatform, stop: impl Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = every.tick() => {}
        }
        let due = match platform.due(Utc::now()) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!("gate-closure clock: {e}");
                continue;
            }
        };
        for session in due {
            match platform.close(SCHEDULER, &session).await {
                Ok(s) => tracing::info!("session {session}: {}", s.status.as_str()),
                Err(e) => tracing::error!("session {session}: {e}"),
            }
        }
    }
}
