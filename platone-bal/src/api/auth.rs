//! Who is calling: the participant behind the `Authorization: Bearer TOKEN` header.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use platone_model::ParticipantId;
use platone_scd::Principal;

use super::problem::ApiError;
use crate::config::DSO_PARTICIPANT;
use crate::context::{BalContext, Tokens};

/// The authenticated caller of a request. Extracting it fails with 401 when the
/// `Authorization` header is missing, is not `Bearer TOKEN`, or names an unknown token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub ParticipantId);

impl Caller {
    /// The participant.
    pub fn participant(&self) -> &ParticipantId {
        &self.0
    }

    /// Whether the caller is the participant that sees everything.
    pub fn is_dso(&self) -> bool {
        self.0.as_str() == DSO_PARTICIPANT
    }

    /// The SCD principal the caller reads as.
    pub fn principal(&self) -> Principal {
        Tokens::principal(&self.0)
    }
}

/// The token of an `Authorization` header value (`Bearer TOKEN`, scheme case-insensitive).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<BalContext> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &BalContext,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("missing `Authorization: Bearer TOKEN` header")
        })?;
        let text = header
            .to_str()
            .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
        let token = bearer_token(text)
            .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer TOKEN`"))?;
        ctx.tokens
            .participant(token)
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::unauthorized("unknown bearer token"))
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
