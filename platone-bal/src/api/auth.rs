//! Who is calling: the participant behind the bearer token, as [`crate::security`] checks it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use platone_model::ParticipantId;
use platone_scd::Principal;
use platone_service::Identity;

use super::problem::ApiError;
use crate::config::DSO_PARTICIPANT;
use crate::context::BalContext;
use crate::security::DSO_ROLE;

/// The authenticated caller of a request: the token's subject as a participant. Extracting it
/// fails with 401 (`WWW-Authenticate: Bearer`) when the `Authorization` header is missing, is
/// not `Bearer TOKEN`, or carries a token that is unknown, expired, for another audience or
/// badly signed; with 503 when the issuer's keys cannot be fetched now; with 403 when the
/// subject is not a valid participant id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    participant: ParticipantId,
    dso: bool,
}

impl Caller {
    /// The caller behind a checked token: its subject is the participant; the participant
    /// `dso` or the role `dso` sees everything.
    pub fn from_identity(identity: &Identity) -> Result<Self, ApiError> {
        let participant = ParticipantId::new(&identity.subject).map_err(|e| {
            ApiError::forbidden(
                "Authorization",
                format!("the token's subject is not a participant: {e}"),
            )
        })?;
        let dso = participant.as_str() == DSO_PARTICIPANT || identity.has_role(DSO_ROLE);
        Ok(Caller { participant, dso })
    }

    /// The participant.
    pub fn participant(&self) -> &ParticipantId {
        &self.participant
    }

    /// Whether the caller sees everything (the participant `dso`, or the role `dso`).
    pub fn is_dso(&self) -> bool {
        self.dso
    }

    /// The SCD principal the caller reads as: the store's operator for the DSO, else the
    /// participant, subject to the access policy.
    pub fn principal(&self) -> Principal {
        if self.dso {
            Principal::Operator
        } else {
            Principal::Participant(self.participant.clone())
        }
    }
}

impl FromRequestParts<BalContext> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &BalContext,
    ) -> Result<Self, Self::Rejection> {
        let identity = ctx
            .authentication
            .identify(parts)
            .await
            .map_err(|e| e.problem())?;
        Caller::from_identity(&identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dso_reads_as_operator_by_name_or_role() {
        let dso = Caller::from_identity(&Identity::new("dso", [])).unwrap();
        assert_eq!(dso.principal(), Principal::Operator);
        let by_role = Caller::from_identity(&Identity::new("grid-op", ["dso".to_owned()])).unwrap();
        assert!(by_role.is_dso());
        let other =
            Caller::from_identity(&Identity::new("cust-1", ["aggregator".to_owned()])).unwrap();
        assert_eq!(
            other.principal(),
            Principal::Participant(ParticipantId::new("cust-1").unwrap())
        );
    }

    #[test]
    fn a_subject_that_is_no_participant_id_is_forbidden() {
        let e = Caller::from_identity(&Identity::new("", [])).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::FORBIDDEN);
    }
}
