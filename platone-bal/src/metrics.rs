//! The BAL's counters, exposed at `GET /metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $(#[$doc:meta])* $field:ident => $name:literal, $help:literal; )*) => {
        /// Counters of everything the BAL did since it started. All are monotonic.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $( $(#[$doc])* pub $field: AtomicU64, )*
        }

        /// A copy of the counters at one moment.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
        pub struct MetricsSnapshot {
            $( $(#[$doc])* pub $field: u64, )*
        }

        impl Metrics {
            /// The counters now.
            pub fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot { $( $field: self.$field.load(Ordering::Relaxed), )* }
            }

            /// The counters in the Prometheus text exposition format (version 0.0.4).
            pub fn to_prometheus(&self) -> String {
                let mut out = String::new();
                $(
                    let _ = writeln!(out, "# HELP {} {}", $name, $help);
                    let _ = writeln!(out, "# TYPE {} counter", $name);
                    let _ = writeln!(out, "{} {}", $name, self.$field.load(Ordering::Relaxed));
                )*
                out
            }
        }
    };
}

counters! {
    /// Packets received from devices.
    packets_received => "platone_bal_packets_received_total", "Packets received from field devices.";
    /// Packets that carried a valid device signature.
    packets_signed => "platone_bal_packets_signed_total", "Packets whose device signature verified.";
    /// Packets accepted without a signature (trial mode).
    packets_unsigned => "platone_bal_packets_unsigned_total", "Packets accepted without a device signature.";
    /// Packets sent to the dead-letter topic.
    packets_dead_lettered => "platone_bal_packets_dead_lettered_total", "Packets or items dead-lettered with a reason.";
    /// Groups of deliveries taken together (one SCD transaction each).
    ingest_groups => "platone_bal_ingest_groups_total", "Groups of deliveries stored in one SCD transaction.";
    /// Measurements decoded from packets.
    measurements_decoded => "platone_bal_measurements_decoded_total", "Measurements decoded from packets.";
    /// Measurements newly stored in the SCD.
    measurements_stored => "platone_bal_measurements_stored_total", "Measurements newly stored in the SCD.";
    /// Measurements that were already stored (redeliveries).
    measurements_duplicate => "platone_bal_measurements_duplicate_total", "Measurements already stored (redelivered).";
    /// Measurements refused because their key was stored with another value.
    measurements_conflicting => "platone_bal_measurements_conflicting_total", "Measurements refused: stored with another value.";
    /// Measurements added to a certification batch.
    measurements_batched => "platone_bal_measurements_batched_total", "Measurements added to a certification batch.";
    /// Measurements whose certification reference is recorded in the SCD.
    measurements_certified => "platone_bal_measurements_certified_total", "Measurements whose certification is recorded in the SCD.";
    /// Certification references the SCD refused, kept in the rejected-references file.
    references_rejected => "platone_bal_references_rejected_total", "Certification references the SCD refused (kept with the reason in rejected-references.jsonl).";
    /// Forwarded messages the bus refused.
    forwarding_failures => "platone_bal_forwarding_failures_total", "Messages to the DSOTP topics the bus did not take.";
    /// Batches sealed.
    batches_sealed => "platone_bal_batches_sealed_total", "Certification batches sealed.";
    /// Batches anchored on the ledger.
    batches_anchored => "platone_bal_batches_anchored_total", "Certification batches anchored on the ledger.";
    /// Records forwarded to the DSOTP topics.
    messages_forwarded => "platone_bal_messages_forwarded_total", "Messages forwarded to the DSOTP topics.";
    /// Sum of the time from a record's arrival to its batch's anchoring, in milliseconds.
    anchor_latency_ms_sum => "platone_bal_anchor_latency_milliseconds_sum", "Sum over certified measurements of arrival-to-anchor time, in milliseconds.";
    /// Broker access changes (grants, revocations, device rights) the broker did not take at
    /// the first attempt; each is retried until it does.
    broker_access_failures => "platone_bal_broker_access_failures_total", "Broker access changes (subscription grants and revocations, device rights) that failed and are retried.";
    /// REST requests served.
    http_requests => "platone_bal_http_requests_total", "REST requests served.";
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_lists_every_counter_with_help_and_type() {
        let metrics = Metrics::default();
        Metrics::add(&metrics.packets_received, 3);
        let text = metrics.to_prometheus();
        assert!(text.contains("# TYPE platone_bal_packets_received_total counter\n"));
        assert!(text.contains("\nplatone_bal_packets_received_total 3\n"));
        assert_eq!(
            text.matches("# HELP").count(),
            text.matches("# TYPE").count()
        );
        assert_eq!(metrics.snapshot().packets_received, 3);
    }
}
