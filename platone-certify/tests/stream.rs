//! The file entry point (`certify_json_lines`) batches exactly as a `Batcher` fed each record's
//! own time as its clock.

use chrono::TimeDelta;
use platone_certify::{
    BatchCertificate, BatchPolicy, Batcher, Certifiable, JsonRecord, Scheme, StreamOptions,
    certify_json_lines,
};
use platone_model::Timestamp;

fn t(s: &str) -> Timestamp {
    platone_model::parse_timestamp(s).unwrap()
}

/// Records a second apart, with some out of order and (when `untimed`) some without a time.
fn lines(n: u32, untimed: bool) -> Vec<String> {
    (0..n)
        .map(|i| {
            let second = if i % 11 == 3 { i.saturating_sub(7) } else { i };
            if untimed && i % 9 == 4 {
                format!("{{\"value\":{i}}}")
            } else {
                format!(
                    "{{\"value\":{i},\"timestamp\":\"2024-05-01T10:{:02}:{:02}.25Z\"}}",
                    second / 60,
                    second % 60
                )
            }
        })
        .collect()
}

fn stream(
    lines: &[String],
    scheme: Scheme,
    max: usize,
    window: i64,
    after: Option<&BatchCertificate>,
) -> Vec<BatchCertificate> {
    let options = StreamOptions::new(scheme, "pmu-3", max, t("2025-06-01T00:00:00Z"))
        .with_window(TimeDelta::seconds(window));
    let text = lines.join("\n");
    certify_json_lines(text.as_bytes(), &options, after, |l, e| panic!("{l}: {e}"))
        .unwrap()
        .batches
        .into_iter()
        .map(|b| b.certificate)
        .collect()
}

#[test]
fn the_file_entry_point_and_a_batcher_on_record_times_give_the_same_certificates() {
    let created_at = t("2025-06-01T00:00:00Z");
    for scheme in [Scheme::Sha256, Scheme::Keccak] {
        for (max, window) in [(7, 5), (180, 60), (1000, 30), (3, 1_000_000)] {
            let lines = lines(400, true);
            let previous = stream(&lines[..10], scheme, 4, 60, None);
            let last = previous.last().unwrap();
            let from_file = stream(&lines, scheme, max, window, Some(last));

            let mut batcher = Batcher::new(
                scheme,
                BatchPolicy {
                    max_records: max,
                    window: TimeDelta::seconds(window),
                },
            );
            batcher.resume(last).unwrap();
            let mut from_batcher = Vec::new();
            for line in &lines {
                let record = JsonRecord::parse(line).unwrap();
                let leaf = scheme.leaf_hash(&record.canonical_bytes().unwrap());
                let time = record.timestamp();
                from_batcher.extend(
                    batcher
                        .add_leaf_with_clock("pmu-3", leaf, time, time, created_at)
                        .unwrap(),
                );
            }
            from_batcher.extend(batcher.flush_trees(created_at).unwrap());
            let from_batcher: Vec<BatchCertificate> =
                from_batcher.into_iter().map(|b| b.certificate).collect();
            assert_eq!(from_file, from_batcher, "{scheme} {max} {window}");
            assert_eq!(from_file[0].sequence, last.sequence + 1);
            assert_eq!(from_file[0].previous, Some(last.hash().unwrap()));
        }
    }
}

#[test]
fn a_live_batcher_clocked_by_record_times_closes_the_same_batches() {
    // With every record timed, the live API (`add`, whose clock is also each certificate's
    // creation time) closes the same batches over the same roots and times.
    let lines = lines(300, false);
    for (max, window) in [(5, 4), (180, 60), (1000, 45)] {
        let from_file = stream(&lines, Scheme::Sha256, max, window, None);
        let mut batcher = Batcher::new(
            Scheme::Sha256,
            BatchPolicy {
                max_records: max,
                window: TimeDelta::seconds(window),
            },
        );
        let mut live = Vec::new();
        let mut clock = None;
        for line in &lines {
            let record = JsonRecord::parse(line).unwrap();
            let time = record.timestamp().unwrap();
            live.extend(batcher.add("pmu-3", &record, time).unwrap());
            clock = Some(time);
        }
        live.extend(batcher.flush(clock.unwrap()).unwrap());
        assert_eq!(from_file.len(), live.len(), "{max} {window}");
        for (f, l) in from_file.iter().zip(&live) {
            let l = &l.certificate;
            assert_eq!(
                (
                    &f.batch_id,
                    f.root,
                    f.leaf_count,
                    f.first_timestamp,
                    f.last_timestamp
                ),
                (
                    &l.batch_id,
                    l.root,
                    l.leaf_count,
                    l.first_timestamp,
                    l.last_timestamp
                )
            );
        }
    }
}
