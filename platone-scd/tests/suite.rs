//! The store test suite, run against both backends: the embedded SQLite store and (feature
//! `postgres`) a real PostgreSQL server started by the test binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{numbered, quarter_hours, t};
use platone_model::{
    DeviceId, MeasurementKind, MeterId, ParticipantId, PodId, SetPoint, Unit, UnitMultiplier,
};
use platone_scd::{
    AckOutcome, AnyStore, Bucket, CertificationRecord, CertificationRef, MeasurementQuery, PodLink,
    PodRecord, Principal, Resource, ScdError, SetPointAck, Store, SubscriptionStatus,
};

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s).unwrap()
}

fn who(s: &str) -> Principal {
    Principal::Participant(pid(s))
}

fn pod(s: &str) -> PodId {
    PodId::new(s).unwrap()
}

fn cert(batch: &str, leaf: u64) -> CertificationRef {
    CertificationRef {
        batch_id: batch.into(),
        leaf_index: leaf,
        root_hex: "ab".repeat(32),
        proof: serde_json::json!({"leaf": leaf, "path": ["cd", "ef"]}),
    }
}

/// Registers PoD `p1` (DSO `dso-1`, customer `cust-1`) with meter `m1`, device `ln-1` and
/// aggregator `agg-1`.
async fn registry(store: &impl Store) {
    store
        .register_pod(&PodRecord {
            pod: pod("p1"),
            dso: pid("dso-1"),
            customer: Some(pid("cust-1")),
        })
        .await
        .unwrap();
    store
        .add_pod_link(&PodLink {
            pod: pod("p1"),
            meter: Some(MeterId::new("m1").unwrap()),
            device: Some(DeviceId::new("ln-1").unwrap()),
            aggregator: Some(pid("agg-1")),
            valid_from: t("2021-01-01T00:00:00Z"),
            valid_to: None,
        })
        .await
        .unwrap();
}

mod cases {
    use super::*;

    pub async fn idempotent_insert(store: impl Store) {
        let day = quarter_hours("p1", "m1", "ln-1", "2021-06-30T00:00:00Z", 96);
        // An at-least-once bus delivers everything twice, some of it three times.
        let mut input = day.clone();
        input.extend(day.iter().cloned());
        input.extend(day[..10].iter().cloned());
        let r = store.insert_measurements(&input).await.unwrap();
        assert_eq!((r.inserted, r.duplicates, r.conflicts.len()), (96, 106, 0));
        let again = store.insert_measurements(&day).await.unwrap();
        assert_eq!((again.inserted, again.duplicates), (0, 96));
        let q = MeasurementQuery::pod(pod("p1"));
        assert_eq!(
            store
                .count_measurements(&Principal::Operator, &q)
                .await
                .unwrap(),
            96
        );
        let page = store
            .query_measurements(&Principal::Operator, &q)
            .await
            .unwrap();
        let got: Vec<_> = page.items.into_iter().map(|s| s.measurement).collect();
        assert_eq!(
            got, day,
            "stored measurements come back exactly, in time order"
        );
        assert!(page.next.is_none());
        // The same datum in another multiplier is the same value: a duplicate.
        let mut kilo = day[0].clone();
        kilo.value /= 1000.0;
        kilo.multiplier = UnitMultiplier::KILO;
        let r = store.insert_measurements(&[kilo]).await.unwrap();
        assert_eq!((r.inserted, r.duplicates), (0, 1));
        assert!(store.insert_measurements(&[]).await.unwrap().inserted == 0);
    }

    pub async fn conflicts_are_reported_not_overwritten(store: impl Store) {
        let day = quarter_hours("p1", "m1", "ln-1", "2021-06-30T00:00:00Z", 4);
        store.insert_measurements(&day).await.unwrap();
        let mut changed = day[2].clone();
        changed.value = 99.0;
        let mut in_batch = day[3].clone();
        in_batch.timestamp = t("2021-07-01T12:00:00Z");
        let mut in_batch_changed = in_batch.clone();
        in_batch_changed.value = 5.0;
        let r = store
            .insert_measurements(&[day[0].clone(), changed, in_batch, in_batch_changed])
            .await
            .unwrap();
        assert_eq!((r.inserted, r.duplicates), (1, 1));
        assert_eq!(r.conflicts.len(), 2, "{:?}", r.conflicts);
        assert_eq!(r.conflicts[0].index, 1);
        assert_eq!((r.conflicts[0].stored, r.conflicts[0].offered), (3.0, 99.0));
        assert_eq!(r.conflicts[0].series, day[2].series_key().to_string());
        assert_eq!(r.conflicts[1].index, 3);
        let page = store
            .query_measurements(
                &Principal::Operator,
                &MeasurementQuery::meter(MeterId::new("m1").unwrap()),
            )
            .await
            .unwrap();
        assert_eq!(
            page.items[2].measurement.value, 3.0,
            "the stored value is kept"
        );
        assert_eq!(
            page.items[4].measurement.value, 4.0,
            "the first of the batch wins"
        );
    }

    pub async fn invalid_batch_writes_nothing(store: impl Store) {
        let mut batch = numbered("dev-x", 0, 100);
        batch[57].timestamp = t("2300-01-01T00:00:00Z");
        let err = store.insert_measurements(&batch).await.unwrap_err();
        assert!(
            matches!(&err, ScdError::InvalidRecord { record, .. } if record.starts_with("measurement 57")),
            "{err}"
        );
        let n = store
            .count_measurements(
                &Principal::Operator,
                &MeasurementQuery::device(DeviceId::new("dev-x").unwrap()),
            )
            .await
            .unwrap();
        assert_eq!(n, 0);
    }

    pub async fn pages_and_filters(store: impl Store) {
        let a = quarter_hours("p1", "m1", "ln-1", "2021-06-30T00:00:00Z", 96);
        let b = quarter_hours("p2", "m2", "ln-2", "2021-06-30T00:00:00Z", 96);
        store
            .insert_measurements(&[a.clone(), b].concat())
            .await
            .unwrap();
        let mut q = MeasurementQuery::pod(pod("p1"))
            .between(t("2021-06-30T06:00:00Z"), t("2021-06-30T12:00:00Z"))
            .limit(10);
        let mut got = Vec::new();
        loop {
            let page = store
                .query_measurements(&Principal::Operator, &q)
                .await
                .unwrap();
            got.extend(page.items.into_iter().map(|s| s.measurement));
            match page.next {
                Some(next) => q.after = Some(next),
                None => break,
            }
        }
        // (06:00, 12:00]: stamps 06:00 … 11:45 -> indexes 23..47
        assert_eq!(got, a[23..47].to_vec());
        let by_device = MeasurementQuery {
            device: Some(DeviceId::new("ln-2").unwrap()),
            kind: Some(MeasurementKind::Energy),
            ..MeasurementQuery::default()
        };
        assert_eq!(
            store
                .count_measurements(&Principal::Operator, &by_device)
                .await
                .unwrap(),
            96
        );
        let none = MeasurementQuery {
            kind: Some(MeasurementKind::Voltage),
            ..by_device
        };
        assert_eq!(
            store
                .count_measurements(&Principal::Operator, &none)
                .await
                .unwrap(),
            0
        );
        let token: platone_scd::PageToken = "1.2".parse().unwrap();
        assert_eq!(token.to_string(), "1.2");
    }

    pub async fn interval_aggregates(store: impl Store) {
        let day = quarter_hours("p1", "m1", "ln-1", "2021-06-30T00:00:00Z", 96);
        store.insert_measurements(&day).await.unwrap();
        let q = MeasurementQuery::pod(pod("p1"));
        let hours = store
            .aggregate_measurements(&Principal::Operator, &q, Bucket::Hour)
            .await
            .unwrap();
        assert_eq!(hours.len(), 24);
        assert_eq!(
            (hours[0].count, hours[0].sum, hours[0].min, hours[0].max),
            (4, 10.0, 1.0, 4.0)
        );
        assert_eq!(hours[0].mean, 2.5);
        assert_eq!(hours[0].start, t("2021-06-30T00:00:00Z"));
        let days = store
            .aggregate_measurements(&Principal::Operator, &q, Bucket::Day)
            .await
            .unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].sum, (1..=96).sum::<i32>() as f64);
        let quarters = store
            .aggregate_measurements(&Principal::Operator, &q, Bucket::FifteenMinutes)
            .await
            .unwrap();
        assert_eq!(quarters.len(), 96);
    }

    pub async fn access_policy_and_audit(store: impl Store) {
        registry(&store).await;
        store
            .register_pod(&PodRecord {
                pod: pod("p2"),
                dso: pid("dso-2"),
                customer: Some(pid("cust-2")),
            })
            .await
            .unwrap();
        let data = quarter_hours("p1", "m1", "ln-1", "2021-06-30T00:00:00Z", 8);
        store.insert_measurements(&data).await.unwrap();
        let by_pod = MeasurementQuery::pod(pod("p1"));
        let by_meter = MeasurementQuery::meter(MeterId::new("m1").unwrap());
        let by_device = MeasurementQuery::device(DeviceId::new("ln-1").unwrap());
        let read = |p: Principal, q: MeasurementQuery| {
            let store = &store;
            async move {
                store
                    .query_measurements(&p, &q)
                    .await
                    .map(|page| page.items.len())
            }
        };
        // Owner, aggregator, the DSO of the grid: allowed.
        assert_eq!(read(who("cust-1"), by_pod.clone()).await.unwrap(), 8);
        assert_eq!(read(who("cust-1"), by_meter.clone()).await.unwrap(), 8);
        assert_eq!(read(who("agg-1"), by_device.clone()).await.unwrap(), 8);
        assert_eq!(read(who("dso-1"), by_pod.clone()).await.unwrap(), 8);
        // Another grid's DSO, another customer, a stranger: denied.
        for p in ["dso-2", "cust-2", "stranger"] {
            let err = read(who(p), by_pod.clone()).await.unwrap_err();
            assert!(matches!(err, ScdError::AccessDenied { .. }), "{p}: {err}");
        }
        // A participant must name what it reads.
        assert!(
            read(who("dso-1"), MeasurementQuery::default())
                .await
                .is_err()
        );
        // Unregistered resources are nobody's.
        assert!(
            read(who("dso-1"), MeasurementQuery::pod(pod("nowhere")))
                .await
                .is_err()
        );
        // A subscriber: denied while Requested, allowed once Accepted.
        let sub = store
            .request_subscription(&pid("esco-1"), &pid("cust-1"), &Resource::Pod(pod("p1")))
            .await
            .unwrap();
        assert_eq!(sub.status, SubscriptionStatus::Requested);
        let err = read(who("esco-1"), by_pod.clone()).await.unwrap_err();
        assert!(err.to_string().contains("Requested"), "{err}");
        let err = store
            .decide_subscription(&pid("dso-1"), sub.id, true)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ScdError::AccessDenied { .. }),
            "only the provider decides"
        );
        let sub = store
            .decide_subscription(&pid("cust-1"), sub.id, true)
            .await
            .unwrap();
        assert_eq!(sub.status, SubscriptionStatus::Accepted);
        assert!(sub.decided_at.is_some());
        assert_eq!(read(who("esco-1"), by_pod.clone()).await.unwrap(), 8);
        assert_eq!(
            read(who("esco-1"), by_meter.clone()).await.unwrap(),
            8,
            "a PoD subscription covers its meter"
        );
        // Declined: denied.
        let other = store
            .request_subscription(
                &pid("esco-2"),
                &pid("agg-1"),
                &Resource::Meter(MeterId::new("m1").unwrap()),
            )
            .await
            .unwrap();
        store
            .decide_subscription(&pid("agg-1"), other.id, false)
            .await
            .unwrap();
        let err = read(who("esco-2"), by_meter.clone()).await.unwrap_err();
        assert!(err.to_string().contains("Declined"), "{err}");
        assert!(
            store
                .decide_subscription(&pid("agg-1"), other.id, true)
                .await
                .is_err(),
            "declined is final"
        );
        // Revoking an accepted subscription.
        store
            .decide_subscription(&pid("cust-1"), sub.id, false)
            .await
            .unwrap();
        assert!(read(who("esco-1"), by_pod.clone()).await.is_err());
        // A provider must be entitled to what it offers.
        let err = store
            .request_subscription(&pid("esco-3"), &pid("stranger"), &Resource::Pod(pod("p1")))
            .await
            .unwrap_err();
        assert!(matches!(err, ScdError::InvalidRecord { .. }), "{err}");
        let subs = store.subscriptions(&pid("cust-1")).await.unwrap();
        assert_eq!(subs.len(), 1);
        assert_eq!(subs[0].status, SubscriptionStatus::Declined);
        // Registry reads are checked too.
        let links = store.pod_links(&who("cust-1"), &pod("p1")).await.unwrap();
        assert_eq!(links[0].aggregator, Some(pid("agg-1")));
        assert!(store.pod_links(&who("stranger"), &pod("p1")).await.is_err());

        // Every read is in the audit log, allowed or denied, in order.
        let log = store.audit_log(0).await.unwrap();
        let summary: Vec<(String, bool)> =
            log.iter().map(|e| (e.who.to_string(), e.allowed)).collect();
        let expected: Vec<(String, bool)> = [
            ("cust-1", true),
            ("cust-1", true),
            ("agg-1", true),
            ("dso-1", true),
            ("dso-2", false),
            ("cust-2", false),
            ("stranger", false),
            ("dso-1", false),
            ("dso-1", false),
            ("esco-1", false),
            ("esco-1", true),
            ("esco-1", true),
            ("esco-2", false),
            ("esco-1", false),
            ("cust-1", true),
            ("stranger", false),
        ]
        .iter()
        .map(|(w, a)| (format!("participant:{w}"), *a))
        .collect();
        assert_eq!(summary, expected);
        assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(log[0].action, "query_measurements");
        assert_eq!(log[0].what, "pod/p1");
        assert!(log[0].reason.contains("customer"), "{}", log[0].reason);
        assert!(log[3].reason.contains("DSO"), "{}", log[3].reason);
        assert!(
            log[10].reason.contains("accepted subscription"),
            "{}",
            log[10].reason
        );
        assert_eq!(log[14].action, "pod_links");
        let tail = store.audit_log(log[13].seq).await.unwrap();
        assert_eq!(tail.len(), 2);
    }

    /// Meter `m1` / device `ln-1` served PoD `p1` (aggregator `agg-1`) until noon, then PoD
    /// `p2` (aggregator `agg-2`); `p1` got meter `m3` at noon, without an aggregator.
    async fn moved_meter(store: &impl Store) -> Vec<platone_model::Measurement> {
        for (p, dso, cust) in [("p1", "dso-1", "cust-1"), ("p2", "dso-2", "cust-2")] {
            store
                .register_pod(&PodRecord {
                    pod: pod(p),
                    dso: pid(dso),
                    customer: Some(pid(cust)),
                })
                .await
                .unwrap();
        }
        let noon = t("2021-06-30T12:00:00Z");
        let link = |p: &str, meter: &str, agg: Option<&str>, from, to| PodLink {
            pod: pod(p),
            meter: Some(MeterId::new(meter).unwrap()),
            device: Some(DeviceId::new(format!("ln-{}", &meter[1..])).unwrap()),
            aggregator: agg.map(pid),
            valid_from: from,
            valid_to: to,
        };
        for l in [
            link(
                "p1",
                "m1",
                Some("agg-1"),
                t("2021-01-01T00:00:00Z"),
                Some(noon),
            ),
            link("p2", "m1", Some("agg-2"), noon, None),
            link("p1", "m3", None, noon, None),
        ] {
            store.add_pod_link(&l).await.unwrap();
        }
        // 00:15 … 24:00: stamps before noon belong to p1 (47), from noon on to p2 (49).
        let mut data = quarter_hours("p1", "m1", "ln-1", "2021-06-30T00:00:00Z", 96);
        for m in &mut data[47..] {
            m.pod = Some(pod("p2"));
        }
        data.extend(quarter_hours("p1", "m3", "ln-3", "2021-06-30T12:00:00Z", 8));
        store.insert_measurements(&data).await.unwrap();
        data
    }

    pub async fn link_validity_limits_reads(store: impl Store) {
        let data = moved_meter(&store).await;
        let noon = t("2021-06-30T12:00:00Z");
        let by_meter = MeasurementQuery::meter(MeterId::new("m1").unwrap());
        let by_device = MeasurementQuery::device(DeviceId::new("ln-1").unwrap());
        let stamps = |p: &str, q: &MeasurementQuery| {
            let store = &store;
            let (p, q) = (who(p), q.clone());
            async move {
                store.query_measurements(&p, &q).await.map(|page| {
                    page.items
                        .into_iter()
                        .map(|s| s.measurement)
                        .collect::<Vec<_>>()
                })
            }
        };
        // Through the meter, each PoD's customer and DSO see only the meter's time at the PoD.
        assert_eq!(stamps("cust-1", &by_meter).await.unwrap(), data[..47]);
        assert_eq!(stamps("dso-1", &by_device).await.unwrap(), data[..47]);
        assert_eq!(stamps("cust-2", &by_meter).await.unwrap(), data[47..96]);
        assert_eq!(stamps("dso-2", &by_meter).await.unwrap(), data[47..96]);
        assert_eq!(stamps("agg-1", &by_device).await.unwrap(), data[..47]);
        assert_eq!(stamps("agg-2", &by_device).await.unwrap(), data[47..96]);
        assert!(
            stamps("agg-1", &MeasurementQuery::pod(pod("p2")))
                .await
                .is_err()
        );
        // By PoD, the customer sees all of it; the aggregator only while its link was valid.
        assert_eq!(
            stamps("cust-1", &MeasurementQuery::pod(pod("p1")))
                .await
                .unwrap()
                .len(),
            47 + 8
        );
        assert_eq!(
            stamps("agg-1", &MeasurementQuery::pod(pod("p1")))
                .await
                .unwrap(),
            data[..47]
        );
        // Counts, aggregates, pages and explicit bounds respect the periods too.
        let operator = Principal::Operator;
        assert_eq!(
            store
                .count_measurements(&operator, &by_meter)
                .await
                .unwrap(),
            96
        );
        assert_eq!(
            store
                .count_measurements(&who("cust-2"), &by_meter)
                .await
                .unwrap(),
            49
        );
        let days = store
            .aggregate_measurements(&who("cust-1"), &by_meter, Bucket::Day)
            .await
            .unwrap();
        assert_eq!(
            (days[0].count, days[0].sum),
            (47, (1..=47).sum::<i32>() as f64)
        );
        let late = by_meter.clone().between(noon, t("2021-07-01T00:00:00Z"));
        assert_eq!(stamps("cust-1", &late).await.unwrap(), []);
        let around = by_meter
            .clone()
            .between(t("2021-06-30T11:00:00Z"), t("2021-06-30T13:00:00Z"))
            .limit(3);
        let page = store
            .query_measurements(&who("cust-1"), &around)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 3);
        let next = MeasurementQuery {
            after: page.next,
            ..around.clone()
        };
        let rest = store
            .query_measurements(&who("cust-1"), &next)
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 1, "11:15 … 11:45, then the meter left p1");
        assert!(rest.next.is_none());
        // A subscription gives what its provider is entitled to.
        let sub = store
            .request_subscription(&pid("esco-1"), &pid("cust-1"), &Resource::Pod(pod("p1")))
            .await
            .unwrap();
        store
            .decide_subscription(&pid("cust-1"), sub.id, true)
            .await
            .unwrap();
        assert_eq!(stamps("esco-1", &by_meter).await.unwrap(), data[..47]);
        let sub = store
            .request_subscription(
                &pid("esco-2"),
                &pid("agg-2"),
                &Resource::Meter(MeterId::new("m1").unwrap()),
            )
            .await
            .unwrap();
        store
            .decide_subscription(&pid("agg-2"), sub.id, true)
            .await
            .unwrap();
        assert!(
            stamps("esco-2", &by_device).await.is_err(),
            "the subscription names the meter, not the device"
        );
        assert_eq!(stamps("esco-2", &by_meter).await.unwrap(), data[47..96]);
        // The registry and set points: an aggregator sees what overlaps its link.
        let links = |p: &str| {
            let store = &store;
            let p = who(p);
            async move { store.pod_links(&p, &pod("p1")).await.unwrap().len() }
        };
        assert_eq!((links("cust-1").await, links("agg-1").await), (2, 1));
        let mut sp = SetPoint::new(
            "sp-evening",
            DeviceId::new("ln-3").unwrap(),
            MeasurementKind::Power,
            Unit::Watt,
            -1000.0,
            t("2021-06-30T18:00:00Z"),
            t("2021-06-30T18:15:00Z"),
        )
        .unwrap();
        sp.pod = Some(pod("p1"));
        store.put_set_point(&sp).await.unwrap();
        let set_points = |p: &str| {
            let store = &store;
            let p = who(p);
            async move {
                store
                    .set_points(
                        &p,
                        &pod("p1"),
                        t("2021-06-30T00:00:00Z"),
                        t("2021-07-01T00:00:00Z"),
                    )
                    .await
                    .unwrap()
                    .len()
            }
        };
        assert_eq!(
            (set_points("cust-1").await, set_points("agg-1").await),
            (1, 0)
        );
        // The audit log says which periods were granted.
        let log = store.audit_log(0).await.unwrap();
        assert!(
            log[0].reason.contains("customer of pod p1"),
            "{}",
            log[0].reason
        );
        assert!(
            log[0]
                .reason
                .contains("during [2021-01-01T00:00:00Z, 2021-06-30T12:00:00Z)"),
            "{}",
            log[0].reason
        );
        assert_eq!(log.iter().filter(|e| !e.allowed).count(), 2);
    }

    pub async fn set_points_and_acks(store: impl Store) {
        registry(&store).await;
        let mut sp = SetPoint::new(
            "sp-1",
            DeviceId::new("ln-1").unwrap(),
            MeasurementKind::Power,
            Unit::Watt,
            -2500.0,
            t("2021-06-30T18:00:00+02:00"),
            t("2021-06-30T18:15:00+02:00"),
        )
        .unwrap();
        sp.pod = Some(pod("p1"));
        sp.issued_by = Some(pid("agg-1"));
        store.put_set_point(&sp).await.unwrap();
        store.put_set_point(&sp).await.unwrap();
        let mut changed = sp.clone();
        changed.value = -100.0;
        assert!(matches!(
            store.put_set_point(&changed).await,
            Err(ScdError::Conflict { .. })
        ));
        let ack = SetPointAck {
            set_point: "sp-1".into(),
            device: DeviceId::new("ln-1").unwrap(),
            at: t("2021-06-30T18:00:02+02:00"),
            outcome: AckOutcome::Applied,
            reason: None,
        };
        store.acknowledge_set_point(&ack).await.unwrap();
        let unknown = SetPointAck {
            set_point: "sp-404".into(),
            ..ack.clone()
        };
        assert!(matches!(
            store.acknowledge_set_point(&unknown).await,
            Err(ScdError::NotFound { .. })
        ));
        let got = store
            .set_points(
                &who("cust-1"),
                &pod("p1"),
                t("2021-06-30T00:00:00Z"),
                t("2021-07-01T00:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].set_point, sp);
        assert_eq!(got[0].acks, vec![ack]);
        let outside = store
            .set_points(
                &who("cust-1"),
                &pod("p1"),
                t("2021-07-01T00:00:00Z"),
                t("2021-07-02T00:00:00Z"),
            )
            .await
            .unwrap();
        assert!(outside.is_empty());
        assert!(
            store
                .set_points(
                    &who("stranger"),
                    &pod("p1"),
                    t("2021-06-30T00:00:00Z"),
                    t("2021-07-01T00:00:00Z")
                )
                .await
                .is_err()
        );
    }

    pub async fn certification_references(store: impl Store) {
        let data = quarter_hours("p1", "m1", "ln-1", "2021-06-30T00:00:00Z", 4);
        store.insert_measurements(&data).await.unwrap();
        let records: Vec<_> = data
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, m)| CertificationRecord::of(m, cert("batch-1", i as u64)))
            .collect();
        store.attach_certifications(&records).await.unwrap();
        store.attach_certifications(&records).await.unwrap();
        let page = store
            .query_measurements(&Principal::Operator, &MeasurementQuery::pod(pod("p1")))
            .await
            .unwrap();
        assert_eq!(page.items[1].certification, Some(cert("batch-1", 1)));
        assert_eq!(page.items[3].certification, None);
        // Different reference for a certified measurement: conflict; unknown measurement: not
        // found; either way nothing of the batch is attached.
        let other = CertificationRecord::of(&data[0], cert("batch-2", 0));
        let fresh = CertificationRecord::of(&data[3], cert("batch-2", 3));
        assert!(matches!(
            store.attach_certifications(&[fresh.clone(), other]).await,
            Err(ScdError::Conflict { .. })
        ));
        let mut missing = data[3].clone();
        missing.timestamp = t("2030-01-01T00:00:00Z");
        assert!(matches!(
            store
                .attach_certifications(&[fresh, CertificationRecord::of(&missing, cert("b", 0))])
                .await,
            Err(ScdError::NotFound { .. })
        ));
        let page = store
            .query_measurements(&Principal::Operator, &MeasurementQuery::pod(pod("p1")))
            .await
            .unwrap();
        assert_eq!(
            page.items[3].certification, None,
            "the failed batches rolled back"
        );
        // A later record of a batch whose shared fields were stored with its first records,
        // whatever its proof's shape, comes back exactly as attached; so does a batch attached
        // one record at a time.
        let mut odd = cert("batch-1", 3);
        odd.proof = serde_json::json!({"leaf": 3});
        store
            .attach_certifications(&[CertificationRecord::of(&data[3], odd.clone())])
            .await
            .unwrap();
        let more = quarter_hours("p1", "m1", "ln-1", "2021-07-01T00:00:00Z", 3);
        store.insert_measurements(&more).await.unwrap();
        for (i, m) in more.iter().enumerate() {
            let record = CertificationRecord::of(m, cert("batch-3", i as u64));
            store.attach_certifications(&[record]).await.unwrap();
        }
        let page = store
            .query_measurements(&Principal::Operator, &MeasurementQuery::pod(pod("p1")))
            .await
            .unwrap();
        let certifications: Vec<_> = page.items.iter().map(|i| i.certification.clone()).collect();
        assert_eq!(
            certifications,
            vec![
                Some(cert("batch-1", 0)),
                Some(cert("batch-1", 1)),
                Some(cert("batch-1", 2)),
                Some(odd),
                Some(cert("batch-3", 0)),
                Some(cert("batch-3", 1)),
                Some(cert("batch-3", 2)),
            ]
        );
    }

    pub async fn archive_and_restore(store: impl Store) {
        let days = quarter_hours("p1", "m1", "ln-1", "2021-06-28T00:00:00Z", 96 * 3);
        store.insert_measurements(&days).await.unwrap();
        let certs: Vec<_> = days
            .iter()
            .enumerate()
            .step_by(7)
            .map(|(i, m)| CertificationRecord::of(m, cert("batch-a", i as u64)))
            .collect();
        store.attach_certifications(&certs).await.unwrap();
        let all = MeasurementQuery::pod(pod("p1"));
        let before = store
            .query_measurements(&Principal::Operator, &all)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("archive");
        // Mid-day bound: rounded down to midnight UTC 2021-06-30.
        let manifest = store
            .archive(t("2021-06-30T11:00:00+02:00"), &archive)
            .await
            .unwrap();
        assert_eq!(manifest.before, t("2021-06-30T00:00:00Z"));
        // 06-28 00:15 … 06-29 23:45 (the 06-30 00:00 reading belongs to 06-30 UTC).
        let days_archived: Vec<_> = manifest.days.iter().map(|d| d.day.as_str()).collect();
        assert_eq!(days_archived, ["20210628", "20210629"]);
        assert_eq!(manifest.rows(), 191);
        let certified: u64 = manifest.days.iter().map(|d| d.certified).sum();
        assert_eq!(
            certified,
            certs
                .iter()
                .filter(|c| c.timestamp < t("2021-06-30T00:00:00Z"))
                .count() as u64
        );
        assert!(archive.join("manifest.json").exists());
        assert_eq!(
            store
                .count_measurements(&Principal::Operator, &all)
                .await
                .unwrap(),
            96 * 3 - 191
        );
        // The same directory cannot take a second archive.
        assert!(
            store
                .archive(t("2021-07-01T00:00:00Z"), &archive)
                .await
                .is_err()
        );
        let report = store.restore(&archive).await.unwrap();
        assert_eq!((report.days, report.measurements.inserted), (2, 191));
        assert_eq!(report.certifications, certified);
        let after = store
            .query_measurements(&Principal::Operator, &all)
            .await
            .unwrap();
        assert_eq!(
            after.items, before.items,
            "data and certification references come back"
        );
        let again = store.restore(&archive).await.unwrap();
        assert_eq!(
            (again.measurements.inserted, again.measurements.duplicates),
            (0, 191)
        );
        // Old days can be written again after an archive (the partition is recreated).
        let manifest = store
            .archive(t("2021-06-30T00:00:00Z"), &dir.path().join("second"))
            .await
            .unwrap();
        assert_eq!(manifest.rows(), 191);
        let r = store.insert_measurements(&days[..5]).await.unwrap();
        assert_eq!(r.inserted, 5);
    }

    pub async fn concurrent_writers_and_readers<S: Store + Clone + 'static>(store: S) {
        registry(&store).await;
        let mut tasks = Vec::new();
        for w in 0..4usize {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut inserted = 0;
                for round in 0..5usize {
                    // Overlapping ranges: writer w shares half its data with writer w + 1.
                    let first = (w * 5 + round) * 200;
                    let batch = numbered("ln-1", first, 400);
                    inserted += store.insert_measurements(&batch).await.unwrap().inserted;
                }
                inserted
            }));
        }
        let mut readers = Vec::new();
        for _ in 0..4 {
            let store = store.clone();
            readers.push(tokio::spawn(async move {
                let q = MeasurementQuery::device(DeviceId::new("ln-1").unwrap()).limit(50);
                let mut last = 0;
                for _ in 0..20 {
                    let n = store.count_measurements(&who("dso-1"), &q).await.unwrap();
                    assert!(n >= last, "counts never go back");
                    last = n;
                    let page = store.query_measurements(&who("cust-1"), &q).await.unwrap();
                    assert!(
                        page.items
                            .windows(2)
                            .all(|w| w[0].measurement.timestamp <= w[1].measurement.timestamp)
                    );
                }
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        for r in readers {
            r.await.unwrap();
        }
        // Distinct numbers 0 .. (3*5+4)*200+400 = 4200.
        assert_eq!(total, 4200);
        let q = MeasurementQuery::device(DeviceId::new("ln-1").unwrap());
        assert_eq!(
            store
                .count_measurements(&Principal::Operator, &q)
                .await
                .unwrap(),
            4200
        );
        // Every read above plus the final count.
        assert_eq!(store.audit_log(0).await.unwrap().len(), 4 * 20 * 2 + 1);
    }
}

/// Size of each batch the crash child writes.
const CRASH_BATCH: usize = 20_000;

/// Run by `killed_mid_insert`: writes batches until killed. Not a test of its own.
#[tokio::test]
#[ignore = "helper process for the killed-writer tests"]
async fn crash_child() {
    let url = std::env::var("PLATONE_SCD_CRASH_URL").expect("PLATONE_SCD_CRASH_URL");
    let store = AnyStore::open(&url).await.unwrap();
    for i in 0.. {
        store
            .insert_measurements(&numbered("crash", i * CRASH_BATCH, CRASH_BATCH))
            .await
            .unwrap();
        println!("committed {i}");
    }
}

/// Starts the helper on `url`, kills it in the middle of a bulk insert, and checks the store.
async fn killed_mid_insert(url: String) -> AnyStore {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "crash_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("PLATONE_SCD_CRASH_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    // Wait for two committed batches, then kill during the next one.
    let mut committed = 0;
    while committed < 2 {
        let line = lines.next().expect("the helper ended early").unwrap();
        if line.starts_with("committed") {
            committed += 1;
        }
    }
    std::thread::sleep(Duration::from_millis(40));
    child.kill().unwrap();
    child.wait().unwrap();
    let store = AnyStore::open(&url).await.unwrap();
    let q = MeasurementQuery::device(DeviceId::new("crash").unwrap());
    let n = store
        .count_measurements(&Principal::Operator, &q)
        .await
        .unwrap() as usize;
    assert!(n >= 2 * CRASH_BATCH, "{n}");
    assert_eq!(n % CRASH_BATCH, 0, "only whole batches are stored: {n}");
    // The store takes writes again, and the interrupted batch can be delivered once more.
    let next = n / CRASH_BATCH;
    let r = store
        .insert_measurements(&numbered("crash", next * CRASH_BATCH, CRASH_BATCH))
        .await
        .unwrap();
    assert_eq!(r.inserted as usize, CRASH_BATCH);
    store
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (store, _dir) = crate::common::sqlite().await;
                    crate::cases::$case(store).await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (store, _url) = crate::common::postgres(stringify!($case)).await;
                    crate::cases::$case(store).await;
                }
            )*
        }
    };
}

suite!(
    idempotent_insert,
    conflicts_are_reported_not_overwritten,
    invalid_batch_writes_nothing,
    pages_and_filters,
    interval_aggregates,
    access_policy_and_audit,
    link_validity_limits_reads,
    set_points_and_acks,
    certification_references,
    archive_and_restore,
    concurrent_writers_and_readers,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_mid_insert_leaves_a_consistent_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let store = killed_mid_insert(format!("sqlite://{}", path.display())).await;
    let AnyStore::Sqlite(s) = store else {
        panic!("expected the embedded store")
    };
    s.integrity_check().await.unwrap();
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_mid_insert_leaves_a_consistent_database() {
    killed_mid_insert(common::pg_database("crash")).await;
}

#[tokio::test]
async fn urls_are_checked() {
    for bad in ["mysql://x", "sqlite://", "file.db"] {
        let err = AnyStore::open(bad).await.unwrap_err();
        assert!(matches!(err, ScdError::InvalidUrl { .. }), "{bad}: {err}");
    }
}
