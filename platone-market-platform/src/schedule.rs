//! Sessions created from a schedule in the configuration (T-MP-02): a day-ahead session per
//! delivery day, its gate closing at a local time of the day before, and real-time sessions
//! every few minutes over the next hours, in parallel with day-ahead.
//!
//! Times of day are read in the schedule's IANA time zone (`Europe/Rome`), so a day-ahead
//! session of a daylight-saving change has 23 or 25 hours of slots. Slots of scheduled
//! sessions are named by their start in UTC (`2026-12-08T11:00:00Z`) and carry their length
//! ([`SessionSpec::slot_minutes`]), which is how real-time sessions find the day-ahead offers
//! they carry over.
//!
//! ```
//! use platone_market_platform::schedule::MarketSchedule;
//!
//! let schedule: MarketSchedule = toml::from_str(r#"
//!     time_zone = "Europe/Rome"
//!     [day_ahead]
//!     gate_closure = "12:00"
//!     [real_time]
//!     every_minutes = 15
//! "#)?;
//! schedule.check()?;
//! let now = "2026-03-28T09:00:00Z".parse()?;
//! let due = schedule.sessions_due(now)?;
//! // The day-ahead session of 29 March (summer time begins: 23 hours) and the real-time
//! // session whose gate closes next.
//! assert_eq!(due[0].id.as_deref(), Some("da-20260329"));
//! assert_eq!(due[0].slots.len(), 23);
//! assert_eq!(due[0].gate_closure.to_rfc3339(), "2026-03-28T11:00:00+00:00");
//! assert_eq!(due[1].id.as_deref(), Some("rt-20260328T0915Z"));
//! assert_eq!(due[1].slots[0], "2026-03-28T09:30:00Z");
//! assert_eq!(due[1].slots.len(), 16);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use platone_market::QuantityUnit;
use platone_market::scenario::NetworkFile;
use serde::{Deserialize, Serialize};

use crate::error::{PlatformError, Result};
use crate::session::{DEFAULT_ALGORITHM, SessionKind, SessionSpec};

/// A checked schedule with its network read: what the platform's clock runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledSessions {
    /// The schedule.
    pub schedule: MarketSchedule,
    /// Its network, read from [`MarketSchedule::network`].
    pub network: Option<NetworkFile>,
}

impl ScheduledSessions {
    /// Checks `schedule` and reads its network.
    pub fn load(schedule: MarketSchedule) -> Result<Self> {
        schedule.check()?;
        let network = schedule.read_network()?;
        Ok(ScheduledSessions { schedule, network })
    }

    /// Whether real-time sessions take over unmatched day-ahead offers.
    pub fn carries_over(&self) -> bool {
        self.schedule
            .real_time
            .as_ref()
            .is_some_and(|rt| rt.carry_over)
            && self.schedule.day_ahead.is_some()
    }
}

/// The schedule: `[schedule]` of the platform's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSchedule {
    /// The IANA time zone of the gate-closure times and of delivery days (`Europe/Rome`).
    pub time_zone: String,
    /// The daily day-ahead session, if any.
    #[serde(default)]
    pub day_ahead: Option<DayAheadSchedule>,
    /// The rolling real-time sessions, if any.
    #[serde(default)]
    pub real_time: Option<RealTimeSchedule>,
    /// The unit of quantities of scheduled sessions (`MW` by default).
    #[serde(default)]
    pub unit: Option<String>,
    /// A JSON file holding a DC network in the scenario format's `network` member: scheduled
    /// sessions are located on it and validated against it.
    #[serde(default)]
    pub network: Option<PathBuf>,
}

/// A day-ahead session per delivery day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayAheadSchedule {
    /// The gate closure, a local time (`HH:MM`) of the day before delivery.
    pub gate_closure: String,
    /// How long before its gate closure the session opens (hours, default 24).
    #[serde(default = "default_open_hours")]
    pub open_hours: u32,
    /// The length of a delivery slot in minutes (default 60; divides a day).
    #[serde(default = "default_day_ahead_slot")]
    pub slot_minutes: u32,
    /// The clearing algorithm (default `dso-first`).
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
}

/// A real-time session every `every_minutes`, over the next `horizon_minutes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealTimeSchedule {
    /// A gate closes every this many minutes (aligned on the hour; divides 60 or a day).
    pub every_minutes: u32,
    /// How far ahead a session's slots reach (minutes, default 240: the next four hours).
    #[serde(default = "default_horizon")]
    pub horizon_minutes: u32,
    /// The length of a delivery slot in minutes (default 15).
    #[serde(default = "default_real_time_slot")]
    pub slot_minutes: u32,
    /// How long after its gate closure a session's first slot begins (minutes, default 15).
    #[serde(default = "default_lead")]
    pub lead_minutes: u32,
    /// The clearing algorithm (default `dso-first`).
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// Carry the unmatched quantity of published day-ahead offers over into real-time
    /// sessions (default `true`).
    #[serde(default = "default_true")]
    pub carry_over: bool,
}

fn default_open_hours() -> u32 {
    24
}
fn default_day_ahead_slot() -> u32 {
    60
}
fn default_horizon() -> u32 {
    240
}
fn default_real_time_slot() -> u32 {
    15
}
fn default_lead() -> u32 {
    15
}
fn default_algorithm() -> String {
    DEFAULT_ALGORITHM.to_owned()
}
fn default_true() -> bool {
    true
}

const DAY_MINUTES: u32 = 24 * 60;

fn invalid(at: &str, message: impl ToString) -> PlatformError {
    PlatformError::invalid(format!("schedule.{at}"), message)
}

fn check_minutes(at: &str, minutes: u32) -> Result<()> {
    if minutes == 0 || !DAY_MINUTES.is_multiple_of(minutes) {
        return Err(invalid(
            at,
            format!("{minutes}: must divide a day (1440 minutes)"),
        ));
    }
    Ok(())
}

fn check_algorithm(at: &str, algorithm: &str) -> Result<()> {
    if !platone_market::clearing::ALGORITHMS.contains(&algorithm) {
        return Err(invalid(
            at,
            format!(
                "unknown algorithm {algorithm:?} (expected one of {})",
                platone_market::clearing::ALGORITHMS.join(", ")
            ),
        ));
    }
    Ok(())
}

/// `HH:MM` → (hour, minute).
fn time_of_day(at: &str, text: &str) -> Result<(i8, i8)> {
    let parsed = text.split_once(':').and_then(|(h, m)| {
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m) = (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?);
        ((0..24).contains(&h) && (0..60).contains(&m)).then_some((h, m))
    });
    parsed.ok_or_else(|| invalid(at, format!("{text:?}: expected a local time HH:MM")))
}

fn instant(ts: jiff::Timestamp) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(ts.as_second(), 0)
        .ok_or_else(|| invalid("time_zone", "a time out of range"))
}

fn timestamp(t: DateTime<Utc>) -> Result<jiff::Timestamp> {
    jiff::Timestamp::from_second(t.timestamp()).map_err(|e| invalid("time_zone", e))
}

/// A slot's name: its start in UTC.
pub fn slot_name(start: DateTime<Utc>) -> String {
    start.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A slot name of a scheduled session read back as its start.
pub fn slot_start(name: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(name)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl MarketSchedule {
    /// Checks the schedule: the time zone is known, times and lengths are well formed.
    pub fn check(&self) -> Result<()> {
        self.zone()?;
        if let Some(da) = &self.day_ahead {
            time_of_day("day_ahead.gate_closure", &da.gate_closure)?;
            check_minutes("day_ahead.slot_minutes", da.slot_minutes)?;
            check_algorithm("day_ahead.algorithm", &da.algorithm)?;
            if da.open_hours == 0 {
                return Err(invalid("day_ahead.open_hours", "must be at least 1"));
            }
        }
        if let Some(rt) = &self.real_time {
            check_minutes("real_time.every_minutes", rt.every_minutes)?;
            check_minutes("real_time.slot_minutes", rt.slot_minutes)?;
            check_algorithm("real_time.algorithm", &rt.algorithm)?;
            if rt.horizon_minutes < rt.slot_minutes {
                return Err(invalid(
                    "real_time.horizon_minutes",
                    "shorter than one slot",
                ));
            }
        }
        self.quantity_unit()?;
        Ok(())
    }

    fn zone(&self) -> Result<TimeZone> {
        TimeZone::get(&self.time_zone)
            .map_err(|e| invalid("time_zone", format!("{:?}: {e}", self.time_zone)))
    }

    fn quantity_unit(&self) -> Result<QuantityUnit> {
        match &self.unit {
            None => Ok(QuantityUnit::Mw),
            Some(unit) => serde_json::from_value(serde_json::Value::String(unit.clone()))
                .map_err(|_| invalid("unit", format!("{unit:?}: expected MW, kW or pu"))),
        }
    }

    /// Reads the configured network file, if any.
    pub fn read_network(&self) -> Result<Option<NetworkFile>> {
        let Some(path) = &self.network else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid("network", format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| invalid("network", format!("{}: {e}", path.display())))
    }

    /// The sessions the schedule wants open at `now`: the day-ahead session whose gate
    /// closes next (once it is within `open_hours`) and the real-time session whose gate
    /// closes next. Their ids are fixed by the schedule (`da-YYYYMMDD` by local delivery day,
    /// `rt-YYYYMMDDTHHMMZ` by gate closure), so asking again gives the same sessions; no
    /// network is set (see [`MarketSchedule::read_network`]).
    pub fn sessions_due(&self, now: DateTime<Utc>) -> Result<Vec<SessionSpec>> {
        let mut due = Vec::new();
        if let Some(da) = &self.day_ahead {
            due.extend(self.day_ahead_due(da, now)?);
        }
        if let Some(rt) = &self.real_time {
            due.push(self.real_time_due(rt, now)?);
        }
        Ok(due)
    }

    fn day_ahead_due(
        &self,
        da: &DayAheadSchedule,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionSpec>> {
        let zone = self.zone()?;
        let (hour, minute) = time_of_day("day_ahead.gate_closure", &da.gate_closure)?;
        let today = timestamp(now)?.to_zoned_datetime(zone.clone()).date();
        let zoned = |date: Date| -> Result<DateTime<Utc>> {
            let local = date
                .at(hour, minute, 0, 0)
                .to_zoned_datetime(zone.clone())
                .map_err(|e| invalid("day_ahead.gate_closure", e))?;
            instant(local.timestamp())
        };
        // The next gate closure: today's, or tomorrow's once today's has passed.
        let mut gate_day = today;
        let mut gate_closure = zoned(gate_day)?;
        if gate_closure <= now {
            gate_day = gate_day.tomorrow().map_err(|e| invalid("time_zone", e))?;
            gate_closure = zoned(gate_day)?;
        }
        if gate_closure - TimeDelta::hours(i64::from(da.open_hours)) > now {
            return Ok(None);
        }
        let delivery = gate_day.tomorrow().map_err(|e| invalid("time_zone", e))?;
        let start_of = |date: Date| -> Result<DateTime<Utc>> {
            let zoned = date
                .to_zoned_datetime(zone.clone())
                .map_err(|e| invalid("time_zone", e))?;
            instant(zoned.timestamp())
        };
        let from = start_of(delivery)?;
        let to = start_of(delivery.tomorrow().map_err(|e| invalid("time_zone", e))?)?;
        let step = TimeDelta::minutes(i64::from(da.slot_minutes));
        let mut slots = Vec::new();
        let mut at = from;
        while at < to {
            slots.push(slot_name(at));
            at += step;
        }
        Ok(Some(SessionSpec {
            id: Some(format!(
                "da-{:04}{:02}{:02}",
                delivery.year(),
                delivery.month(),
                delivery.day()
            )),
            kind: SessionKind::DayAhead,
            slots,
            gate_closure,
            algorithm: da.algorithm.clone(),
            unit: self.quantity_unit()?,
            network: None,
            location_rule: None,
            slot_minutes: Some(da.slot_minutes),
        }))
    }

    fn real_time_due(&self, rt: &RealTimeSchedule, now: DateTime<Utc>) -> Result<SessionSpec> {
        let every = i64::from(rt.every_minutes) * 60;
        // The next gate closure on the grid of `every` minutes from midnight UTC.
        let next = (now.timestamp().div_euclid(every) + 1) * every;
        let gate_closure = DateTime::from_timestamp(next, 0)
            .ok_or_else(|| invalid("real_time.every_minutes", "a time out of range"))?;
        let slot = i64::from(rt.slot_minutes) * 60;
        let first = gate_closure.timestamp() + i64::from(rt.lead_minutes) * 60;
        // The first slot starts on the slot grid, at or after the lead time.
        let first = first.div_euclid(slot) * slot + if first % slot == 0 { 0 } else { slot };
        let count = i64::from(rt.horizon_minutes) * 60 / slot;
        let slots = (0..count)
            .filter_map(|i| DateTime::from_timestamp(first + i * slot, 0))
            .map(slot_name)
            .collect();
        Ok(SessionSpec {
            id: Some(format!("rt-{}", gate_closure.format("%Y%m%dT%H%MZ"))),
            kind: SessionKind::RealTime,
            slots,
            gate_closure,
            algorithm: rt.algorithm.clone(),
            unit: self.quantity_unit()?,
            network: None,
            location_rule: None,
            slot_minutes: Some(rt.slot_minutes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(text: &str) -> MarketSchedule {
        let s: MarketSchedule = toml::from_str(text).unwrap();
        s.check().unwrap();
        s
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const ROME: &str = "time_zone = \"Europe/Rome\"\n[day_ahead]\ngate_closure = \"12:00\"\n";

    #[test]
    fn a_day_ahead_session_opens_a_day_before_its_gate_and_covers_the_local_day() {
        let s = schedule(ROME);
        // 10:59 UTC on 6 Dec is 11:59 in Rome: the gate of 7 Dec's delivery closes at 11:00 UTC.
        let due = s.sessions_due(at("2026-12-06T10:59:00Z")).unwrap();
        assert_eq!(due.len(), 1);
        let da = &due[0];
        assert_eq!(da.id.as_deref(), Some("da-20261207"));
        assert_eq!(da.gate_closure, at("2026-12-06T11:00:00Z"));
        assert_eq!(da.slots.len(), 24);
        // Local midnight of 7 Dec in Rome is 23:00 UTC on 6 Dec.
        assert_eq!(da.slots[0], "2026-12-06T23:00:00Z");
        assert_eq!(da.slots[23], "2026-12-07T22:00:00Z");
        // At the gate, the next day's session is due.
        let next = s.sessions_due(at("2026-12-06T11:00:00Z")).unwrap();
        assert_eq!(next[0].id.as_deref(), Some("da-20261208"));
    }

    #[test]
    fn daylight_saving_days_have_23_and_25_hours() {
        let s = schedule(ROME);
        let spring = s.sessions_due(at("2026-03-28T08:00:00Z")).unwrap();
        assert_eq!(spring[0].id.as_deref(), Some("da-20260329"));
        assert_eq!(spring[0].slots.len(), 23);
        let autumn = s.sessions_due(at("2026-10-24T08:00:00Z")).unwrap();
        assert_eq!(autumn[0].id.as_deref(), Some("da-20261025"));
        assert_eq!(autumn[0].slots.len(), 25);
        // Gate closure on the summer-time Saturday is 12:00 CEST = 10:00 UTC.
        assert_eq!(autumn[0].gate_closure, at("2026-10-24T10:00:00Z"));
    }

    #[test]
    fn a_day_ahead_session_is_not_due_before_it_opens() {
        let s = schedule(
            "time_zone = \"UTC\"\n[day_ahead]\ngate_closure = \"12:00\"\nopen_hours = 2\n",
        );
        assert!(
            s.sessions_due(at("2026-12-06T09:59:00Z"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.sessions_due(at("2026-12-06T10:00:00Z")).unwrap().len(), 1);
    }

    #[test]
    fn real_time_sessions_roll_every_few_minutes_over_the_next_hours() {
        let s =
            schedule("time_zone = \"UTC\"\n[real_time]\nevery_minutes = 15\nlead_minutes = 10\n");
        let due = s.sessions_due(at("2026-12-06T10:07:30Z")).unwrap();
        let rt = &due[0];
        assert_eq!(rt.kind, SessionKind::RealTime);
        assert_eq!(rt.id.as_deref(), Some("rt-20261206T1015Z"));
        assert_eq!(rt.gate_closure, at("2026-12-06T10:15:00Z"));
        // 10:25 is not on the 15-minute grid: the first slot is 10:30.
        assert_eq!(rt.slots[0], "2026-12-06T10:30:00Z");
        assert_eq!(rt.slots.len(), 16);
        assert_eq!(rt.slot_minutes, Some(15));
        // Exactly at a gate, the next one is due.
        let next = s.sessions_due(at("2026-12-06T10:15:00Z")).unwrap();
        assert_eq!(next[0].id.as_deref(), Some("rt-20261206T1030Z"));
    }

    #[test]
    fn bad_schedules_are_named() {
        let bad = |text: &str, at: &str| {
            let s: MarketSchedule = toml::from_str(text).unwrap();
            let e = s.check().unwrap_err().to_string();
            assert!(e.starts_with(at), "{e}");
        };
        bad("time_zone = \"Mars/Olympus\"", "schedule.time_zone");
        bad(
            "time_zone = \"UTC\"\n[day_ahead]\ngate_closure = \"25:00\"",
            "schedule.day_ahead.gate_closure",
        );
        bad(
            "time_zone = \"UTC\"\n[real_time]\nevery_minutes = 7",
            "schedule.real_time.every_minutes",
        );
        bad(
            "time_zone = \"UTC\"\n[real_time]\nevery_minutes = 15\nalgorithm = \"magic\"",
            "schedule.real_time.algorithm",
        );
        bad("time_zone = \"UTC\"\nunit = \"GW\"", "schedule.unit");
    }
}
