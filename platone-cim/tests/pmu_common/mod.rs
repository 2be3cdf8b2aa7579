//! Helpers shared by the PMU integration tests: reference files and hex frames.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared PMU reference directory; panics with a clear message when absent.
pub fn reference(rel: &str) -> PathBuf {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/reference/pmu/"
    ))
    .join(rel);
    assert!(
        path.exists(),
        "PMU reference file {} is missing: the tests need /work/shared/reference/pmu",
        path.display()
    );
    path
}

/// The frames of a `.hex` reference file, each with the `#` comment line before it.
pub fn hex_frames(rel: &str) -> Vec<(String, Vec<u8>)> {
    let text = std::fs::read_to_string(reference(rel)).unwrap();
    let mut out = Vec::new();
    let mut label = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(c) = line.strip_prefix('#') {
            label = c.trim().to_string();
        } else if !line.is_empty() {
            out.push((label.clone(), hex::decode(line).unwrap()));
        }
    }
    out
}
