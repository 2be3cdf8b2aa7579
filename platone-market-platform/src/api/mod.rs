//! The REST API (axum) over a [`MarketPlatform`].
//!
//! Every route but `/health`, `/metrics` and `/api/openapi.json` needs a bearer token
//! ([`platone_service::Authentication`]); the token's subject is the participant, its roles
//! (`market-operator`, `dso`, `tso`, `aggregator`) what it may do. Every error answer is an
//! RFC 9457 problem.
//!
//! | method | path | who | answer |
//! |---|---|---|---|
//! | POST | `/api/sessions` | market operator | the open session (201) |
//! | GET | `/api/sessions`, `/api/sessions/{id}` | anyone | sessions |
//! | POST | `/api/sessions/{id}/requests` | DSO, TSO | the stored requests (201) |
//! | POST | `/api/sessions/{id}/offers` | aggregator | the stored offers (201) |
//! | GET | `/api/sessions/{id}/orders` | anyone | the caller's orders (all for the operator) |
//! | POST | `/api/sessions/{id}/close` | market operator | the published session |
//! | GET | `/api/sessions/{id}/result` | anyone | the outcome as the caller may see it |
//! | GET | `/api/sessions/{id}/awards/{order}` | the order's participant, operator, DSO, TSO | the award and its proof |
//! | GET | `/api/sessions/{id}/audit` | market operator | the audit trail |
//! | POST | `/api/sessions/{id}/baselines` | aggregator | its declared baselines |
//! | POST | `/api/sessions/{id}/settle` | market operator | the settlement; tokens minted |
//! | GET | `/api/sessions/{id}/settlement` | anyone | the settlement as the caller may see it, its token balance |

mod handlers;

use axum::Router;
use axum::extract::{FromRef, Request};
use axum::routing::{get, post};
use platone_service::openapi::{OPENAPI_PATH, document_route};
use platone_service::{Authentication, Problem, Telemetry, track_requests};
use utoipa::OpenApi;

pub use handlers::{HealthAnswer, OrderSubmission, StoredOrders};

use crate::MarketPlatform;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct PlatformState {
    /// The platform.
    pub platform: MarketPlatform,
    /// Checks the callers' tokens.
    pub authentication: Authentication,
}

impl FromRef<PlatformState> for Authentication {
    fn from_ref(state: &PlatformState) -> Self {
        state.authentication.clone()
    }
}

/// How the document describes a bearer token.
const BEARER: &str = "An OAuth 2.0 access token (JWT) of the configured OpenID Connect issuer \
    or of the platform's embedded issuer (`POST /oauth/token`, client-credentials grant). Its \
    subject is the participant; its roles (`market-operator`, `dso`, `tso`, `aggregator`) say \
    what it may do.";

/// The Market Platform's API, as derived from its handlers (see [`document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Platone Market Platform",
        description = "Flexibility market sessions: DSOs and TSOs post requests, aggregators \
            offers; at gate closure each session is cleared, validated against the grid, \
            published and registered on the ledger, every award with its Merkle proof. Every \
            error answer is an RFC 9457 problem (`application/problem+json`) with `error` and \
            `at`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        handlers::create_session,
        handlers::list_sessions,
        handlers::get_session,
        handlers::post_requests,
        handlers::post_offers,
        handlers::list_orders,
        handlers::close_session,
        handlers::get_result,
        handlers::get_award,
        handlers::get_audit,
        handlers::declare_baselines,
        handlers::settle_session,
        handlers::get_settlement,
        handlers::health,
        platone_service::metrics,
        platone_service::openapi::serve_document,
    ),
    tags(
        (name = "sessions", description = "Market sessions and their life."),
        (name = "orders", description = "Requests and offers."),
        (name = "results", description = "Results, awards and their proofs."),
        (name = "settlement", description = "Baselines, settlement and tokens."),
        (name = "operations", description = "Health, metrics and this document."),
    ),
)]
pub struct PlatformApi;

/// The whole document: [`PlatformApi`] completed with the shared answers and the bearer
/// scheme.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = PlatformApi::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").into();
    platone_service::openapi::complete(&mut document, BEARER);
    document
}

/// The REST API over `state`.
pub fn router(state: PlatformState) -> Router {
    let telemetry = Telemetry::new("platone_market", |_| {});
    let document = match document_route(&document()) {
        Ok(route) => route,
        Err(e) => {
            let problem = Problem::internal("openapi", e);
            get(move || std::future::ready(problem.clone()))
        }
    };
    Router::new()
        .route(
            "/api/sessions",
            post(handlers::create_session).get(handlers::list_sessions),
        )
        .route("/api/sessions/{id}", get(handlers::get_session))
        .route("/api/sessions/{id}/requests", post(handlers::post_requests))
        .route("/api/sessions/{id}/offers", post(handlers::post_offers))
        .route("/api/sessions/{id}/orders", get(handlers::list_orders))
        .route("/api/sessions/{id}/close", post(handlers::close_session))
        .route("/api/sessions/{id}/result", get(handlers::get_result))
        .route(
            "/api/sessions/{id}/awards/{order}",
            get(handlers::get_award),
        )
        .route("/api/sessions/{id}/audit", get(handlers::get_audit))
        .route(
            "/api/sessions/{id}/baselines",
            post(handlers::declare_baselines),
        )
        .route("/api/sessions/{id}/settle", post(handlers::settle_session))
        .route(
            "/api/sessions/{id}/settlement",
            get(handlers::get_settlement),
        )
        .route("/health", get(handlers::health))
        .route(
            "/metrics",
            get(platone_service::metrics).with_state(telemetry.clone()),
        )
        .route(OPENAPI_PATH, document)
        .fallback(|request: Request| async move {
            Problem::not_found(
                "path",
                format!("no route {} {}", request.method(), request.uri().path()),
            )
        })
        .method_not_allowed_fallback(|request: Request| async move {
            Problem::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method",
                format!(
                    "{} is not served at {}",
                    request.method(),
                    request.uri().path()
                ),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            telemetry,
            track_requests,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_whole_and_protects_every_data_route() {
        let doc = document();
        let unresolved = platone_service::openapi::unresolved_references(&doc);
        assert!(unresolved.is_empty(), "{unresolved:?}");
        let json = serde_json::to_value(&doc).unwrap();
        let paths = json["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 15, "{:?}", paths.keys().collect::<Vec<_>>());
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let public = op["security"] == serde_json::json!([]);
                assert_eq!(
                    public,
                    !path.starts_with("/api/sessions"),
                    "{method} {path}"
                );
            }
        }
    }
}
