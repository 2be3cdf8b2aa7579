//! `GET /api/measurements`: the caller's visible measurements, each with its proof and anchor
//! status.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use platone_certify::{AnchorStatus, Ledger, Proof};
use platone_model::{DeviceId, Measurement, MeterId, PodId, Timestamp};
use platone_scd::{CertificationRef, MeasurementQuery, PageToken, Store};
use serde::Serialize;

use super::auth::Caller;
use super::problem::ApiError;
use crate::context::BalContext;

/// Page size when the request gives no `limit`.
pub const DEFAULT_LIMIT: usize = 1_000;
/// The largest `limit` a request may ask for.
pub const MAX_LIMIT: usize = 10_000;

/// The query parameters `GET /api/measurements` accepts.
pub const PARAMETERS: &[&str] = &["device", "pod", "meter", "from", "to", "cursor", "limit"];

/// One measurement as served: the measurement, its proof (`None` while its batch is open) and
/// its anchor status (`pending` until its certificate is confirmed by the ledger).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasurementItem {
    /// The measurement, exactly as stored and certified.
    pub measurement: Measurement,
    /// Its inclusion proof, once its batch is certified.
    pub proof: Option<serde_json::Value>,
    /// Where its batch's certificate is anchored, or `{"status": "pending"}`.
    pub anchor: AnchorStatus,
}

/// One page of measurements; `next` is the cursor of the following page, if any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasurementPage {
    /// The measurements, in time order.
    pub items: Vec<MeasurementItem>,
    /// Pass as `cursor` to read on; `None` on the last page.
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

/// The handler.
pub async fn list(
    State(ctx): State<BalContext>,
    caller: Caller,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<MeasurementPage>, ApiError> {
    let Query(pairs) = params.map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let query = parse_query(&pairs)?;
    let page = ctx
        .store
        .query_measurements(&caller.principal(), &query)
        .await
        .map_err(|e| ApiError::from_store(scope_of(&query), &e))?;
    let mut anchors = AnchorCache::default();
    let mut items = Vec::with_capacity(page.items.len());
    for stored in page.items {
        let (proof, anchor) = match &stored.certification {
            Some(certification) => {
                let (proof, anchor) = anchors.resolve(certification, &*ctx.ledger).await?;
                (Some(proof), anchor)
            }
            None => (None, AnchorStatus::Pending),
        };
        items.push(MeasurementItem {
            measurement: stored.measurement,
            proof,
            anchor,
        });
    }
    Ok(Json(MeasurementPage {
        items,
        next: page.next.map(|t| t.to_string()),
    }))
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
