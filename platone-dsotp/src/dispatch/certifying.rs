//! The certification task: records are taken as they come and certified in batches (all
//! that arrived while the previous call ran, up to `certify_batch`), so a large activation's
//! set points, and the burst of acknowledgements that follows, make few batches.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use platone_certify::Proof;
use tokio::sync::mpsc;

use super::certify::{DispatchRecord, SetPointCertifier};
use super::dispatcher::Inner;
use crate::error::Result;

/// How often a failed certification is tried again before it is reported.
const RETRIES: u32 = 3;

/// A record to certify and where its proof goes: (activation id, set point index), or
/// nowhere for an acknowledgement of a set point this dispatcher does not track.
pub(crate) struct CertJob {
    pub target: Option<(String, usize)>,
    pub record: DispatchRecord,
}

/// Certifies what arrives on `jobs` until the dispatcher stops.
pub(crate) async fn certify_loop(
    inner: Arc<Inner>,
    certifier: Arc<dyn SetPointCertifier>,
    mut jobs: mpsc::UnboundedReceiver<CertJob>,
) {
    let mut stop = inner.stop.clone();
    loop {
        let first = tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => job,
                None => return,
            },
            _ = stop.changed() => return,
        };
        let mut targets = vec![first.target];
        let mut records = vec![first.record];
        while records.len() < inner.config.certify_batch {
            match jobs.try_recv() {
                Ok(job) => {
                    targets.push(job.target);
                    records.push(job.record);
                }
                Err(_) => break,
            }
        }
        let outcome = certify_with_retries(&*certifier, &records).await;
        apply(&inner, targets, records, outcome);
    }
}

async fn certify_with_retries(
    certifier: &dyn SetPointCertifier,
    records: &[DispatchRecord],
) -> Result<Vec<Proof>> {
    let mut attempt = 0;
    loop {
        match certifier.certify(records).await {
            Ok(proofs) => return Ok(proofs),
            Err(e) if attempt < RETRIES => {
                attempt += 1;
                tracing::warn!(
                    "certifying {} records failed (trying again): {e}",
                    records.len()
                );
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Records each proof (or the failure) with its set point and wakes the activations.
fn apply(
    inner: &Inner,
    targets: Vec<Option<(String, usize)>>,
    records: Vec<DispatchRecord>,
    outcome: Result<Vec<Proof>>,
) {
    let (proofs, error) = match outcome {
        Ok(proofs) if proofs.len() == records.len() => {
            (proofs.into_iter().map(Some).collect(), None)
        }
        Ok(proofs) => (
            vec![None; records.len()],
            Some(format!(
                "the certifier gave {} proofs for {} records",
                proofs.len(),
                records.len()
            )),
        ),
        Err(e) => (vec![None; records.len()], Some(e.to_string())),
    };
    if let Some(e) = &error {
        tracing::error!("{} records left uncertified: {e}", records.len());
    }
    let mut state = inner.lock();
    let mut touched = BTreeSet::new();
    for ((target, record), proof) in targets.into_iter().zip(records).zip(proofs) {
        let Some((activation, index)) = target else {
            continue;
        };
        let Some(tracked) = state.activations.get_mut(&activation) else {
            continue;
        };
        tracked.certifying = tracked.certifying.saturating_sub(1);
        if let Some(e) = tracked.entries.get_mut(index) {
            match (proof, record) {
                (Some(proof), DispatchRecord::SetPoint(_)) => e.certification = Some(proof),
                (Some(proof), DispatchRecord::Ack(ack)) => {
                    if e.ack.as_ref() == Some(&ack) {
                        e.ack_certification = Some(proof);
                    }
                }
                (None, record) => {
                    let what = match record {
                        DispatchRecord::SetPoint(_) => "set point",
                        DispatchRecord::Ack(_) => "acknowledgement",
                    };
                    e.certification_error = Some(format!(
                        "{what}: {}",
                        error.as_deref().unwrap_or("not certified")
                    ));
                }
            }
        }
        touched.insert(activation);
    }
    for activation in touched {
        if let Some(t) = state.activations.get(&activation) {
            t.notify.notify_waiters();
        }
    }
}
