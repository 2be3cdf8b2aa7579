//! The platform's clock: opens the sessions of the schedule, carries unmatched day-ahead
//! offers over into real-time sessions, closes every session whose gate has passed and runs its
//! pipeline (and, after a restart, finishes the pipeline of a session it stopped in).

use std::time::Duration;

use chrono::Utc;

use crate::platform::{MarketPlatform, SCHEDULER};
use crate::schedule::ScheduledSessions;

/// How often the clock looks at the schedule and the sessions' gates.
pub const TICK: Duration = Duration::from_millis(250);

/// Runs until `stop` resolves, opening the sessions of `schedule` when one is given. A
/// session whose pipeline fails is marked `failed` with why (and logged); the others go on.
pub async fn run_gate_closures(
    platform: MarketPlatform,
    schedule: Option<ScheduledSessions>,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = every.tick() => {}
        }
        if let Some(scheduled) = &schedule {
            match platform.open_scheduled(
                &scheduled.schedule,
                scheduled.network.as_ref(),
                Utc::now(),
            ) {
                Ok(opened) => {
                    for s in opened {
                        tracing::info!("session {} opened by the schedule", s.id);
                    }
                }
                Err(e) => tracing::error!("schedule: {e}"),
            }
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
        if platform.market_chain().is_some()
            && let Err(e) = platform.mint_settlements().await
        {
            tracing::error!("minting: {e}");
        }
        if platform.delivers_outcomes()
            && let Err(e) = platform.deliver_outcomes().await
        {
            tracing::error!("outcome delivery: {e}");
        }
        if schedule
            .as_ref()
            .is_some_and(ScheduledSessions::carries_over)
        {
            match platform.carry_over(Utc::now()) {
                Ok(0) => {}
                Ok(n) => tracing::info!("{n} day-ahead offers carried over"),
                Err(e) => tracing::error!("carry-over: {e}"),
            }
        }
    }
}
