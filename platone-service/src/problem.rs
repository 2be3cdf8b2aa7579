//! RFC 9457 problem details: every error answer of a Platone service.

use axum::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: `application/problem+json` with `type`, `title`, `status` and `detail`
/// (RFC 9457 §3.1), plus two extension members every Platone service sets: `at`, the
/// parameter, field, path segment or header the problem is about, and `error`, the same text as
/// `detail` (kept for clients of the earlier `{"error", "at"}` answers).
///
/// ```
/// use axum::http::StatusCode;
/// use platone_service::Problem;
///
/// let problem = Problem::new(StatusCode::BAD_REQUEST, "pod", "unknown PoD IT999");
/// let json = serde_json::to_value(&problem).unwrap();
/// assert_eq!(json["title"], "Bad Request");
/// assert_eq!(json["status"], 400);
/// assert_eq!(json["detail"], "unknown PoD IT999");
/// assert_eq!(json["at"], "pod");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    #[serde(serialize_with = "status_code")]
    pub status: StatusCode,
    /// What is wrong with this request.
    pub detail: String,
    /// Where: the parameter, field, path segment or header concerned.
    pub at: String,
    /// The same as `detail`.
    pub error: String,
    /// Headers the answer carries besides the content type (`WWW-Authenticate`, `Retry-After`).
    #[serde(skip)]
    pub headers: HeaderMap,
}

fn status_code<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    /// A problem with any status.
    pub fn new(status: StatusCode, at: impl Into<String>, detail: impl ToString) -> Self {
        let detail = detail.to_string();
        Problem {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status,
            error: detail.clone(),
            detail,
            at: at.into(),
            headers: HeaderMap::new(),
        }
    }

    /// 401 for a bearer-token request (RFC 6750 §3): `WWW-Authenticate: Bearer` with
    /// `error="invalid_token"` and the reason, when a token was given.
    pub fn unauthorized(detail: impl ToString, token_given: bool) -> Self {
        let mut problem = Self::new(StatusCode::UNAUTHORIZED, "Authorization", detail);
        let challenge = if token_given {
            format!(
                "Bearer realm=\"platone\", error=\"invalid_token\", error_description=\"{}\"",
                header_text(&problem.detail)
            )
        } else {
            "Bearer realm=\"platone\"".to_owned()
        };
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            problem.headers.insert(WWW_AUTHENTICATE, value);
        }
        problem
    }

    /// 403: the caller is known but may not do this.
    pub fn forbidden(at: impl Into<String>, detail: impl ToString) -> Self {
        Self::new(StatusCode::FORBIDDEN, at, detail)
    }

    /// 503 with `Retry-After`: a component the answer needs is unavailable for now.
    pub fn unavailable(at: impl Into<String>, detail: impl ToString, retry_after_s: u32) -> Self {
        let mut problem = Self::new(StatusCode::SERVICE_UNAVAILABLE, at, detail);
        problem
            .headers
            .insert(RETRY_AFTER, HeaderValue::from(retry_after_s));
        problem
    }

    /// Sets the problem type URI.
    pub fn with_type(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }
}

/// Text safe inside a quoted header parameter: printable ASCII without `"` and `\`.
fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.extend(self.headers);
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.status, self.at, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_challenges_with_the_reason_in_a_safe_header() {
        let response = Problem::unauthorized("token \"expired\"\n", true).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert_eq!(
            challenge,
            "Bearer realm=\"platone\", error=\"invalid_token\", error_description=\"token 'expired'?\""
        );
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_JSON);
        let bare = Problem::unauthorized("missing", false).into_response();
        assert_eq!(bare.headers()[WWW_AUTHENTICATE], "Bearer realm=\"platone\"");
    }

    #[test]
    fn a_503_says_when_to_retry() {
        let response = Problem::unavailable("issuer", "down", 5).into_response();
        assert_eq!(response.headers()[RETRY_AFTER], "5");
    }
}
