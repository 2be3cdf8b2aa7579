//! The BAL's REST API (axum): subscriptions with their certificates, measurements with their
//! proofs and anchor status, verification, batches, health, metrics and the OpenAPI document.
//!
//! Every route but `/health`, `/ready`, `/metrics` and `/api/openapi.json` needs an
//! `Authorization: Bearer TOKEN` header whose token the context's
//! [`Authentication`](platone_service::Authentication) accepts ([`crate::security`]); the
//! token's subject is the participant, and the participant or role `dso` reads as the store's
//! operator. Every error answer is an RFC 9457 problem (`application/problem+json`) with
//! `error` (what is wrong) and `at` (the parameter or field), and every request counts in
//! `platone_bal_http_requests_total`. When the embedded issuer runs, its routes
//! (`POST /oauth/token`, `/.well-known/openid-configuration`, `/.well-known/jwks.json`) are
//! served beside these.
//!
//! | method | path | answer |
//! |---|---|---|
//! | POST | `/api/certification` | the certified subscription (status `Requested`) |
//! | GET | `/api/certification/{topic}` | the topic's subscriptions the caller takes part in |
//! | POST | `/api/certification/{id}/accept` | the accepted, certified subscription |
//! | POST | `/api/certification/{id}/decline` | the declined, certified subscription |
//! | GET | `/api/measurements` | `{"items": [{measurement, proof, anchor}], "next"}`; by `Accept`, SAREF RDF (`text/turtle`, `application/ld+json`, `application/n-triples`) with the certification references |
//! | POST | `/api/verify` | `{"verified", "reason"}` |
//! | GET | `/api/batches/{id}` | the batch's ledger entry |
//! | GET | `/health` | liveness: 200 unless a task has stopped (503), with each engine's state |
//! | GET | `/ready` | readiness: 200 only while every engine is available and no task stopped |
//! | GET | `/metrics` | OpenMetrics text: the BAL's counters (`platone_bal_…_total`), responses by route and status (`platone_bal_http_responses_total`), latency histograms by route (`platone_bal_http_request_duration_seconds`) |
//! | GET | `/api/openapi.json` | OpenAPI 3.1 |
//!
//! A topic or batch id contains `/`: both routes take the rest of the path, and accept it
//! percent-encoded too (`/api/certification/pod%2FIT001`).
//!
//! ```
//! use std::sync::Arc;
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use platone_bal::{BalConfig, BalContext, Metrics, RecordCertifier, static_tokens};
//! use platone_certify::{FileLedger, Scheme};
//! use platone_scd::{AnyStore, SqliteStore};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let mut config = BalConfig::default();
//! config.add_token("cust-1=secret")?;
//! let ledger: Arc<dyn platone_certify::Ledger> =
//!     Arc::new(FileLedger::open(dir.path().join("ledger"))?);
//! let ctx = BalContext {
//!     authentication: platone_service::Authentication::new(static_tokens(&config)?),
//!     config: Arc::new(config),
//!     store: AnyStore::Sqlite(SqliteStore::open(dir.path().join("scd.db")).await?),
//!     records: Arc::new(RecordCertifier::open(Scheme::Keccak, &*ledger).await?),
//!     ledger,
//!     metrics: Arc::new(Metrics::default()),
//!     health: platone_bal::Health::new(),
//!     broker_access: None,
//! };
//! let app = platone_bal::router(ctx);
//! let health = app.clone().oneshot(Request::get("/health").body(Body::empty())?).await?;
//! assert_eq!(health.status(), StatusCode::OK);
//! // Without a bearer token the data routes answer 401.
//! let denied = app
//!     .oneshot(Request::get("/api/measurements?pod=IT001").body(Body::empty())?)
//!     .await?;
//! assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(denied.headers()["www-authenticate"], "Bearer realm=\"platone\"");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod batches;
mod certification;
mod measurements;
mod negotiate;
mod openapi;
mod problem;
mod verify;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;

use crate::context::BalContext;
use crate::metrics::{Metrics, MetricsCollector, MetricsSnapshot};
use platone_service::openapi::{OPENAPI_PATH, document_route};
use platone_service::{Telemetry, track_requests};

pub use auth::Caller;
pub use batches::BatchAnswer;
pub use certification::{CertifiedSubscription, SubscriptionRequest};
pub use measurements::{
    DEFAULT_LIMIT, MAX_LIMIT, MeasurementItem, MeasurementPage, certification_ref,
};
pub use negotiate::{MEDIA_TYPES, Representation, negotiate};
pub use openapi::{BalApi, document};
pub use platone_service::bearer_token;
pub use problem::{ApiError, store_problem};
pub use verify::VerifyAnswer;

/// One route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method.
    pub method: &'static str,
    /// The path as routed (`{*rest}` takes the rest of the path, slashes included).
    pub path: &'static str,
    /// The path as the OpenAPI document names it.
    pub documented: &'static str,
    /// Whether it needs a bearer token.
    pub authenticated: bool,
}

const fn route(
    method: &'static str,
    path: &'static str,
    documented: &'static str,
    authenticated: bool,
) -> Route {
    Route {
        method,
        path,
        documented,
        authenticated,
    }
}

const CERTIFICATION: &str = "/api/certification";
/// Topics contain `/`, so the topic listing takes the rest of the path, and the accept and
/// decline routes share it (a catch-all route cannot sit beside `{id}/accept`).
const CERTIFICATION_REST: &str = "/api/certification/{*rest}";
const MEASUREMENTS: &str = "/api/measurements";
const VERIFY: &str = "/api/verify";
const BATCH: &str = "/api/batches/{*id}";
const HEALTH: &str = "/health";
const READY: &str = "/ready";
const METRICS: &str = "/metrics";
const OPENAPI: &str = OPENAPI_PATH;

/// Every route [`router`] serves.
pub const ROUTES: &[Route] = &[
    route("POST", CERTIFICATION, CERTIFICATION, true),
    route(
        "GET",
        CERTIFICATION_REST,
        "/api/certification/{topic}",
        true,
    ),
    route(
        "POST",
        CERTIFICATION_REST,
        "/api/certification/{id}/accept",
        true,
    ),
    route(
        "POST",
        CERTIFICATION_REST,
        "/api/certification/{id}/decline",
        true,
    ),
    route("GET", MEASUREMENTS, MEASUREMENTS, true),
    route("POST", VERIFY, VERIFY, true),
    route("GET", BATCH, "/api/batches/{id}", true),
    route("GET", HEALTH, HEALTH, false),
    route("GET", READY, READY, false),
    route("GET", METRICS, METRICS, false),
    route("GET", OPENAPI, OPENAPI, false),
];

/// The REST API over `ctx`, with exactly the [`ROUTES`].
pub fn router(ctx: BalContext) -> Router {
    let telemetry = Telemetry::new("platone_bal", |registry| {
        registry.register_collector(Box::new(MetricsCollector(ctx.metrics.clone())));
    });
    let document = match document_route(&openapi::document(ctx.config.api.public_url.as_deref())) {
        Ok(route) => route,
        Err(e) => {
            let problem = ApiError::internal("openapi", e);
            get(move || std::future::ready(problem.clone()))
        }
    };
    Router::new()
        .route(CERTIFICATION, post(certification::request))
        .route(
            CERTIFICATION_REST,
            get(certification::list).post(certification::act),
        )
        .route(MEASUREMENTS, get(measurements::list))
        .route(VERIFY, post(verify::verify))
        .route(BATCH, get(batches::get))
        .route(HEALTH, get(health))
        .route(READY, get(ready))
        .route(
            METRICS,
            get(platone_service::metrics).with_state(telemetry.clone()),
        )
        .route(OPENAPI, document)
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(ctx.clone(), count_request))
        .layer(middleware::from_fn_with_state(telemetry, track_requests))
        .with_state(ctx)
}

async fn count_request(State(ctx): State<BalContext>, request: Request, next: Next) -> Response {
    Metrics::add(&ctx.metrics.http_requests, 1);
    next.run(request).await
}

async fn no_route(request: Request) -> ApiError {
    ApiError::not_found(
        "path",
        format!("no route {} {}", request.method(), request.uri().path()),
    )
}

async fn wrong_method(request: Request) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method",
        format!(
            "{} is not served at {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// What `GET /health` and `GET /ready` answer: the report's `status` (`ok`; `degraded` while
/// an engine — the SCD, the ledger, the broker — is unavailable and being retried; `failed`
/// once a task has stopped), `engines` and `failed_tasks`, beside these.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// The crate version.
    #[schema(value_type = String)]
    pub version: &'static str,
    /// The ledger's name.
    pub ledger: String,
    /// Each engine's state, and the tasks that stopped.
    #[serde(flatten)]
    pub report: crate::health::HealthReport,
    /// The counters now.
    pub metrics: MetricsSnapshot,
}

fn health_of(ctx: &BalContext) -> Health {
    let report = ctx.health.report();
    Health {
        version: env!("CARGO_PKG_VERSION"),
        ledger: ctx.ledger.name(),
        report,
        metrics: ctx.metrics.snapshot(),
    }
}

/// Liveness: 200 while every task runs (an unavailable engine is waited for, and shows as
/// `degraded`), 503 once one has stopped.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "operations",
    summary = "Liveness, each engine's state and the counters",
    security(()),
    responses(
        (status = 200, description = "Every task runs (an unavailable engine shows as \
            `degraded`).", body = Health),
        (status = 503, description = "A task has stopped (`failed`).", body = Health),
    ),
)]
async fn health(State(ctx): State<BalContext>) -> (StatusCode, Json<Health>) {
    let health = health_of(&ctx);
    let status = if health.report.is_alive() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health))
}

/// Readiness: 200 only while packets are taken and certified (every engine available, every
/// task running), else 503 with why.
#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "ready",
    tag = "operations",
    summary = "Readiness: packets are taken and certified",
    security(()),
    responses(
        (status = 200, description = "Every engine is available and every task runs.", body = Health),
        (status = 503, description = "An engine is unavailable or a task has stopped; the \
            answer says which.", body = Health),
    ),
)]
async fn ready(State(ctx): State<BalContext>) -> (StatusCode, Json<Health>) {
    let health = health_of(&ctx);
    let status = if health.report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health))
}
