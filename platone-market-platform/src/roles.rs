//! Who calls: the token's subject is the participant, its roles say what it may do (D2.2): the
//! market operator manages sessions and sees everything, DSOs and TSOs post requests,
//! aggregators post offers.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use platone_market::{MarketRole, RequestRole};
use platone_service::{Authentication, Identity, Problem};

use crate::error::{PlatformError, Result};

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The participant (the token's subject).
    pub participant: String,
    /// Its market roles, from the token's roles (`market-operator`, `dso`, `tso`,
    /// `aggregator`; other roles are ignored).
    pub roles: Vec<MarketRole>,
}

impl Caller {
    /// The caller behind a checked token.
    pub fn from_identity(identity: &Identity) -> Self {
        let roles = [
            MarketRole::MarketOperator,
            MarketRole::Dso,
            MarketRole::Tso,
            MarketRole::Aggregator,
        ]
        .into_iter()
        .filter(|r| identity.has_role(r.as_str()))
        .collect();
        Caller {
            participant: identity.subject.clone(),
            roles,
        }
    }

    /// Whether the caller has `role`.
    pub fn has(&self, role: MarketRole) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the caller is the market operator.
    pub fn is_operator(&self) -> bool {
        self.has(MarketRole::MarketOperator)
    }

    /// Whether the caller sees every order's result (the operator, DSOs and TSOs).
    pub fn sees_all_results(&self) -> bool {
        self.is_operator() || self.has(MarketRole::Dso) || self.has(MarketRole::Tso)
    }

    fn refuse(&self, what: &str, roles: &str) -> PlatformError {
        PlatformError::Forbidden(format!(
            "{} may not {what}: it takes the role {roles}",
            self.participant
        ))
    }

    /// The market operator only.
    pub fn require_operator(&self) -> Result<()> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(self.refuse("manage sessions", "market-operator"))
        }
    }

    /// An aggregator only.
    pub fn require_aggregator(&self) -> Result<()> {
        if self.has(MarketRole::Aggregator) {
            Ok(())
        } else {
            Err(self.refuse("post offers", "aggregator"))
        }
    }

    /// A DSO or a TSO; the request role it posts as (DSO when it is both).
    pub fn require_system_operator(&self) -> Result<RequestRole> {
        if self.has(MarketRole::Dso) {
            Ok(RequestRole::Dso)
        } else if self.has(MarketRole::Tso) {
            Ok(RequestRole::Tso)
        } else {
            Err(self.refuse("post requests", "dso or tso"))
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Authentication: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let identity = Identity::from_request_parts(parts, state).await?;
        Ok(Caller::from_identity(&identity))
    }
}
