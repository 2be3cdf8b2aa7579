//! A generated 100 MB MeterReadings document streams in bounded memory.
//!
//! The document is produced on the fly by `DumpReader` (one meter at a time), so it is never
//! in memory as a whole; the test reads it through `MeterReadingsStream::records` and checks
//! the peak resident set size of this test process (its own binary, so nothing else runs in
//! it) stays far below the document's size.

use std::io::BufReader;

use platone_cim::meter_readings::generate::{DumpReader, READINGS_PER_METER};
use platone_cim::meter_readings::{MeterReadingsStream, Mode, Record};

const DOCUMENT_BYTES: u64 = 100 * 1024 * 1024;

/// Peak resident set size of this process in KiB (`VmHWM` from /proc/self/status).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status is needed to measure memory (Linux)");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[test]
fn a_100_mb_document_streams_in_bounded_memory() {
    let meters = DumpReader::meters_for_bytes(DOCUMENT_BYTES);
    let before = peak_rss_kib();
    let mut readings = 0usize;
    let mut bytes_of_values = 0usize;
    let input = BufReader::with_capacity(64 * 1024, DumpReader::new(meters));
    for record in MeterReadingsStream::new(input, Mode::Strict).records() {
        match record.unwrap() {
            Record::Reading(r) => {
                readings += 1;
                bytes_of_values += r.value.raw().map_or(0, str::len);
            }
            Record::Event(_) => unreachable!("the generated dump has no events"),
        }
    }
    let after = peak_rss_kib();
    assert_eq!(readings, meters * READINGS_PER_METER);
    assert!(bytes_of_values > 0);
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 16,
        "peak RSS grew by {grown_mib} MiB while streaming a {} MiB document",
        DOCUMENT_BYTES / (1024 * 1024)
    );
}
