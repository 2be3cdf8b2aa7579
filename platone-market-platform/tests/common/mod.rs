//! Helpers shared by the platform's integration tests (each test file uses some of them).
#![allow(dead_code)]

use platone_market::MarketRole;
use platone_market_platform::Caller;

/// A caller with one role.
pub fn caller(who: &str, role: MarketRole) -> Caller {
    Caller {
        participant: who.into(),
        roles: vec![role],
    }
}

/// The market operator `mo`.
pub fn operator() -> Caller {
    caller("mo", MarketRole::MarketOperator)
}
