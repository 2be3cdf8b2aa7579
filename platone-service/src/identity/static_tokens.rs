//! Fixed bearer tokens: for tests and demonstrations only.

use std::collections::HashMap;

use futures::future::BoxFuture;

use super::{AuthError, Authenticator, Identity};

/// Fixed tokens, each naming an identity. Nothing expires and the tokens travel as they are,
/// so this is for tests and demonstrations only; real deployments use [`JwtValidator`](super::JwtValidator).
#[derive(Clone, Default)]
pub struct StaticTokens {
    tokens: HashMap<String, Identity>,
}

impl StaticTokens {
    /// No tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token naming `identity` (replacing an earlier one with the same text).
    pub fn insert(&mut self, token: impl Into<String>, identity: Identity) {
        self.tokens.insert(token.into(), identity);
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The identity a token names.
    pub fn get(&self, token: &str) -> Option<&Identity> {
        self.tokens.get(token)
    }
}

impl std::fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut subjects: Vec<&str> = self.tokens.values().map(|i| i.subject.as_str()).collect();
        subjects.sort_unstable();
        f.debug_struct("StaticTokens")
            .field("subjects", &subjects)
            .finish()
    }
}

impl Authenticator for StaticTokens {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Identity, AuthError>> {
        let answer = self.tokens.get(token).cloned().ok_or(AuthError::Unknown);
        Box::pin(std::future::ready(answer))
    }
}
