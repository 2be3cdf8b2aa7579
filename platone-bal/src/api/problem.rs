//! The API's error responses: RFC 9457 problem details (`application/problem+json`) with the
//! members `error` and `at` besides `type`, `title`, `status` and `detail`.

use axum::http::StatusCode;
use platone_scd::ScdError;
use platone_service::Problem;

/// An error answer of the REST API: the shared [`Problem`] (status, `detail`, and `at`
/// naming the query parameter, body field, path segment or header).
pub type ApiError = Problem;

/// The answer to a store error, `at` naming the input it concerns: denied access is 403, an
/// unknown record 404, a conflicting one 409, an invalid one 400, anything else 500 (at
/// `store`).
pub fn store_problem(at: impl Into<String>, error: &ScdError) -> Problem {
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
    Problem::new(status, at, error)
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
        assert_eq!(store_problem("pod", &denied).status, StatusCode::FORBIDDEN);
        let missing = ScdError::NotFound {
            record: "subscription 9".into(),
        };
        let e = store_problem("id", &missing);
        assert_eq!((e.status, e.at.as_str()), (StatusCode::NOT_FOUND, "id"));
        let failed = ScdError::Task("gone".into());
        let e = store_problem("id", &failed);
        assert_eq!(
            (e.status, e.at.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "store")
        );
    }
}
