//! The file ledger: persistence, idempotent anchoring, crash safety, tamper detection, lock.

use futures::executor::block_on;
use platone_certify::ledger::{FileLedger, Ledger, verify_canonical_with_ledger};
use platone_certify::{
    AnchorStatus, BatchPolicy, Batcher, Certifiable, CertifyError, Scheme, SealedBatch,
};

fn t(s: &str) -> platone_model::Timestamp {
    platone_model::parse_timestamp(s).unwrap()
}

/// Batches of 3 records from two sources, interleaved.
fn batches(count: usize) -> (Vec<SealedBatch>, Vec<(String, serde_json::Value)>) {
    let mut b = Batcher::new(
        Scheme::Sha256,
        BatchPolicy {
            max_records: 3,
            window: chrono::TimeDelta::minutes(3),
        },
    );
    let mut sealed = Vec::new();
    let mut records = Vec::new();
    let now = t("2024-01-01T00:00:00Z");
    let mut i = 0;
    while sealed.len() < count {
        let source = if i % 2 == 0 { "pmu-a" } else { "meter-b" };
        let r = serde_json::json!({"source": source, "i": i});
        sealed.extend(b.add(source, &r, now).unwrap());
        records.push((source.to_owned(), r));
        i += 1;
    }
    (sealed, records)
}

#[test]
fn anchors_persist_and_reanchoring_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (sealed, _) = batches(6);
    let certs: Vec<_> = sealed.iter().map(|s| s.certificate.clone()).collect();
    let anchors = {
        let ledger = FileLedger::open(dir.path()).unwrap();
        let first = block_on(ledger.anchor(&certs[0])).unwrap();
        let rest = block_on(ledger.anchor_all(&certs[1..])).unwrap();
        // Anchoring again is idempotent.
        assert_eq!(block_on(ledger.anchor(&certs[0])).unwrap(), first);
        // A different certificate for the same batch is refused.
        let mut other = certs[0].clone();
        other.root.0[0] ^= 1;
        assert!(block_on(ledger.anchor(&other)).is_err());
        // A certificate that skips its chain is refused.
        let mut gap = certs[5].clone();
        gap.sequence += 5;
        gap.batch_id = platone_certify::BatchCertificate::batch_id_for(&gap.source, gap.sequence);
        assert!(block_on(ledger.anchor(&gap)).is_err());
        let mut all = vec![first];
        all.extend(rest);
        all
    };
    let ledger = FileLedger::open(dir.path()).unwrap();
    assert_eq!(ledger.len(), 6);
    for (cert, anchor) in certs.iter().zip(&anchors) {
        assert_eq!(
            block_on(ledger.status(&cert.batch_id)).unwrap().as_ref(),
            Some(anchor)
        );
        assert_eq!(
            block_on(ledger.get(&cert.batch_id))
                .unwrap()
                .unwrap()
                .certificate,
            *cert
        );
    }
    let listed = block_on(ledger.list("pmu-a", 1..3)).unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|e| e.certificate.sequence)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(
        block_on(ledger.check_consistency())
            .unwrap()
            .is_consistent()
    );
    assert_eq!(ledger.last_certificate("meter-b").unwrap().sequence, 2);
}

#[test]
fn single_writer_lock() {
    let dir = tempfile::tempdir().unwrap();
    let _writer = FileLedger::open(dir.path()).unwrap();
    assert!(matches!(
        FileLedger::open(dir.path()),
        Err(CertifyError::Locked(_))
    ));
    // Readers take no lock.
    assert!(FileLedger::open_read_only(dir.path()).is_ok());
}

#[test]
fn torn_tail_is_cut_at_every_byte_and_nothing_acknowledged_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (sealed, _) = batches(4);
    let certs: Vec<_> = sealed.iter().map(|s| s.certificate.clone()).collect();
    {
        let ledger = FileLedger::open(dir.path()).unwrap();
        block_on(ledger.anchor_all(&certs)).unwrap();
    }
    let path = dir.path().join(FileLedger::FILE_NAME);
    let full = std::fs::read(&path).unwrap();
    let last_start = full[..full.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .unwrap()
        + 1;
    for cut in last_start..full.len() {
        // A crash while the last entry was being written: the first three were acknowledged.
        let crash = tempfile::tempdir().unwrap();
        std::fs::write(crash.path().join(FileLedger::FILE_NAME), &full[..cut]).unwrap();
        let ledger = FileLedger::open(crash.path()).unwrap();
        assert_eq!(
            ledger.torn_bytes_cut(),
            (cut - last_start) as u64,
            "cut {cut}"
        );
        assert_eq!(ledger.len(), 3, "cut {cut}");
        for c in &certs[..3] {
            assert!(block_on(ledger.get(&c.batch_id)).unwrap().is_some());
        }
        assert!(
            block_on(ledger.check_consistency())
                .unwrap()
                .is_consistent()
        );
        // The unacknowledged entry can be anchored again and the ledger goes on.
        assert!(matches!(
            block_on(ledger.anchor(&certs[3])).unwrap(),
            AnchorStatus::Anchored(_)
        ));
        drop(ledger);
        let reopened = FileLedger::open(crash.path()).unwrap();
        assert_eq!(reopened.len(), 4);
        assert_eq!(reopened.torn_bytes_cut(), 0);
    }
}

#[test]
fn altered_content_anywhere_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (sealed, records) = batches(6);
    let certs: Vec<_> = sealed.iter().map(|s| s.certificate.clone()).collect();
    let ledger = FileLedger::open(dir.path()).unwrap();
    block_on(ledger.anchor_all(&certs)).unwrap();
    let path = dir.path().join(FileLedger::FILE_NAME);
    let original = std::fs::read(&path).unwrap();
    // Flip each hex digit / character of the file in turn (one in 7 positions, for speed).
    let mut detected = 0;
    for at in (0..original.len()).step_by(7) {
        if original[at] == b'\n' {
            continue;
        }
        let mut altered = original.clone();
        altered[at] = match altered[at] {
            b'0' => b'1',
            b'a' => b'b',
            b'"' => b'\'',
            c if c.is_ascii_digit() => b'0',
            c if c.is_ascii_lowercase() => b'a',
            _ => b'#',
        };
        std::fs::write(&path, &altered).unwrap();
        let report = block_on(ledger.check_consistency()).unwrap();
        assert!(!report.is_consistent(), "byte {at} altered unnoticed");
        detected += 1;
    }
    assert!(detected > 100);
    // A removed entry is noticed too.
    let lines: Vec<&[u8]> = original.split_inclusive(|b| *b == b'\n').collect();
    let without: Vec<u8> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .flat_map(|(_, l)| l.iter().copied())
        .collect();
    std::fs::write(&path, &without).unwrap();
    assert!(
        !block_on(ledger.check_consistency())
            .unwrap()
            .is_consistent()
    );
    drop(ledger);
    assert!(matches!(
        FileLedger::open(dir.path()),
        Err(CertifyError::Corrupt { .. })
    ));

    // Verification against the damaged ledger: the missing batch is an anchor failure, the
    // next batch of its source a chain failure, others still verify.
    let reader = FileLedger::open_read_only(dir.path()).unwrap();
    assert!(!reader.problems().is_empty());
    let missing = &certs[2].batch_id;
    let mut kinds = std::collections::BTreeSet::new();
    for s in &sealed {
        for (k, proof) in s.proofs.iter().enumerate() {
            let seq = s.certificate.sequence as usize;
            let source_records: Vec<_> = records
                .iter()
                .filter(|(src, _)| *src == s.certificate.source)
                .collect();
            let record = &source_records[seq * 3 + k].1;
            let bytes = record.canonical_bytes().unwrap();
            let out = block_on(verify_canonical_with_ledger(&bytes, proof, &reader)).unwrap();
            let kind = match &out {
                platone_certify::Verification::Verified => "verified",
                platone_certify::Verification::Mismatch { reason } => reason.kind(),
            };
            if &s.certificate.batch_id == missing {
                assert_eq!(kind, "anchor");
            }
            kinds.insert(kind);
        }
    }
    assert!(
        kinds.contains("verified") && kinds.contains("anchor") && kinds.contains("chain"),
        "{kinds:?}"
    );
}

/// The ledger is usable as a trait object: the BAL and the CLI hold an `Arc<dyn Ledger>`, and
/// verification takes a `&dyn Ledger`. Refusals and an engine that is down are told apart.
#[test]
fn ledger_is_object_safe_and_refusal_is_not_retryable() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let (sealed, records) = batches(4);
    let certs: Vec<_> = sealed.iter().map(|s| s.certificate.clone()).collect();
    let ledger: Arc<dyn Ledger> = Arc::new(FileLedger::open(dir.path()).unwrap());
    block_on(ledger.anchor_all(&certs)).unwrap();
    assert_eq!(
        block_on(ledger.sources()).unwrap(),
        ["meter-b".to_owned(), "pmu-a".to_owned()]
    );
    assert_eq!(
        block_on(ledger.last_certificate("pmu-a"))
            .unwrap()
            .unwrap()
            .sequence,
        1
    );
    let record = &records[0].1;
    let out = block_on(platone_certify::verify_with_ledger(
        record,
        &sealed[0].proofs[0],
        &*ledger,
    ))
    .unwrap();
    assert!(out.is_verified());
    let mut verifier = platone_certify::LedgerVerifier::new(&*ledger);
    let out = block_on(
        verifier.verify_canonical(&record.canonical_bytes().unwrap(), &sealed[0].proofs[0]),
    )
    .unwrap();
    assert!(out.is_verified());

    let mut gap = certs[3].clone();
    gap.sequence += 5;
    gap.batch_id = platone_certify::BatchCertificate::batch_id_for(&gap.source, gap.sequence);
    let refused = block_on(ledger.anchor(&gap)).unwrap_err();
    assert!(
        matches!(refused, CertifyError::Refused { .. }),
        "{refused:?}"
    );
    assert!(!refused.is_retryable());
    let mut fork = certs[0].clone();
    fork.root.0[0] ^= 1;
    let refused = block_on(ledger.anchor(&fork)).unwrap_err();
    assert!(matches!(refused, CertifyError::Refused { .. }));
    let down = CertifyError::Unavailable {
        engine: "eip155:1:0x0".into(),
        message: "connection refused".into(),
    };
    assert!(down.is_retryable());
}

/// Opening reads the index's checkpoint and the entries after it, never the whole ledger:
/// after a clean close nothing is read, an entry damaged in place before the checkpoint goes
/// unnoticed by open (it is not read) and is found by the explicit consistency check.
#[test]
fn open_does_not_read_the_ledger_before_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (sealed, _) = batches(40);
    let certs: Vec<_> = sealed.iter().map(|s| s.certificate.clone()).collect();
    {
        let ledger = FileLedger::open(dir.path()).unwrap();
        block_on(ledger.anchor_all(&certs[..30])).unwrap();
        assert_eq!(ledger.entries_read_on_open(), 0);
    }
    // Damage entry 3 in place (same length): a reader of the whole file would notice.
    let path = dir.path().join(FileLedger::FILE_NAME);
    let original = std::fs::read(&path).unwrap();
    let lines: Vec<usize> = original
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let mut damaged = original.clone();
    let at = lines[2] + 1 + 40;
    damaged[at] = if damaged[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&path, &damaged).unwrap();

    let ledger = FileLedger::open(dir.path()).unwrap();
    assert_eq!(ledger.entries_read_on_open(), 0);
    assert_eq!(ledger.len(), 30);
    // Lookups by batch id and by source and sequence range go through the index.
    for cert in &certs[..30] {
        if cert.batch_id == certs[3].batch_id {
            continue;
        }
        let entry = block_on(ledger.get(&cert.batch_id)).unwrap().unwrap();
        assert_eq!(entry.certificate, *cert);
    }
    let listed = block_on(ledger.list("pmu-a", 2..6)).unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|e| e.certificate.sequence)
            .collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    assert!(block_on(ledger.get("pmu-a:99")).unwrap().is_none());
    assert!(block_on(ledger.get("no-such-batch")).unwrap().is_none());
    let report = block_on(ledger.check_consistency()).unwrap();
    assert!(!report.is_consistent());
    assert_eq!(report.problems[0].position, 3, "{:?}", report.problems);
    // The ledger goes on: anchoring continues the chain.
    block_on(ledger.anchor_all(&certs[30..])).unwrap();
    assert_eq!(ledger.len(), 40);
}

/// After a crash (no clean close, so no checkpoint) the entries written since the last
/// checkpoint are read again, checked and indexed; a torn tail is cut.
#[test]
fn a_crash_reindexes_only_the_tail_and_cuts_a_torn_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (sealed, _) = batches(20);
    let certs: Vec<_> = sealed.iter().map(|s| s.certificate.clone()).collect();
    {
        let ledger = FileLedger::open(dir.path()).unwrap();
        block_on(ledger.anchor_all(&certs[..12])).unwrap();
    }
    let ledger = FileLedger::open(dir.path()).unwrap();
    block_on(ledger.anchor_all(&certs[12..17])).unwrap();
    // The process dies: no checkpoint is written.
    std::mem::forget(ledger);
    let path = dir.path().join(FileLedger::FILE_NAME);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"position":17,"previous":"0x12"#);
    std::fs::write(&path, &bytes).unwrap();
    // (The forgotten ledger's lock went with its file handle's owner: reopen in a fresh
    // directory copy to be independent of it.)
    let copy = tempfile::tempdir().unwrap();
    for name in std::fs::read_dir(dir.path()).unwrap() {
        let name = name.unwrap();
        let target = copy.path().join(name.file_name());
        if name.file_type().unwrap().is_dir() {
            std::fs::create_dir(&target).unwrap();
            for file in std::fs::read_dir(name.path()).unwrap() {
                let file = file.unwrap();
                std::fs::copy(file.path(), target.join(file.file_name())).unwrap();
            }
        } else {
            std::fs::copy(name.path(), &target).unwrap();
        }
    }
    let ledger = FileLedger::open(copy.path()).unwrap();
    assert_eq!(ledger.entries_read_on_open(), 5);
    assert!(ledger.torn_bytes_cut() > 0);
    assert_eq!(ledger.len(), 17);
    for cert in &certs[..17] {
        assert_eq!(
            block_on(ledger.get(&cert.batch_id))
                .unwrap()
                .unwrap()
                .certificate,
            *cert
        );
    }
    block_on(ledger.anchor_all(&certs[17..])).unwrap();
    assert!(
        block_on(ledger.check_consistency())
            .unwrap()
            .is_consistent()
    );
    drop(ledger);
    let ledger = FileLedger::open(copy.path()).unwrap();
    assert_eq!(ledger.entries_read_on_open(), 0);
    assert_eq!(ledger.len(), 20);
}

/// A lost or damaged index is rebuilt from the ledger file, which is the record of truth.
#[test]
fn a_missing_index_is_rebuilt_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (sealed, _) = batches(10);
    let certs: Vec<_> = sealed.iter().map(|s| s.certificate.clone()).collect();
    {
        let ledger = FileLedger::open(dir.path()).unwrap();
        block_on(ledger.anchor_all(&certs)).unwrap();
    }
    std::fs::remove_file(dir.path().join("ledger.idx")).unwrap();
    let ledger = FileLedger::open(dir.path()).unwrap();
    assert_eq!(ledger.entries_read_on_open(), 10);
    for cert in &certs {
        assert!(block_on(ledger.get(&cert.batch_id)).unwrap().is_some());
    }
    assert!(
        block_on(ledger.check_consistency())
            .unwrap()
            .is_consistent()
    );
    drop(ledger);
    // A reader uses the index too.
    let reader = FileLedger::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.entries_read_on_open(), 0);
    assert_eq!(
        reader.last_certificate("pmu-a").unwrap(),
        certs.iter().rfind(|c| c.source == "pmu-a").unwrap().clone()
    );
}

/// An anchoring whose append was durable but whose index write failed is an error; retrying
/// it answers from the entries already written and appends nothing twice, in this process and
/// after a restart.
#[test]
fn a_failed_index_write_does_not_make_a_retry_append_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (sealed, _) = batches(4);
    let certs: Vec<_> = sealed.iter().map(|s| s.certificate.clone()).collect();
    let ledger = FileLedger::open(dir.path()).unwrap();
    block_on(ledger.anchor_all(&certs[..1])).unwrap();

    // The sequence index of the second source cannot be created: a directory is in its way.
    let digest = platone_certify::Digest::sha256(certs[1].source.as_bytes());
    let blocker = dir
        .path()
        .join("ledger.sources")
        .join(format!("{}.seq", &digest.to_string()[2..34]));
    assert_ne!(certs[1].source, certs[0].source);
    std::fs::create_dir(&blocker).unwrap();
    let failed = block_on(ledger.anchor_all(&certs[1..]));
    assert!(failed.is_err(), "the index write must fail: {failed:?}");
    let file = dir.path().join(FileLedger::FILE_NAME);
    let lines_after_failure = std::fs::read_to_string(&file).unwrap().lines().count();
    assert!(lines_after_failure > 1, "the append itself was durable");

    std::fs::remove_dir(&blocker).unwrap();
    let retried = block_on(ledger.anchor_all(&certs[1..])).unwrap();
    assert_eq!(retried.len(), 3);
    assert!(
        retried
            .iter()
            .all(|s| matches!(s, AnchorStatus::Anchored(_)))
    );
    assert_eq!(ledger.len(), 4);
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 4);
    drop(ledger);

    let reopened = FileLedger::open(dir.path()).unwrap();
    assert_eq!(reopened.len(), 4);
    let again = block_on(reopened.anchor_all(&certs)).unwrap();
    let positions: Vec<u64> = again
        .iter()
        .map(|s| match s {
            AnchorStatus::Anchored(a) => a.position,
            other => panic!("not anchored: {other:?}"),
        })
        .collect();
    assert_eq!(positions, [0, 1, 2, 3]);
}
