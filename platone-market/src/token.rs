//! An incentive-token ledger shaped like ERC-20 (balances, allowances, transfer events), so
//! that it can be anchored on a chain later. Tokens are minted per delivered kWh.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{MarketError, Result};

/// A ledger event, as an ERC-20 contract would emit it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenEvent {
    /// `Transfer(from, to, value)`; `from` is `None` for a mint, `to` is `None` for a burn.
    Transfer {
        /// Sender (`None` = mint).
        from: Option<String>,
        /// Receiver (`None` = burn).
        to: Option<String>,
        /// Amount in base units.
        value: u128,
    },
    /// `Approval(owner, spender, value)`.
    Approval {
        /// Owner.
        owner: String,
        /// Spender.
        spender: String,
        /// Allowance in base units.
        value: u128,
    },
}

/// An ERC-20-shaped incentive-token ledger. Amounts are in base units (`10^-decimals` tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenLedger {
    name: String,
    symbol: String,
    decimals: u8,
    total_supply: u128,
    balances: BTreeMap<String, u128>,
    allowances: BTreeMap<(String, String), u128>,
    events: Vec<TokenEvent>,
}

impl TokenLedger {
    /// An empty ledger.
    pub fn new(name: impl Into<String>, symbol: impl Into<String>, decimals: u8) -> Self {
        Self {
            name: name.into(),
            symbol: symbol.into(),
            decimals,
            total_supply: 0,
            balances: BTreeMap::new(),
            allowances: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    /// Token name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Token symbol.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// Decimals of the display unit.
    pub fn decimals(&self) -> u8 {
        self.decimals
    }

    /// Tokens in existence.
    pub fn total_supply(&self) -> u128 {
        self.total_supply
    }

    /// Balance of an account.
    pub fn balance_of(&self, account: &str) -> u128 {
        self.balances.get(account).copied().unwrap_or(0)
    }

    /// What `spender` may still move from `owner`.
    pub fn allowance(&self, owner: &str, spender: &str) -> u128 {
        self.allowances
            .get(&(owner.to_string(), spender.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// All events so far, oldest first.
    pub fn events(&self) -> &[TokenEvent] {
        &self.events
    }

    /// Creates `value` tokens for `to`.
    pub fn mint(&mut self, to: &str, value: u128) -> Result<()> {
        let supply = self
            .total_supply
            .checked_add(value)
            .ok_or_else(|| MarketError::Token("total supply overflow".into()))?;
        self.total_supply = supply;
        *self.balances.entry(to.to_string()).or_insert(0) += value;
        self.events.push(TokenEvent::Transfer {
            from: None,
            to: Some(to.to_string()),
            value,
        });
        Ok(())
    }

    /// Mints `tokens_per_kwh` tokens (in display units) per delivered kWh; returns the base units
    /// minted (rounded down).
    pub fn mint_for_delivery(
        &mut self,
        to: &str,
        delivered_kwh: f64,
        tokens_per_kwh: f64,
    ) -> Result<u128> {
        if !(delivered_kwh.is_finite()
            && delivered_kwh >= 0.0
            && tokens_per_kwh.is_finite()
            && tokens_per_kwh >= 0.0)
        {
            return Err(MarketError::Token(format!(
                "cannot mint for {delivered_kwh} kWh at {tokens_per_kwh} tokens/kWh"
            )));
        }
        let units = delivered_kwh * tokens_per_kwh * 10f64.powi(i32::from(self.decimals));
        if units >= u128::MAX as f64 {
            return Err(MarketError::Token("amount too large".into()));
        }
        let value = units.floor() as u128;
        self.mint(to, value)?;
        Ok(value)
    }

    /// Destroys `value` of `from`'s tokens.
    pub fn burn(&mut self, from: &str, value: u128) -> Result<()> {
        self.debit(from, value)?;
        self.total_supply -= value;
        self.events.push(TokenEvent::Transfer {
            from: Some(from.to_string()),
            to: None,
            value,
        });
        Ok(())
    }

    /// Moves `value` from `from` to `to`.
    pub fn transfer(&mut self, from: &str, to: &str, value: u128) -> Result<()> {
        self.debit(from, value)?;
        *self.balances.entry(to.to_string()).or_insert(0) += value;
        self.events.push(TokenEvent::Transfer {
            from: Some(from.to_string()),
            to: Some(to.to_string()),
            value,
        });
        Ok(())
    }

    /// Lets `spender` move up to `value` of `owner`'s tokens.
    pub fn approve(&mut self, owner: &str, spender: &str, value: u128) {
        self.allowances
            .insert((owner.to_string(), spender.to_string()), value);
        self.events.push(TokenEvent::Approval {
            owner: owner.to_string(),
            spender: spender.to_string(),
            value,
        });
    }

    /// `spender` moves `value` from `owner` to `to` within its allowance.
    pub fn transfer_from(
        &mut self,
        spender: &str,
        owner: &str,
        to: &str,
        value: u128,
    ) -> Result<()> {
        let allowed = self.allowance(owner, spender);
        if allowed < value {
            return Err(MarketError::Token(format!(
                "{spender:?} may move {allowed} of {owner:?}'s tokens, not {value}"
            )));
        }
        self.transfer(owner, to, value)?;
        self.allowances
            .insert((owner.to_string(), spender.to_string()), allowed - value);
        Ok(())
    }

    fn debit(&mut self, from: &str, value: u128) -> Result<()> {
        let balance = self.balance_of(from);
        if balance < value {
            return Err(MarketError::Token(format!(
                "{from:?} holds {balance}, cannot spend {value}"
            )));
        }
        self.balances.insert(from.to_string(), balance - value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_transfer_burn_and_allowance() {
        let mut l = TokenLedger::new("Platone flexibility token", "PFT", 3);
        assert_eq!(l.mint_for_delivery("alice", 2.5, 1.0).unwrap(), 2500);
        l.transfer("alice", "bob", 500).unwrap();
        assert_eq!(l.balance_of("alice"), 2000);
        assert_eq!(l.balance_of("bob"), 500);
        assert!(l.transfer("bob", "alice", 501).is_err());
        l.approve("alice", "market", 1000);
        l.transfer_from("market", "alice", "bob", 700).unwrap();
        assert_eq!(l.allowance("alice", "market"), 300);
        assert!(l.transfer_from("market", "alice", "bob", 301).is_err());
        l.burn("bob", 1200).unwrap();
        assert_eq!(l.total_supply(), 1300);
        assert_eq!(
            l.balance_of("alice") + l.balance_of("bob"),
            l.total_supply()
        );
        assert!(l.burn("bob", 1).is_err());
        assert_eq!(l.events().len(), 5);
    }
}
