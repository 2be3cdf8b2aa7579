//! USEF one-sided settlement.
//!
//! For an upward order (demand reduction) with baseline `B`, metered `A`, ordered `Q`, price `p`
//! and penalty price `k`:
//! `realised = B − A`, `delivered = clamp(realised, 0, Q)`, `paid = delivered × p`,
//! `deviation = A − (B − Q)`, `deficiency = max(deviation, 0)`, `penalty = −deficiency × k`,
//! `settlement = paid + penalty`. Over-delivery is not paid. Downward orders (demand increase)
//! mirror it: `realised = A − B`, `deviation = (B + Q) − A`.

use serde::{Deserialize, Serialize};

use crate::clearing::ClearingResult;
use crate::error::{MarketError, Result};
use crate::order::Direction;
use crate::scenario::Scenario;

/// The settlement of one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSettlement {
    /// The order id.
    pub order: String,
    /// Direction of the order.
    pub direction: Direction,
    /// Ordered quantity.
    pub ordered: f64,
    /// Price per unit of delivered flexibility.
    pub price: f64,
    /// Baseline.
    pub baseline: f64,
    /// Metered value (allocation).
    pub actual: f64,
    /// Flexibility realised (may be negative).
    pub flex_realized: f64,
    /// Flexibility delivered and paid: realised clamped to `[0, ordered]`.
    pub delivered: f64,
    /// `delivered × price`.
    pub flex_paid: f64,
    /// Deviation from the adjusted baseline (positive = short).
    pub baseline_deviation: f64,
    /// `max(deviation, 0)`.
    pub deficiency: f64,
    /// `−deficiency × penalty price`.
    pub penalty: f64,
    /// `flex_paid + penalty`.
    pub settlement: f64,
}

/// Settles one order.
pub fn settle_order(
    order: &str,
    direction: Direction,
    ordered: f64,
    price: f64,
    penalty_price: f64,
    baseline: f64,
    actual: f64,
) -> Result<OrderSettlement> {
    for (name, v) in [
        ("ordered", ordered),
        ("price", price),
        ("penalty price", penalty_price),
        ("baseline", baseline),
        ("actual", actual),
    ] {
        if !v.is_finite() {
            return Err(MarketError::Settlement(format!(
                "order {order:?}: {name} is not finite"
            )));
        }
    }
    if ordered < 0.0 {
        return Err(MarketError::Settlement(format!(
            "order {order:?}: ordered quantity is negative"
        )));
    }
    let (realized, deviation) = match direction {
        Direction::Up => (baseline - actual, actual - (baseline - ordered)),
        Direction::Down => (actual - baseline, (baseline + ordered) - actual),
    };
    let delivered = realized.clamp(0.0, ordered);
    let flex_paid = delivered * price;
    let deficiency = deviation.max(0.0);
    let penalty = -deficiency * penalty_price;
    Ok(OrderSettlement {
        order: order.to_string(),
        direction,
        ordered,
        price,
        baseline,
        actual,
        flex_realized: realized,
        delivered,
        flex_paid,
        baseline_deviation: deviation,
        deficiency,
        penalty,
        settlement: flex_paid + penalty,
    })
}

/// A metered reading for one accepted offer: the (declared or computed) baseline and the
/// metered value over its slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterReading {
    /// The offer id.
    pub order: String,
    /// Baseline.
    pub baseline: f64,
    /// Metered value.
    pub actual: f64,
}

/// How the penalty price per unit of deficiency is set.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum PenaltyRule {
    /// A fixed price per unit.
    Fixed(f64),
    /// The order's cleared price times a factor.
    PriceFactor(f64),
}

/// Settles every accepted offer of a result; each needs exactly one reading.
pub fn settle_result(
    scenario: &Scenario,
    result: &ClearingResult,
    readings: &[MeterReading],
    penalty: PenaltyRule,
) -> Result<Vec<OrderSettlement>> {
    let book = &scenario.book;
    for r in readings {
        if result.offer_quantity(&r.order) <= 0.0 {
            return Err(MarketError::Settlement(format!(
                "reading for {:?}, which is not an accepted offer of the result",
                r.order
            )));
        }
    }
    let mut out = Vec::with_capacity(result.accepted_offers.len());
    for a in &result.accepted_offers {
        let offer = book.offers.iter().find(|o| o.id == a.id).ok_or_else(|| {
            MarketError::Settlement(format!("accepted offer {:?} is not in the scenario", a.id))
        })?;
        let mut matching = readings.iter().filter(|r| r.order == a.id);
        let reading = matching.next().ok_or_else(|| {
            MarketError::Settlement(format!("no metered reading for offer {:?}", a.id))
        })?;
        if matching.next().is_some() {
            return Err(MarketError::Settlement(format!(
                "two metered readings for offer {:?}",
                a.id
            )));
        }
        let price = result.offer_price(book, &a.id).unwrap_or(offer.price);
        let penalty_price = match penalty {
            PenaltyRule::Fixed(p) => p,
            PenaltyRule::PriceFactor(f) => f * price,
        };
        out.push(settle_order(
            &a.id,
            offer.direction,
            a.quantity,
            price,
            penalty_price,
            reading.baseline,
            reading.actual,
        )?);
    }
    Ok(out)
}
