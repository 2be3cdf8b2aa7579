//! Input generators shared by the Platone SDK benchmarks.
//!
//! The benchmarks themselves live in `benches/benches/`; this library holds the deterministic
//! generators they share, so that a benchmark and its peer script can be given the same input.
//!
//! ```
//! let lines = platone_benches::measurement_lines(3);
//! assert_eq!(lines.lines().count(), 3);
//! ```
#![forbid(unsafe_code)]

use std::fmt::Write;

/// `n` Measurement JSON lines shaped like 15-minute smart-meter interval data: 100 meters,
/// consecutive intervals, forward active energy in kWh.
pub fn measurement_lines(n: usize) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2021-06-30T00:15:00+02:00")
        .unwrap_or_else(|_| chrono::DateTime::UNIX_EPOCH.fixed_offset());
    let mut out = String::with_capacity(n * 260);
    for i in 0..n {
        let meter = i % 100;
        let t = start + chrono::Duration::minutes(15 * (i / 100) as i64);
        let value = ((i * 7919) % 5000) as f64 / 1000.0;
        let _ = writeln!(
            out,
            r#"{{"source":"meter-{meter:05}","meter":"meter-{meter:05}","pod":"GR-POD-{meter:05}","timestamp":"{}","kind":"energy","phases":"ABC","direction":"forward","accumulation":"delta","interval":900,"aggregate":"sum","unit":"Wh","multiplier":3,"value":{value},"quality":[]}}"#,
            t.to_rfc3339()
        );
    }
    out
}
