//! RFC 9457 problem details: every error answer of a Platone service.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::ser::SerializeStruct;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A URI naming the kind of problem (`type`); `about:blank` when the status says it all.
    pub kind: Cow<'static, str>,
    /// The status's reason phrase.
    pub title: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
    /// What is wrong with this request (also sent as `error`).
    pub detail: String,
    /// Where: the parameter, field, path segment or header concerned.
    pub at: String,
    /// Headers the answer carries besides the content type (`WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut problem = s.serialize_struct("Problem", 6)?;
        problem.serialize_field("type", &self.kind)?;
        problem.serialize_field("title", self.title)?;
        problem.serialize_field("status", &self.status.as_u16())?;
        problem.serialize_field("detail", &self.detail)?;
        problem.serialize_field("at", &self.at)?;
        problem.serialize_field("error", &self.detail)?;
        problem.end()
    }
}

impl Problem {
    /// A problem with any status.
    pub fn new(status: StatusCode, at: impl Into<String>, detail: impl ToString) -> Self {
        Problem {
            kind: Cow::Borrowed("about:blank"),
            title: status.canonical_reason().unwrap_or("Error"),
            status,
            detail: detail.to_string(),
            at: at.into(),
            headers: Vec::new(),
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
            problem.headers.push((WWW_AUTHENTICATE, value));
        }
        problem
    }

    /// 400: a parameter, field or body is invalid.
    pub fn bad_request(at: impl Into<String>, detail: impl ToString) -> Self {
        Self::new(StatusCode::BAD_REQUEST, at, detail)
    }

    /// 404: nothing is known under this name.
    pub fn not_found(at: impl Into<String>, detail: impl ToString) -> Self {
        Self::new(StatusCode::NOT_FOUND, at, detail)
    }

    /// 500: a component the answer needs (a store, a ledger) failed.
    pub fn internal(at: impl Into<String>, detail: impl ToString) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, at, detail)
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
            .push((RETRY_AFTER, HeaderValue::from(retry_after_s)));
        problem
    }

    /// Sets the problem type URI.
    pub fn with_type(mut self, kind: impl Into<Cow<'static, str>>) -> Self {
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
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.status, self.at, self.detail)
    }
}

/// axum's `Path` whose rejection (a segment that is not valid UTF-8 after percent-decoding,
/// or does not parse as `T`) is a 400 [`Problem`] at `path`, like every other error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathParams<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for PathParams<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParams(value))
            .map_err(|e| Problem::bad_request("path", e.body_text()))
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
