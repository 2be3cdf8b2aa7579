//! Market participants and their roles.

use platone_model::ParticipantId;
use serde::{Deserialize, Serialize};

/// The role a participant plays in the flexibility market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum MarketRole {
    /// Distribution system operator: buys flexibility for local congestion and voltage.
    Dso,
    /// Transmission system operator: buys flexibility for balancing.
    Tso,
    /// Aggregator / balance service provider: sells flexibility.
    Aggregator,
    /// The market operator running sessions.
    MarketOperator,
}

impl MarketRole {
    /// The role's name as written in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            MarketRole::Dso => "dso",
            MarketRole::Tso => "tso",
            MarketRole::Aggregator => "aggregator",
            MarketRole::MarketOperator => "market-operator",
        }
    }
}

/// A registered market participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The participant's identifier.
    pub id: ParticipantId,
    /// Its role.
    pub role: MarketRole,
}

impl Participant {
    /// A participant with the given id and role.
    pub fn new(id: ParticipantId, role: MarketRole) -> Self {
        Self { id, role }
    }

    /// Whether the participant may post flexibility requests (DSO or TSO).
    pub fn may_request(&self) -> bool {
        matches!(self.role, MarketRole::Dso | MarketRole::Tso)
    }

    /// Whether the participant may post flexibility offers (aggregator).
    pub fn may_offer(&self) -> bool {
        self.role == MarketRole::Aggregator
    }
}
