//! The axum side: an [`Identity`] argument requires a valid bearer token.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{AuthError, Authenticator, Identity};
use crate::Problem;

/// The authenticator a router's state provides (through [`FromRef`]) so that handlers can
/// take an [`Identity`] argument.
#[derive(Clone)]
pub struct Authentication(pub Arc<dyn Authenticator>);

impl Authentication {
    /// Wraps an authenticator.
    pub fn new(authenticator: impl Authenticator) -> Self {
        Authentication(Arc::new(authenticator))
    }

    /// Checks the `Authorization` header of a request.
    pub async fn identify(&self, parts: &Parts) -> Result<Identity, AuthError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or(AuthError::Missing)?;
        let text = header
            .to_str()
            .map_err(|_| AuthError::Malformed("the Authorization header is not text".into()))?;
        let token = bearer_token(text)
            .ok_or_else(|| AuthError::Malformed("expected `Authorization: Bearer TOKEN`".into()))?;
        self.0.authenticate(token).await
    }
}

impl std::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authentication")
    }
}

/// The token of an `Authorization` header value (`Bearer TOKEN`, scheme case-insensitive).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl<S> FromRequestParts<S> for Identity
where
    S: Send + Sync,
    Authentication: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let authentication = Authentication::from_ref(state);
        authentication
            .identify(parts)
            .await
            .map_err(|e| e.problem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_leniently_but_exactly() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer  "), None);
    }

    proptest::proptest! {
        #[test]
        fn header_parsing_never_panics(text in ".*") {
            let _ = bearer_token(&text);
        }
    }
}
