//! What one client may ask of a service: body and header sizes, a request rate per client
//! address, and the request id every answer and log line carries.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::Problem;

/// The header carrying a request's id (taken from the client when it sends one).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Bounds on what one client may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// The largest request head (request line and headers), in bytes (431 beyond); at least
    /// 8,192.
    pub max_header_bytes: usize,
    /// Requests per second one client address may make, sustained (429 beyond, with
    /// `Retry-After`); 0 turns rate limiting off.
    pub requests_per_second: u32,
    /// Requests one client address may make at once, beyond the sustained rate.
    pub burst: u32,
}

impl Default for Limits {
    /// 1 MiB bodies, 64 KiB heads, 100 requests/s per client address with bursts of 200.
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_header_bytes: 64 << 10,
            requests_per_second: 100,
            burst: 200,
        }
    }
}

/// The client's address (the peer of the connection), or the unspecified address when the
/// service runs without connection information (in-process tests).
#[derive(Debug, Clone, Copy)]
struct PeerAddress;

impl KeyExtractor for PeerAddress {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, tower_governor::GovernorError> {
        Ok(request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()))
    }
}

/// Request ids: 16 random bytes in hex.
#[derive(Debug, Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok()?;
        HeaderValue::from_str(&hex::encode(bytes))
            .ok()
            .map(RequestId::new)
    }
}

/// `app` with the limits and request ids: every request gets an `x-request-id` (the
/// client's, or a new one), echoed in the answer and recorded in the span of its log lines;
/// bodies beyond [`Limits::max_body_bytes`] are refused with 413; clients beyond their rate
/// get 429 with `Retry-After`. The header bound is the listener's ([`crate::serve`]).
///
/// The rate limiter keeps one entry per client address; [`crate::serve`] forgets idle ones
/// every minute.
pub fn harden(app: Router, limits: &Limits) -> (Router, Option<RateLimiter>) {
    let app = app.layer(tower_http::limit::RequestBodyLimitLayer::new(
        limits.max_body_bytes,
    ));
    let (app, limiter) = with_rate_limit(app, limits);
    let traced = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        let id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = %id
        )
    });
    let app = app
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(traced)
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId));
    (app, limiter)
}

/// The per-address rate limiter of [`harden`], to forget idle addresses.
#[derive(Clone)]
pub struct RateLimiter(Arc<dyn Fn() + Send + Sync>);

impl RateLimiter {
    /// Forgets addresses whose allowance is full again (they made no request lately).
    pub fn forget_idle(&self) {
        (self.0)();
    }
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimiter")
    }
}

/// `app` behind a limiter of each client address's rate, when one is asked for.
fn with_rate_limit(app: Router, limits: &Limits) -> (Router, Option<RateLimiter>) {
    if limits.requests_per_second == 0 {
        return (app, None);
    }
    let period = Duration::from_secs(1) / limits.requests_per_second;
    let Some(config) = GovernorConfigBuilder::default()
        .period(period.max(Duration::from_nanos(1)))
        .burst_size(limits.burst.max(1))
        .key_extractor(PeerAddress)
        .use_headers()
        .finish()
    else {
        tracing::error!("rate limit {limits:?} not applicable: requests are not limited");
        return (app, None);
    };
    let config = Arc::new(config);
    let limiter = config.limiter().clone();
    let forget = RateLimiter(Arc::new(move || limiter.retain_recent()));
    let layer = GovernorLayer::new(config).error_handler(|e| too_many(&e));
    (app.layer(layer), Some(forget))
}

fn too_many(error: &tower_governor::GovernorError) -> axum::response::Response {
    match error {
        tower_governor::GovernorError::TooManyRequests { wait_time, .. } => {
            let mut problem = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "client",
                format!("too many requests from this address: retry in {wait_time} s"),
            );
            problem
                .headers
                .push((RETRY_AFTER, HeaderValue::from(*wait_time)));
            problem.into_response()
        }
        other => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "client", other).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    fn app(limits: &Limits) -> Router {
        let app = Router::new().route("/echo", post(|body: String| async move { body }));
        harden(app, limits).0
    }

    async fn post_echo(app: &Router, body: &str) -> axum::response::Response {
        let request = Request::post("/echo")
            .header("x-request-id", "client-chosen")
            .body(Body::from(body.to_owned()))
            .unwrap();
        app.clone().oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn large_bodies_are_refused_and_ids_echoed() {
        let app = app(&Limits {
            max_body_bytes: 16,
            ..Limits::default()
        });
        let small = post_echo(&app, "hello").await;
        assert_eq!(small.status(), StatusCode::OK);
        assert_eq!(small.headers()["x-request-id"], "client-chosen");
        let large = post_echo(&app, &"x".repeat(17)).await;
        assert_eq!(large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // Without a client id, one is made.
        let request = Request::post("/echo").body(Body::from("a")).unwrap();
        let answer = app.clone().oneshot(request).await.unwrap();
        let id = answer.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 32, "{id}");
    }

    #[tokio::test]
    async fn a_client_beyond_its_burst_waits() {
        let app = app(&Limits {
            requests_per_second: 1,
            burst: 3,
            ..Limits::default()
        });
        for _ in 0..3 {
            assert_eq!(post_echo(&app, "a").await.status(), StatusCode::OK);
        }
        let refused = post_echo(&app, "a").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key(RETRY_AFTER));
        assert_eq!(refused.headers()["content-type"], crate::PROBLEM_JSON);
    }
}
