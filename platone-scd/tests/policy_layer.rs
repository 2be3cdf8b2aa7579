//! The policy and audit layer applies to any backend: a plain in-memory backend written here,
//! which knows nothing of policies, gets its reads checked, limited to the granted periods and
//! audited through [`Store`], also behind `Arc<dyn Store>`.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use platone_model::{
    DeviceId, Measurement, MeasurementKind, MeterId, ParticipantId, PodId, SetPoint, Timestamp,
    Unit, parse_timestamp,
};
use platone_scd::{
    ArchiveManifest, AuditEntry, AuditLog, CertificationRecord, CertificationStore, Decision,
    InsertReport, MeasurementQuery, MeasurementStore, Page, Periods, PodLink, PodRecord,
    PodRegistry, Principal, Resource, Retention, ScdError, SetPointAck, SetPointStore, Store,
    StoreFuture, StoredMeasurement, StoredSetPoint, Subscription, SubscriptionStatus,
    SubscriptionStore,
};

#[derive(Default)]
struct State {
    measurements: Vec<Measurement>,
    pods: Vec<PodRecord>,
    links: Vec<PodLink>,
    subscriptions: Vec<Subscription>,
    audit: Vec<AuditEntry>,
}

/// Raw storage in memory, counting how often data is read and what periods it was asked for.
#[derive(Default)]
struct Memory {
    state: Mutex<State>,
    data_reads: AtomicUsize,
    last_within: Mutex<Option<Periods>>,
}

fn ns(t: &Timestamp) -> i64 {
    t.timestamp_nanos_opt().unwrap()
}

impl Memory {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn select(&self, q: &MeasurementQuery, within: &Periods) -> Vec<StoredMeasurement> {
        self.data_reads.fetch_add(1, Ordering::SeqCst);
        *self.last_within.lock().unwrap() = Some(within.clone());
        let mut out: Vec<Measurement> = self
            .state()
            .measurements
            .iter()
            .filter(|m| q.pod.as_ref().is_none_or(|p| m.pod.as_ref() == Some(p)))
            .filter(|m| q.meter.as_ref().is_none_or(|x| m.meter.as_ref() == Some(x)))
            .filter(|m| q.device.as_ref().is_none_or(|d| &m.source == d))
            .filter(|m| within.contains(ns(&m.timestamp)))
            .cloned()
            .collect();
        out.sort_by_key(|m| m.timestamp);
        out.into_iter()
            .map(|measurement| StoredMeasurement {
                measurement,
                certification: None,
            })
            .collect()
    }
}

fn ready<'a, T: Send + 'a>(value: platone_scd::Result<T>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl MeasurementStore for Memory {
    fn write_measurements<'a>(&'a self, batch: &'a [Measurement]) -> StoreFuture<'a, InsertReport> {
        let mut report = InsertReport::default();
        let mut s = self.state();
        for m in batch {
            if s.measurements.contains(m) {
                report.duplicates += 1;
            } else {
                s.measurements.push(m.clone());
                report.inserted += 1;
            }
        }
        ready(Ok(report))
    }
    fn read_page<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, Page> {
        let items = self.select(query, within);
        ready(Ok(Page { items, next: None }))
    }
    fn read_all<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, Vec<StoredMeasurement>> {
        ready(Ok(self.select(query, within)))
    }
    fn read_count<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, u64> {
        ready(Ok(self.select(query, within).len() as u64))
    }
}

impl PodRegistry for Memory {
    fn write_pod<'a>(&'a self, pod: &'a PodRecord) -> StoreFuture<'a, ()> {
        self.state().pods.push(pod.clone());
        ready(Ok(()))
    }
    fn write_pod_link<'a>(&'a self, link: &'a PodLink) -> StoreFuture<'a, ()> {
        self.state().links.push(link.clone());
        ready(Ok(()))
    }
    fn pod_record<'a>(&'a self, pod: &'a PodId) -> StoreFuture<'a, Option<PodRecord>> {
        ready(Ok(self
            .state()
            .pods
            .iter()
            .find(|p| &p.pod == pod)
            .cloned()))
    }
    fn links_of<'a>(&'a self, resource: &'a Resource) -> StoreFuture<'a, Vec<PodLink>> {
        let links = self
            .state()
            .links
            .iter()
            .filter(|l| match resource {
                Resource::Pod(p) => &l.pod == p,
                Resource::Meter(m) => l.meter.as_ref() == Some(m),
                Resource::Device(d) => l.device.as_ref() == Some(d),
            })
            .cloned()
            .collect();
        ready(Ok(links))
    }
}

impl SetPointStore for Memory {
    fn write_set_point<'a>(&'a self, _: &'a SetPoint) -> StoreFuture<'a, ()> {
        ready(Err(ScdError::Task("set points are not kept here".into())))
    }
    fn write_set_point_ack<'a>(&'a self, _: &'a SetPointAck) -> StoreFuture<'a, ()> {
        ready(Err(ScdError::Task("set points are not kept here".into())))
    }
    fn set_points_overlapping<'a>(
        &'a self,
        _: &'a PodId,
        _: &'a Timestamp,
        _: &'a Timestamp,
    ) -> StoreFuture<'a, Vec<StoredSetPoint>> {
        self.data_reads.fetch_add(1, Ordering::SeqCst);
        ready(Ok(Vec::new()))
    }
}

impl CertificationStore for Memory {
    fn write_certifications<'a>(&'a self, _: &'a [CertificationRecord]) -> StoreFuture<'a, ()> {
        ready(Err(ScdError::Task(
            "certifications are not kept here".into(),
        )))
    }
}

impl SubscriptionStore for Memory {
    fn add_subscription<'a>(
        &'a self,
        consumer: &'a ParticipantId,
        provider: &'a ParticipantId,
        topic: &'a Resource,
        at: &'a Timestamp,
    ) -> StoreFuture<'a, Subscription> {
        let mut s = self.state();
        let sub = Subscription {
            id: s.subscriptions.len() as i64 + 1,
            provider: provider.clone(),
            consumer: consumer.clone(),
            topic: topic.clone(),
            status: SubscriptionStatus::Requested,
            requested_at: *at,
            decided_at: None,
        };
        s.subscriptions.push(sub.clone());
        ready(Ok(sub))
    }
    fn subscription(&self, id: i64) -> StoreFuture<'_, Option<Subscription>> {
        ready(Ok(self
            .state()
            .subscriptions
            .iter()
            .find(|s| s.id == id)
            .cloned()))
    }
    fn decide<'a>(
        &'a self,
        id: i64,
        expected: SubscriptionStatus,
        status: SubscriptionStatus,
        at: &'a Timestamp,
    ) -> StoreFuture<'a, Option<Subscription>> {
        let mut s = self.state();
        let found = s
            .subscriptions
            .iter_mut()
            .find(|s| s.id == id && s.status == expected)
            .map(|s| {
                s.status = status;
                s.decided_at = Some(*at);
                s.clone()
            });
        ready(Ok(found))
    }
    fn subscriptions_involving<'a>(
        &'a self,
        who: &'a ParticipantId,
    ) -> StoreFuture<'a, Vec<Subscription>> {
        let subs = self.state().subscriptions.clone();
        ready(Ok(subs
            .into_iter()
            .filter(|s| &s.provider == who || &s.consumer == who)
            .collect()))
    }
    fn subscriptions_to<'a>(
        &'a self,
        consumer: &'a ParticipantId,
        topics: &'a [Resource],
    ) -> StoreFuture<'a, Vec<Subscription>> {
        let subs = self.state().subscriptions.clone();
        ready(Ok(subs
            .into_iter()
            .filter(|s| &s.consumer == consumer && topics.contains(&s.topic))
            .collect()))
    }
}

impl AuditLog for Memory {
    fn append_audit<'a>(
        &'a self,
        at: &'a Timestamp,
        who: &'a Principal,
        action: &'a str,
        what: &'a str,
        decision: &'a Decision,
    ) -> StoreFuture<'a, ()> {
        let mut s = self.state();
        let seq = s.audit.len() as i64 + 1;
        s.audit.push(AuditEntry {
            seq,
            at: *at,
            who: who.clone(),
            action: action.into(),
            what: what.into(),
            allowed: decision.allowed,
            reason: decision.reason.clone(),
        });
        ready(Ok(()))
    }
    fn audit_entries(&self, after_seq: i64) -> StoreFuture<'_, Vec<AuditEntry>> {
        let log = self.state().audit.clone();
        ready(Ok(log.into_iter().filter(|e| e.seq > after_seq).collect()))
    }
}

impl Retention for Memory {
    fn archive_days<'a>(
        &'a self,
        _: &'a Timestamp,
        _: &'a Path,
    ) -> StoreFuture<'a, ArchiveManifest> {
        ready(Err(ScdError::Task("no archives here".into())))
    }
}

fn id(s: &str) -> ParticipantId {
    ParticipantId::new(s).unwrap()
}

fn t(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

fn reading(at: &str) -> Measurement {
    Measurement::new(
        DeviceId::new("ln-1").unwrap(),
        t(at),
        MeasurementKind::Energy,
        Unit::WattHour,
        1.0,
    )
    .unwrap()
    .with_meter(MeterId::new("m1").unwrap())
}

#[tokio::test]
async fn any_backend_gets_the_policy_and_the_audit_log() {
    let memory = Arc::new(Memory::default());
    // The layer is reached through a trait object: code serving participants holds only this.
    let store: Arc<dyn Store> = memory.clone();
    let pod = PodId::new("p1").unwrap();
    store
        .register_pod(&PodRecord {
            pod: pod.clone(),
            dso: id("dso"),
            customer: Some(id("cust")),
        })
        .await
        .unwrap();
    // Meter m1 served p1 from 06:00 only.
    store
        .add_pod_link(&PodLink {
            pod: pod.clone(),
            meter: Some(MeterId::new("m1").unwrap()),
            device: None,
            aggregator: None,
            valid_from: t("2021-06-30T06:00:00Z"),
            valid_to: None,
        })
        .await
        .unwrap();
    let batch = [
        reading("2021-06-30T05:45:00Z"),
        reading("2021-06-30T06:15:00Z"),
    ];
    assert_eq!(store.insert_measurements(&batch).await.unwrap().inserted, 2);
    let by_meter = MeasurementQuery::meter(MeterId::new("m1").unwrap());

    // A stranger is denied, audited, and the backend's data is never touched.
    let stranger = Principal::Participant(id("stranger"));
    let err = store
        .query_measurements(&stranger, &by_meter)
        .await
        .unwrap_err();
    assert!(matches!(err, ScdError::AccessDenied { .. }), "{err}");
    assert_eq!(memory.data_reads.load(Ordering::SeqCst), 0);
    let err = store.count_measurements(&stranger, &by_meter).await;
    assert!(err.is_err());
    assert_eq!(memory.data_reads.load(Ordering::SeqCst), 0);

    // The customer reads through the meter only while it served the PoD: the layer hands the
    // backend the granted period, and the backend's plain filter does the rest.
    let customer = Principal::Participant(id("cust"));
    let page = store
        .query_measurements(&customer, &by_meter)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].measurement, batch[1]);
    let within = memory.last_within.lock().unwrap().clone().unwrap();
    assert_eq!(within.spans(), [(ns(&t("2021-06-30T06:00:00Z")), i64::MAX)]);
    // The operator sees everything.
    assert_eq!(
        store
            .count_measurements(&Principal::Operator, &by_meter)
            .await
            .unwrap(),
        2
    );
    assert_eq!(memory.data_reads.load(Ordering::SeqCst), 2);
    // A subscription by someone not entitled to the resource is refused by the layer.
    let refused = store
        .request_subscription(&id("esco"), &id("stranger"), &Resource::Pod(pod.clone()))
        .await;
    assert!(matches!(refused, Err(ScdError::InvalidRecord { .. })));
    let sub = store
        .request_subscription(&id("esco"), &id("cust"), &Resource::Pod(pod.clone()))
        .await
        .unwrap();
    store
        .decide_subscription(&id("cust"), sub.id, true)
        .await
        .unwrap();
    let esco = Principal::Participant(id("esco"));
    assert_eq!(store.count_measurements(&esco, &by_meter).await.unwrap(), 1);
    // Set points are policy-checked the same way.
    assert!(
        store
            .set_points(
                &stranger,
                &pod,
                t("2021-06-30T00:00:00Z"),
                t("2021-07-01T00:00:00Z")
            )
            .await
            .is_err()
    );

    // Every checked read is in the backend's audit log, in order, allowed or denied.
    let log: Vec<(String, &'static str, bool)> = store
        .audit_log(0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let action = match e.action.as_str() {
                "query_measurements" => "query",
                "count_measurements" => "count",
                "set_points" => "set_points",
                other => panic!("unexpected action {other}"),
            };
            (e.who.to_string(), action, e.allowed)
        })
        .collect();
    let expected = [
        ("participant:stranger", "query", false),
        ("participant:stranger", "count", false),
        ("participant:cust", "query", true),
        ("operator", "count", true),
        ("participant:esco", "count", true),
        ("participant:stranger", "set_points", false),
    ];
    assert_eq!(
        log,
        expected
            .iter()
            .map(|(w, a, ok)| (w.to_string(), *a, *ok))
            .collect::<Vec<_>>()
    );
}
