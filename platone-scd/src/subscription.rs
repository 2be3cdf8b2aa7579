//! Rules for deciding a subscription.

use platone_model::ParticipantId;

use crate::error::{Result, ScdError};
use crate::records::{Subscription, SubscriptionStatus};

/// Checks that `provider` may decide `s` this way: only the subscription's provider decides; a
/// Requested subscription may be accepted or declined, an Accepted one may only be declined
/// (revoked), a Declined one is final.
pub(crate) fn check_decision(
    s: &Subscription,
    provider: &ParticipantId,
    accept: bool,
) -> Result<()> {
    if &s.provider != provider {
        return Err(ScdError::AccessDenied {
            who: provider.to_string(),
            what: format!("subscription {}", s.id),
            reason: format!("only its provider {} may decide it", s.provider),
        });
    }
    match (s.status, accept) {
        (SubscriptionStatus::Requested, _) | (SubscriptionStatus::Accepted, false) => Ok(()),
        (status, _) => Err(ScdError::Conflict {
            record: format!(
                "subscription {} (it is {}; cannot {})",
                s.id,
                status.as_str(),
                if accept { "accept" } else { "decline" }
            ),
        }),
    }
}
