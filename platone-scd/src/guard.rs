//! The policy and audit layer: the one place where the access policy is applied and the audit
//! log is written, for every backend.
//!
//! [`Store`] is implemented here for every [`Backend`]. A policy-checked read gathers the
//! registry facts about each resource it names (through [`PodRegistry`](crate::PodRegistry) and
//! [`SubscriptionStore`](crate::SubscriptionStore)), lets [`crate::policy`] decide, appends the decision to the
//! [`AuditLog`](crate::AuditLog), and only when allowed reads the data through the raw storage traits, limited to
//! the granted periods. Writes pass straight through.

use std::path::Path;

use platone_model::{Measurement, ParticipantId, PodId, SetPoint, Timestamp};

use crate::backend::{Backend, StoreFuture};
use crate::error::{Result, ScdError};
use crate::period::Periods;
use crate::policy::{AccessFacts, decide, decide_all, link_overlaps, set_point_visible};
use crate::query::{Bucket, IntervalAggregate, MeasurementQuery, Page, aggregate};
use crate::records::{
    AuditEntry, CertificationRecord, PodLink, PodRecord, Principal, Resource, SetPointAck,
    StoredSetPoint, Subscription, SubscriptionStatus,
};
use crate::retention::{ArchiveManifest, RestoreReport};
use crate::row::{now, to_ns};
use crate::store::{InsertReport, Store};

/// What the registry says about `resource`: the PoDs it belongs (or belonged) to and when,
/// their aggregators, and — when `who` is given — `who`'s subscriptions to it or its PoDs.
async fn facts<B: Backend + ?Sized>(
    b: &B,
    who: Option<&ParticipantId>,
    resource: &Resource,
) -> Result<AccessFacts> {
    let mut facts = AccessFacts::default();
    if let Resource::Pod(p) = resource {
        if let Some(record) = b.pod_record(p).await? {
            facts.add_pod(record, Periods::all());
        }
    } else {
        for link in b.links_of(resource).await? {
            if let Some(record) = b.pod_record(&link.pod).await? {
                facts.add_pod(
                    record,
                    Periods::of_validity(&link.valid_from, link.valid_to.as_ref()),
                );
            }
        }
    }
    let pods: Vec<Resource> = facts
        .pods
        .iter()
        .map(|f| Resource::Pod(f.record.pod.clone()))
        .collect();
    for pod in &pods {
        for link in b.links_of(pod).await? {
            facts.add_aggregator_link(&link);
        }
    }
    if let Some(who) = who {
        let topics = facts.topics(resource);
        facts.subscriptions = b.subscriptions_to(who, &topics).await?;
    }
    Ok(facts)
}

/// Decides whether `who` may `action` on `resources` (all must be allowed), appends the
/// decision to the audit log, and gives the granted data periods, or
/// [`ScdError::AccessDenied`].
async fn guard<B: Backend + ?Sized>(
    b: &B,
    who: &Principal,
    action: &str,
    what: String,
    resources: &[Resource],
) -> Result<Periods> {
    let grant = match who {
        Principal::Operator => decide_all(who, &[]),
        Principal::Participant(p) => {
            let mut all = Vec::with_capacity(resources.len());
            for r in resources {
                all.push((r.clone(), facts(b, Some(p), r).await?));
            }
            decide_all(who, &all)
        }
    };
    b.append_audit(&now(), who, action, &what, &grant.decision)
        .await?;
    if grant.decision.allowed {
        Ok(grant.periods)
    } else {
        Err(ScdError::AccessDenied {
            who: who.to_string(),
            what,
            reason: grant.decision.reason,
        })
    }
}

async fn query_measurements<B: Backend + ?Sized>(
    b: &B,
    who: &Principal,
    query: &MeasurementQuery,
) -> Result<Page> {
    let what = query.describe();
    let within = guard(b, who, "query_measurements", what, &query.resources()).await?;
    b.read_page(query, &within).await
}

async fn count_measurements<B: Backend + ?Sized>(
    b: &B,
    who: &Principal,
    query: &MeasurementQuery,
) -> Result<u64> {
    let what = query.describe();
    let within = guard(b, who, "count_measurements", what, &query.resources()).await?;
    b.read_count(query, &within).await
}

async fn aggregate_measurements<B: Backend + ?Sized>(
    b: &B,
    who: &Principal,
    query: &MeasurementQuery,
    bucket: Bucket,
) -> Result<Vec<IntervalAggregate>> {
    let what = query.describe();
    let within = guard(b, who, "aggregate_measurements", what, &query.resources()).await?;
    Ok(aggregate(&b.read_all(query, &within).await?, bucket))
}

async fn pod_links<B: Backend + ?Sized>(
    b: &B,
    who: &Principal,
    pod: &PodId,
) -> Result<Vec<PodLink>> {
    let r = Resource::Pod(pod.clone());
    let within = guard(b, who, "pod_links", r.to_string(), std::slice::from_ref(&r)).await?;
    Ok(b.links_of(&r)
        .await?
        .into_iter()
        .filter(|l| link_overlaps(l, &within))
        .collect())
}

async fn set_points<B: Backend + ?Sized>(
    b: &B,
    who: &Principal,
    pod: &PodId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<StoredSetPoint>> {
    // Bounds the stores cannot represent are refused before anything is read or logged.
    to_ns(&from, || "set point query bound `from`".into())?;
    to_ns(&to, || "set point query bound `to`".into())?;
    let r = Resource::Pod(pod.clone());
    let within = guard(
        b,
        who,
        "set_points",
        r.to_string(),
        std::slice::from_ref(&r),
    )
    .await?;
    Ok(b.set_points_overlapping(pod, &from, &to)
        .await?
        .into_iter()
        .filter(|s| set_point_visible(&s.set_point, &within))
        .collect())
}

async fn request_subscription<B: Backend + ?Sized>(
    b: &B,
    consumer: &ParticipantId,
    provider: &ParticipantId,
    topic: &Resource,
) -> Result<Subscription> {
    let facts = facts(b, None, topic).await?;
    let d = decide(
        &Principal::Participant(provider.clone()),
        topic,
        &facts,
        false,
    );
    if !d.decision.allowed {
        return Err(ScdError::InvalidRecord {
            record: format!("subscription of {consumer} to {topic}"),
            reason: format!(
                "provider {provider} may not provide it: {}",
                d.decision.reason
            ),
        });
    }
    b.add_subscription(consumer, provider, topic, &now()).await
}

async fn decide_subscription<B: Backend + ?Sized>(
    b: &B,
    provider: &ParticipantId,
    id: i64,
    accept: bool,
) -> Result<Subscription> {
    let record = || format!("subscription {id}");
    let s = b
        .subscription(id)
        .await?
        .ok_or_else(|| ScdError::NotFound { record: record() })?;
    crate::subscription::check_decision(&s, provider, accept)?;
    let status = if accept {
        SubscriptionStatus::Accepted
    } else {
        SubscriptionStatus::Declined
    };
    // Decided by someone else in the meantime: the decision this one was checked against no
    // longer holds.
    b.decide(id, s.status, status, &now())
        .await?
        .ok_or_else(|| ScdError::Conflict {
            record: format!("{} (decided concurrently)", record()),
        })
}

/// Brings the archive in `dir` back through the raw writes: checks every file first, then
/// inserts each day (idempotently, so a restore can be repeated) and re-attaches the
/// certification references.
async fn restore<B: Backend + ?Sized>(b: &B, dir: &Path) -> Result<RestoreReport> {
    let owned = dir.to_path_buf();
    let (_manifest, days) =
        tokio::task::spawn_blocking(move || crate::retention::read_archive(&owned))
            .await
            .map_err(|e| ScdError::Task(e.to_string()))??;
    let mut report = RestoreReport::default();
    for rows in days {
        let measurements: Vec<Measurement> = rows.iter().map(|r| r.measurement.clone()).collect();
        for chunk in measurements.chunks(50_000) {
            report
                .measurements
                .absorb(b.write_measurements(chunk).await?);
        }
        let certs: Vec<CertificationRecord> = rows
            .iter()
            .filter_map(|r| {
                r.certification
                    .clone()
                    .map(|c| CertificationRecord::of(&r.measurement, c))
            })
            .collect();
        for chunk in certs.chunks(50_000) {
            b.write_certifications(chunk).await?;
        }
        report.certifications += certs.len() as u64;
        report.days += 1;
    }
    Ok(report)
}

impl<B: Backend + ?Sized> Store for B {
    fn insert_measurements<'a>(
        &'a self,
        batch: &'a [Measurement],
    ) -> StoreFuture<'a, InsertReport> {
        self.write_measurements(batch)
    }
    fn query_measurements<'a>(
        &'a self,
        who: &'a Principal,
        query: &'a MeasurementQuery,
    ) -> StoreFuture<'a, Page> {
        Box::pin(query_measurements(self, who, query))
    }
    fn count_measurements<'a>(
        &'a self,
        who: &'a Principal,
        query: &'a MeasurementQuery,
    ) -> StoreFuture<'a, u64> {
        Box::pin(count_measurements(self, who, query))
    }
    fn aggregate_measurements<'a>(
        &'a self,
        who: &'a Principal,
        query: &'a MeasurementQuery,
        bucket: Bucket,
    ) -> StoreFuture<'a, Vec<IntervalAggregate>> {
        Box::pin(aggregate_measurements(self, who, query, bucket))
    }
    fn register_pod<'a>(&'a self, pod: &'a PodRecord) -> StoreFuture<'a, ()> {
        self.write_pod(pod)
    }
    fn add_pod_link<'a>(&'a self, link: &'a PodLink) -> StoreFuture<'a, ()> {
        self.write_pod_link(link)
    }
    fn pod_links<'a>(
        &'a self,
        who: &'a Principal,
        pod: &'a PodId,
    ) -> StoreFuture<'a, Vec<PodLink>> {
        Box::pin(pod_links(self, who, pod))
    }
    fn put_set_point<'a>(&'a self, set_point: &'a SetPoint) -> StoreFuture<'a, ()> {
        self.write_set_point(set_point)
    }
    fn acknowledge_set_point<'a>(&'a self, ack: &'a SetPointAck) -> StoreFuture<'a, ()> {
        self.write_set_point_ack(ack)
    }
    fn set_points<'a>(
        &'a self,
        who: &'a Principal,
        pod: &'a PodId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreFuture<'a, Vec<StoredSetPoint>> {
        Box::pin(set_points(self, who, pod, from, to))
    }
    fn attach_certifications<'a>(
        &'a self,
        records: &'a [CertificationRecord],
    ) -> StoreFuture<'a, ()> {
        self.write_certifications(records)
    }
    fn request_subscription<'a>(
        &'a self,
        consumer: &'a ParticipantId,
        provider: &'a ParticipantId,
        topic: &'a Resource,
    ) -> StoreFuture<'a, Subscription> {
        Box::pin(request_subscription(self, consumer, provider, topic))
    }
    fn decide_subscription<'a>(
        &'a self,
        provider: &'a ParticipantId,
        id: i64,
        accept: bool,
    ) -> StoreFuture<'a, Subscription> {
        Box::pin(decide_subscription(self, provider, id, accept))
    }
    fn subscriptions<'a>(&'a self, who: &'a ParticipantId) -> StoreFuture<'a, Vec<Subscription>> {
        self.subscriptions_involving(who)
    }
    fn audit_log(&self, after_seq: i64) -> StoreFuture<'_, Vec<AuditEntry>> {
        self.audit_entries(after_seq)
    }
    fn archive<'a>(&'a self, before: Timestamp, dir: &'a Path) -> StoreFuture<'a, ArchiveManifest> {
        Box::pin(async move { self.archive_days(&before, dir).await })
    }
    fn restore<'a>(&'a self, dir: &'a Path) -> StoreFuture<'a, RestoreReport> {
        Box::pin(restore(self, dir))
    }
}
