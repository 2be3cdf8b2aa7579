//! The DSOTP's REST API (axum, through `platone-service`: TLS, OIDC or embedded tokens,
//! RFC 9457 problems, OpenMetrics).
//!
//! Every route but `/health` and `/metrics` needs a bearer token with the role `dso` or
//! `dsotp-operator`.
//!
//! | method | path | answer |
//! |---|---|---|
//! | POST | `/api/estimations` | estimate now (body optional: `{"measurements": <platone-grid-measurements/1>}`) → 201 `{"id"}` |
//! | GET | `/api/estimations` | the estimations kept, oldest first |
//! | GET | `/api/estimations/{id}` | state (`buses` as `platone grid se`), residuals, bad data, unobservable buses |
//! | GET | `/api/timeseries?device=&component=&kind=&from=&to=&every=&after=&limit=` | raw measurements or, with `every` (s), intervals |
//! | GET | `/api/grid` | the grid model (MATPOWER tables) |
//! | GET | `/api/validations` | the validation service's counts (answered, red, dead-lettered) |
//! | POST | `/api/activations` | dispatch an activation → 202 its status (every set point published) |
//! | GET | `/api/activations`, `/api/activations/{id}` | activations; set point and acknowledgement per PoD, with certification proofs |
//! | GET | `/api/setpoints/{pod}?from=&to=` | the set points stored for a PoD, with their acknowledgements |
//! | GET | `/health` | the services' state; `degraded` while a step fails |

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRef, Query, Request, State};
use axum::http::StatusCode;
use axum::routing::get;
use platone_scd::Principal;
use platone_service::{
    Authentication, Identity, PathParams as Path, Problem, Telemetry, track_requests,
};
use serde::Deserialize;

use crate::error::DsotpError;
use crate::platform::{Dsotp, DsotpHealth};
use crate::timeseries::SeriesQuery;

/// The roles that may use the API.
pub const ROLES: [&str; 2] = ["dso", "dsotp-operator"];

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct DsotpState {
    /// The services.
    pub dsotp: Dsotp,
    /// Checks the callers' tokens.
    pub authentication: Authentication,
}

impl FromRef<DsotpState> for Authentication {
    fn from_ref(state: &DsotpState) -> Self {
        state.authentication.clone()
    }
}

type Answer<T> = Result<T, Problem>;

impl DsotpError {
    /// The error as an RFC 9457 problem (status and `at`).
    pub fn problem(&self) -> Problem {
        let (status, at) = match self {
            DsotpError::Invalid { at, .. } => (StatusCode::BAD_REQUEST, at.as_str()),
            DsotpError::NotFound { what, .. } => (StatusCode::NOT_FOUND, *what),
            DsotpError::Grid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "grid"),
            DsotpError::Bus(_) => (StatusCode::SERVICE_UNAVAILABLE, "bus"),
            DsotpError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "dsotp"),
        };
        let detail = match self {
            DsotpError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        Problem::new(status, at, detail)
    }
}

fn problem(e: DsotpError) -> Problem {
    e.problem()
}

/// Refuses callers without a DSOTP role.
pub fn require_operator(caller: &Identity) -> Answer<()> {
    if ROLES.iter().any(|r| caller.roles.contains(*r)) {
        Ok(())
    } else {
        Err(Problem::forbidden(
            "Authorization",
            format!("{} has none of the roles {ROLES:?}", caller.subject),
        ))
    }
}

/// 409 `at: grid`: the route needs the grid model the platform was started without.
fn no_grid() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "grid",
        "the platform runs without a grid model (--grid CASE.m)",
    )
}

fn estimator(state: &DsotpState) -> Answer<&crate::estimation::StateEstimator> {
    state.dsotp.estimator().ok_or_else(no_grid)
}

/// `POST /api/estimations`.
async fn post_estimation(
    caller: Identity,
    State(state): State<DsotpState>,
    body: Bytes,
) -> Answer<(StatusCode, Json<serde_json::Value>)> {
    require_operator(&caller)?;
    let estimator = estimator(&state)?;
    let given = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            #[serde(default)]
            measurements: Option<serde_json::Value>,
        }
        let parsed: Body = serde_json::from_slice(&body).map_err(|e| {
            Problem::bad_request(
                "body",
                format!("line {}, column {}: {e}", e.line(), e.column()),
            )
        })?;
        match parsed.measurements {
            None => None,
            Some(document) => {
                let bytes = serde_json::to_vec(&document)
                    .map_err(|e| Problem::bad_request("measurements", e))?;
                Some(
                    platone_grid::parse_measurement_file(&bytes)
                        .map_err(|e| Problem::bad_request("measurements", e))?,
                )
            }
        }
    };
    let estimation = estimator.trigger(given).await.map_err(problem)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"id": estimation.id})),
    ))
}

/// `GET /api/estimations`.
async fn list_estimations(
    caller: Identity,
    State(state): State<DsotpState>,
) -> Answer<Json<Vec<crate::estimation::EstimationSummary>>> {
    require_operator(&caller)?;
    Ok(Json(estimator(&state)?.estimations()))
}

/// `GET /api/estimations/{id}`.
async fn get_estimation(
    caller: Identity,
    State(state): State<DsotpState>,
    Path(id): Path<String>,
) -> Answer<Json<crate::estimation::Estimation>> {
    require_operator(&caller)?;
    let estimation = estimator(&state)?.estimation(&id).map_err(problem)?;
    Ok(Json((*estimation).clone()))
}

/// `GET /api/timeseries`.
async fn get_timeseries(
    caller: Identity,
    State(state): State<DsotpState>,
    query: Result<Query<SeriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<Json<crate::timeseries::SeriesAnswer>> {
    require_operator(&caller)?;
    let Query(query) = query.map_err(|e| Problem::bad_request("query", e.body_text()))?;
    let answer = query
        .run(state.dsotp.store().as_ref(), &Principal::Operator)
        .await
        .map_err(problem)?;
    Ok(Json(answer))
}

/// `GET /api/grid`.
async fn get_grid(
    caller: Identity,
    State(state): State<DsotpState>,
) -> Answer<Json<serde_json::Value>> {
    require_operator(&caller)?;
    let network = &estimator(&state)?.config().network;
    Ok(Json(serde_json::json!({
        "base_mva": network.base_mva,
        "buses": network.buses,
        "generators": network.generators,
        "branches": network.branches,
    })))
}

/// `GET /api/validations`.
async fn get_validations(
    caller: Identity,
    State(state): State<DsotpState>,
) -> Answer<Json<crate::validation::ValidationStats>> {
    require_operator(&caller)?;
    let service = state.dsotp.validation().ok_or_else(no_grid)?;
    Ok(Json(service.stats()))
}

fn dispatcher(state: &DsotpState) -> Answer<&crate::dispatch::Dispatcher> {
    state.dsotp.dispatcher().ok_or_else(|| {
        Problem::new(
            StatusCode::CONFLICT,
            "dispatch",
            "the platform runs without set-point dispatch",
        )
    })
}

/// `POST /api/activations`.
async fn post_activation(
    caller: Identity,
    State(state): State<DsotpState>,
    body: Bytes,
) -> Answer<(StatusCode, Json<crate::dispatch::ActivationStatus>)> {
    require_operator(&caller)?;
    let activation = crate::dispatch::Activation::from_json(&body).map_err(problem)?;
    dispatcher(&state)?;
    // On a task of its own: a client that goes away does not cut the dispatch short.
    let dsotp = state.dsotp.clone();
    let status = tokio::spawn(async move {
        match dsotp.dispatcher() {
            Some(d) => d.dispatch(activation).await,
            None => Err(DsotpError::Service("no dispatcher".into())),
        }
    })
    .await
    .map_err(|e| Problem::internal("dispatch", e))?
    .map_err(problem)?;
    Ok((StatusCode::ACCEPTED, Json(status)))
}

/// `GET /api/activations`.
async fn list_activations(
    caller: Identity,
    State(state): State<DsotpState>,
) -> Answer<Json<Vec<crate::dispatch::ActivationSummary>>> {
    require_operator(&caller)?;
    Ok(Json(dispatcher(&state)?.activations()))
}

/// `GET /api/activations/{id}`.
async fn get_activation(
    caller: Identity,
    State(state): State<DsotpState>,
    Path(id): Path<String>,
) -> Answer<Json<crate::dispatch::ActivationStatus>> {
    require_operator(&caller)?;
    Ok(Json(dispatcher(&state)?.status(&id).map_err(problem)?))
}

/// The window of `GET /api/setpoints/{pod}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Window {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/setpoints/{pod}`.
async fn get_set_points(
    caller: Identity,
    State(state): State<DsotpState>,
    Path(pod): Path<String>,
    window: Result<Query<Window>, axum::extract::rejection::QueryRejection>,
) -> Answer<Json<Vec<platone_scd::StoredSetPoint>>> {
    require_operator(&caller)?;
    let Query(window) = window.map_err(|e| Problem::bad_request("query", e.body_text()))?;
    let pod = platone_model::PodId::new(&pod).map_err(|e| Problem::bad_request("pod", e))?;
    let time = |name: &str, v: &Option<String>, default: chrono::DateTime<chrono::FixedOffset>| {
        v.as_deref()
            .map(|t| platone_model::parse_timestamp(t).map_err(|e| Problem::bad_request(name, e)))
            .transpose()
            .map(|t| t.unwrap_or(default))
    };
    let now = chrono::Utc::now().fixed_offset();
    let from = time("from", &window.from, now - chrono::TimeDelta::days(1))?;
    let to = time("to", &window.to, now + chrono::TimeDelta::days(1))?;
    let stored = state
        .dsotp
        .store()
        .set_points(&Principal::Operator, &pod, from, to)
        .await
        .map_err(|e| problem(DsotpError::store(e)))?;
    Ok(Json(stored))
}

/// `GET /health`.
async fn health(State(state): State<DsotpState>) -> Json<DsotpHealth> {
    Json(state.dsotp.health())
}

/// The REST API over `state`, with `more` routes (validations, activations) merged in.
pub fn router(state: DsotpState, more: Router<DsotpState>) -> Router {
    let telemetry = Telemetry::new("platone_dsotp", |_| {});
    Router::new()
        .route(
            "/api/estimations",
            get(list_estimations).post(post_estimation),
        )
        .route("/api/estimations/{id}", get(get_estimation))
        .route("/api/timeseries", get(get_timeseries))
        .route("/api/grid", get(get_grid))
        .route("/api/validations", get(get_validations))
        .route(
            "/api/activations",
            get(list_activations).post(post_activation),
        )
        .route("/api/activations/{id}", get(get_activation))
        .route("/api/setpoints/{pod}", get(get_set_points))
        .route("/health", get(health))
        .route(
            "/metrics",
            get(platone_service::metrics).with_state(telemetry.clone()),
        )
        .merge(more)
        .fallback(|request: Request| async move {
            Problem::not_found(
                "path",
                format!("no route {} {}", request.method(), request.uri().path()),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            telemetry,
            track_requests,
        ))
        .with_state(state)
}
