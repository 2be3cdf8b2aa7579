//! Schedule arithmetic: when each packet is due, computed from the start of the run (never
//! from the previous packet, so delays do not accumulate into drift), and the times the
//! packets carry.
//!
//! - PMU frame `k` is due `k / rate` seconds after the start and carries the time
//!   `t0 + k / rate` (whole microseconds: SOC `t0 + k div rate`, FRACSEC
//!   `(k mod rate) · 10⁶ div rate`).
//! - Meter interval `i` is due `i · 900 / accelerate` real seconds after the start and its
//!   readings end at `q0 + i · 900` simulated seconds, where `q0` is the quarter hour at or
//!   before `t0`: interval 0 (the quarter hour that just ended) goes out at once.

use std::time::Duration;

use super::meters::INTERVAL_SECS;

const NANOS: u128 = 1_000_000_000;

/// When PMU frame `frame` is due, after the start, at `rate` frames per second.
pub fn frame_offset(rate: u32, frame: u64) -> Duration {
    let nanos = u128::from(frame) * NANOS / u128::from(rate.max(1));
    duration_from_nanos(nanos)
}

/// The time PMU frame `frame` carries: (seconds since the Unix epoch, microseconds within the
/// second), from the start second `t0`.
pub fn frame_time(t0: i64, rate: u32, frame: u64) -> (i64, u32) {
    let rate = u64::from(rate.max(1));
    let secs = t0.saturating_add(i64::try_from(frame / rate).unwrap_or(i64::MAX));
    let micros = (frame % rate) * 1_000_000 / rate;
    (secs, u32::try_from(micros).unwrap_or(999_999))
}

/// Frames due strictly before `duration` at `rate` frames per second.
pub fn frames_within(rate: u32, duration: Duration) -> u64 {
    // k is due before d ⟺ k · 10⁹ < d_ns · rate.
    let product = duration.as_nanos() * u128::from(rate.max(1));
    u64::try_from(product.div_ceil(NANOS)).unwrap_or(u64::MAX)
}

/// When meter interval `interval` is due, after the start, with time `accelerate` times
/// faster than real time.
pub fn interval_offset(accelerate: f64, interval: u64) -> Duration {
    let secs = interval as f64 * INTERVAL_SECS as f64 / accelerate;
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// Meter intervals due strictly before `duration`.
pub fn intervals_within(accelerate: f64, duration: Duration) -> u64 {
    let mut n = (duration.as_secs_f64() * accelerate / INTERVAL_SECS as f64).floor() as u64;
    // Correct the floating-point estimate at the boundary so that it agrees with
    // `interval_offset` exactly.
    while n > 0 && interval_offset(accelerate, n - 1) >= duration {
        n -= 1;
    }
    while interval_offset(accelerate, n) < duration {
        n += 1;
    }
    n
}

/// The quarter hour at or before `t0` (seconds since the Unix epoch).
pub fn quarter_hour_before(t0: i64) -> i64 {
    t0 - t0.rem_euclid(INTERVAL_SECS as i64)
}

/// The end of meter interval `interval` (seconds since the Unix epoch), from the start `t0`.
pub fn interval_end(t0: i64, interval: u64) -> i64 {
    let step = i64::try_from(interval)
        .unwrap_or(i64::MAX)
        .saturating_mul(INTERVAL_SECS as i64);
    quarter_hour_before(t0).saturating_add(step)
}

fn duration_from_nanos(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / NANOS).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % NANOS) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frames_are_due_every_period_without_drift() {
        assert_eq!(frame_offset(50, 0), Duration::ZERO);
        assert_eq!(frame_offset(50, 1), Duration::from_millis(20));
        assert_eq!(frame_offset(50, 50_000), Duration::from_secs(1000));
        // 1/3 s does not add up to an error: frame 3·10⁶ is due at exactly 10⁶ s.
        assert_eq!(frame_offset(3, 3_000_000), Duration::from_secs(1_000_000));
        assert_eq!(frame_offset(3, 1), Duration::from_nanos(333_333_333));
    }

    #[test]
    fn frame_times_advance_by_one_period() {
        assert_eq!(frame_time(100, 50, 0), (100, 0));
        assert_eq!(frame_time(100, 50, 1), (100, 20_000));
        assert_eq!(frame_time(100, 50, 49), (100, 980_000));
        assert_eq!(frame_time(100, 50, 50), (101, 0));
        assert_eq!(frame_time(100, 30, 1), (100, 33_333));
    }

    #[test]
    fn counting_what_is_due_in_a_duration() {
        assert_eq!(frames_within(50, Duration::from_secs(2)), 100);
        assert_eq!(frames_within(50, Duration::from_millis(2001)), 101);
        assert_eq!(frames_within(50, Duration::ZERO), 0);
        // 900× faster: one interval per real second; 0, 1 and 2 are due before 2.5 s.
        assert_eq!(intervals_within(900.0, Duration::from_millis(2500)), 3);
        assert_eq!(intervals_within(900.0, Duration::from_secs(2)), 2);
        assert_eq!(intervals_within(1.0, Duration::from_secs(30)), 1);
        assert_eq!(interval_offset(60.0, 2), Duration::from_secs(30));
    }

    #[test]
    fn meter_intervals_end_on_quarter_hours() {
        let t0 = 1_767_225_600 + 7 * 60 + 13; // 00:07:13
        assert_eq!(interval_end(t0, 0), 1_767_225_600);
        assert_eq!(interval_end(t0, 1), 1_767_225_600 + 900);
        assert_eq!(quarter_hour_before(1_767_225_600), 1_767_225_600);
    }

    proptest! {
        #[test]
        fn counts_agree_with_offsets(rate in 1u32..40_000, millis in 0u64..100_000) {
            let d = Duration::from_millis(millis);
            let n = frames_within(rate, d);
            prop_assert!(n == 0 || frame_offset(rate, n - 1) < d);
            prop_assert!(frame_offset(rate, n) >= d);
        }

        #[test]
        fn interval_counts_agree_with_offsets(f in 0.01f64..100_000.0, millis in 0u64..100_000) {
            let d = Duration::from_millis(millis);
            let n = intervals_within(f, d);
            prop_assert!(n == 0 || interval_offset(f, n - 1) < d);
            prop_assert!(interval_offset(f, n) >= d);
        }

        #[test]
        fn frame_times_are_the_offsets_in_whole_microseconds(rate in 1u32..32_768, k in 0u64..10_000_000) {
            let (s, us) = frame_time(0, rate, k);
            let off = frame_offset(rate, k);
            prop_assert_eq!(s as u64, off.as_secs());
            prop_assert_eq!(us, off.subsec_micros());
        }
    }
}
