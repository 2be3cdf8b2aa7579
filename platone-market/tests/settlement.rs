//! Settlement: the USEF (Shapeshifter) settlement example and hand-computed baselines.

use chrono::{DateTime, Duration, Utc};
use platone_market::Direction;
use platone_market::settlement::{
    BaselineMethod, Event, MeteredSeries, SameDayAdjustment, compute_baseline, settle_order,
};

const USEF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/market/usef_settlement_example.csv"
);

#[test]
fn usef_settlement_example() {
    let text = std::fs::read_to_string(USEF)
        .unwrap_or_else(|e| panic!("reference data missing: {USEF}: {e}"));
    let mut rows = 0;
    let mut totals = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let v: Vec<f64> = line.split(',').map(|c| c.trim().parse().unwrap()).collect();
        // Baseline 10 MW, 2 MW ordered, price 7 EUR/MW, penalty 11 EUR/MW.
        let s = settle_order("o1", Direction::Up, 2.0, 7.0, 11.0, 10.0, v[0]).unwrap();
        assert_eq!(s.flex_realized, v[1]);
        assert_eq!(s.delivered, v[2]);
        assert_eq!(s.flex_paid, v[3]);
        assert_eq!(s.baseline_deviation, v[4]);
        assert_eq!(s.deficiency, v[5]);
        assert_eq!(s.penalty, v[6]);
        assert_eq!(s.settlement, v[7]);
        totals.push(s.settlement);
        rows += 1;
    }
    assert_eq!(rows, 5);
    assert_eq!(totals, vec![14.0, 14.0, -4.0, -22.0, -33.0]);
}

#[test]
fn downward_orders_mirror_upward_ones() {
    // Baseline 10, 2 ordered as a demand increase: metered 11.5 delivers 1.5, 0.5 short.
    let s = settle_order("o", Direction::Down, 2.0, 7.0, 11.0, 10.0, 11.5).unwrap();
    assert_eq!(s.delivered, 1.5);
    assert_eq!(s.deficiency, 0.5);
    assert_eq!(s.settlement, 1.5 * 7.0 - 0.5 * 11.0);
    assert!(settle_order("o", Direction::Up, -1.0, 7.0, 11.0, 10.0, 9.0).is_err());
}

fn day(d: u32) -> DateTime<Utc> {
    // 2021-06-01 is a Tuesday.
    DateTime::parse_from_rfc3339(&format!("2021-06-{d:02}T00:00:00Z"))
        .unwrap()
        .to_utc()
}

/// Hourly series from 2021-06-01 over `days` days; day k (0-based) has value `level(k)` all day.
fn series(days: u32, level: impl Fn(u32) -> f64) -> MeteredSeries {
    MeteredSeries {
        start: day(1),
        step_minutes: 60,
        values: (0..days * 24).map(|h| level(h / 24)).collect(),
    }
}

#[test]
fn x_of_y_and_high_x_of_y() {
    // Days 0..5 at levels 1,5,2,4,3; event on day 5 at 12:00 for two hours.
    let levels = [1.0, 5.0, 2.0, 4.0, 3.0, 9.0];
    let s = series(6, |k| levels[k as usize]);
    let event = Event {
        start: day(6) + Duration::hours(12),
        intervals: 2,
    };
    let high = compute_baseline(
        &BaselineMethod::HighXOfY {
            x: 2,
            y: 5,
            adjustment: None,
        },
        &s,
        event,
    )
    .unwrap();
    assert_eq!(high, vec![4.5, 4.5]);
    // Middle 3 of 5 drops the highest (5) and the lowest (1): mean of 2, 3, 4.
    let mid = compute_baseline(
        &BaselineMethod::XOfY {
            x: 3,
            y: 5,
            adjustment: None,
        },
        &s,
        event,
    )
    .unwrap();
    assert_eq!(mid, vec![3.0, 3.0]);
    // Same-day adjustment: the two hours before the event read 9 against a baseline of 3.
    let adjusted = compute_baseline(
        &BaselineMethod::XOfY {
            x: 3,
            y: 5,
            adjustment: Some(SameDayAdjustment {
                intervals: 2,
                cap: None,
            }),
        },
        &s,
        event,
    )
    .unwrap();
    assert_eq!(adjusted, vec![9.0, 9.0]);
    let capped = compute_baseline(
        &BaselineMethod::XOfY {
            x: 3,
            y: 5,
            adjustment: Some(SameDayAdjustment {
                intervals: 2,
                cap: Some(0.5),
            }),
        },
        &s,
        event,
    )
    .unwrap();
    assert_eq!(capped, vec![4.5, 4.5]);
    // Not enough history.
    assert!(
        compute_baseline(
            &BaselineMethod::HighXOfY {
                x: 2,
                y: 9,
                adjustment: None
            },
            &s,
            event
        )
        .is_err()
    );
}

#[test]
fn meter_before_meter_after_and_declared() {
    let mut s = series(1, |_| 0.0);
    for (h, v) in s.values.iter_mut().enumerate() {
        *v = h as f64;
    }
    let event = Event {
        start: day(1) + Duration::hours(10),
        intervals: 3,
    };
    // Reading before: 9 (hour 9); after: 13 (hour 13): a straight line 10, 11, 12.
    let b = compute_baseline(&BaselineMethod::MeterBeforeMeterAfter, &s, event).unwrap();
    assert_eq!(b, vec![10.0, 11.0, 12.0]);
    let d = compute_baseline(&BaselineMethod::Declared(vec![1.0, 2.0, 3.0]), &s, event).unwrap();
    assert_eq!(d, vec![1.0, 2.0, 3.0]);
    assert!(compute_baseline(&BaselineMethod::Declared(vec![1.0]), &s, event).is_err());
    let misaligned = Event {
        start: day(1) + Duration::minutes(90),
        intervals: 1,
    };
    assert!(compute_baseline(&BaselineMethod::MeterBeforeMeterAfter, &s, misaligned).is_err());
}

#[test]
fn rolling_working_days_skip_weekends() {
    // 2021-06-01 (Tue) .. 2021-06-08 (Tue); day k has level k. Event Tuesday 8 June.
    let s = series(8, f64::from);
    let event = Event {
        start: day(8) + Duration::hours(8),
        intervals: 1,
    };
    // Previous 3 working days: Mon 7 (6), Fri 4 (3), Thu 3 (2) — the weekend is skipped.
    let b = compute_baseline(&BaselineMethod::RollingWorkingDays { days: 3 }, &s, event).unwrap();
    assert_eq!(b, vec![(6.0 + 3.0 + 2.0) / 3.0]);
}
