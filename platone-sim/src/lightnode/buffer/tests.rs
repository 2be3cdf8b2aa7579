//! Tests of the [`Outbox`](super::Outbox): order, confirmation, restarts, the bound, damaged
//! files.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;

const TOPIC: &str = "platone/bal/devices/ln-1/cim";

fn config(max_bytes: u64, segment_bytes: u64) -> OutboxConfig {
    OutboxConfig {
        max_bytes,
        segment_bytes,
        // tmpfs or not, the tests need no fsync.
        sync: false,
    }
}

fn big() -> OutboxConfig {
    config(64 << 20, 4096)
}

fn payload(seq: u64, len: usize) -> Vec<u8> {
    let mut p = format!("packet-{seq}-").into_bytes();
    p.resize(len.max(p.len()), b'x');
    p
}

fn seqs(records: &[OutboxRecord]) -> Vec<u64> {
    records.iter().map(|r| r.seq).collect()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

#[test]
fn records_come_back_oldest_first_until_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path(), big()).unwrap();
    for i in 1..=5 {
        assert_eq!(outbox.append(TOPIC, payload(i, 10)).unwrap(), i);
    }
    let all = outbox.unconfirmed_after(0, 100).unwrap();
    assert_eq!(seqs(&all), [1, 2, 3, 4, 5]);
    assert_eq!(all[2].topic, TOPIC);
    assert_eq!(&all[2].payload[..], &payload(3, 10)[..]);
    // Reading on from the cursor, and in pieces.
    assert_eq!(seqs(&outbox.unconfirmed_after(2, 2).unwrap()), [3, 4]);
    assert_eq!(seqs(&outbox.unconfirmed_after(4, 2).unwrap()), [5]);
    outbox.confirm(&[1, 2]).unwrap();
    assert_eq!(seqs(&outbox.unconfirmed_after(0, 100).unwrap()), [3, 4, 5]);
    assert_eq!(outbox.stats().pending, 3);
    assert_eq!(outbox.confirmed(), 2);
}

#[test]
fn a_restart_delivers_what_was_not_confirmed_and_nothing_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut outbox = Outbox::open(dir.path(), big()).unwrap();
        for i in 1..=6 {
            outbox.append(TOPIC, payload(i, 100)).unwrap();
        }
        // Confirmed out of order: 1, 2 and 5.
        outbox.confirm(&[2, 5, 1]).unwrap();
        assert_eq!(outbox.confirmed(), 2);
    }
    let mut outbox = Outbox::open(dir.path(), big()).unwrap();
    assert_eq!(seqs(&outbox.unconfirmed_after(0, 100).unwrap()), [3, 4, 6]);
    assert_eq!(outbox.stats().pending, 3);
    assert_eq!(outbox.append(TOPIC, payload(7, 1)).unwrap(), 7);
    outbox.confirm(&[3, 4, 6, 7]).unwrap();
    assert_eq!(outbox.stats().pending, 0);
    assert!(
        segment_files(dir.path()).is_empty(),
        "confirmed segments are deleted"
    );
    drop(outbox);
    let mut outbox = Outbox::open(dir.path(), big()).unwrap();
    assert_eq!(
        outbox.append(TOPIC, payload(8, 1)).unwrap(),
        8,
        "sequence numbers go on after everything was confirmed"
    );
}

#[test]
fn a_second_process_cannot_open_the_same_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Outbox::open(dir.path(), big()).unwrap();
    let second = Outbox::open(dir.path(), big()).unwrap_err().to_string();
    assert!(second.contains("in use"), "{second}");
}

#[test]
fn the_bound_drops_the_oldest_segments_and_counts_what_was_lost() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(16 * 1024, 4096);
    let mut outbox = Outbox::open(dir.path(), cfg).unwrap();
    // ~1 KiB records: 3 to a segment, the bound holds 4 segments.
    for i in 1..=40 {
        outbox.append(TOPIC, payload(i, 1000)).unwrap();
        assert!(outbox.stats().bytes <= cfg.max_bytes);
    }
    let stats = outbox.stats();
    assert!(stats.dropped > 0);
    let left = seqs(&outbox.unconfirmed_after(0, 1000).unwrap());
    assert_eq!(
        stats.dropped + left.len() as u64,
        40,
        "lost or kept, never both"
    );
    assert_eq!(*left.last().unwrap(), 40, "the newest are kept");
    assert!(
        left.windows(2).all(|w| w[1] == w[0] + 1),
        "oldest dropped first: {left:?}"
    );
    drop(outbox);
    let outbox = Outbox::open(dir.path(), cfg).unwrap();
    assert_eq!(outbox.stats().dropped, stats.dropped, "the count survives");
}

#[test]
fn confirmed_records_are_not_counted_as_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(16 * 1024, 4096);
    let mut outbox = Outbox::open(dir.path(), cfg).unwrap();
    for i in 1..=40 {
        let seq = outbox.append(TOPIC, payload(i, 1000)).unwrap();
        outbox.confirm(&[seq]).unwrap();
    }
    assert_eq!(outbox.stats().dropped, 0);
    assert_eq!(outbox.stats().pending, 0);
}

#[test]
fn a_packet_larger_than_a_segment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path(), config(16 * 1024, 4096)).unwrap();
    let error = outbox.append(TOPIC, vec![0; 5000]).unwrap_err().to_string();
    assert!(error.contains("larger than a segment"), "{error}");
    assert_eq!(outbox.append(TOPIC, vec![0; 10]).unwrap(), 1);
}

#[test]
fn a_record_cut_short_by_a_crash_is_skipped_and_the_buffer_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut outbox = Outbox::open(dir.path(), big()).unwrap();
        for i in 1..=3 {
            outbox.append(TOPIC, payload(i, 50)).unwrap();
        }
    }
    let segment = segment_files(dir.path()).pop().unwrap();
    let len = fs::metadata(&segment).unwrap().len();
    // The third record loses its last 7 bytes, as a crash in the middle of its write would.
    OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let mut outbox = Outbox::open(dir.path(), big()).unwrap();
    assert_eq!(outbox.stats().corrupt, 1);
    assert_eq!(seqs(&outbox.unconfirmed_after(0, 100).unwrap()), [1, 2]);
    assert_eq!(outbox.append(TOPIC, payload(3, 50)).unwrap(), 3);
    let all = outbox.unconfirmed_after(0, 100).unwrap();
    assert_eq!(seqs(&all), [1, 2, 3]);
    assert_eq!(&all[2].payload[..], &payload(3, 50)[..]);
    drop(outbox);
    let mut outbox = Outbox::open(dir.path(), big()).unwrap();
    assert_eq!(
        outbox.stats().corrupt,
        1,
        "the truncated tail is gone for good"
    );
    assert_eq!(seqs(&outbox.unconfirmed_after(0, 100).unwrap()), [1, 2, 3]);
}

#[test]
fn a_record_failing_its_crc_ends_what_is_read_of_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut outbox = Outbox::open(dir.path(), big()).unwrap();
        for i in 1..=3 {
            outbox.append(TOPIC, payload(i, 50)).unwrap();
        }
    }
    let segment = segment_files(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&segment).unwrap();
    let record = (bytes.len() - 8) / 3;
    // A bit flipped in the second record's payload.
    let at = 8 + record + record - 3;
    bytes[at] ^= 0x10;
    fs::write(&segment, &bytes).unwrap();
    let mut outbox = Outbox::open(dir.path(), big()).unwrap();
    assert_eq!(seqs(&outbox.unconfirmed_after(0, 100).unwrap()), [1]);
    assert_eq!(outbox.stats().corrupt, 1);
    assert_eq!(outbox.append(TOPIC, payload(9, 5)).unwrap(), 2);
}

#[test]
fn a_damaged_state_file_sends_everything_again_rather_than_lose_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut outbox = Outbox::open(dir.path(), big()).unwrap();
        for i in 1..=3 {
            outbox.append(TOPIC, payload(i, 50)).unwrap();
        }
        outbox.confirm(&[1]).unwrap();
    }
    let state = dir.path().join("state");
    let mut bytes = fs::read(&state).unwrap();
    bytes[9] ^= 0xFF;
    fs::write(&state, &bytes).unwrap();
    let mut outbox = Outbox::open(dir.path(), big()).unwrap();
    assert_eq!(outbox.stats().corrupt, 1);
    assert_eq!(
        seqs(&outbox.unconfirmed_after(0, 100).unwrap()),
        [1, 2, 3],
        "1 comes again: at least once"
    );
}

#[test]
fn segments_roll_and_the_cursor_crosses_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path(), big()).unwrap();
    for i in 1..=20 {
        outbox.append(TOPIC, payload(i, 700)).unwrap();
    }
    assert!(segment_files(dir.path()).len() >= 4);
    let mut got = Vec::new();
    let mut after = 0;
    loop {
        let batch = outbox.unconfirmed_after(after, 3).unwrap();
        let Some(last) = batch.last() else { break };
        after = last.seq;
        got.extend(seqs(&batch));
    }
    assert_eq!(got, (1..=20).collect::<Vec<_>>());
}

/// An operation of the property test.
#[derive(Debug, Clone)]
enum Op {
    /// Append a payload of this many bytes.
    Append(usize),
    /// Confirm the pending record at this index (modulo the count), as a sender would.
    Confirm(usize),
    /// Read up to this many records after the first pending one.
    Read(usize),
    /// Close and open again.
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..600).prop_map(Op::Append),
        3 => any::<usize>().prop_map(Op::Confirm),
        1 => (1usize..8).prop_map(Op::Read),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Within the bound, any sequence of appends, confirmations and restarts keeps every
    /// unconfirmed record, in order, and never hands out a confirmed one.
    #[test]
    fn order_is_kept_and_nothing_is_lost_within_the_bound(ops in proptest::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(8 << 20, 4096);
        let mut outbox = Outbox::open(dir.path(), cfg).unwrap();
        let mut model: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
        let mut next = 1u64;
        for op in ops {
            match op {
                Op::Append(len) => {
                    let p = payload(next, len);
                    prop_assert_eq!(outbox.append(TOPIC, p.clone()).unwrap(), next);
                    model.push_back((next, p));
                    next += 1;
                }
                Op::Confirm(i) => {
                    if !model.is_empty() {
                        let i = i % model.len();
                        if let Some((seq, _)) = model.remove(i) {
                            outbox.confirm(&[seq]).unwrap();
                        }
                    }
                }
                Op::Read(n) => {
                    let after = model.front().map_or(0, |(s, _)| *s);
                    let got = seqs(&outbox.unconfirmed_after(after, n).unwrap());
                    let want: Vec<u64> = model.iter().skip(1).take(n).map(|(s, _)| *s).collect();
                    prop_assert_eq!(got, want);
                }
                Op::Reopen => {
                    drop(outbox);
                    outbox = Outbox::open(dir.path(), cfg).unwrap();
                }
            }
            let all = outbox.unconfirmed_after(0, usize::MAX).unwrap();
            let want: Vec<(u64, Vec<u8>)> = model.iter().cloned().collect();
            let got: Vec<(u64, Vec<u8>)> =
                all.into_iter().map(|r| (r.seq, r.payload.to_vec())).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(outbox.stats().pending, model.len() as u64);
            prop_assert_eq!(outbox.stats().dropped, 0);
            prop_assert_eq!(outbox.next_seq(), next);
        }
    }

    /// Whatever bytes a segment or the state file holds, opening never panics, and the
    /// buffer takes and gives back new records afterwards.
    #[test]
    fn arbitrary_bytes_in_the_files_never_panic(
        segment in proptest::collection::vec(any::<u8>(), 0..2000),
        with_magic in any::<bool>(),
        state in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = if with_magic { SEGMENT_MAGIC.to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&segment);
        fs::write(dir.path().join(format!("{:020}.seg", 1)), &bytes).unwrap();
        if let Some(state) = state {
            fs::write(dir.path().join("state"), state).unwrap();
        }
        let mut outbox = Outbox::open(dir.path(), big()).unwrap();
        let before = outbox.unconfirmed_after(0, usize::MAX).unwrap();
        let seq = outbox.append(TOPIC, b"after".to_vec()).unwrap();
        let after = outbox.unconfirmed_after(0, usize::MAX).unwrap();
        prop_assert_eq!(after.len(), before.len() + 1);
        prop_assert_eq!(after.last().map(|r| r.seq), Some(seq));
        drop(outbox);
        let mut outbox = Outbox::open(dir.path(), big()).unwrap();
        let again = outbox.unconfirmed_after(0, usize::MAX).unwrap();
        prop_assert_eq!(again.last().map(|r| r.seq), Some(seq));
    }

    /// A valid buffer with a record's bytes overwritten by arbitrary ones: no panic, the
    /// records before the damage intact.
    #[test]
    fn damage_anywhere_keeps_what_came_before(at in 8usize..2000, junk in proptest::collection::vec(any::<u8>(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut outbox = Outbox::open(dir.path(), big()).unwrap();
            for i in 1..=20 {
                outbox.append(TOPIC, payload(i, 80)).unwrap();
            }
        }
        let segment = segment_files(dir.path()).pop().unwrap();
        let mut bytes = fs::read(&segment).unwrap();
        let at = at.min(bytes.len() - 1);
        for (i, b) in junk.iter().enumerate() {
            if let Some(x) = bytes.get_mut(at + i) {
                *x = *b;
            }
        }
        fs::write(&segment, &bytes).unwrap();
        let mut outbox = Outbox::open(dir.path(), big()).unwrap();
        let got = seqs(&outbox.unconfirmed_after(0, usize::MAX).unwrap());
        prop_assert_eq!(&got, &(1..=got.len() as u64).collect::<Vec<_>>());
        let record = (bytes.len() - 8) / 20;
        let intact = ((at - 8) / record) as u64;
        prop_assert!(got.len() as u64 >= intact, "{} < {}", got.len(), intact);
    }
}
