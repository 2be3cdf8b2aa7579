//! Real brokers for the integration tests: Mosquitto through the test launcher
//! ([`platone_testkit::Mosquitto`]) with the tests' settings (TLS material: `platone_testkit::TestCa`).
#![allow(dead_code)]

use std::time::Duration;

pub mod outage;

use platone_testkit::{Mosquitto, MosquittoOptions};

/// A broker with the defaults the tests rely on: persistence on, a queue long enough for every
/// stream the tests send (mosquitto's default of 1000 would drop beyond it).
pub fn mosquitto() -> Mosquitto {
    mosquitto_with(String::new())
}

/// No persistence: a restart forgets every session.
pub fn mosquitto_forgetful() -> Mosquitto {
    Mosquitto::start_with(MosquittoOptions {
        persistence: false,
        max_queued: Some(100_000),
        ..MosquittoOptions::default()
    })
    .unwrap()
}

/// `extra` follows the `listener` line (TLS, authentication, ACL…).
pub fn mosquitto_with(extra: String) -> Mosquitto {
    Mosquitto::start_with(MosquittoOptions {
        max_queued: Some(100_000),
        extra_config: extra,
        ..MosquittoOptions::default()
    })
    .unwrap()
}

/// Waits until `cond` holds, polling, for at most `timeout`.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
