//! Who is calling: bearer tokens checked by an [`Authenticator`], and the [`Identity`] they
//! name.
//!
//! Three authenticators come with the crate: [`JwtValidator`] (JWTs of an OpenID Connect
//! issuer, or of the [`EmbeddedIssuer`](crate::EmbeddedIssuer)), [`StaticTokens`] (fixed
//! tokens, for tests and demonstrations only) and [`Authenticators`], which asks several in
//! turn. A route takes an [`Identity`] argument to require a valid token; the router's state
//! provides the authenticator through [`Authentication`].

mod extract;
mod jwks;
mod jwt;
mod roles;
mod static_tokens;

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::BoxFuture;

pub use extract::{Authentication, bearer_token};
pub use jwks::{JwksSource, OidcDiscovery, StaticJwks};
pub use jwt::{FetchObserver, JwtConfig, JwtValidator};
pub use roles::RolesClaim;
pub use static_tokens::StaticTokens;

/// The caller behind a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's subject: for a client-credentials token, the client (in Platone, the
    /// participant id).
    pub subject: String,
    /// The roles the token grants.
    pub roles: BTreeSet<String>,
    /// Who issued the token (`None` for a static token).
    pub issuer: Option<String>,
    /// When the token expires, in seconds since the Unix epoch (`None` for a static token).
    pub expires_at: Option<i64>,
}

impl Identity {
    /// An identity with roles, from no issuer.
    pub fn new(subject: impl Into<String>, roles: impl IntoIterator<Item = String>) -> Self {
        Identity {
            subject: subject.into(),
            roles: roles.into_iter().collect(),
            issuer: None,
            expires_at: None,
        }
    }

    /// Whether the token grants `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// `Ok` when the token grants `role`, else the 403 answer naming it.
    pub fn require_role(&self, role: &str) -> Result<(), crate::Problem> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(crate::Problem::forbidden(
                "Authorization",
                format!("{} lacks the role `{role}`", self.subject),
            ))
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing `Authorization: Bearer TOKEN` header")]
    Missing,
    /// No configured token has this text (static tokens only; a JWT that fails is
    /// [`Invalid`](AuthError::Invalid)).
    #[error("unknown bearer token")]
    Unknown,
    /// The header or the token is not well formed.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token is well formed but not acceptable (signature, expiry, audience…); the text
    /// says which check failed.
    #[error("{0}")]
    Invalid(String),
    /// The token cannot be checked now (the issuer's keys cannot be fetched): retry later.
    #[error("token cannot be checked now: {0}")]
    Unavailable(String),
}

impl AuthError {
    /// The answer: 401 with `WWW-Authenticate: Bearer` (503 with `Retry-After` when the
    /// token cannot be checked now).
    pub fn problem(&self) -> crate::Problem {
        match self {
            AuthError::Unavailable(_) => crate::Problem::unavailable("Authorization", self, 5),
            AuthError::Missing => crate::Problem::unauthorized(self, false),
            _ => crate::Problem::unauthorized(self, true),
        }
    }
}

/// Checks a bearer token and says who it names.
///
/// # Contract
///
/// An implementation must:
/// - answer [`AuthError::Invalid`] or [`AuthError::Malformed`] for any token it does not
///   accept, never an `Identity` on doubt, and never panic whatever the bytes;
/// - answer [`AuthError::Unavailable`] only when a token might be valid but cannot be checked
///   now (keys unreachable) — the caller then answers 503, not 401;
/// - be cheap for a token it has accepted before (requests reuse tokens until they expire),
///   and still refuse it once it has expired;
/// - be safe to call from many tasks at once.
pub trait Authenticator: Send + Sync + 'static {
    /// Checks `token` (the text after `Bearer `).
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Identity, AuthError>>;
}

impl<A: Authenticator + ?Sized> Authenticator for Arc<A> {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Identity, AuthError>> {
        (**self).authenticate(token)
    }
}

/// Several authenticators asked in turn: the first that accepts the token answers. A token
/// every one refuses gets the first refusal that is not "unknown token", so the caller learns
/// why a JWT failed rather than that it is not a static token.
#[derive(Clone, Default)]
pub struct Authenticators {
    chain: Vec<Arc<dyn Authenticator>>,
}

impl Authenticators {
    /// No authenticator: every token is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an authenticator, asked after those added before.
    pub fn with(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.chain.push(authenticator);
        self
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.chain.is_empty()
    }
}

impl std::fmt::Debug for Authenticators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticators")
            .field("count", &self.chain.len())
            .finish()
    }
}

impl Authenticator for Authenticators {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Identity, AuthError>> {
        Box::pin(async move {
            let mut refusal: Option<AuthError> = None;
            for authenticator in &self.chain {
                match authenticator.authenticate(token).await {
                    Ok(identity) => return Ok(identity),
                    Err(e) => {
                        if refusal.is_none() || refusal == Some(AuthError::Unknown) {
                            refusal = Some(e);
                        }
                    }
                }
            }
            Err(refusal.unwrap_or(AuthError::Unknown))
        })
    }
}
pub(crate) use jwt::unix_now;
