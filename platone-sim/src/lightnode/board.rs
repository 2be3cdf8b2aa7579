//! [`SetPointBoard`]: the set points a Light Node holds for its PoD, and what its EMS
//! interfaces read of them.

use platone_model::{MeasurementKind, PodId, SetPoint, Timestamp, Unit};
use serde::Serialize;

/// The two quantities a Light Node's EMS follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BspQuantity {
    /// Active power, `bspP` (set points in W with a multiplier; read in kW).
    Active,
    /// Reactive power, `bspQ` (set points in VAr with a multiplier; read in kvar).
    Reactive,
}

/// What `GET /` of the EMS interface answers while a set point is active: the targets in kW
/// and kvar, `null` for a quantity without an active set point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EmsTargets {
    /// The active power target (kW).
    #[serde(rename = "bspP")]
    pub bsp_p: Option<f64>,
    /// The reactive power target (kvar).
    #[serde(rename = "bspQ")]
    pub bsp_q: Option<f64>,
}

/// The Modbus holding registers of the EMS interface (PDU addresses, zero-based; some tools
/// show register 1000 as 41001). Each value is an IEEE 754 single-precision float in kW or
/// kvar over two registers, the high word first (at the address named here) and the low word
/// at the next address; NaN (`0x7FC0 0x0000`) when there is no such set point.
pub mod registers {
    /// bspP of the set point active now.
    pub const BSP_P_CURRENT: u16 = 1000;
    /// bspP of the next set point.
    pub const BSP_P_NEXT: u16 = 1100;
    /// bspQ of the set point active now.
    pub const BSP_Q_CURRENT: u16 = 2000;
    /// bspQ of the next set point.
    pub const BSP_Q_NEXT: u16 = 2100;
}

/// Why a holding-register read is refused (the Modbus exception the server answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterRefusal {
    /// A register outside the eight the interface has (exception 2).
    IllegalDataAddress,
    /// No register asked for, or more than a Modbus response carries (exception 3).
    IllegalDataValue,
}

/// The set points a Light Node holds for its PoD, ordered by start.
///
/// ```
/// use platone_model::{DeviceId, MeasurementKind, PodId, SetPoint, Unit, parse_timestamp};
/// use platone_sim::lightnode::{BspQuantity, SetPointBoard};
///
/// let pod = PodId::new("POD-1")?;
/// let mut board = SetPointBoard::new(pod.clone());
/// let at = |t| parse_timestamp(t).unwrap();
/// let mut sp = SetPoint::new("sp-1", DeviceId::new("ln-1")?, MeasurementKind::Power,
///     Unit::Watt, -2500.0, at("2026-12-07T18:00:00Z"), at("2026-12-07T18:15:00Z"))?;
/// sp.pod = Some(pod);
/// board.accept(sp, &at("2026-12-07T17:55:00Z")).map_err(|r| r.to_string())?;
/// assert_eq!(board.current(BspQuantity::Active, &at("2026-12-07T17:59:00Z")), None);
/// assert_eq!(board.next(BspQuantity::Active, &at("2026-12-07T17:59:00Z")), Some(-2.5));
/// assert_eq!(board.current(BspQuantity::Active, &at("2026-12-07T18:05:00Z")), Some(-2.5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SetPointBoard {
    pod: PodId,
    active: Vec<SetPoint>,
    reactive: Vec<SetPoint>,
}

impl SetPointBoard {
    /// An empty board for `pod`.
    pub fn new(pod: PodId) -> Self {
        SetPointBoard {
            pod,
            active: Vec::new(),
            reactive: Vec::new(),
        }
    }

    /// The PoD the board serves.
    pub fn pod(&self) -> &PodId {
        &self.pod
    }

    /// Takes a set point, replacing one with the same id; or says why not: another PoD's
    /// (or none named), not a power set point in W or VAr, or already over at `now`.
    pub fn accept(&mut self, set_point: SetPoint, now: &Timestamp) -> Result<(), String> {
        match &set_point.pod {
            Some(pod) if *pod == self.pod => {}
            Some(pod) => {
                return Err(format!(
                    "set point for PoD {pod}; this Light Node serves {}",
                    self.pod
                ));
            }
            None => return Err(format!("names no PoD; this Light Node serves {}", self.pod)),
        }
        if set_point.kind != MeasurementKind::Power {
            return Err(format!(
                "a {} set point; a Light Node follows power (W or VAr)",
                set_point.kind
            ));
        }
        let quantity = match set_point.unit {
            Unit::Watt => BspQuantity::Active,
            Unit::Var => BspQuantity::Reactive,
            other => return Err(format!("unit {other}; a Light Node follows W or VAr")),
        };
        if set_point.valid_to <= *now {
            return Err(format!("over since {}", set_point.valid_to.to_rfc3339()));
        }
        self.active.retain(|s| s.id != set_point.id);
        self.reactive.retain(|s| s.id != set_point.id);
        let list = self.list_mut(quantity);
        list.push(set_point);
        list.sort_by_key(|s| s.valid_from);
        self.forget_before(now);
        Ok(())
    }

    /// Drops the set points over at `now`.
    pub fn forget_before(&mut self, now: &Timestamp) {
        self.active.retain(|s| s.valid_to > *now);
        self.reactive.retain(|s| s.valid_to > *now);
    }

    fn list(&self, quantity: BspQuantity) -> &[SetPoint] {
        match quantity {
            BspQuantity::Active => &self.active,
            BspQuantity::Reactive => &self.reactive,
        }
    }

    fn list_mut(&mut self, quantity: BspQuantity) -> &mut Vec<SetPoint> {
        match quantity {
            BspQuantity::Active => &mut self.active,
            BspQuantity::Reactive => &mut self.reactive,
        }
    }

    /// The target (kW or kvar) of the set point active at `now` — of those active, the one
    /// that started last.
    pub fn current(&self, quantity: BspQuantity, now: &Timestamp) -> Option<f64> {
        self.list(quantity)
            .iter()
            .rev()
            .find(|s| s.is_valid_at(now))
            .map(kilo)
    }

    /// The target (kW or kvar) of the first set point starting after `now`.
    pub fn next(&self, quantity: BspQuantity, now: &Timestamp) -> Option<f64> {
        self.list(quantity)
            .iter()
            .find(|s| s.valid_from > *now)
            .map(kilo)
    }

    /// What `GET /` answers at `now`: `None` (404) when no set point is active.
    pub fn ems(&self, now: &Timestamp) -> Option<EmsTargets> {
        let targets = EmsTargets {
            bsp_p: self.current(BspQuantity::Active, now),
            bsp_q: self.current(BspQuantity::Reactive, now),
        };
        (targets.bsp_p.is_some() || targets.bsp_q.is_some()).then_some(targets)
    }

    /// The holding registers `address .. address + count` at `now` ([`registers`]).
    pub fn read_registers(
        &self,
        address: u16,
        count: u16,
        now: &Timestamp,
    ) -> Result<Vec<u16>, RegisterRefusal> {
        if count == 0 || count > 125 {
            return Err(RegisterRefusal::IllegalDataValue);
        }
        (0..count)
            .map(|i| {
                let register = address
                    .checked_add(i)
                    .ok_or(RegisterRefusal::IllegalDataAddress)?;
                self.register(register, now)
            })
            .collect()
    }

    fn register(&self, register: u16, now: &Timestamp) -> Result<u16, RegisterRefusal> {
        let (base, value) = match register {
            r @ (1000 | 1001) => (r - 1000, self.current(BspQuantity::Active, now)),
            r @ (1100 | 1101) => (r - 1100, self.next(BspQuantity::Active, now)),
            r @ (2000 | 2001) => (r - 2000, self.current(BspQuantity::Reactive, now)),
            r @ (2100 | 2101) => (r - 2100, self.next(BspQuantity::Reactive, now)),
            _ => return Err(RegisterRefusal::IllegalDataAddress),
        };
        #[allow(clippy::cast_possible_truncation)]
        let bits = value.map_or(f32::NAN, |v| v as f32).to_bits();
        Ok(if base == 0 {
            (bits >> 16) as u16
        } else {
            (bits & 0xFFFF) as u16
        })
    }
}

/// A set point's value in kW or kvar.
fn kilo(set_point: &SetPoint) -> f64 {
    set_point.value * set_point.multiplier.factor() / 1000.0
}

#[cfg(test)]
mod tests {
    use platone_model::{DeviceId, UnitMultiplier, parse_timestamp};

    use super::*;

    fn at(t: &str) -> Timestamp {
        parse_timestamp(t).unwrap()
    }

    /// A set point of POD-1 from and to minutes after 17:00 UTC.
    fn set_point(id: &str, unit: Unit, value: f64, from: i64, to: i64) -> SetPoint {
        let base = at("2026-12-07T17:00:00Z");
        let mut sp = SetPoint::new(
            id,
            DeviceId::new("ln-1").unwrap(),
            MeasurementKind::Power,
            unit,
            value,
            base + chrono::TimeDelta::minutes(from),
            base + chrono::TimeDelta::minutes(to),
        )
        .unwrap();
        sp.pod = Some(PodId::new("POD-1").unwrap());
        sp
    }

    fn board() -> SetPointBoard {
        SetPointBoard::new(PodId::new("POD-1").unwrap())
    }

    #[test]
    fn current_and_next_per_quantity() {
        let mut b = board();
        let now = at("2026-12-07T17:00:00Z");
        b.accept(set_point("p1", Unit::Watt, 3000.0, 0, 15), &now)
            .unwrap();
        b.accept(set_point("p2", Unit::Watt, -1500.0, 15, 30), &now)
            .unwrap();
        let mut q = set_point("q1", Unit::Var, 2.0, 0, 30);
        q.multiplier = UnitMultiplier::KILO;
        b.accept(q, &now).unwrap();
        assert_eq!(b.current(BspQuantity::Active, &now), Some(3.0));
        assert_eq!(b.next(BspQuantity::Active, &now), Some(-1.5));
        assert_eq!(b.current(BspQuantity::Reactive, &now), Some(2.0));
        assert_eq!(b.next(BspQuantity::Reactive, &now), None);
        let later = at("2026-12-07T17:20:00Z");
        assert_eq!(
            b.ems(&later),
            Some(EmsTargets {
                bsp_p: Some(-1.5),
                bsp_q: Some(2.0)
            })
        );
        assert_eq!(b.ems(&at("2026-12-07T17:30:00Z")), None, "all over: 404");
    }

    #[test]
    fn a_set_point_with_a_known_id_replaces_it() {
        let mut b = board();
        let now = at("2026-12-07T17:00:00Z");
        b.accept(set_point("p1", Unit::Watt, 3000.0, 0, 15), &now)
            .unwrap();
        b.accept(set_point("p1", Unit::Var, 1000.0, 0, 15), &now)
            .unwrap();
        assert_eq!(b.current(BspQuantity::Active, &now), None);
        assert_eq!(b.current(BspQuantity::Reactive, &now), Some(1.0));
    }

    #[test]
    fn refusals_say_why() {
        let mut b = board();
        let now = at("2026-12-07T17:00:00Z");
        let mut other = set_point("x", Unit::Watt, 1.0, 0, 15);
        other.pod = Some(PodId::new("POD-2").unwrap());
        assert!(b.accept(other, &now).unwrap_err().contains("PoD POD-2"));
        let volts = set_point("v", Unit::Volt, 1.0, 0, 15);
        assert!(b.accept(volts, &now).unwrap_err().contains("unit V"));
        let over = set_point("o", Unit::Watt, 1.0, -60, 0);
        assert!(b.accept(over, &now).unwrap_err().starts_with("over since"));
    }

    #[test]
    fn registers_hold_floats_high_word_first_and_nan_without_a_set_point() {
        let mut b = board();
        let now = at("2026-12-07T17:00:00Z");
        b.accept(set_point("p1", Unit::Watt, -2500.0, 0, 15), &now)
            .unwrap();
        let words = b.read_registers(1000, 2, &now).unwrap();
        let bits = (u32::from(words[0]) << 16) | u32::from(words[1]);
        assert_eq!(f32::from_bits(bits), -2.5);
        assert_eq!(b.read_registers(1100, 2, &now).unwrap(), [0x7FC0, 0x0000]);
        assert_eq!(b.read_registers(2100, 2, &now).unwrap(), [0x7FC0, 0x0000]);
        assert_eq!(
            b.read_registers(1000, 3, &now),
            Err(RegisterRefusal::IllegalDataAddress),
            "1002 is not a register"
        );
        assert_eq!(
            b.read_registers(999, 1, &now),
            Err(RegisterRefusal::IllegalDataAddress)
        );
        assert_eq!(
            b.read_registers(u16::MAX, 2, &now),
            Err(RegisterRefusal::IllegalDataAddress)
        );
        assert_eq!(
            b.read_registers(1000, 0, &now),
            Err(RegisterRefusal::IllegalDataValue)
        );
    }
}
