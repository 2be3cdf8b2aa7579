//! # platone-service
//!
//! The HTTP side every Platone deployment (the BAL, the Market Platform, the DSOTP) shares, so
//! that none of them writes its own:
//!
//! - **Identity** — OAuth 2.0 bearer tokens checked by an [`Authenticator`]: JWTs of an OpenID
//!   Connect issuer ([`JwtValidator`] with [`OidcDiscovery`]: discovery document, JWKS, key
//!   rotation, `iss`/`aud`/`exp`/`nbf`, no `alg: none`, no HMAC), roles from a configurable
//!   claim ([`RolesClaim`]; Keycloak's `realm_access.roles` by default); an [`EmbeddedIssuer`]
//!   of client-credentials tokens for the one-machine default (secrets hashed with argon2, key
//!   kept in the data directory); [`StaticTokens`] for tests and demonstrations.
//! - **Answers** — every error an RFC 9457 [`Problem`]; 401 with `WWW-Authenticate: Bearer`,
//!   403 for a missing role.
//! - **Metrics** — a [`Telemetry`] registry (`prometheus-client`) with request counts and
//!   latency histograms per route ([`track_requests`]), served in the OpenMetrics text format.
//! - **Documents** — the OpenAPI 3.1 document a service derives from its handlers (utoipa),
//!   completed with the common problem answers and the bearer scheme ([`openapi::complete`]).
//! - **Listeners** — HTTPS with rustls, certificates reloaded on SIGHUP, client certificates
//!   optional; plain HTTP only when asked for ([`Transport`], [`serve`]).
//!
//! A handler that takes an [`Identity`] argument requires a valid token; the router's state
//! provides the authenticator through [`Authentication`]:
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, extract::FromRef, routing::get};
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode, header::AUTHORIZATION};
//! use platone_service::{Authentication, ClientSpec, EmbeddedIssuer, Identity, IssuerConfig};
//! use tower::ServiceExt;
//!
//! #[derive(Clone)]
//! struct AppState {
//!     authentication: Authentication,
//! }
//!
//! impl FromRef<AppState> for Authentication {
//!     fn from_ref(state: &AppState) -> Self {
//!         state.authentication.clone()
//!     }
//! }
//!
//! async fn whoami(caller: Identity) -> String {
//!     caller.subject
//! }
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let issuer = EmbeddedIssuer::open(IssuerConfig {
//!     issuer: "https://127.0.0.1:8443".into(),
//!     audience: "platone-bal".into(),
//!     key_file: dir.path().join("issuer-key.pem"),
//!     clients: vec![ClientSpec::parse("aggregator-1=s3cret:aggregator")?],
//!     token_lifetime: Duration::from_secs(600),
//! })?;
//! let state = AppState { authentication: Authentication::new(issuer.validator()) };
//! let app = Router::new().route("/whoami", get(whoami)).with_state(state);
//!
//! let token = issuer.issue("aggregator-1", "s3cret").await?.access_token;
//! let request = Request::get("/whoami")
//!     .header(AUTHORIZATION, format!("Bearer {token}"))
//!     .body(Body::empty())?;
//! let answer = app.clone().oneshot(request).await?;
//! assert_eq!(answer.status(), StatusCode::OK);
//!
//! let anonymous = app.oneshot(Request::get("/whoami").body(Body::empty())?).await?;
//! assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(anonymous.headers()["content-type"], "application/problem+json");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod client;
mod error;
mod identity;
mod issuer;
mod limits;
pub mod openapi;
mod problem;
mod settings;
mod telemetry;
mod tls;

pub use client::ServiceClient;
pub use error::{Result, ServiceError};
pub use identity::{
    AuthError, Authentication, Authenticator, Authenticators, FetchObserver, Identity, JwksSource,
    JwtConfig, JwtValidator, OidcDiscovery, RolesClaim, StaticJwks, StaticTokens, bearer_token,
};
pub use issuer::routes::{DISCOVERY_PATH, JWKS_PATH, TOKEN_PATH};
pub use issuer::{AccessToken, ClientSpec, EmbeddedIssuer, IssuerConfig, TokenError, hash_secret};
pub use limits::{Limits, REQUEST_ID, RateLimiter, harden};
pub use problem::{PROBLEM_JSON, PathParams, Problem};
pub use settings::{
    ISSUER_KEY_FILE, IdentitySetup, OidcSettings, ServiceIdentity, ServiceSecurity, TlsSettings,
};
/// The OpenAPI operation of [`metrics`], so that a service's document names it as
/// `platone_service::metrics`.
#[doc(hidden)]
pub use telemetry::__path_metrics;
pub use telemetry::{OPENMETRICS_TEXT, Telemetry, UNMATCHED_ROUTE, metrics, track_requests};
pub use tls::{ServeOptions, TlsFiles, Transport, serve, until_released};

/// Re-exported so that a service registers its own metrics with the same types.
pub use prometheus_client;

/// Re-exported so that a vendor's code names the same `Jwk` types as this crate.
pub use jsonwebtoken;

/// Re-exported so that a service derives its document with the same utoipa as [`openapi`].
pub use utoipa;
