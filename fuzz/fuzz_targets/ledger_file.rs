//! The embedded file ledger as found on disk: the input is written as the ledger file, which
//! is then opened, checked and queried through the `Ledger` API only.
//!
//! Invariants: opening and checking a damaged ledger gives errors, never a panic; what `get`
//! and `list` return matches what was asked (batch, source, sequence range, in order).
#![no_main]

use libfuzzer_sys::fuzz_target;
use platone_certify::ledger::{FileLedger, Ledger};

/// The batch identifiers and sources the input names, wherever it is JSON enough to say.
fn names(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    let (mut batches, mut sources) = (Vec::new(), Vec::new());
    for line in bytes.split(|&b| b == b'\n').take(64) {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        let certificate = &value["certificate"];
        if let Some(b) = certificate["batch_id"].as_str() {
            batches.push(b.to_owned());
        }
        if let Some(s) = certificate["source"].as_str() {
            sources.push(s.to_owned());
        }
    }
    batches.push("pmu-1:0".into());
    sources.push("pmu-1".into());
    (batches, sources)
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    if std::fs::write(dir.path().join(FileLedger::FILE_NAME), bytes).is_err() {
        return;
    }
    let Ok(ledger) = FileLedger::open(dir.path()) else {
        return;
    };
    futures::executor::block_on(async {
        let _ = ledger.check_consistency().await;
        let (batches, sources) = names(bytes);
        for batch in &batches {
            if let Ok(Some(entry)) = ledger.get(batch).await {
                assert_eq!(
                    &entry.certificate.batch_id, batch,
                    "get returned another batch"
                );
            }
        }
        for source in &sources {
            // The whole chain, a window, and a reversed range (which must list nothing).
            let reversed = std::ops::Range { start: 5, end: 2 };
            for range in [0..u64::MAX, 1..3, reversed] {
                let Ok(entries) = ledger.list(source, range.clone()).await else {
                    continue;
                };
                let mut last = None;
                for e in &entries {
                    assert_eq!(
                        &e.certificate.source, source,
                        "list returned another source"
                    );
                    assert!(range.contains(&e.certificate.sequence), "outside {range:?}");
                    assert!(last < Some(e.certificate.sequence), "list out of order");
                    last = Some(e.certificate.sequence);
                }
            }
        }
    });
});
