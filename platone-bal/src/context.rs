//! What the REST API and the pipeline share: the store, the ledger, the counters, the check of
//! the callers' tokens, and the certifier of single records (subscription events).

use std::sync::{Arc, Mutex};

use platone_certify::{BatchPolicy, Batcher, Ledger, Proof, Scheme, SealedBatch};
use platone_scd::AnyStore;
use serde::Serialize;

use crate::config::BalConfig;
use crate::error::{BalError, Result};
use crate::metrics::Metrics;

/// The ledger source under which subscription events are certified.
pub const SUBSCRIPTION_SOURCE: &str = "subscriptions";

/// A record certified on its own: its single-leaf batch certificate, anchored, and its proof.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertifiedRecord {
    /// The batch identifier (`subscriptions:N`).
    #[schema(examples("subscriptions:0"))]
    pub batch_id: String,
    /// The proof, with the anchor attached.
    pub proof: Proof,
}

/// Certifies single records immediately: each is a one-record batch of its source, anchored
/// before the call returns (used for subscription events, which are few and must be
/// certified when they happen).
#[derive(Debug)]
pub struct RecordCertifier {
    batcher: Mutex<Batcher>,
}

impl RecordCertifier {
    /// A certifier whose chains continue those already in `ledger`.
    pub async fn open(scheme: Scheme, ledger: &dyn Ledger) -> Result<Self> {
        let mut batcher = Batcher::new(
            scheme,
            BatchPolicy {
                max_records: 1,
                window: chrono::TimeDelta::days(1),
            },
        );
        if let Some(last) = ledger.last_certificate(SUBSCRIPTION_SOURCE).await? {
            batcher.resume(&last)?;
        }
        Ok(RecordCertifier {
            batcher: Mutex::new(batcher),
        })
    }

    /// Certifies `record` (any serialisable value) under `source` and anchors it in `ledger`.
    pub async fn certify<T: Serialize>(
        &self,
        source: &str,
        record: &T,
        ledger: &dyn Ledger,
    ) -> Result<CertifiedRecord> {
        let value = serde_json::to_value(record)
            .map_err(|e| platone_certify::CertifyError::Serialise(e.to_string()))?;
        let sealed: SealedBatch = {
            let mut batcher = self
                .batcher
                .lock()
                .map_err(|_| BalError::Stopped("record certifier"))?;
            batcher
                .add(source, &value, platone_certify::now())?
                .into_iter()
                .next()
                .ok_or(BalError::Stopped("record certifier"))?
        };
        let status = ledger.anchor(&sealed.certificate).await?;
        let mut proof = sealed
            .proofs
            .into_iter()
            .next()
            .ok_or(BalError::Stopped("record certifier"))?;
        if let Some(anchor) = status.anchor() {
            proof.upgrade(anchor)?;
        }
        Ok(CertifiedRecord {
            batch_id: sealed.certificate.batch_id,
            proof,
        })
    }
}

/// Everything the REST API needs.
#[derive(Clone)]
pub struct BalContext {
    /// The configuration the BAL runs with.
    pub config: Arc<BalConfig>,
    /// The Shared Customer Database.
    pub store: AnyStore,
    /// The ledger certificates are anchored on.
    pub ledger: Arc<dyn Ledger>,
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// Checks the callers' bearer tokens ([`crate::security`]).
    pub authentication: platone_service::Authentication,
    /// Certifies subscription events.
    pub records: Arc<RecordCertifier>,
    /// The engines' and tasks' health (what `/health` and `/ready` report).
    pub health: crate::health::Health,
    /// Grants and revokes consumers' read access on the broker as subscriptions are decided
    /// (`None`: the broker's access control is not the BAL's).
    pub broker_access: Option<Arc<crate::broker_access::AccessKeeper>>,
}

impl std::fmt::Debug for BalContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BalContext")
            .field("config", &self.config)
            .field("store", &self.store)
            .field("ledger", &self.ledger.name())
            .field("metrics", &self.metrics)
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl axum::extract::FromRef<BalContext> for platone_service::Authentication {
    fn from_ref(ctx: &BalContext) -> Self {
        ctx.authentication.clone()
    }
}

#[cfg(test)]
mod tests {
    use platone_certify::FileLedger;

    use super::*;

    #[tokio::test]
    async fn single_records_are_certified_anchored_and_chained() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FileLedger::open(dir.path()).unwrap();
        let certifier = RecordCertifier::open(Scheme::Keccak, &ledger)
            .await
            .unwrap();
        let first = certifier
            .certify(SUBSCRIPTION_SOURCE, &serde_json::json!({"id": 1}), &ledger)
            .await
            .unwrap();
        let second = certifier
            .certify(SUBSCRIPTION_SOURCE, &serde_json::json!({"id": 2}), &ledger)
            .await
            .unwrap();
        assert_eq!(first.batch_id, "subscriptions:0");
        assert_eq!(second.batch_id, "subscriptions:1");
        assert!(second.proof.anchor.anchor().is_some());
        let verification = platone_certify::verify_with_ledger(
            &serde_json::json!({"id": 2}),
            &second.proof,
            &ledger,
        )
        .await
        .unwrap();
        assert!(verification.is_verified(), "{verification:?}");

        // A restart continues the chain.
        drop(certifier);
        drop(ledger);
        let ledger = FileLedger::open(dir.path()).unwrap();
        let certifier = RecordCertifier::open(Scheme::Keccak, &ledger)
            .await
            .unwrap();
        let third = certifier
            .certify(SUBSCRIPTION_SOURCE, &serde_json::json!({"id": 3}), &ledger)
            .await
            .unwrap();
        assert_eq!(third.batch_id, "subscriptions:2");
    }
}
