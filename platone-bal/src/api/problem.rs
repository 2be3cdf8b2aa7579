//! The API's error responses: RFC 9457 problem details (`application/problem+json`) with the
//! members `error` and `at` besides `type`, `title`, `status` and `detail`.

use axum::http::StatusCode;
use axum::http::header::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use platone_scd::ScdError;
use platone_service::Problem;

/// An error answer of the REST API: a status and a problem document saying what is wrong and
/// where (the query parameter, body field, path segment or header), rendered as a
/// [`Problem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What is wrong.
    pub error: String,
    /// Where: the parameter, field, path segment or header concerned.
    pub at: String,
    /// Headers the answer carries (`WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, at: impl Into<String>, error: impl ToString) -> Self {
        ApiError {
            status,
            error: error.to_string(),
            at: at.into(),
            headers: Vec::new(),
        }
    }

    /// 400: a parameter or field is invalid.
    pub fn bad_request(at: impl Into<String>, error: impl ToString) -> Self {
        Self::new(StatusCode::BAD_REQUEST, at, error)
    }

    /// 401: no or an unknown bearer token (with `WWW-Authenticate: Bearer`).
    pub fn unauthorized(error: impl ToString) -> Self {
        Problem::unauthorized(error, true).into()
    }

    /// 403: the caller may not do this.
    pub fn forbidden(at: impl Into<String>, error: impl ToString) -> Self {
        Self::new(StatusCode::FORBIDDEN, at, error)
    }

    /// 404: nothing is known under this name.
    pub fn not_found(at: impl Into<String>, error: impl ToString) -> Self {
        Self::new(StatusCode::NOT_FOUND, at, error)
    }

    /// 500: a component (store, ledger) failed.
    pub fn internal(at: impl Into<String>, error: impl ToString) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, at, error)
    }

    /// The answer to a store error, `at` naming the input it concerns: denied access is 403,
    /// an unknown record 404, a conflicting one 409, an invalid one 400, anything else 500.
    pub fn from_store(at: impl Into<String>, error: &ScdError) -> Self {
        let status = match error {
            ScdError::AccessDenied { .. } => StatusCode::FORBIDDEN,
            ScdError::NotFound { .. } => StatusCode::NOT_FOUND,
            ScdError::Conflict { .. } => StatusCode::CONFLICT,
            ScdError::InvalidRecord { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let at = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "store".to_owned()
        } else {
            at.into()
        };
        Self::new(status, at, error)
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError {
            status: problem.status,
            error: problem.detail,
            at: problem.at,
            headers: problem.headers,
        }
    }
}

impl From<ApiError> for Problem {
    fn from(error: ApiError) -> Self {
        let mut problem = Problem::new(error.status, error.at, error.error);
        problem.headers = error.headers;
        problem
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.status, self.at, self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_statuses() {
        let denied = ScdError::AccessDenied {
            who: "participant:x".into(),
            what: "pod/p".into(),
            reason: "no".into(),
        };
        assert_eq!(
            ApiError::from_store("pod", &denied).status,
            StatusCode::FORBIDDEN
        );
        let missing = ScdError::NotFound {
            record: "subscription 9".into(),
        };
        let e = ApiError::from_store("id", &missing);
        assert_eq!((e.status, e.at.as_str()), (StatusCode::NOT_FOUND, "id"));
        let failed = ScdError::Task("gone".into());
        let e = ApiError::from_store("id", &failed);
        assert_eq!(
            (e.status, e.at.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "store")
        );
    }
}
