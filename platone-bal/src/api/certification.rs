//! The subscription routes (D2.13 Table 2): request a subscription, list a topic's
//! subscriptions, and the provider's accept / decline. Every state a subscription takes is
//! certified on its own and anchored before the answer is sent. With the broker's access
//! control configured, an accept grants the consumer's MQTT client read access to the topic
//! and a decline revokes it ([`crate::broker_access`]).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use platone_certify::{
    Certifiable, Digest, Ledger, LedgerEntry, PROOF_FORMAT, Proof, Scheme, verify_leaf_with_hash,
};
use platone_model::ParticipantId;
use platone_scd::{Resource, Store, Subscription};
use serde::Serialize;

use super::auth::Caller;
use super::problem::{ApiError, store_problem};
use crate::context::{BalContext, CertifiedRecord, SUBSCRIPTION_SOURCE};

/// A subscription with the certificate of its current state: the certified record is the
/// subscription's JSON without the `certificate` member.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(
    description = "A subscription and the certificate of its current state. The \
    certified record is this object without `certificate`."
)]
pub struct CertifiedSubscription {
    /// The subscription, as stored.
    #[serde(flatten)]
    pub subscription: Subscription,
    /// The batch and proof of its current state; null in a listing when the ledger has none
    /// (a subscription recorded in the store without going through this API).
    #[schema(required = true)]
    pub certificate: Option<CertifiedRecord>,
}

/// The fields of `POST /api/certification`, read by the handler, which
/// rejects any other member (as the schema's `serde(deny_unknown_fields)` says).
#[derive(Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(description = "A subscription request: who provides, who consumes, which topic.")]
pub struct SubscriptionRequest {
    /// The data provider (customer, aggregator or DSO of the resource).
    #[schema(rename = "providerId")]
    pub provider: ParticipantId,
    /// The data consumer; the caller unless the caller is `dso`.
    #[schema(rename = "consumerId")]
    pub consumer: ParticipantId,
    /// What is asked for: `pod/ID`, `meter/ID` or `device/ID`.
    pub topic: Resource,
}

/// The body members `POST /api/certification` takes.
pub const REQUEST_FIELDS: &[&str] = &["providerId", "consumerId", "topic"];

/// Reads a subscription request body; every problem is a 400 naming the field.
pub fn parse_request(body: &[u8]) -> Result<SubscriptionRequest, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "body",
            format!("line {}, column {}: {e}", e.line(), e.column()),
        )
    })?;
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("body", "expected a JSON object"))?;
    if let Some(unknown) = object
        .keys()
        .find(|k| !REQUEST_FIELDS.contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(
            unknown.as_str(),
            format!("unknown member; expected {}", REQUEST_FIELDS.join(", ")),
        ));
    }
    let text = |field: &str| -> Result<&str, ApiError> {
        match object.get(field) {
            Some(serde_json::Value::String(s)) => Ok(s.as_str()),
            Some(_) => Err(ApiError::bad_request(field, "expected a string")),
            None => Err(ApiError::bad_request(field, "missing")),
        }
    };
    let participant = |field: &str| -> Result<ParticipantId, ApiError> {
        ParticipantId::new(text(field)?).map_err(|e| ApiError::bad_request(field, e))
    };
    Ok(SubscriptionRequest {
        provider: participant("providerId")?,
        consumer: participant("consumerId")?,
        topic: parse_topic(text("topic")?)?,
    })
}

/// A topic (`pod/ID`, `meter/ID`, `device/ID`); a 400 naming `topic` otherwise.
pub fn parse_topic(text: &str) -> Result<Resource, ApiError> {
    text.parse::<Resource>()
        .map_err(|e| ApiError::bad_request("topic", e))
}

/// `POST /api/certification`: the consumer (or `dso` on its behalf) asks the provider for a
/// topic.
#[utoipa::path(
    post,
    path = "/api/certification",
    operation_id = "requestSubscription",
    tag = "subscriptions",
    summary = "Request a subscription and certify it",
    description = "The consumer (or `dso`) asks the provider for a topic. The subscription is \
        stored with status Requested and certified as a single-record batch of source \
        `subscriptions`, anchored before the answer. The certified record is the answer \
        without its `certificate` member.",
    request_body = SubscriptionRequest,
    responses(
        (status = 200, description = "The certified subscription.", body = CertifiedSubscription),
        (status = 403, description = "The caller asks on behalf of another consumer, or the \
            access policy denies it.", body = ApiError, content_type = "application/problem+json"),
        (status = 409, description = "The same subscription is already requested or \
            accepted.", body = ApiError, content_type = "application/problem+json"),
    ),
)]
pub async fn request(
    State(ctx): State<BalContext>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<CertifiedSubscription>, ApiError> {
    let request = parse_request(&body)?;
    if &request.consumer != caller.participant() && !caller.is_dso() {
        return Err(ApiError::forbidden(
            "consumerId",
            format!(
                "{} may not request a subscription on behalf of {}",
                caller.participant(),
                request.consumer
            ),
        ));
    }
    let subscription = ctx
        .store
        .request_subscription(&request.consumer, &request.provider, &request.topic)
        .await
        .map_err(|e| store_problem("providerId", &e))?;
    certified(&ctx, subscription).await
}

/// `GET /api/certification/{topic}`: the subscriptions to `topic` the caller provides or
/// consumes, each with the certificate of its current state.
#[utoipa::path(
    get,
    path = "/api/certification/{topic}",
    operation_id = "listSubscriptions",
    tag = "subscriptions",
    summary = "The subscriptions to a topic the caller provides or consumes",
    description = "The topic contains a `/` (`pod/ID`, `meter/ID`, `device/ID`); it may be \
        sent as is or percent-encoded. Each subscription carries the certificate of its \
        current state, or null when the ledger has none.",
    params(("topic" = Resource, Path, description = "`pod/ID`, `meter/ID` or `device/ID`.")),
    responses((
        status = 200,
        description = "The subscriptions, oldest first.",
        body = Vec<CertifiedSubscription>,
    )),
)]
pub async fn list(
    State(ctx): State<BalContext>,
    caller: Caller,
    topic: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<CertifiedSubscription>>, ApiError> {
    let Path(topic) = topic.map_err(|e| ApiError::bad_request("topic", e.body_text()))?;
    let topic = parse_topic(&topic)?;
    let subscriptions: Vec<Subscription> = ctx
        .store
        .subscriptions(caller.participant())
        .await
        .map_err(|e| store_problem("topic", &e))?
        .into_iter()
        .filter(|s| s.topic == topic)
        .collect();
    let finder = CertificateFinder::load(&*ctx.ledger).await?;
    let mut out = Vec::with_capacity(subscriptions.len());
    for subscription in subscriptions {
        let certificate = finder.find(&subscription, &*ctx.ledger).await?;
        out.push(CertifiedSubscription {
            subscription,
            certificate,
        });
    }
    Ok(Json(out))
}

/// `POST /api/certification/{id}/accept` and `POST /api/certification/{id}/decline`: the
/// provider decides (`accept`, `decline`). Both share the route of the topics (which
/// contain `/`), so the rest of the path is read here; anything but `ID/accept` or
/// `ID/decline` is a 404.
pub async fn act(
    State(ctx): State<BalContext>,
    caller: Caller,
    rest: Result<Path<String>, PathRejection>,
) -> Result<Json<CertifiedSubscription>, ApiError> {
    let Path(rest) = rest.map_err(|e| ApiError::bad_request("path", e.body_text()))?;
    match parse_action(&rest)? {
        (id, true) => accept(ctx, caller, id).await,
        (id, false) => decline(ctx, caller, id).await,
    }
}

/// The provider accepts subscription `id`: the consumer may read the topic (and, with the
/// broker's access control, subscribe to it).
#[utoipa::path(
    post,
    path = "/api/certification/{id}/accept",
    operation_id = "acceptSubscription",
    tag = "subscriptions",
    summary = "The provider accepts a requested subscription",
    params(("id" = i64, Path, description = "The subscription's id.")),
    responses(
        (status = 200, description = "The accepted subscription, certified.", body = CertifiedSubscription),
        (status = 403, description = "The caller is not the subscription's provider.", body = ApiError, content_type = "application/problem+json"),
        (status = 404, description = "No subscription has this id.", body = ApiError, content_type = "application/problem+json"),
        (status = 409, description = "The subscription's state does not allow it.", body = ApiError, content_type = "application/problem+json"),
    ),
)]
pub async fn accept(
    ctx: BalContext,
    caller: Caller,
    id: i64,
) -> Result<Json<CertifiedSubscription>, ApiError> {
    decide(ctx, caller, id, true).await
}

/// The provider declines subscription `id`, or revokes it once accepted.
#[utoipa::path(
    post,
    path = "/api/certification/{id}/decline",
    operation_id = "declineSubscription",
    tag = "subscriptions",
    summary = "The provider declines a requested subscription or revokes an accepted one",
    params(("id" = i64, Path, description = "The subscription's id.")),
    responses(
        (status = 200, description = "The declined subscription, certified.", body = CertifiedSubscription),
        (status = 403, description = "The caller is not the subscription's provider.", body = ApiError, content_type = "application/problem+json"),
        (status = 404, description = "No subscription has this id.", body = ApiError, content_type = "application/problem+json"),
        (status = 409, description = "The subscription's state does not allow it.", body = ApiError, content_type = "application/problem+json"),
    ),
)]
pub async fn decline(
    ctx: BalContext,
    caller: Caller,
    id: i64,
) -> Result<Json<CertifiedSubscription>, ApiError> {
    decide(ctx, caller, id, false).await
}

/// Reads `ID/accept` or `ID/decline`.
pub fn parse_action(rest: &str) -> Result<(i64, bool), ApiError> {
    let no_route = || {
        ApiError::not_found(
            "path",
            format!("no route POST /api/certification/{rest}: expected ID/accept or ID/decline"),
        )
    };
    let (id, action) = rest.rsplit_once('/').ok_or_else(no_route)?;
    let accept = match action {
        "accept" => true,
        "decline" => false,
        _ => return Err(no_route()),
    };
    let id = id
        .parse()
        .map_err(|_| ApiError::bad_request("id", format!("{id:?} is not a subscription id")))?;
    Ok((id, accept))
}

async fn decide(
    ctx: BalContext,
    caller: Caller,
    id: i64,
    accept: bool,
) -> Result<Json<CertifiedSubscription>, ApiError> {
    let subscription = ctx
        .store
        .decide_subscription(caller.participant(), id, accept)
        .await
        .map_err(|e| store_problem("id", &e))?;
    // The decision is recorded: the broker follows it (a change it does not take is retried
    // and reported, never undone here).
    if let Some(access) = &ctx.broker_access {
        access.subscription_changed(&subscription).await;
    }
    certified(&ctx, subscription).await
}

async fn certified(
    ctx: &BalContext,
    subscription: Subscription,
) -> Result<Json<CertifiedSubscription>, ApiError> {
    let certificate = ctx
        .records
        .certify(SUBSCRIPTION_SOURCE, &subscription, &*ctx.ledger)
        .await
        .map_err(|e| ApiError::internal("ledger", e))?;
    Ok(Json(CertifiedSubscription {
        subscription,
        certificate: Some(certificate),
    }))
}

/// Finds the certificate of a subscription's current state among the single-record batches of
/// [`SUBSCRIPTION_SOURCE`] in the ledger: the batch whose root is the record's leaf hash.
struct CertificateFinder {
    by_root: HashMap<Digest, LedgerEntry>,
}

impl CertificateFinder {
    async fn load<L: Ledger + ?Sized>(ledger: &L) -> Result<Self, ApiError> {
        let entries = ledger
            .list(SUBSCRIPTION_SOURCE, 0..u64::MAX)
            .await
            .map_err(|e| ApiError::internal("ledger", e))?;
        let by_root = entries
            .into_iter()
            .filter(|e| e.certificate.leaf_count == 1)
            .map(|e| (e.certificate.root, e))
            .collect();
        Ok(CertificateFinder { by_root })
    }

    async fn find<L: Ledger + ?Sized>(
        &self,
        subscription: &Subscription,
        ledger: &L,
    ) -> Result<Option<CertifiedRecord>, ApiError> {
        let value =
            serde_json::to_value(subscription).map_err(|e| ApiError::internal("record", e))?;
        let canonical = value
            .canonical_bytes()
            .map_err(|e| ApiError::internal("record", e))?;
        for scheme in [Scheme::Keccak, Scheme::Sha256] {
            let leaf = scheme.leaf_hash(&canonical);
            let Some(entry) = self.by_root.get(&leaf) else {
                continue;
            };
            if entry.certificate.scheme != scheme {
                continue;
            }
            let Some(anchor) = ledger
                .status(&entry.certificate.batch_id)
                .await
                .map_err(|e| ApiError::internal("ledger", e))?
            else {
                continue;
            };
            let proof = Proof {
                format: PROOF_FORMAT.to_owned(),
                batch_id: entry.certificate.batch_id.clone(),
                scheme,
                leaf_index: 0,
                leaf_count: 1,
                leaf,
                siblings: Vec::new(),
                root: entry.certificate.root,
                certificate: entry.certificate_hash,
                anchor,
            };
            if verify_leaf_with_hash(&proof, &entry.certificate, &entry.certificate_hash)
                .is_verified()
            {
                return Ok(Some(CertifiedRecord {
                    batch_id: proof.batch_id.clone(),
                    proof,
                }));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn request_bodies_are_read_and_bad_fields_named() {
        let r =
            parse_request(br#"{"providerId":"cust-1","consumerId":"agg-1","topic":"pod/IT001"}"#)
                .unwrap();
        assert_eq!(r.provider.as_str(), "cust-1");
        assert_eq!(r.consumer.as_str(), "agg-1");
        assert_eq!(r.topic.to_string(), "pod/IT001");
        for (body, at) in [
            (&br#"{"consumerId":"a","topic":"pod/p"}"#[..], "providerId"),
            (
                br#"{"providerId":"a","consumerId":7,"topic":"pod/p"}"#,
                "consumerId",
            ),
            (
                br#"{"providerId":"a","consumerId":"b","topic":"bus/p"}"#,
                "topic",
            ),
            (
                br#"{"providerId":"a","consumerId":"b","topic":"pod/p","x":1}"#,
                "x",
            ),
            (br#"[1]"#, "body"),
            (br#"{"providerId":"#, "body"),
        ] {
            let e = parse_request(body).unwrap_err();
            assert_eq!(
                (e.status, e.at.as_str()),
                (StatusCode::BAD_REQUEST, at),
                "{e}"
            );
        }
    }

    #[test]
    fn actions_are_read() {
        assert_eq!(parse_action("12/accept").unwrap(), (12, true));
        assert_eq!(parse_action("12/decline").unwrap(), (12, false));
        let e = parse_action("x/accept").unwrap_err();
        assert_eq!((e.status, e.at.as_str()), (StatusCode::BAD_REQUEST, "id"));
        for rest in ["12", "12/approve", "pod/IT001"] {
            let e = parse_action(rest).unwrap_err();
            assert_eq!((e.status, e.at.as_str()), (StatusCode::NOT_FOUND, "path"));
        }
    }

    proptest::proptest! {
        #[test]
        fn request_parsing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = parse_request(&bytes);
        }

        #[test]
        fn topic_and_action_parsing_never_panic(text in ".*") {
            let _ = parse_topic(&text);
            let _ = parse_action(&text);
        }
    }
}
