//! The handlers of the REST API.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use platone_service::PathParams as Path;
use platone_service::Problem;
use serde::{Deserialize, Serialize};

use super::PlatformState;
use crate::outcome::{CertifiedAward, Outcome};
use crate::roles::Caller;
use crate::session::{AuditEntry, Session, SessionSpec, StoredOrder};
use crate::settlement::{BaselineDeclaration, SettlementInput, SettlementReport};

type Answer<T> = Result<T, Problem>;

fn problem(e: crate::PlatformError) -> Problem {
    e.problem()
}

/// Runs a blocking platform call off the executor.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> Answer<T> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| Problem::internal("platform", e))?
        .map_err(problem)
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Answer<T> {
    serde_json::from_slice(body).map_err(|e| {
        let at = crate::error::serde_member(&e).unwrap_or_else(|| "body".to_owned());
        Problem::bad_request(at, format!("line {}, column {}: {e}", e.line(), e.column()))
    })
}

/// One order or `{"orders": [...]}`: the scenario format's request or offer objects, whose
/// `participant` is the caller's and may be left out.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OrderSubmission {
    /// Several orders, stored all or none.
    Bulk {
        /// The orders.
        orders: Vec<serde_json::Value>,
    },
    /// One order.
    One(serde_json::Value),
}

impl utoipa::PartialSchema for OrderSubmission {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Type};
        let order = || {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some("A request or offer in the scenario format."))
        };
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("orders", ArrayBuilder::new().items(order()))
                    .required("orders"),
            )
            .item(order())
            .into()
    }
}

impl utoipa::ToSchema for OrderSubmission {}

/// The orders stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoredOrders {
    /// In intake order.
    pub orders: Vec<StoredOrder>,
}

/// `POST /api/sessions`.
#[utoipa::path(
    post,
    path = "/api/sessions",
    operation_id = "createSession",
    tag = "sessions",
    summary = "Open a session (the market operator)",
    request_body = SessionSpec,
    responses(
        (status = 201, description = "The session, open.", body = Session),
        (status = 403, description = "The caller is not the market operator.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A session of this id exists.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create_session(
    State(state): State<PlatformState>,
    caller: Caller,
    body: Bytes,
) -> Answer<(StatusCode, Json<Session>)> {
    let spec: SessionSpec = json_body(&body)?;
    let platform = state.platform.clone();
    let session = blocking(move || platform.create_session(&caller, spec)).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// `GET /api/sessions`.
#[utoipa::path(
    get,
    path = "/api/sessions",
    operation_id = "listSessions",
    tag = "sessions",
    summary = "Every session",
    responses((status = 200, description = "Oldest first.", body = Vec<Session>)),
)]
pub async fn list_sessions(
    State(state): State<PlatformState>,
    _caller: Caller,
) -> Answer<Json<Vec<Session>>> {
    state.platform.sessions().map(Json).map_err(problem)
}

/// `GET /api/sessions/{id}`.
#[utoipa::path(
    get,
    path = "/api/sessions/{id}",
    operation_id = "getSession",
    tag = "sessions",
    summary = "One session",
    params(("id" = String, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The session.", body = Session),
        (status = 404, description = "No session has this id.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_session(
    State(state): State<PlatformState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Answer<Json<Session>> {
    state.platform.session(&id).map(Json).map_err(problem)
}

async fn submit(
    state: PlatformState,
    caller: Caller,
    id: String,
    offers: bool,
    body: Bytes,
) -> Answer<(StatusCode, Json<StoredOrders>)> {
    let bodies = match json_body::<OrderSubmission>(&body)? {
        OrderSubmission::Bulk { orders } => orders,
        OrderSubmission::One(order) => vec![order],
    };
    let platform = state.platform.clone();
    let orders = platform
        .submit_orders(&caller, &id, offers, bodies)
        .await
        .map_err(problem)?;
    Ok((StatusCode::CREATED, Json(StoredOrders { orders })))
}

/// `POST /api/sessions/{id}/requests`.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/requests",
    operation_id = "postRequests",
    tag = "orders",
    summary = "Post flexibility requests (DSOs and TSOs)",
    description = "One request (the scenario format's request object) or `{\"orders\": [...]}`; \
        `participant` is the caller, `role` its role. Stored all or none; a bad order is refused \
        naming it (`orders[i].field`).",
    params(("id" = String, Path, description = "The session's id.")),
    request_body(content = OrderSubmission, description = "One order or `{\"orders\": [...]}`."),
    responses(
        (status = 201, description = "The stored requests.", body = StoredOrders),
        (status = 403, description = "The caller is not a DSO or TSO.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No session has this id.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The session's gate has closed.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn post_requests(
    State(state): State<PlatformState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer<(StatusCode, Json<StoredOrders>)> {
    submit(state, caller, id, false, body).await
}

/// `POST /api/sessions/{id}/offers`.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/offers",
    operation_id = "postOffers",
    tag = "orders",
    summary = "Post flexibility offers (aggregators)",
    description = "One offer (the scenario format's offer object) or `{\"orders\": [...]}`; \
        `participant` is the caller. Stored all or none; a bad order is refused naming it \
        (`orders[i].field`).",
    params(("id" = String, Path, description = "The session's id.")),
    request_body(content = OrderSubmission, description = "One order or `{\"orders\": [...]}`."),
    responses(
        (status = 201, description = "The stored offers.", body = StoredOrders),
        (status = 403, description = "The caller is not an aggregator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No session has this id.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The session's gate has closed.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn post_offers(
    State(state): State<PlatformState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer<(StatusCode, Json<StoredOrders>)> {
    submit(state, caller, id, true, body).await
}

/// `GET /api/sessions/{id}/orders`.
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/orders",
    operation_id = "listOrders",
    tag = "orders",
    summary = "The caller's orders in a session (every order for the market operator)",
    params(("id" = String, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "In intake order.", body = StoredOrders),
        (status = 404, description = "No session has this id.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list_orders(
    State(state): State<PlatformState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer<Json<StoredOrders>> {
    let platform = state.platform.clone();
    let orders = blocking(move || platform.orders(&caller, &id)).await?;
    Ok(Json(StoredOrders { orders }))
}

/// `POST /api/sessions/{id}/close`.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/close",
    operation_id = "closeSession",
    tag = "sessions",
    summary = "Close the gate now and clear, validate, publish and register (the market operator)",
    params(("id" = String, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The session, published.", body = Session),
        (status = 403, description = "The caller is not the market operator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No session has this id.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The session is already published, or its pipeline is running.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The book could not be cleared or validated; the session failed.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn close_session(
    State(state): State<PlatformState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer<Json<Session>> {
    state
        .platform
        .close_as(&caller, &id)
        .await
        .map(Json)
        .map_err(problem)
}

/// `GET /api/sessions/{id}/result`.
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/result",
    operation_id = "getResult",
    tag = "results",
    summary = "The session's result, verdicts, awards with proofs and registration",
    description = "All of it for the market operator, DSOs and TSOs; an aggregator sees its own \
        accepted offers, matches, verdicts and awards, with the prices and the registration.",
    params(("id" = String, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The outcome.", body = Outcome),
        (status = 404, description = "No session has this id.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The session has no result yet.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_result(
    State(state): State<PlatformState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer<Json<Outcome>> {
    state
        .platform
        .outcome(&caller, &id)
        .map(Json)
        .map_err(problem)
}

/// `GET /api/sessions/{id}/awards/{order}`.
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/awards/{order}",
    operation_id = "getAward",
    tag = "results",
    summary = "One award with its Merkle proof against the registered awards root",
    params(
        ("id" = String, Path, description = "The session's id."),
        ("order" = String, Path, description = "The order's id."),
    ),
    responses(
        (status = 200, description = "The award and its proof.", body = CertifiedAward),
        (status = 404, description = "No such session, or no award of this order the caller may see.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The session has no result yet.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_award(
    State(state): State<PlatformState>,
    caller: Caller,
    Path((id, order)): Path<(String, String)>,
) -> Answer<Json<CertifiedAward>> {
    state
        .platform
        .award(&caller, &id, &order)
        .map(Json)
        .map_err(problem)
}

/// `GET /api/sessions/{id}/audit`.
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/audit",
    operation_id = "getAudit",
    tag = "sessions",
    summary = "Every state change of the session, with time and actor (the market operator)",
    params(("id" = String, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "Oldest first.", body = Vec<AuditEntry>),
        (status = 403, description = "The caller is not the market operator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No session has this id.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_audit(
    State(state): State<PlatformState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer<Json<Vec<AuditEntry>>> {
    let platform = state.platform.clone();
    blocking(move || platform.audit_trail(&caller, &id))
        .await
        .map(Json)
}

/// `POST /api/sessions/{id}/baselines`.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/baselines",
    operation_id = "declareBaselines",
    tag = "settlement",
    summary = "Declare baselines for the caller's accepted offers (aggregators)",
    params(("id" = String, Path, description = "The session's id.")),
    request_body = BaselineDeclaration,
    responses(
        (status = 200, description = "The caller's declared baselines (order → baseline).", body = BTreeMap<String, f64>),
        (status = 403, description = "The caller is not an aggregator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No session has this id.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The session is not published (or already settled).", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn declare_baselines(
    State(state): State<PlatformState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer<Json<BTreeMap<String, f64>>> {
    let declaration: BaselineDeclaration = json_body(&body)?;
    let platform = state.platform.clone();
    blocking(move || platform.declare_baselines(&caller, &id, declaration))
        .await
        .map(Json)
}

/// `POST /api/sessions/{id}/settle`.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/settle",
    operation_id = "settleSession",
    tag = "settlement",
    summary = "Settle a published session against metered values and mint tokens (the market operator)",
    params(("id" = String, Path, description = "The session's id.")),
    request_body = SettlementInput,
    responses(
        (status = 200, description = "The settlement.", body = SettlementReport),
        (status = 403, description = "The caller is not the market operator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No session has this id.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The session is not published (or already settled).", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn settle_session(
    State(state): State<PlatformState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer<Json<SettlementReport>> {
    let mut input: SettlementInput = json_body(&body)?;
    let platform = state.platform.clone();
    match input.from_scd.take() {
        Some(settings) => platform
            .settle_from_scd(&caller, &id, &settings, input)
            .await
            .map_err(problem)?,
        None => {
            let (platform, caller, id) = (platform.clone(), caller.clone(), id.clone());
            blocking(move || platform.settle(&caller, &id, input)).await?
        }
    }
    // The tokens on chain now when it answers; else the clock tries again (see /health).
    if platform.market_chain().is_some()
        && let Err(e) = platform.mint_settlements().await
    {
        tracing::warn!("session {id}: tokens not minted yet: {e}");
    }
    blocking(move || platform.settlement(&caller, &id))
        .await
        .map(Json)
}

/// `GET /api/sessions/{id}/settlement`.
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/settlement",
    operation_id = "getSettlement",
    tag = "settlement",
    summary = "Per accepted offer: baseline, ordered, delivered, deficiency, payment, tokens",
    description = "All of it for the market operator, DSOs and TSOs; an aggregator its own, with \
        its token balance.",
    params(("id" = String, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The settlement.", body = SettlementReport),
        (status = 404, description = "No session has this id.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The session is not settled.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_settlement(
    State(state): State<PlatformState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer<Json<SettlementReport>> {
    state
        .platform
        .settlement(&caller, &id)
        .map(Json)
        .map_err(problem)
}

/// What `GET /health` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthAnswer {
    /// `ok`, or `degraded` while the store cannot be reached or outcomes, registrations or
    /// mints wait for their engine.
    pub status: String,
    /// The crate version.
    pub version: String,
    /// The store (`sqlite:PATH`, `postgres://HOST:PORT/DB`).
    pub store: String,
    /// `ok`, or why the store cannot be reached now.
    pub store_status: String,
    /// The ledger results are registered on.
    pub ledger: String,
    /// How many sessions the platform holds.
    pub sessions: usize,
    /// The delivery of outcomes on the bus, when configured: `ok`, or why the last delivery
    /// failed (tried again every clock tick).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_delivery: Option<String>,
    /// The market's contracts, when configured: `ok`, or why the last registration or mint
    /// failed (tried again every clock tick).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_chain: Option<String>,
}

/// `GET /health`.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "operations",
    summary = "Liveness",
    security(()),
    responses((status = 200, description = "The platform runs.", body = HealthAnswer)),
)]
pub async fn health(State(state): State<PlatformState>) -> Answer<Json<HealthAnswer>> {
    let sessions = state.platform.sessions().map_err(problem)?.len();
    let failure = state.platform.delivery_failure();
    let chain_failure = state.platform.chain_failure();
    let store = state.platform.store().clone();
    let store_failure = blocking(move || Ok(store.check().err()))
        .await?
        .map(|e| e.to_string());
    let degraded = failure.is_some() || chain_failure.is_some() || store_failure.is_some();
    Ok(Json(HealthAnswer {
        status: if degraded { "degraded" } else { "ok" }.into(),
        store: state.platform.store().name(),
        store_status: store_failure.unwrap_or_else(|| "ok".into()),
        market_chain: state
            .platform
            .market_chain()
            .map(|_| chain_failure.unwrap_or_else(|| "ok".into())),
        outcome_delivery: state
            .platform
            .delivers_outcomes()
            .then(|| failure.unwrap_or_else(|| "ok".into())),
        version: env!("CARGO_PKG_VERSION").into(),
        ledger: state.platform.ledger().name(),
        sessions,
    }))
}
