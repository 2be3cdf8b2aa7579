//! The BAL's counters, exposed at `GET /metrics` (OpenMetrics text, through
//! `prometheus-client`) beside the HTTP metrics of [`platone_service::Telemetry`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use platone_service::prometheus_client::collector::Collector;
use platone_service::prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use platone_service::prometheus_client::metrics::MetricType;
use platone_service::prometheus_client::metrics::counter::ConstCounter;

macro_rules! counters {
    ($( $(#[$doc:meta])* $field:ident => $name:literal, $help:literal; )*) => {
        /// Counters of everything the BAL did since it started. All are monotonic.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $( $(#[$doc])* pub $field: AtomicU64, )*
        }

        /// A copy of the counters at one moment.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
        pub struct MetricsSnapshot {
            $( $(#[$doc])* pub $field: u64, )*
        }

        impl Metrics {
            /// The counters now.
            pub fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot { $( $field: self.$field.load(Ordering::Relaxed), )* }
            }

        }

        impl Collector for MetricsCollector {
            fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
                $(
                    let metric =
                        encoder.encode_descriptor($name, $help, None, MetricType::Counter)?;
                    ConstCounter::new(self.0.$field.load(Ordering::Relaxed)).encode(metric)?;
                )*
                Ok(())
            }
        }
    };
}

/// The counters as a `prometheus-client` collector: each is exposed as a counter named
/// `platone_bal_…_total`, read when scraped.
#[derive(Debug, Clone)]
pub struct MetricsCollector(pub Arc<Metrics>);

counters! {
    /// Packets received from devices.
    packets_received => "platone_bal_packets_received", "Packets received from field devices.";
    /// Packets that carried a valid device signature.
    packets_signed => "platone_bal_packets_signed", "Packets whose device signature verified.";
    /// Packets accepted without a signature (trial mode).
    packets_unsigned => "platone_bal_packets_unsigned", "Packets accepted without a device signature.";
    /// Packets sent to the dead-letter topic.
    packets_dead_lettered => "platone_bal_packets_dead_lettered", "Packets or items dead-lettered with a reason.";
    /// Groups of deliveries taken together (one SCD transaction each).
    ingest_groups => "platone_bal_ingest_groups", "Groups of deliveries stored in one SCD transaction.";
    /// Measurements decoded from packets.
    measurements_decoded => "platone_bal_measurements_decoded", "Measurements decoded from packets.";
    /// Measurements newly stored in the SCD.
    measurements_stored => "platone_bal_measurements_stored", "Measurements newly stored in the SCD.";
    /// Measurements that were already stored (redeliveries).
    measurements_duplicate => "platone_bal_measurements_duplicate", "Measurements already stored (redelivered).";
    /// Measurements refused because their key was stored with another value.
    measurements_conflicting => "platone_bal_measurements_conflicting", "Measurements refused: stored with another value.";
    /// Measurements added to a certification batch.
    measurements_batched => "platone_bal_measurements_batched", "Measurements added to a certification batch.";
    /// Measurements whose certification reference is recorded in the SCD.
    measurements_certified => "platone_bal_measurements_certified", "Measurements whose certification is recorded in the SCD.";
    /// Certification references the SCD refused, kept in the rejected-references file.
    references_rejected => "platone_bal_references_rejected", "Certification references the SCD refused (kept with the reason in rejected-references.jsonl).";
    /// Forwarded messages the bus refused.
    forwarding_failures => "platone_bal_forwarding_failures", "Messages to the DSOTP topics the bus did not take.";
    /// Batches sealed.
    batches_sealed => "platone_bal_batches_sealed", "Certification batches sealed.";
    /// Batches anchored on the ledger.
    batches_anchored => "platone_bal_batches_anchored", "Certification batches anchored on the ledger.";
    /// Records forwarded to the DSOTP topics.
    messages_forwarded => "platone_bal_messages_forwarded", "Messages forwarded to the DSOTP topics.";
    /// Sum of the time from a record's arrival to its batch's anchoring, in milliseconds.
    anchor_latency_ms_sum => "platone_bal_anchor_latency_milliseconds", "Sum over certified measurements of arrival-to-anchor time, in milliseconds.";
    /// Broker access changes (grants, revocations, device rights) the broker did not take at
    /// the first attempt; each is retried until it does.
    broker_access_failures => "platone_bal_broker_access_failures", "Broker access changes (subscription grants and revocations, device rights) that failed and are retried.";
    /// REST requests served.
    http_requests => "platone_bal_http_requests", "REST requests served.";
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
        let metrics = Arc::new(Metrics::default());
        Metrics::add(&metrics.packets_received, 3);
        let collector = MetricsCollector(metrics.clone());
        let text = platone_service::Telemetry::new("platone_bal", |registry| {
            registry.register_collector(Box::new(collector));
        })
        .encode();
        assert!(
            text.contains("# TYPE platone_bal_packets_received counter\n"),
            "{text}"
        );
        assert!(
            text.contains("\nplatone_bal_packets_received_total 3\n"),
            "{text}"
        );
        assert!(text.contains("\nplatone_bal_anchor_latency_milliseconds_total 0\n"));
        assert_eq!(
            text.matches("# HELP").count(),
            text.matches("# TYPE").count()
        );
        assert_eq!(metrics.snapshot().packets_received, 3);
    }
}
