//! Metrics in the Prometheus/OpenMetrics text format through `prometheus-client`: every
//! service's request counts and latency histograms per route, and whatever the service adds.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The media type of the metrics document.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request no route matched (kept apart so that scanned paths cannot
/// grow the label sets).
pub const UNMATCHED_ROUTE: &str = "(unmatched)";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s, doubling.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// A service's metrics registry, with `PREFIX_http_responses_total{method,route,status}` and
/// `PREFIX_http_request_duration_seconds{method,route}` (a histogram) counted by
/// [`track_requests`]. Cheap to clone.
///
/// ```
/// use platone_service::Telemetry;
/// use prometheus_client::metrics::counter::Counter;
///
/// let packets = Counter::<u64>::default();
/// let telemetry = Telemetry::new("platone_demo", |registry| {
///     registry.register("platone_demo_packets", "Packets received.", packets.clone());
/// });
/// packets.inc();
/// let text = telemetry.encode();
/// assert!(text.contains("platone_demo_packets_total 1"));
/// assert!(text.ends_with("# EOF\n"));
/// ```
#[derive(Clone)]
pub struct Telemetry {
    registry: Arc<Registry>,
    responses: Family<ResponseLabels, Counter>,
    latency: LatencyFamily,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Telemetry {
    /// A registry with the HTTP metrics named under `prefix`, and what `add` registers.
    pub fn new(prefix: &str, add: impl FnOnce(&mut Registry)) -> Self {
        let mut registry = Registry::default();
        let responses = Family::<ResponseLabels, Counter>::default();
        registry.register(
            format!("{prefix}_http_responses"),
            "HTTP responses by method, route and status.",
            responses.clone(),
        );
        let latency = LatencyFamily::new_with_constructor(latency_histogram);
        registry.register(
            format!("{prefix}_http_request_duration_seconds"),
            "Time from a request's arrival to its response, by method and route.",
            latency.clone(),
        );
        add(&mut registry);
        Telemetry {
            registry: Arc::new(registry),
            responses,
            latency,
        }
    }

    /// Everything registered, in the OpenMetrics text format (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!("metrics not encoded: {e}");
        }
        text
    }

    /// The `GET /metrics` answer.
    pub fn response(&self) -> Response {
        (
            [(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS_TEXT))],
            self.encode(),
        )
            .into_response()
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.responses
            .get_or_create(&ResponseLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }
}

/// `GET /metrics`: everything `telemetry` holds, in the OpenMetrics text format. Route it with
/// `get(metrics).with_state(telemetry)`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    security(()),
    responses((
        status = 200,
        description = "The service's counters, its responses by route and status \
            (`…_http_responses_total`) and its latency histograms by route \
            (`…_http_request_duration_seconds`), in the OpenMetrics text format.",
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8",
        body = String,
    )),
)]
pub async fn metrics(axum::extract::State(telemetry): axum::extract::State<Telemetry>) -> Response {
    telemetry.response()
}

/// Middleware counting every response and timing it, by the route that matched (the route's
/// pattern, not the path, so labels stay few). Add it with
/// `axum::middleware::from_fn_with_state(telemetry, track_requests)` as the router's layer.
pub async fn track_requests(
    State(telemetry): State<Telemetry>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    telemetry.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn responses_are_counted_and_timed_by_route_pattern() {
        let telemetry = Telemetry::new("t", |_| {});
        let app = Router::new()
            .route("/items/{id}", get(|| async { "item" }))
            .layer(axum::middleware::from_fn_with_state(
                telemetry.clone(),
                track_requests,
            ));
        for path in ["/items/1", "/items/2", "/nothing/here"] {
            let request = Request::get(path).body(Body::empty()).unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        let text = telemetry.encode();
        assert!(
            text.contains(
                r#"t_http_responses_total{method="GET",route="/items/{id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"t_http_responses_total{method="GET",route="(unmatched)",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"t_http_request_duration_seconds_count{method="GET",route="/items/{id}"} 2"#
            ),
            "{text}"
        );
    }
}
