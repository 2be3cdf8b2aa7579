//! `GET /api/batches/{id}`: a batch's ledger entry.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use platone_certify::{AnchorStatus, BatchCertificate, Digest};
use serde::Serialize;

use super::auth::Caller;
use super::problem::ApiError;
use crate::context::BalContext;

/// A batch as the ledger records it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BatchAnswer {
    /// The batch identifier (`SOURCE:SEQUENCE`).
    pub batch_id: String,
    /// The batch certificate.
    pub certificate: BatchCertificate,
    /// The certificate's hash (what each proof under it names).
    pub certificate_hash: Digest,
    /// Where it is anchored (`{"status": "anchored", ledger, entry, position, time}`).
    pub anchor: AnchorStatus,
    /// The hash of the ledger entry before it.
    pub previous_entry: Digest,
}

/// The handler: 404 when the ledger does not know the batch.
#[utoipa::path(
    get,
    path = "/api/batches/{id}",
    operation_id = "getBatch",
    tag = "certification",
    summary = "A batch's ledger entry: certificate and anchor",
    params((
        "id" = String,
        Path,
        description = "The batch identifier, `SOURCE:SEQUENCE`; it may contain `/` and may be \
            percent-encoded.",
        example = "meter-17:0",
    )),
    responses(
        (status = 200, description = "The batch.", body = BatchAnswer),
        (status = 404, description = "The ledger does not know the batch.", body = ApiError, content_type = "application/problem+json"),
    ),
)]
pub async fn get(
    State(ctx): State<BalContext>,
    _caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<BatchAnswer>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request("id", e.body_text()))?;
    let ledger = &*ctx.ledger;
    let entry = ledger
        .get(&id)
        .await
        .map_err(|e| ApiError::internal("ledger", e))?
        .ok_or_else(|| ApiError::not_found("id", format!("batch {id:?} is not in the ledger")))?;
    let anchor = ledger
        .status(&id)
        .await
        .map_err(|e| ApiError::internal("ledger", e))?
        .unwrap_or(AnchorStatus::Pending);
    Ok(Json(BatchAnswer {
        batch_id: entry.certificate.batch_id.clone(),
        certificate: entry.certificate,
        certificate_hash: entry.certificate_hash,
        anchor,
        previous_entry: entry.previous,
    }))
}
