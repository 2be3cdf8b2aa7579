//! `GET /api/measurements`: the caller's visible measurements, each with its proof and anchor
//! status — as JSON, or (by `Accept`) as SAREF RDF in Turtle, JSON-LD or N-Triples with the
//! certification references in the `platone:` vocabulary.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, LINK, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use platone_certify::{AnchorStatus, Ledger, Proof};
use platone_model::{DeviceId, Measurement, MeterId, PodId, Timestamp};
use platone_scd::{CertificationRef, MeasurementQuery, PageToken, Store};
use serde::Serialize;

use super::auth::Caller;
use super::negotiate::{Representation, negotiate};
use super::problem::{ApiError, store_problem};
use crate::context::BalContext;

/// Page size when the request gives no `limit`.
pub const DEFAULT_LIMIT: usize = 1_000;
/// The largest `limit` a request may ask for.
pub const MAX_LIMIT: usize = 10_000;

/// The query parameters `GET /api/measurements` accepts.
pub const PARAMETERS: &[&str] = &["device", "pod", "meter", "from", "to", "cursor", "limit"];

/// One measurement as served: the measurement, its proof (`None` while its batch is open) and
/// its anchor status (`pending` until its certificate is confirmed by the ledger).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(
    description = "A measurement with its proof (null while its batch is open) and its \
    anchor status."
)]
pub struct MeasurementItem {
    /// The measurement, exactly as stored and certified.
    pub measurement: Measurement,
    /// Its inclusion proof, once its batch is certified; null while the batch is open.
    #[schema(value_type = Option<Proof>, required = true)]
    pub proof: Option<serde_json::Value>,
    /// Where its batch's certificate is anchored, or `{"status": "pending"}`.
    pub anchor: AnchorStatus,
}

/// One page of measurements; `next` is the cursor of the following page, if any.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MeasurementPage {
    /// The measurements, in time order.
    pub items: Vec<MeasurementItem>,
    /// Pass as `cursor` to read on; null on the last page.
    #[schema(required = true)]
    pub next: Option<String>,
}

/// Reads the query parameters into a store query. Every parameter may appear once; an unknown
/// or repeated parameter, an identifier, time, cursor or limit that does not parse is a 400
/// naming the parameter.
pub fn parse_query(pairs: &[(String, String)]) -> Result<MeasurementQuery, ApiError> {
    let mut query = MeasurementQuery {
        limit: Some(DEFAULT_LIMIT),
        ..MeasurementQuery::default()
    };
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in pairs {
        let name = name.as_str();
        if !PARAMETERS.contains(&name) {
            return Err(ApiError::bad_request(
                name,
                format!(
                    "unknown parameter; expected one of {}",
                    PARAMETERS.join(", ")
                ),
            ));
        }
        if seen.contains(&name) {
            return Err(ApiError::bad_request(name, "given more than once"));
        }
        seen.push(name);
        let bad = |e: &dyn std::fmt::Display| ApiError::bad_request(name, e.to_string());
        match name {
            "device" => query.device = Some(DeviceId::new(value).map_err(|e| bad(&e))?),
            "pod" => query.pod = Some(PodId::new(value).map_err(|e| bad(&e))?),
            "meter" => query.meter = Some(MeterId::new(value).map_err(|e| bad(&e))?),
            "from" => query.from = Some(parse_time(name, value)?),
            "to" => query.to = Some(parse_time(name, value)?),
            "cursor" => query.after = Some(value.parse::<PageToken>().map_err(|e| bad(&e))?),
            _ => query.limit = Some(parse_limit(value)?),
        }
    }
    if let (Some(from), Some(to)) = (&query.from, &query.to)
        && to <= from
    {
        return Err(ApiError::bad_request("to", "`to` must be after `from`"));
    }
    Ok(query)
}

/// An RFC 3339 time. A `+` of the offset that arrived unencoded reads as a space in a query
/// string; it is taken back as `+`.
fn parse_time(name: &str, value: &str) -> Result<Timestamp, ApiError> {
    platone_model::parse_timestamp(value)
        .or_else(|e| {
            if value.contains(' ') {
                platone_model::parse_timestamp(&value.replace(' ', "+"))
            } else {
                Err(e)
            }
        })
        .map_err(|e| ApiError::bad_request(name, format!("{value:?} is not an RFC 3339 time: {e}")))
}

fn parse_limit(value: &str) -> Result<usize, ApiError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(
                "limit",
                format!("{value:?} is not a whole number from 1 to {MAX_LIMIT}"),
            )
        })
}

/// The handler: the page as JSON, or as RDF when `Accept` asks for `text/turtle`,
/// `application/ld+json` or `application/n-triples` (see [`negotiate`]). The RDF answer carries
/// each measurement's batch, leaf index, Merkle root and anchor (`platone:certifiedIn` …), not
/// the proof's sibling hashes (ask for JSON to verify), and names the next page in a
/// `Link: <…>; rel="next"` header.
#[utoipa::path(
    get,
    path = "/api/measurements",
    operation_id = "listMeasurements",
    tag = "measurements",
    summary = "The caller's visible measurements, each with its proof and anchor status",
    description = "The access policy of the Shared Customer Database decides: a participant \
        must name at least one of pod, meter or device it may read (as owner, customer, \
        aggregator, grid operator or accepted subscriber); `dso` reads everything. Results \
        come in time order.",
    params(
        ("device" = Option<DeviceId>, Query, description = "Only this source device."),
        ("pod" = Option<PodId>, Query, description = "Only this Point of Delivery."),
        ("meter" = Option<MeterId>, Query, description = "Only this meter."),
        ("from" = Option<String>, Query, format = DateTime,
            description = "From this instant (inclusive), RFC 3339."),
        ("to" = Option<String>, Query, format = DateTime,
            description = "Up to this instant (exclusive), RFC 3339; after `from`."),
        ("cursor" = Option<String>, Query, description = "The `next` of the previous page."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000,
            description = "Page size (1000 when not given)."),
    ),
    responses(
        (
            status = 200,
            description = "One page. By `Accept` (q-values honoured, JSON the default): the \
                page as JSON, or its measurements as SAREF RDF (mapping in docs/saref.md) with \
                each one's batch, leaf index, Merkle root and anchor in the `platone:` \
                vocabulary; an RDF answer names the next page in `Link: <…>; rel=\"next\"`.",
            content(
                (MeasurementPage = "application/json"),
                (String = "text/turtle"),
                (Object = "application/ld+json"),
                (String = "application/n-triples"),
            ),
            headers(("Link" = String, description = "RDF answers only: the next page, \
                `<URL>; rel=\"next\"`.")),
        ),
        (status = 403, description = "The access policy denies the caller these \
            measurements.", body = ApiError, content_type = "application/problem+json"),
        (status = 406, description = "`Accept` admits none of application/json, \
            text/turtle, application/ld+json, application/n-triples; `at` is `Accept`.", body = ApiError, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(ctx): State<BalContext>,
    caller: Caller,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let accept = match headers.get(ACCEPT).map(HeaderValue::to_str) {
        None => None,
        Some(Ok(text)) => Some(text),
        Some(Err(_)) => return Err(ApiError::bad_request("Accept", "not visible ASCII")),
    };
    let representation = negotiate(accept)?;
    let Query(pairs) = params.map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let query = parse_query(&pairs)?;
    let page = ctx
        .store
        .query_measurements(&caller.principal(), &query)
        .await
        .map_err(|e| store_problem(scope_of(&query), &e))?;
    let mut anchors = AnchorCache::default();
    let mut items = Vec::with_capacity(page.items.len());
    let mut references = Vec::with_capacity(page.items.len());
    for stored in page.items {
        let (proof, anchor) = match &stored.certification {
            Some(certification) => {
                let (proof, anchor) = anchors.resolve(certification, &*ctx.ledger).await?;
                (Some(proof), anchor)
            }
            None => (None, AnchorStatus::Pending),
        };
        references.push(
            stored
                .certification
                .as_ref()
                .map(|c| certification_ref(c, &anchor)),
        );
        items.push(MeasurementItem {
            measurement: stored.measurement,
            proof,
            anchor,
        });
    }
    let page = MeasurementPage {
        items,
        next: page.next.map(|t| t.to_string()),
    };
    let format = match representation {
        Representation::Json => {
            let mut response = Json(page).into_response();
            response
                .headers_mut()
                .insert(VARY, HeaderValue::from_static("Accept"));
            return Ok(response);
        }
        Representation::Rdf(format) => format,
    };
    let body = platone_saref::write_measurements(
        Vec::with_capacity(page.items.len() * 1024),
        format,
        &ctx.config.saref_options(),
        page.items
            .iter()
            .zip(&references)
            .map(|(item, cert)| (&item.measurement, cert.as_ref())),
    )
    .map_err(|e| ApiError::internal("rdf", e))?;
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
    h.insert(VARY, HeaderValue::from_static("Accept"));
    if let Some(next) = &page.next
        && let Ok(link) = HeaderValue::from_str(&next_link(&pairs, next))
    {
        h.insert(LINK, link);
    }
    Ok(response)
}

/// The `platone-saref` certification references of a stored measurement: its batch, leaf
/// index and root, and the anchor once the ledger confirmed it.
pub fn certification_ref(
    stored: &CertificationRef,
    anchor: &AnchorStatus,
) -> platone_saref::CertificationRef {
    let anchored = anchor.anchor();
    platone_saref::CertificationRef {
        batch: stored.batch_id.clone(),
        root: stored.root_hex.clone(),
        leaf_index: Some(stored.leaf_index),
        anchor: anchored.map(|a| a.entry.clone()),
        anchor_ledger: anchored.map(|a| a.ledger.clone()),
        anchor_position: anchored.map(|a| a.position),
        anchored_at: anchored.map(|a| a.time),
    }
}

/// `</api/measurements?…&cursor=NEXT>; rel="next"`: the request's parameters with the cursor
/// replaced, percent-encoded.
fn next_link(pairs: &[(String, String)], next: &str) -> String {
    let mut query = String::new();
    let params = pairs
        .iter()
        .filter(|(name, _)| name != "cursor")
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain([("cursor", next)]);
    for (name, value) in params {
        if !query.is_empty() {
            query.push('&');
        }
        encode_into(&mut query, name);
        query.push('=');
        encode_into(&mut query, value);
    }
    format!("</api/measurements?{query}>; rel=\"next\"")
}

fn encode_into(out: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The parameter a denial concerns: the first resource the query names.
fn scope_of(query: &MeasurementQuery) -> &'static str {
    if query.pod.is_some() {
        "pod"
    } else if query.meter.is_some() {
        "meter"
    } else if query.device.is_some() {
        "device"
    } else {
        "query"
    }
}

/// The ledger's anchor status per batch, looked up once per request.
#[derive(Debug, Default)]
pub struct AnchorCache {
    by_batch: HashMap<String, Option<AnchorStatus>>,
}

impl AnchorCache {
    /// The proof to serve and its anchor status. A stored proof that already names its anchor
    /// is served as stored; one stored before its batch was confirmed is brought up to date
    /// from the ledger (and stays `pending` while the ledger has not confirmed it).
    pub async fn resolve<L: Ledger + ?Sized>(
        &mut self,
        certification: &CertificationRef,
        ledger: &L,
    ) -> Result<(serde_json::Value, AnchorStatus), ApiError> {
        let parsed = serde_json::from_value::<Proof>(certification.proof.clone()).ok();
        if let Some(proof) = &parsed
            && let AnchorStatus::Anchored(_) = proof.anchor
        {
            return Ok((certification.proof.clone(), proof.anchor.clone()));
        }
        let batch_id = parsed
            .as_ref()
            .map_or(certification.batch_id.as_str(), |p| p.batch_id.as_str());
        if !self.by_batch.contains_key(batch_id) {
            let status = ledger
                .status(batch_id)
                .await
                .map_err(|e| ApiError::internal("ledger", e))?;
            self.by_batch.insert(batch_id.to_owned(), status);
        }
        let Some(Some(AnchorStatus::Anchored(anchor))) = self.by_batch.get(batch_id) else {
            return Ok((certification.proof.clone(), AnchorStatus::Pending));
        };
        let proof = match parsed {
            Some(mut proof) => {
                proof
                    .upgrade(anchor)
                    .map_err(|e| ApiError::internal("ledger", e))?;
                serde_json::to_value(&proof).map_err(|e| ApiError::internal("proof", e))?
            }
            None => certification.proof.clone(),
        };
        Ok((proof, AnchorStatus::Anchored(anchor.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_are_read_and_bad_ones_named() {
        let q = parse_query(&pairs(&[
            ("pod", "IT001"),
            ("from", "2021-06-30T10:15:00 02:00"),
            ("to", "2021-07-01T00:00:00Z"),
            ("limit", "5"),
            ("cursor", "12.3"),
        ]))
        .unwrap();
        assert_eq!(q.pod.unwrap().as_str(), "IT001");
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.after.unwrap().to_string(), "12.3");
        assert_eq!(
            q.from.unwrap(),
            platone_model::parse_timestamp("2021-06-30T10:15:00+02:00").unwrap()
        );
        assert_eq!(
            parse_query(&[]).unwrap().limit,
            Some(DEFAULT_LIMIT),
            "default page size"
        );
        for (params, at) in [
            (vec![("from", "yesterday")], "from"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "10001")], "limit"),
            (vec![("cursor", "x")], "cursor"),
            (vec![("devce", "d")], "devce"),
            (vec![("pod", "a"), ("pod", "b")], "pod"),
            (vec![("pod", "")], "pod"),
            (
                vec![
                    ("from", "2021-01-02T00:00:00Z"),
                    ("to", "2021-01-01T00:00:00Z"),
                ],
                "to",
            ),
        ] {
            let e = parse_query(&pairs(&params)).unwrap_err();
            assert_eq!(
                (e.status, e.at.as_str()),
                (StatusCode::BAD_REQUEST, at),
                "{e}"
            );
        }
    }

    #[test]
    fn the_next_link_keeps_the_parameters_and_replaces_the_cursor() {
        let link = next_link(
            &pairs(&[
                ("pod", "IT 001/x"),
                ("from", "2021-06-30T10:15:00+02:00"),
                ("cursor", "1.2"),
            ]),
            "7.9",
        );
        assert_eq!(
            link,
            "</api/measurements?pod=IT%20001%2Fx&from=2021-06-30T10:15:00%2B02:00&cursor=7.9>; rel=\"next\""
        );
    }

    proptest::proptest! {
        #[test]
        fn query_parsing_never_panics(list in proptest::collection::vec(
            (proptest::sample::select(vec!["device", "pod", "meter", "from", "to", "cursor",
                "limit", "x"]), ".*"), 0..6)) {
            let list: Vec<(String, String)> =
                list.into_iter().map(|(a, b)| (a.to_owned(), b)).collect();
            let _ = parse_query(&list);
        }
    }
}
