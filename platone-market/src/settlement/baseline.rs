//! Baselines computed from metered series.
//!
//! All methods work on an equally spaced metered series (e.g. 15-minute energy or mean power)
//! and an event window inside it; they return one baseline value per event interval.
//!
//! - `Declared`: the values the balance service provider nominated.
//! - `XOfY`: of the `y` previous days, keep the middle `x` by their consumption over the event
//!   window (the highest and lowest are dropped alternately, highest first) and average them
//!   interval by interval.
//! - `HighXOfY`: the same with the `x` highest days.
//! - Both accept a same-day additive adjustment: the mean difference between metered values
//!   and the unadjusted baseline over the `intervals` just before the event, optionally capped
//!   at `cap` × the mean baseline.
//! - `MeterBeforeMeterAfter`: a straight line from the last reading before the event to the
//!   first reading after it (flat at the reading before if there is none after).
//! - `RollingWorkingDays`: the mean of the same interval on the previous `days` working days
//!   (Monday to Friday).

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};

use crate::error::{MarketError, Result};

/// An equally spaced metered series.
#[derive(Debug, Clone, PartialEq)]
pub struct MeteredSeries {
    /// Start of the first interval.
    pub start: DateTime<Utc>,
    /// Interval length in minutes (must divide a day).
    pub step_minutes: u32,
    /// One value per interval.
    pub values: Vec<f64>,
}

/// An event (delivery) window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// Start of the first event interval.
    pub start: DateTime<Utc>,
    /// Number of intervals.
    pub intervals: usize,
}

/// A same-day adjustment of a day-matching baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SameDayAdjustment {
    /// Number of intervals right before the event used for the adjustment.
    pub intervals: usize,
    /// Largest adjustment as a fraction of the mean unadjusted baseline (`None` = no cap).
    pub cap: Option<f64>,
}

/// A baseline method.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BaselineMethod {
    /// Values nominated by the balance service provider, one per event interval.
    Declared(Vec<f64>),
    /// Middle X of the previous Y days.
    XOfY {
        /// Days kept.
        x: usize,
        /// Days considered.
        y: usize,
        /// Optional same-day adjustment.
        adjustment: Option<SameDayAdjustment>,
    },
    /// Highest X of the previous Y days.
    HighXOfY {
        /// Days kept.
        x: usize,
        /// Days considered.
        y: usize,
        /// Optional same-day adjustment.
        adjustment: Option<SameDayAdjustment>,
    },
    /// Interpolation between the readings just before and just after the event.
    MeterBeforeMeterAfter,
    /// Same interval of the previous working days.
    RollingWorkingDays {
        /// Number of working days averaged.
        days: usize,
    },
}

fn err(m: impl Into<String>) -> MarketError {
    MarketError::Settlement(m.into())
}

impl MeteredSeries {
    fn index_of(&self, t: DateTime<Utc>) -> Result<i64> {
        let step = i64::from(self.step_minutes);
        if step == 0 || 1440 % step != 0 {
            return Err(err(format!(
                "step of {} minutes does not divide a day",
                self.step_minutes
            )));
        }
        let minutes = (t - self.start).num_minutes();
        if (t - self.start) != Duration::minutes(minutes) || minutes % step != 0 {
            return Err(err(format!(
                "{t} is not on an interval boundary of the series"
            )));
        }
        Ok(minutes / step)
    }

    fn value(&self, index: i64) -> Result<f64> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.values.get(i))
            .copied()
            .ok_or_else(|| {
                err(format!(
                    "the series has no interval {index} (history too short)"
                ))
            })
    }

    fn per_day(&self) -> i64 {
        1440 / i64::from(self.step_minutes.max(1))
    }
}

/// Computes the baseline of `event` from `series` with `method`.
pub fn compute_baseline(
    method: &BaselineMethod,
    series: &MeteredSeries,
    event: Event,
) -> Result<Vec<f64>> {
    if event.intervals == 0 {
        return Err(err("event has no intervals"));
    }
    let k = series.index_of(event.start)?;
    let n = event.intervals as i64;
    match method {
        BaselineMethod::Declared(values) => {
            if values.len() != event.intervals {
                return Err(err(format!(
                    "{} declared values for an event of {} intervals",
                    values.len(),
                    event.intervals
                )));
            }
            Ok(values.clone())
        }
        BaselineMethod::XOfY { x, y, adjustment } => {
            day_matching(series, k, n, *x, *y, false, *adjustment)
        }
        BaselineMethod::HighXOfY { x, y, adjustment } => {
            day_matching(series, k, n, *x, *y, true, *adjustment)
        }
        BaselineMethod::MeterBeforeMeterAfter => {
            let before = series.value(k - 1)?;
            let after = series.value(k + n).ok();
            Ok((0..n)
                .map(|i| match after {
                    Some(a) => before + (a - before) * (i + 1) as f64 / (n + 1) as f64,
                    None => before,
                })
                .collect())
        }
        BaselineMethod::RollingWorkingDays { days } => {
            if *days == 0 {
                return Err(err("rolling baseline needs at least one day"));
            }
            let per_day = series.per_day();
            let mut chosen = Vec::new();
            let mut back = 1i64;
            while chosen.len() < *days {
                let day = event.start - Duration::days(back);
                if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                    chosen.push(back);
                }
                back += 1;
                if back > 366 {
                    return Err(err("no working days found in a year of history"));
                }
            }
            (0..n)
                .map(|i| {
                    let mut s = 0.0;
                    for &b in &chosen {
                        s += series.value(k + i - b * per_day)?;
                    }
                    Ok(s / chosen.len() as f64)
                })
                .collect()
        }
    }
}

fn day_matching(
    series: &MeteredSeries,
    k: i64,
    n: i64,
    x: usize,
    y: usize,
    high: bool,
    adjustment: Option<SameDayAdjustment>,
) -> Result<Vec<f64>> {
    if x == 0 || x > y {
        return Err(err(format!("X of Y needs 0 < X <= Y (got {x} of {y})")));
    }
    let per_day = series.per_day();
    let pre = adjustment.map_or(0, |a| a.intervals as i64);
    // (day offset, energy over the event window)
    let mut days = Vec::with_capacity(y);
    for d in 1..=y as i64 {
        let mut e = 0.0;
        for i in 0..n {
            e += series.value(k + i - d * per_day)?;
        }
        days.push((d, e));
    }
    // Highest first; ties: the more recent day first.
    days.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let kept: Vec<i64> = if high {
        days.iter().take(x).map(|d| d.0).collect()
    } else {
        let mut lo = 0;
        let mut hi = days.len();
        let mut top = true;
        while hi - lo > x {
            if top {
                lo += 1;
            } else {
                hi -= 1;
            }
            top = !top;
        }
        days.get(lo..hi)
            .unwrap_or(&[])
            .iter()
            .map(|d| d.0)
            .collect()
    };
    let average = |index: i64| -> Result<f64> {
        let mut s = 0.0;
        for &d in &kept {
            s += series.value(index - d * per_day)?;
        }
        Ok(s / kept.len() as f64)
    };
    let mut base = (0..n)
        .map(|i| average(k + i))
        .collect::<Result<Vec<f64>>>()?;
    if let Some(adj) = adjustment
        && pre > 0
    {
        let mut diff = 0.0;
        for i in 1..=pre {
            diff += series.value(k - i)? - average(k - i)?;
        }
        let mut shift = diff / pre as f64;
        if let Some(cap) = adj.cap {
            let mean = base.iter().sum::<f64>() / base.len() as f64;
            let limit = (cap * mean).abs();
            shift = shift.clamp(-limit, limit);
        }
        for v in &mut base {
            *v += shift;
        }
    }
    Ok(base)
}
