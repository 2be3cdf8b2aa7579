//! [`DispatchConfig`]: retries, concurrency and the report topic.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{DsotpError, Result};

/// How the dispatcher sends, retries and reports.
///
/// A set point is published once at dispatch; when no acknowledgement arrived
/// `ack_timeout_ms` after the broker confirmed it, it is published again, then after
/// `ack_timeout_ms × backoff`, `× backoff²`… (each wait at most `max_ack_timeout_ms`), up to
/// `max_attempts` publications in all. Unanswered after the last wait, or once its window
/// has ended, it is `undelivered`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchConfig {
    /// How long to wait for an acknowledgement after the first publication (ms, > 0).
    pub ack_timeout_ms: u64,
    /// By how much each further wait grows (≥ 1).
    pub backoff: f64,
    /// The longest wait (ms, ≥ `ack_timeout_ms`).
    pub max_ack_timeout_ms: u64,
    /// Publications of one set point in all, the first included (≥ 1).
    pub max_attempts: u32,
    /// Set points published at once (the rest wait for a broker confirmation).
    pub publish_concurrency: usize,
    /// Set points and acknowledgements written to the store at once.
    pub store_concurrency: usize,
    /// The largest number of records certified in one call of the certifier; records that
    /// arrive while a call runs are certified together in the next.
    pub certify_batch: usize,
    /// Activations whose status is kept: beyond this many, the oldest settled ones are
    /// forgotten (their set points and acknowledgements stay in the SCD).
    pub keep_activations: usize,
    /// Where an activation's final status goes once it is settled: `{reports}/{activation}`.
    pub reports: String,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            ack_timeout_ms: 2_000,
            backoff: 2.0,
            max_ack_timeout_ms: 30_000,
            max_attempts: 4,
            publish_concurrency: 256,
            store_concurrency: 32,
            certify_batch: 4096,
            keep_activations: 10_000,
            reports: "platone/dsotp/activations".into(),
        }
    }
}

impl DispatchConfig {
    /// Checks the values, failing with [`DsotpError::Invalid`] at `dispatch.FIELD`.
    pub fn validate(&self) -> Result<()> {
        let at = |field: &str| format!("dispatch.{field}");
        if self.ack_timeout_ms == 0 {
            return Err(DsotpError::invalid(at("ack_timeout_ms"), "must be above 0"));
        }
        if !self.backoff.is_finite() || self.backoff < 1.0 {
            return Err(DsotpError::invalid(
                at("backoff"),
                format!("must be at least 1, not {}", self.backoff),
            ));
        }
        if self.max_ack_timeout_ms < self.ack_timeout_ms {
            return Err(DsotpError::invalid(
                at("max_ack_timeout_ms"),
                "must be at least ack_timeout_ms",
            ));
        }
        if self.max_attempts == 0 {
            return Err(DsotpError::invalid(
                at("max_attempts"),
                "must be at least 1",
            ));
        }
        for (field, value) in [
            ("publish_concurrency", self.publish_concurrency),
            ("store_concurrency", self.store_concurrency),
            ("certify_batch", self.certify_batch),
        ] {
            if value == 0 {
                return Err(DsotpError::invalid(at(field), "must be at least 1"));
            }
        }
        platone_bus::validate_topic(&self.reports)
            .map_err(|e| DsotpError::invalid(at("reports"), e))?;
        Ok(())
    }

    /// How long to wait for an acknowledgement after publication number `attempt` (from 1).
    pub fn wait_after(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let ms = self.ack_timeout_ms as f64 * self.backoff.powi(exponent);
        let ms = ms.min(self.max_ack_timeout_ms as f64);
        Duration::from_millis(ms as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_by_the_backoff_up_to_the_cap() {
        let c = DispatchConfig {
            ack_timeout_ms: 100,
            backoff: 3.0,
            max_ack_timeout_ms: 1_000,
            ..DispatchConfig::default()
        };
        let waits: Vec<u128> = (1..=4).map(|a| c.wait_after(a).as_millis()).collect();
        assert_eq!(waits, [100, 300, 900, 1000]);
        assert_eq!(c.wait_after(u32::MAX).as_millis(), 1000);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_values_are_named() {
        let bad = |c: DispatchConfig| match c.validate() {
            Err(DsotpError::Invalid { at, .. }) => at,
            other => panic!("{other:?}"),
        };
        let d = DispatchConfig::default;
        assert_eq!(
            bad(DispatchConfig {
                ack_timeout_ms: 0,
                ..d()
            }),
            "dispatch.ack_timeout_ms"
        );
        assert_eq!(
            bad(DispatchConfig {
                backoff: 0.5,
                ..d()
            }),
            "dispatch.backoff"
        );
        assert_eq!(
            bad(DispatchConfig {
                max_attempts: 0,
                ..d()
            }),
            "dispatch.max_attempts"
        );
        assert_eq!(
            bad(DispatchConfig {
                max_ack_timeout_ms: 1,
                ..d()
            }),
            "dispatch.max_ack_timeout_ms"
        );
        assert_eq!(
            bad(DispatchConfig {
                store_concurrency: 0,
                ..d()
            }),
            "dispatch.store_concurrency"
        );
        assert_eq!(
            bad(DispatchConfig {
                reports: "a/#".into(),
                ..d()
            }),
            "dispatch.reports"
        );
        let toml: DispatchConfig = serde_json::from_str(r#"{"max_attempts": 2}"#).unwrap();
        assert_eq!(toml.max_attempts, 2);
        assert_eq!(toml.ack_timeout_ms, 2_000);
    }
}
