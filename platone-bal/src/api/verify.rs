//! `POST /api/verify`: checks a record against its proof and the ledger.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use platone_certify::{Proof, Verification, verify_with_ledger};
use serde::Serialize;

use super::auth::Caller;
use super::problem::ApiError;
use crate::context::BalContext;

/// What `POST /api/verify` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerifyAnswer {
    /// Whether the record is exactly the one certified, in a batch anchored in the ledger.
    pub verified: bool,
    /// When not, what failed: `content: …`, `path: …`, `root: …`, `anchor: …` or `chain: …`.
    #[schema(required = true)]
    pub reason: Option<String>,
}

impl From<Verification> for VerifyAnswer {
    fn from(v: Verification) -> Self {
        match v {
            Verification::Verified => VerifyAnswer {
                verified: true,
                reason: None,
            },
            Verification::Mismatch { reason } => VerifyAnswer {
                verified: false,
                reason: Some(reason.to_string()),
            },
        }
    }
}

/// What `POST /api/verify` takes, read by the handler, which rejects any other member.
#[derive(Debug, Clone, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(description = "A record and its proof, to check against the ledger.")]
pub struct VerifyRequest {
    /// The record as served (a measurement, or a subscription without `certificate`).
    #[schema(value_type = Object)]
    pub record: serde_json::Value,
    /// Its proof.
    pub proof: Proof,
}

/// Reads `{"record": {…}, "proof": {…}}`; a malformed body is a 400 naming the member.
pub fn parse_body(body: &[u8]) -> Result<VerifyRequest, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "body",
            format!("line {}, column {}: {e}", e.line(), e.column()),
        )
    })?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(ApiError::bad_request("body", "expected a JSON object"));
    };
    if let Some(unknown) = object.keys().find(|k| *k != "record" && *k != "proof") {
        return Err(ApiError::bad_request(
            unknown.as_str(),
            "unknown member; expected record, proof",
        ));
    }
    let record = match object.remove("record") {
        Some(record @ serde_json::Value::Object(_)) => record,
        Some(_) => return Err(ApiError::bad_request("record", "expected a JSON object")),
        None => return Err(ApiError::bad_request("record", "missing")),
    };
    let proof = object
        .remove("proof")
        .ok_or_else(|| ApiError::bad_request("proof", "missing"))?;
    let text = serde_json::to_vec(&proof).map_err(|e| ApiError::bad_request("proof", e))?;
    let proof = Proof::from_json(&text).map_err(|e| ApiError::bad_request("proof", e))?;
    Ok(VerifyRequest { record, proof })
}

/// The handler. The record is verified exactly as sent (its canonical JSON), so any altered
/// member fails with a `content` reason.
#[utoipa::path(
    post,
    path = "/api/verify",
    operation_id = "verify",
    tag = "certification",
    summary = "Verify a record against its proof and the ledger",
    description = "The record is checked exactly as sent (its canonical JSON): content (leaf \
        hash), path, root, the certificate's presence and entry in the ledger, and its chain.",
    request_body = VerifyRequest,
    responses((status = 200, description = "The outcome.", body = VerifyAnswer)),
)]
pub async fn verify(
    State(ctx): State<BalContext>,
    _caller: Caller,
    body: Bytes,
) -> Result<Json<VerifyAnswer>, ApiError> {
    let VerifyRequest { record, proof } = parse_body(&body)?;
    let verification = verify_with_ledger(&record, &proof, &*ctx.ledger)
        .await
        .map_err(|e| ApiError::internal("ledger", e))?;
    Ok(Json(verification.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn malformed_bodies_name_the_member() {
        for (body, at) in [
            (&b"nope"[..], "body"),
            (b"[]", "body"),
            (br#"{"proof":{}}"#, "record"),
            (br#"{"record":1,"proof":{}}"#, "record"),
            (br#"{"record":{}}"#, "proof"),
            (br#"{"record":{},"proof":{"format":"x"}}"#, "proof"),
            (br#"{"record":{},"proof":{},"extra":true}"#, "extra"),
        ] {
            let e = parse_body(body).unwrap_err();
            assert_eq!(
                (e.status, e.at.as_str()),
                (StatusCode::BAD_REQUEST, at),
                "{e}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn body_parsing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_body(&bytes);
        }
    }
}
