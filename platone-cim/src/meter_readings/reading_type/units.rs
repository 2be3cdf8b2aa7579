//! The numeric ReadingType fields 15–18 — phases, multiplier, unit and currency — and their
//! lookup tables.
//!
//! Units follow the IEC 61968-9 Ed.2 ReadingType list (which differs from the CIM17
//! `UnitSymbol` literals for codes 3, 4, 27, 53 and 79: gram, revolutions per second, second,
//! siemens, bel). Units without a common symbol get a camel-case name as their symbol.

use std::fmt;

use platone_model::{Phase, PhaseSet};

use super::tables::{CURRENCIES, PHASE_NAMES, UNITS};

/// Field 17, `unit`: the unit symbol code (IEC 61968-9 `UnitSymbol`, Ed.2 ReadingType list).
///
/// `Display` prints the numeric code; [`UnitSymbol::symbol`] gives `"Wh"` for 72.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitSymbol(pub u32);

impl UnitSymbol {
    /// Watt-hour, 72.
    pub const WATT_HOUR: UnitSymbol = UnitSymbol(72);
    /// Volt-ampere reactive hour, 73.
    pub const VAR_HOUR: UnitSymbol = UnitSymbol(73);

    fn entry(self) -> Option<&'static (u32, &'static str, &'static str)> {
        UNITS
            .binary_search_by_key(&self.0, |e| e.0)
            .ok()
            .and_then(|i| UNITS.get(i))
    }

    /// The unit's symbol (`"Wh"`), or `None` for an unknown code.
    pub fn symbol(self) -> Option<&'static str> {
        self.entry().map(|e| e.1)
    }

    /// The unit's name (`"Watt hours"`), or `None` for an unknown code.
    pub fn name(self) -> Option<&'static str> {
        self.entry().map(|e| e.2)
    }

    /// The code whose symbol is `symbol`, if any.
    pub fn from_symbol(symbol: &str) -> Option<Self> {
        UNITS
            .iter()
            .find(|e| e.1 == symbol)
            .map(|e| UnitSymbol(e.0))
    }
}

impl fmt::Display for UnitSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl serde::Serialize for UnitSymbol {
    /// The symbol, or the decimal code for an unknown code.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.symbol() {
            Some(symbol) => s.serialize_str(symbol),
            None => s.collect_str(&self.0),
        }
    }
}

/// Field 18, `currency`: an ISO 4217 numeric currency code; 0 is "not applicable".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency(pub u32);

impl Currency {
    /// The ISO 4217 letters (`"EUR"` for 978), or `None` for 0 or an unknown code.
    pub fn alpha(self) -> Option<&'static str> {
        CURRENCIES
            .binary_search_by_key(&self.0, |e| e.0)
            .ok()
            .and_then(|i| CURRENCIES.get(i))
            .map(|e| e.1)
    }

    /// The code for ISO 4217 letters, if known.
    pub fn from_alpha(alpha: &str) -> Option<Self> {
        CURRENCIES
            .iter()
            .find(|e| e.1 == alpha)
            .map(|e| Currency(e.0))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl serde::Serialize for Currency {
    /// `null` for 0, the ISO letters when known, else the decimal code.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self.0, self.alpha()) {
            (0, _) => s.serialize_none(),
            (_, Some(alpha)) => s.serialize_str(alpha),
            (code, None) => s.collect_str(&code),
        }
    }
}

/// Field 16, `multiplier`: a power of ten (3 = kilo, −3 = milli).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Multiplier(pub i32);

impl Multiplier {
    /// The SI prefix (`"k"`, `"m"`, empty for 10⁰), or `None` when there is none.
    pub fn prefix(self) -> Option<&'static str> {
        i8::try_from(self.0)
            .ok()
            .and_then(|e| platone_model::UnitMultiplier::new(e).ok())
            .and_then(|m| m.prefix())
    }
}

impl fmt::Display for Multiplier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Field 15, `phases`: the IEC 61968-9 ReadingType phase code, a bit pattern.
///
/// The high nibble of the low byte names the first phase(s) (A = 128, B = 64, C = 32,
/// N = 16), the low nibble the second phase of a phase-to-phase or to-neutral quantity
/// (A = 8, B = 4, C = 2, N = 1); split-phase secondaries are S1 = 512 and S2 = 256. Larger
/// values name wiring configurations (1248 three-wire wye …). This is **not** the CIM
/// `PhaseCode` enumeration, which encodes neutrals differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhaseCode(pub u32);

impl PhaseCode {
    /// Phases A, B and C: 224.
    pub const ABC: PhaseCode = PhaseCode(224);

    /// The table name (`"PHASEABC"`), or `None` when the code has no name.
    pub fn name(self) -> Option<&'static str> {
        PHASE_NAMES
            .binary_search_by_key(&self.0, |e| e.0)
            .ok()
            .and_then(|i| PHASE_NAMES.get(i))
            .map(|e| e.1)
    }

    /// The conductors the code refers to, from its phase bits (wiring-configuration bits above
    /// 1023 are ignored): 224 gives `ABC`, 132 (A to B) gives `AB`, 17 (N to ground) gives `N`.
    pub fn phase_set(self) -> PhaseSet {
        let bits = self.0;
        let mut set = PhaseSet::NONE;
        for (mask, phase) in [
            (128 | 8, Phase::A),
            (64 | 4, Phase::B),
            (32 | 2, Phase::C),
            (16 | 1, Phase::N),
            (512, Phase::S1),
            (256, Phase::S2),
        ] {
            if bits & mask != 0 {
                set = set.with(phase);
            }
        }
        set
    }

    /// The code for a set of phases (first-phase bits; `N` alone is 16).
    pub fn from_phase_set(set: PhaseSet) -> Self {
        let mut code = 0;
        for (bit, phase) in [
            (128, Phase::A),
            (64, Phase::B),
            (32, Phase::C),
            (16, Phase::N),
            (512, Phase::S1),
            (256, Phase::S2),
        ] {
            if set.contains(phase) {
                code |= bit;
            }
        }
        PhaseCode(code)
    }
}

impl fmt::Display for PhaseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl serde::Serialize for PhaseCode {
    /// The phases as letters (`"ABC"`, `"none"`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.phase_set())
    }
}
