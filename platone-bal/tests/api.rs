//! The REST API against a real SQLite store and file ledger in a temporary directory.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use platone_bal::api::ROUTES;
use platone_bal::{BalConfig, BalContext, Metrics, RecordCertifier, router, static_tokens};
use platone_certify::{BatchPolicy, Batcher, FileLedger, Ledger, Scheme};
use platone_model::{
    DeviceId, Measurement, MeasurementKind, MeterId, ParticipantId, PodId, Timestamp, Unit,
    parse_timestamp,
};
use platone_scd::{
    AnyStore, CertificationRecord, CertificationRef, PodLink, PodRecord, SqliteStore, Store,
};
use platone_service::Authentication;
use serde_json::{Value, json};
use tower::ServiceExt;

const POD: &str = "IT001E00000001";
const DEVICE: &str = "pmu-1";
const METER: &str = "MTR-1";

struct Fixture {
    _dir: tempfile::TempDir,
    app: Router,
    ctx: BalContext,
    measurements: Vec<Measurement>,
}

fn id(s: &str) -> ParticipantId {
    ParticipantId::new(s).unwrap()
}

fn t(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

/// A store with one PoD (customer `cust-1`, DSO `dso`) served by `pmu-1` and `MTR-1`, six
/// measurements of `pmu-1`: two in batch `pmu-1:0` (stored proofs anchored), two in
/// `pmu-1:1` (anchored in the ledger, stored proofs still pending), one in `pmu-1:2`
/// (sealed, not anchored) and one not certified yet.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = AnyStore::Sqlite(SqliteStore::open(dir.path().join("scd.db")).await.unwrap());
    let ledger = Arc::new(FileLedger::open(dir.path().join("ledger")).unwrap());
    let mut config = BalConfig::default();
    for (who, token) in [
        ("dso", "dso-token"),
        ("cust-1", "cust-token"),
        ("agg-1", "agg-token"),
        ("stranger", "stranger-token"),
    ] {
        config.tokens.insert(who.into(), token.into());
    }
    let pod = PodId::new(POD).unwrap();
    store
        .register_pod(&PodRecord {
            pod: pod.clone(),
            dso: id("dso"),
            customer: Some(id("cust-1")),
        })
        .await
        .unwrap();
    store
        .add_pod_link(&PodLink {
            pod: pod.clone(),
            meter: Some(MeterId::new(METER).unwrap()),
            device: Some(DeviceId::new(DEVICE).unwrap()),
            aggregator: None,
            valid_from: t("2020-01-01T00:00:00Z"),
            valid_to: None,
        })
        .await
        .unwrap();
    let start = t("2024-03-01T14:00:00+02:00");
    let measurements: Vec<Measurement> = (0..6)
        .map(|i| {
            Measurement::new(
                DeviceId::new(DEVICE).unwrap(),
                start + chrono::TimeDelta::minutes(i),
                MeasurementKind::Voltage,
                Unit::Volt,
                230.0 + i as f64 / 4.0,
            )
            .unwrap()
            .with_pod(pod.clone())
        })
        .collect();
    let report = store.insert_measurements(&measurements).await.unwrap();
    assert_eq!(report.inserted, 6);

    let mut batcher = Batcher::new(
        Scheme::Keccak,
        BatchPolicy {
            max_records: 2,
            window: chrono::TimeDelta::hours(1),
        },
    );
    let now = platone_certify::now();
    let mut sealed = Vec::new();
    for m in &measurements[..5] {
        sealed.extend(batcher.add(DEVICE, m, now).unwrap());
    }
    sealed.extend(batcher.flush(now).unwrap());
    assert_eq!(sealed.len(), 3);
    let mut records = Vec::new();
    for (b, batch) in sealed.iter().enumerate() {
        let status = if b < 2 {
            Some(ledger.anchor(&batch.certificate).await.unwrap())
        } else {
            None
        };
        for (k, proof) in batch.proofs.iter().enumerate() {
            let mut proof = proof.clone();
            if b == 0 {
                proof
                    .upgrade(status.as_ref().unwrap().anchor().unwrap())
                    .unwrap();
            }
            records.push(CertificationRecord::of(
                &measurements[b * 2 + k],
                CertificationRef {
                    batch_id: batch.certificate.batch_id.clone(),
                    leaf_index: proof.leaf_index,
                    root_hex: batch.certificate.root.to_string(),
                    proof: serde_json::to_value(&proof).unwrap(),
                },
            ));
        }
    }
    store.attach_certifications(&records).await.unwrap();

    let records = Arc::new(
        RecordCertifier::open(Scheme::Keccak, &*ledger)
            .await
            .unwrap(),
    );
    let ctx = BalContext {
        authentication: Authentication::new(static_tokens(&config).unwrap()),
        config: Arc::new(config),
        store,
        ledger,
        metrics: Arc::new(Metrics::default()),
        records,
        health: platone_bal::Health::new(),
        broker_access: None,
    };
    Fixture {
        app: router(ctx.clone()),
        ctx,
        _dir: dir,
        measurements,
    }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts an error answer: the status, an RFC 9457 problem document whose `status` is
    /// the status, with `error` (= `detail`) and `at` as given.
    fn assert_error(&self, status: StatusCode, at: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["at"], at, "{body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
        assert_eq!(body["detail"], body["error"], "{body}");
        assert_eq!(body["status"], status.as_u16(), "{body}");
        assert_eq!(self.content_type, "application/problem+json");
    }
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(app: &Router, uri: &str, token: &str) -> Answer {
    call(app, "GET", uri, Some(token), None).await
}

async fn post(app: &Router, uri: &str, token: &str, body: Value) -> Answer {
    call(app, "POST", uri, Some(token), Some(body)).await
}

fn pod_query() -> String {
    format!("/api/measurements?pod={POD}")
}

async fn request_subscription(app: &Router, token: &str, consumer: &str) -> Value {
    let a = post(
        app,
        "/api/certification",
        token,
        json!({"providerId": "cust-1", "consumerId": consumer, "topic": format!("pod/{POD}")}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.json()
}

/// The certified record of a subscription answer: the answer without `certificate`.
fn certified_part(answer: &Value) -> (Value, Value) {
    let mut record = answer.clone();
    let certificate = record
        .as_object_mut()
        .unwrap()
        .remove("certificate")
        .unwrap();
    (record, certificate["proof"].clone())
}

#[tokio::test]
async fn access_policy_owner_subscriber_stranger_and_dso() {
    let f = fixture().await;
    let app = &f.app;

    // The customer sees its PoD, by PoD and by its device.
    let a = get(app, &pod_query(), "cust-token").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["items"].as_array().unwrap().len(), 6);
    let a = get(
        app,
        &format!("/api/measurements?device={DEVICE}"),
        "cust-token",
    )
    .await;
    assert_eq!(a.json()["items"].as_array().unwrap().len(), 6);

    // A stranger is denied, with a JSON error naming the parameter.
    get(app, &pod_query(), "stranger-token")
        .await
        .assert_error(StatusCode::FORBIDDEN, "pod");
    get(
        app,
        &format!("/api/measurements?device={DEVICE}"),
        "stranger-token",
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "device");
    // A participant must name what it reads.
    get(app, "/api/measurements", "cust-token")
        .await
        .assert_error(StatusCode::FORBIDDEN, "query");

    // The subscriber: denied before acceptance, allowed after, denied again once revoked.
    get(app, &pod_query(), "agg-token")
        .await
        .assert_error(StatusCode::FORBIDDEN, "pod");
    let requested = request_subscription(app, "agg-token", "agg-1").await;
    assert_eq!(requested["status"], "Requested");
    get(app, &pod_query(), "agg-token")
        .await
        .assert_error(StatusCode::FORBIDDEN, "pod");
    let sub_id = requested["id"].as_i64().unwrap();
    let a = post(
        app,
        &format!("/api/certification/{sub_id}/accept"),
        "cust-token",
        json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = get(app, &pod_query(), "agg-token").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["items"].as_array().unwrap().len(), 6);
    let a = post(
        app,
        &format!("/api/certification/{sub_id}/decline"),
        "cust-token",
        json!({}),
    )
    .await;
    assert_eq!(a.json()["status"], "Declined");
    get(app, &pod_query(), "agg-token")
        .await
        .assert_error(StatusCode::FORBIDDEN, "pod");

    // The dso sees everything, even without naming a resource.
    let a = get(app, "/api/measurements", "dso-token").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["items"].as_array().unwrap().len(), 6);
    let a = get(
        app,
        &format!("/api/measurements?meter={METER}"),
        "dso-token",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

#[tokio::test]
async fn subscription_round_trip_is_certified_listed_and_verifiable() {
    let f = fixture().await;
    let app = &f.app;

    let requested = request_subscription(app, "agg-token", "agg-1").await;
    assert_eq!(requested["provider"], "cust-1");
    assert_eq!(requested["consumer"], "agg-1");
    assert_eq!(requested["topic"], format!("pod/{POD}"));
    assert!(requested["requested_at"].is_string());
    assert_eq!(requested["certificate"]["batch_id"], "subscriptions:0");
    assert_eq!(
        requested["certificate"]["proof"]["anchor"]["status"], "anchored",
        "{requested}"
    );
    let (record, proof) = certified_part(&requested);
    let v = post(
        app,
        "/api/verify",
        "agg-token",
        json!({"record": record, "proof": proof}),
    )
    .await;
    assert_eq!(v.json(), json!({"verified": true, "reason": null}));
    let id = requested["id"].as_i64().unwrap();

    // Only the provider decides.
    post(
        app,
        &format!("/api/certification/{id}/accept"),
        "agg-token",
        json!({}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "id");
    let accepted = post(
        app,
        &format!("/api/certification/{id}/accept"),
        "cust-token",
        json!({}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    let accepted = accepted.json();
    assert_eq!(accepted["status"], "Accepted");
    assert!(accepted["decided_at"].is_string());
    assert_eq!(accepted["certificate"]["batch_id"], "subscriptions:1");

    // Listed for both parties, by plain and percent-encoded topic, with the certificate of its
    // current state; the old state's proof no longer matches the record.
    for (uri, token) in [
        (format!("/api/certification/pod/{POD}"), "agg-token"),
        (format!("/api/certification/pod%2F{POD}"), "cust-token"),
    ] {
        let a = get(app, &uri, token).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text);
        let list = a.json();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 1, "{uri}");
        assert_eq!(list[0], accepted, "{uri}");
    }
    let (record, proof) = certified_part(&accepted);
    let v = post(
        app,
        "/api/verify",
        "cust-token",
        json!({"record": record, "proof": proof}),
    )
    .await;
    assert_eq!(v.json()["verified"], true, "{}", v.text);
    let (_, old_proof) = certified_part(&requested);
    let v = post(
        app,
        "/api/verify",
        "cust-token",
        json!({"record": record, "proof": old_proof}),
    )
    .await;
    assert_eq!(v.json()["verified"], false);
    assert!(v.json()["reason"].as_str().unwrap().starts_with("content:"));
    // Not listed for someone who takes no part, nor under another topic.
    let a = get(
        app,
        &format!("/api/certification/pod/{POD}"),
        "stranger-token",
    )
    .await;
    assert_eq!(a.json(), json!([]));
    let a = get(
        app,
        &format!("/api/certification/device/{DEVICE}"),
        "agg-token",
    )
    .await;
    assert_eq!(a.json(), json!([]));
    get(app, "/api/certification/bus/b1", "agg-token")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "topic");

    // Decline: a second request, declined; a declined subscription is final.
    let other = request_subscription(app, "stranger-token", "stranger").await;
    let other_id = other["id"].as_i64().unwrap();
    let declined = post(
        app,
        &format!("/api/certification/{other_id}/decline"),
        "cust-token",
        json!({}),
    )
    .await;
    assert_eq!(declined.json()["status"], "Declined");
    post(
        app,
        &format!("/api/certification/{other_id}/accept"),
        "cust-token",
        json!({}),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "id");
    get(app, &pod_query(), "stranger-token")
        .await
        .assert_error(StatusCode::FORBIDDEN, "pod");

    // The dso lists the subscriptions it takes part in through the store.
    let a = get(app, &format!("/api/certification/pod/{POD}"), "dso-token").await;
    assert_eq!(a.status, StatusCode::OK);

    // Bad requests name the field.
    post(
        app,
        "/api/certification/999/accept",
        "cust-token",
        json!({}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "id");
    post(app, "/api/certification/x/accept", "cust-token", json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "id");
    post(
        app,
        "/api/certification",
        "agg-token",
        json!({"providerId": "cust-1", "consumerId": "someone-else", "topic": format!("pod/{POD}")}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "consumerId");
    post(
        app,
        "/api/certification",
        "agg-token",
        json!({"providerId": "stranger", "consumerId": "agg-1", "topic": format!("pod/{POD}")}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "providerId");
    post(
        app,
        "/api/certification",
        "agg-token",
        json!({"providerId": "cust-1", "consumerId": "agg-1"}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "topic");
}

#[tokio::test]
async fn measurements_come_with_proofs_and_anchor_status_and_verify() {
    let f = fixture().await;
    let app = &f.app;
    let a = get(app, &pod_query(), "cust-token").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let page = a.json();
    assert!(page["next"].is_null() || page["next"].is_string());
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    for (item, m) in items.iter().zip(&f.measurements) {
        assert_eq!(item["measurement"], serde_json::to_value(m).unwrap());
    }
    let batch_of = |i: usize| items[i]["proof"]["batch_id"].as_str().map(str::to_owned);
    // Batches 0 and 1 are anchored: the stored pending proofs of batch 1 are brought up to date.
    for (i, item) in items.iter().enumerate().take(4) {
        assert_eq!(batch_of(i).unwrap(), format!("{DEVICE}:{}", i / 2));
        assert_eq!(item["anchor"]["status"], "anchored", "item {i}");
        assert_eq!(item["anchor"]["position"], (i / 2) as u64, "item {i}");
        assert_eq!(item["proof"]["anchor"], item["anchor"], "item {i}");
        let v = post(
            app,
            "/api/verify",
            "cust-token",
            json!({"record": item["measurement"], "proof": item["proof"]}),
        )
        .await;
        assert_eq!(
            v.json(),
            json!({"verified": true, "reason": null}),
            "item {i}"
        );
    }
    // Batch 2 is sealed but not anchored: proof present, anchor pending, and it does not
    // verify against the ledger yet.
    assert_eq!(batch_of(4).unwrap(), format!("{DEVICE}:2"));
    assert_eq!(items[4]["anchor"], json!({"status": "pending"}));
    let v = post(
        app,
        "/api/verify",
        "cust-token",
        json!({"record": items[4]["measurement"], "proof": items[4]["proof"]}),
    )
    .await
    .json();
    assert_eq!(v["verified"], false);
    assert!(v["reason"].as_str().unwrap().starts_with("anchor:"), "{v}");
    // The last one's batch is still open.
    assert_eq!(items[5]["proof"], Value::Null);
    assert_eq!(items[5]["anchor"], json!({"status": "pending"}));

    // A tampered value fails, saying the content differs.
    let mut tampered = items[1]["measurement"].clone();
    tampered["value"] = json!(999.0);
    let v = post(
        app,
        "/api/verify",
        "cust-token",
        json!({"record": tampered, "proof": items[1]["proof"]}),
    )
    .await
    .json();
    assert_eq!(v["verified"], false);
    assert!(v["reason"].as_str().unwrap().starts_with("content:"), "{v}");
    // A tampered path fails too.
    let mut proof = items[1]["proof"].clone();
    proof["siblings"][0] = json!(format!("0x{}", "11".repeat(32)));
    let v = post(
        app,
        "/api/verify",
        "cust-token",
        json!({"record": items[1]["measurement"], "proof": proof}),
    )
    .await
    .json();
    assert_eq!(v["verified"], false, "{v}");
    assert!(v["reason"].as_str().unwrap().starts_with("path:"), "{v}");
    // Malformed bodies are 400s naming the member.
    post(
        app,
        "/api/verify",
        "cust-token",
        json!({"proof": items[1]["proof"]}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "record");
    post(
        app,
        "/api/verify",
        "cust-token",
        json!({"record": tampered, "proof": {"leaf": 1}}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "proof");

    // Pages and time ranges.
    let a = get(app, &format!("{}&limit=4", pod_query()), "cust-token")
        .await
        .json();
    assert_eq!(a["items"].as_array().unwrap().len(), 4);
    let mut seen = a["items"].as_array().unwrap().clone();
    let mut next = a["next"].clone();
    while let Some(cursor) = next.as_str() {
        let b = get(
            app,
            &format!("{}&limit=4&cursor={cursor}", pod_query()),
            "cust-token",
        )
        .await
        .json();
        seen.extend(b["items"].as_array().unwrap().iter().cloned());
        next = b["next"].clone();
    }
    assert_eq!(&seen, items);
    let a = get(
        app,
        &format!(
            "{}&from=2024-03-01T13:01:00%2B01:00&to=2024-03-01T12:03:00Z",
            pod_query()
        ),
        "cust-token",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["items"].as_array().unwrap().len(), 2);
    for (query, at) in [
        ("from=noon", "from"),
        ("to=2024-13-01T00:00:00Z", "to"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=abc", "cursor"),
        ("colour=red", "colour"),
    ] {
        get(app, &format!("{}&{query}", pod_query()), "cust-token")
            .await
            .assert_error(StatusCode::BAD_REQUEST, at);
    }
}

#[tokio::test]
async fn batches_are_served_from_the_ledger() {
    let f = fixture().await;
    let app = &f.app;
    for uri in [
        format!("/api/batches/{DEVICE}:1"),
        format!("/api/batches/{DEVICE}%3A1"),
    ] {
        let a = get(app, &uri, "stranger-token").await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text);
        let b = a.json();
        assert_eq!(b["batch_id"], format!("{DEVICE}:1"));
        assert_eq!(b["certificate"]["leaf_count"], 2);
        assert_eq!(b["certificate"]["source"], DEVICE);
        assert_eq!(b["anchor"]["status"], "anchored");
        assert_eq!(b["anchor"]["position"], 1);
        assert!(b["certificate_hash"].as_str().unwrap().starts_with("0x"));
    }
    // Sealed but never anchored, and unknown: 404.
    get(app, &format!("/api/batches/{DEVICE}:2"), "cust-token")
        .await
        .assert_error(StatusCode::NOT_FOUND, "id");
    get(app, "/api/batches/nothing:0", "cust-token")
        .await
        .assert_error(StatusCode::NOT_FOUND, "id");

    // A source whose name holds a slash.
    let mut batcher = Batcher::new(Scheme::Sha256, BatchPolicy::pmu());
    let now = platone_certify::now();
    batcher.add("ln/7", &json!({"v": 1}), now).unwrap();
    let sealed = batcher.flush(now).unwrap().remove(0);
    f.ctx.ledger.anchor(&sealed.certificate).await.unwrap();
    for uri in ["/api/batches/ln/7:0", "/api/batches/ln%2F7%3A0"] {
        let a = get(app, uri, "cust-token").await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text);
        assert_eq!(a.json()["batch_id"], "ln/7:0");
    }
}

#[tokio::test]
async fn callers_without_a_valid_token_get_401() {
    let f = fixture().await;
    let app = &f.app;
    for route in ROUTES.iter().filter(|r| r.authenticated) {
        let uri = concrete(route.documented);
        call(app, route.method, &uri, None, None)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "Authorization");
        call(app, route.method, &uri, Some("wrong"), None)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "Authorization");
    }
    let request = Request::get(pod_query())
        .header(header::AUTHORIZATION, "Basic Y3VzdC0xOmNlY3JldA==")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Health needs none.
    let a = call(app, "GET", "/health", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["status"], "ok");
    assert_eq!(a.json()["engines"]["ledger"]["status"], "ok");
    // Unknown routes and methods are JSON errors too.
    call(app, "GET", "/api/nothing", None, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "path");
    call(app, "DELETE", "/api/measurements", Some("dso-token"), None)
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "method");
}

/// A documented path with its parameters filled in.
fn concrete(documented: &str) -> String {
    documented
        .replace("{topic}", &format!("pod/{POD}"))
        .replace("{id}", "1")
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_every_route_is_served() {
    let f = fixture().await;
    let app = &f.app;
    let a = call(app, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.content_type.starts_with("application/json"));
    let doc = a.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for route in ROUTES {
        let op = &doc["paths"][route.documented][route.method.to_ascii_lowercase()];
        assert!(
            op["responses"]["200"].is_object(),
            "{} {} is not in the document",
            route.method,
            route.documented
        );
        // The route is served: whatever it answers, it is not the unknown-route 404.
        let body = (route.method == "POST").then(|| json!({}));
        let answer = call(
            app,
            route.method,
            &concrete(route.documented),
            Some("dso-token"),
            body,
        )
        .await;
        assert!(
            !(answer.status == StatusCode::NOT_FOUND && answer.json()["at"] == "path")
                && answer.status != StatusCode::METHOD_NOT_ALLOWED,
            "{} {} is not routed: {}",
            route.method,
            route.documented,
            answer.text
        );
    }
    // The query parameters of the measurements route are all documented.
    let documented: Vec<&str> = doc["paths"]["/api/measurements"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        documented,
        ["device", "pod", "meter", "from", "to", "cursor", "limit"]
    );
}

#[tokio::test]
async fn metrics_are_openmetrics_text_and_count_every_request() {
    let f = fixture().await;
    let app = &f.app;
    get(app, &pod_query(), "cust-token").await;
    call(app, "GET", "/api/openapi.json", None, None).await;
    call(app, "GET", "/api/measurements", None, None).await;
    let a = call(app, "GET", "/metrics", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.content_type, platone_service::OPENMETRICS_TEXT);
    assert!(
        a.text.contains("\nplatone_bal_http_requests_total 4\n"),
        "{}",
        a.text
    );
    assert!(
        a.text
            .contains("# TYPE platone_bal_http_requests counter\n")
    );
    // Responses by route pattern and status, latency by route.
    for line in [
        r#"platone_bal_http_responses_total{method="GET",route="/api/measurements",status="200"} 1"#,
        r#"platone_bal_http_responses_total{method="GET",route="/api/measurements",status="401"} 1"#,
        r#"platone_bal_http_request_duration_seconds_count{method="GET",route="/api/openapi.json"} 1"#,
    ] {
        assert!(a.text.contains(line), "{line} in {}", a.text);
    }
    assert!(a.text.ends_with("# EOF\n"));
    assert_eq!(f.ctx.metrics.snapshot().http_requests, 4);
}

#[tokio::test]
async fn served_over_a_real_listener() {
    let f = fixture().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = f.app.clone();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let health: Value = client
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let response = client
        .get(format!("{base}/api/measurements?pod={POD}&limit=2"))
        .bearer_auth("cust-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let item = &page["items"][0];
    let verdict: Value = client
        .post(format!("{base}/api/verify"))
        .bearer_auth("cust-token")
        .json(&json!({"record": item["measurement"], "proof": item["proof"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verdict["verified"], true, "{verdict}");
    let listed = client
        .get(format!("{base}/api/certification/pod%2F{POD}"))
        .bearer_auth("cust-token")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), reqwest::StatusCode::OK);
    let denied = client
        .get(format!("{base}/api/measurements?pod={POD}"))
        .bearer_auth("stranger-token")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), reqwest::StatusCode::FORBIDDEN);
    server.abort();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever the path, query or body, the API answers with a status below 500 and, for
    /// errors, a JSON body naming where the problem is.
    #[test]
    fn arbitrary_requests_get_typed_answers(
        path in proptest::sample::select(vec![
            "/api/measurements?", "/api/certification/", "/api/batches/", "/api/verify?",
        ]),
        tail in "[ -~]{0,40}",
        body in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        post_it in proptest::bool::ANY,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let f = fixture().await;
            let encoded: String = tail
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'='
                    | b'&' | b'%' | b':' => (b as char).to_string(),
                    other => format!("%{other:02X}"),
                })
                .collect();
            let uri = format!("{path}{encoded}");
            let method = if post_it { "POST" } else { "GET" };
            let request = Request::builder()
                .method(method)
                .uri(&uri)
                .header(header::AUTHORIZATION, "Bearer dso-token")
                .body(Body::from(body))
                .unwrap();
            let response = f.app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            assert!(status.as_u16() < 500, "{method} {uri}: {status} {bytes:?}");
            if !status.is_success() {
                let error: Value = serde_json::from_slice(&bytes).unwrap();
                assert!(error["at"].is_string(), "{method} {uri}: {error}");
            }
        });
    }
}

async fn get_accept(app: &Router, uri: &str, accept: &str) -> (Answer, Option<String>) {
    let request = Request::get(uri)
        .header(header::AUTHORIZATION, "Bearer cust-token")
        .header(header::ACCEPT, accept)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let h = response.headers();
    let content_type = h
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let link = h.get(header::LINK).map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let answer = Answer {
        status,
        content_type,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    };
    (answer, link)
}

/// The references the JSON answer gives for item `item`, as `platone-saref` carries them.
fn references_of(item: &Value) -> Option<platone_saref::CertificationRef> {
    let proof = &item["proof"];
    if proof.is_null() {
        return None;
    }
    let anchor = &item["anchor"];
    let anchored = anchor["status"] == "anchored";
    Some(platone_saref::CertificationRef {
        batch: proof["batch_id"].as_str().unwrap().to_owned(),
        root: proof["root"].as_str().unwrap().to_owned(),
        leaf_index: proof["leaf_index"].as_u64(),
        anchor: anchored.then(|| anchor["entry"].as_str().unwrap().to_owned()),
        anchor_ledger: anchored.then(|| anchor["ledger"].as_str().unwrap().to_owned()),
        anchor_position: anchored.then(|| anchor["position"].as_u64().unwrap()),
        anchored_at: anchored.then(|| t(anchor["time"].as_str().unwrap())),
    })
}

#[tokio::test]
async fn measurements_are_served_as_saref_rdf_with_their_certification_references() {
    let f = fixture().await;
    let app = &f.app;
    let json = get(app, &pod_query(), "cust-token").await.json();
    let items = json["items"].as_array().unwrap();
    let expected: Vec<_> = items
        .iter()
        .zip(&f.measurements)
        .map(|(item, m)| (m.clone(), references_of(item)))
        .collect();
    // Anchored (0–3), sealed but pending (4), batch still open (5).
    assert!(
        expected[..4]
            .iter()
            .all(|(_, c)| c.as_ref().unwrap().anchor.is_some())
    );
    assert!(expected[4].1.as_ref().unwrap().anchor.is_none());
    assert!(expected[5].1.is_none());
    for (accept, format, media) in [
        ("text/turtle", platone_saref::Format::Turtle, "text/turtle"),
        (
            "application/ld+json",
            platone_saref::Format::JsonLd,
            "application/ld+json",
        ),
        (
            "application/n-triples",
            platone_saref::Format::NTriples,
            "application/n-triples",
        ),
        (
            "application/json;q=0.1, text/turtle;q=0.9",
            platone_saref::Format::Turtle,
            "text/turtle",
        ),
        (
            "text/html, application/*;q=0.5, application/json;q=0",
            platone_saref::Format::JsonLd,
            "application/ld+json",
        ),
    ] {
        let (a, link) = get_accept(app, &pod_query(), accept).await;
        assert_eq!(a.status, StatusCode::OK, "{accept}: {}", a.text);
        assert_eq!(a.content_type, media, "{accept}");
        assert_eq!(link, None, "one page");
        let back = platone_saref::read_certified_measurements(a.text.as_bytes(), format)
            .unwrap_or_else(|e| panic!("{accept}: {e}\n{}", a.text));
        assert_eq!(back, expected, "{accept}");
    }
    // The RDF names the anchor the ledger holds.
    let (a, _) = get_accept(app, &pod_query(), "text/turtle").await;
    let anchored = &items[0]["anchor"];
    assert!(
        a.text.contains(&format!(
            "platone:anchor \"{}\"",
            anchored["entry"].as_str().unwrap()
        )),
        "{}",
        a.text
    );
    // JSON stays the default, and answers to */*.
    for accept in [
        "*/*",
        "application/json",
        "application/json, text/turtle;q=0.5",
    ] {
        let (a, _) = get_accept(app, &pod_query(), accept).await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.content_type.starts_with("application/json"), "{accept}");
        assert_eq!(&a.json(), &json, "{accept}");
    }
    // Pages: the next page is named in a Link header.
    let (a, link) = get_accept(app, &format!("{}&limit=4", pod_query()), "text/turtle").await;
    assert_eq!(a.status, StatusCode::OK);
    let link = link.expect("a Link to the next page");
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("{link}"));
    let first = platone_saref::read_certified_measurements(
        a.text.as_bytes(),
        platone_saref::Format::Turtle,
    )
    .unwrap();
    let (b, last) = get_accept(app, next, "text/turtle").await;
    assert_eq!(b.status, StatusCode::OK, "{next}: {}", b.text);
    assert_eq!(last, None);
    let second = platone_saref::read_certified_measurements(
        b.text.as_bytes(),
        platone_saref::Format::Turtle,
    )
    .unwrap();
    assert_eq!([first, second].concat(), expected);
    // Nothing served matches: 406 naming Accept; a malformed weight: 400.
    for accept in ["text/html", "application/xml, image/*", "*/*;q=0"] {
        let (a, _) = get_accept(app, &pod_query(), accept).await;
        a.assert_error(StatusCode::NOT_ACCEPTABLE, "Accept");
        assert!(a.json()["error"].as_str().unwrap().contains("text/turtle"));
    }
    let (a, _) = get_accept(app, &pod_query(), "text/turtle;q=high").await;
    a.assert_error(StatusCode::BAD_REQUEST, "Accept");
    // A stranger is refused in RDF as in JSON.
    let request = Request::get(pod_query())
        .header(header::AUTHORIZATION, "Bearer stranger-token")
        .header(header::ACCEPT, "text/turtle")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
