//! [`Outbox`]: the Light Node's disk buffer of BAL-bound packets, which carries them through a
//! network outage and delivers them oldest first.
//!
//! **Layout.** A directory of append-only *segment* files, `{first_seq:020}.seg`, each an
//! 8-byte magic (`PLNOUTB1`) followed by records; a `state` file; a `lock` file held
//! (advisory lock) while an [`Outbox`] is open, so that two processes never share a buffer.
//!
//! **Record.** `len: u32 LE` ‖ `crc32: u32 LE` ‖ body of `len` bytes, where the body is
//! `seq: u64 LE` ‖ `topic_len: u16 LE` ‖ topic (UTF-8) ‖ payload, and the CRC
//! (CRC-32/ISO-HDLC, the zlib one) covers the body. Sequence numbers start at 1 and grow by
//! one per record, across segments and restarts; they are the packets' stable ids.
//!
//! **State.** `PLNSTAT1` ‖ `confirmed: u64` ‖ `dropped: u64` ‖ `corrupt: u64` ‖ `n: u32` ‖
//! `n × seq: u64` ‖ `crc32` of everything before, all little-endian, replaced atomically
//! (written to `state.tmp`, synced, renamed). `confirmed` is the watermark: every record up to
//! it is confirmed (or gone); the `n` sequence numbers above it were confirmed out of order.
//!
//! **Delivery.** [`Outbox::unconfirmed_after`] reads records oldest first;
//! [`Outbox::confirm`] records the broker's acknowledgements — a record is removed only then,
//! and a confirmed record is never handed out again, across restarts included. A segment file
//! is deleted once every record in it is confirmed.
//!
//! **Bound.** The segment files together stay within [`OutboxConfig::max_bytes`]: when a new
//! record would exceed it, the oldest segments are deleted first, confirmed or not; the
//! unconfirmed records lost so are counted in [`OutboxStats::dropped`] (kept in the state
//! file) and logged as a warning. The count is an upper bound: the oldest of them may already
//! be in the hands of the bus, awaiting the broker's acknowledgement (at most the sender's
//! window, [`BalSide::max_in_flight`](super::BalSide::max_in_flight)), and still arrive.
//!
//! **Crashes.** A record cut short or damaged (a crash in the middle of a write, a bad disk)
//! fails its length or CRC check when the outbox is opened: it and everything after it in its
//! segment are skipped with a warning and counted in [`OutboxStats::corrupt`]; the last
//! segment is truncated there so that new records follow good ones. Nothing in a damaged file
//! makes the outbox panic. The one window left open is between the broker's acknowledgement
//! and [`Outbox::confirm`] returning (its state file replaced): a crash inside it sends those
//! records again after the restart, so delivery is at least once there, exactly once
//! otherwise.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use fs4::{FileExt, TryLockError};

use crate::error::{Result, SimError};
pub use format::RECORD_HEADER;
use format::{Bad, SEGMENT_MAGIC, encode_record, encode_state, read_record};

/// The smallest segment size accepted.
pub const MIN_SEGMENT_BYTES: u64 = 4096;
/// The largest segment size [`OutboxConfig::new`] picks.
pub const MAX_SEGMENT_BYTES: u64 = 4 * 1024 * 1024;
/// Most out-of-order confirmations kept above the watermark (the sender's window is far
/// smaller; more are folded in by treating the lowest as confirmed in order).
const MAX_ACKED_ABOVE: usize = 65_536;

/// Size and durability of an [`Outbox`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Bound of the segment files together (bytes).
    pub max_bytes: u64,
    /// A segment is closed and a new one started when a record would take it past this.
    pub segment_bytes: u64,
    /// `fsync` every record appended and every state change (default `true`).
    pub sync: bool,
}

impl OutboxConfig {
    /// `max_bytes` in segments of a sixteenth of it (4 KiB to 4 MiB), synced.
    pub fn new(max_bytes: u64) -> Self {
        OutboxConfig {
            max_bytes,
            segment_bytes: (max_bytes / 16).clamp(MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES),
            sync: true,
        }
    }

    /// Checks the sizes: segments of at least 4 KiB, at most half the bound (so that there is
    /// always a closed segment to drop when the bound is reached).
    pub fn validate(&self) -> Result<()> {
        if self.segment_bytes < MIN_SEGMENT_BYTES {
            return Err(SimError::config(
                "buffer.segment_bytes",
                format!("{}: at least {MIN_SEGMENT_BYTES}", self.segment_bytes),
            ));
        }
        if self.max_bytes < 2 * self.segment_bytes {
            return Err(SimError::config(
                "buffer.max_bytes",
                format!(
                    "{}: at least twice the segment size ({})",
                    self.max_bytes, self.segment_bytes
                ),
            ));
        }
        Ok(())
    }

    /// The largest record body (topic and payload included) a segment can take.
    pub fn max_record(&self) -> u64 {
        self.segment_bytes
            .saturating_sub(SEGMENT_MAGIC.len() as u64 + RECORD_HEADER)
    }
}

/// One buffered packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// Its sequence number: its stable id, 1 for the first packet ever buffered.
    pub seq: u64,
    /// The topic it goes to.
    pub topic: String,
    /// The bytes published.
    pub payload: Bytes,
}

/// What an [`Outbox`] holds and has lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxStats {
    /// Records buffered and not confirmed.
    pub pending: u64,
    /// Bytes of the segment files.
    pub bytes: u64,
    /// Segment files.
    pub segments: usize,
    /// The sequence number the next record gets.
    pub next_seq: u64,
    /// Every record up to this one is confirmed or gone.
    pub confirmed: u64,
    /// Unconfirmed records dropped because the bound was reached (since the buffer was made;
    /// an upper bound of what was lost: see the [module](self) docs).
    pub dropped: u64,
    /// Damaged places skipped (a record cut short or failing its CRC, and what followed it in
    /// its segment), since the buffer was made.
    pub corrupt: u64,
}

/// One segment file: records `first ..= last` (contiguous), `len` valid bytes.
#[derive(Debug)]
struct Segment {
    first: u64,
    /// `first - 1` while empty.
    last: u64,
    path: PathBuf,
    len: u64,
}

impl Segment {
    fn is_empty(&self) -> bool {
        self.last < self.first
    }
}

/// Where the last read stopped: the record `seq` starts at `offset` of the segment starting
/// at `segment`.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    segment: u64,
    seq: u64,
    offset: u64,
}

/// The disk buffer of BAL-bound packets (see the [module](self) docs for format and
/// guarantees).
///
/// ```
/// use platone_sim::lightnode::{Outbox, OutboxConfig};
///
/// let dir = tempfile::tempdir()?;
/// let mut outbox = Outbox::open(dir.path(), OutboxConfig::new(1 << 20))?;
/// let seq = outbox.append("platone/bal/devices/ln-1/cim", b"<xml/>".to_vec())?;
/// let pending = outbox.unconfirmed_after(0, 10)?;
/// assert_eq!((pending[0].seq, pending.len()), (seq, 1));
/// outbox.confirm(&[seq])?;
/// drop(outbox);
/// let mut outbox = Outbox::open(dir.path(), OutboxConfig::new(1 << 20))?;
/// assert!(outbox.unconfirmed_after(0, 10)?.is_empty(), "nothing is sent twice");
/// assert_eq!(outbox.stats().next_seq, seq + 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    config: OutboxConfig,
    segments: Vec<Segment>,
    /// The last segment's file, open for appending.
    active: Option<File>,
    next_seq: u64,
    confirmed: u64,
    acked_above: BTreeSet<u64>,
    dropped: u64,
    corrupt: u64,
    bytes: u64,
    cursor: Option<Cursor>,
    _lock: File,
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> SimError {
    SimError::Buffer {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl Outbox {
    /// Opens (or makes) the buffer in `dir`: takes its lock, reads its state, checks every
    /// segment (damaged records are skipped with a warning, the last segment truncated after
    /// its last good record).
    pub fn open(dir: impl AsRef<Path>, config: OutboxConfig) -> Result<Outbox> {
        config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_error(&lock_path, e))?;
        match FileExt::try_lock(&lock) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(io_error(
                    &dir,
                    "in use by another process (its lock file is held)",
                ));
            }
            Err(TryLockError::Error(e)) => return Err(io_error(&lock_path, e)),
        }
        let mut outbox = Outbox {
            dir,
            config,
            segments: Vec::new(),
            active: None,
            next_seq: 1,
            confirmed: 0,
            acked_above: BTreeSet::new(),
            dropped: 0,
            corrupt: 0,
            bytes: 0,
            cursor: None,
            _lock: lock,
        };
        outbox.read_state()?;
        let corrupt = outbox.corrupt;
        outbox.scan()?;
        outbox.settle()?;
        if outbox.corrupt != corrupt {
            // Counted once: the damage found is kept in the count (and a truncated tail is
            // gone, so it is not found again).
            outbox.write_state()?;
        }
        Ok(outbox)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> &OutboxConfig {
        &self.config
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn write_state(&self) -> Result<()> {
        let above: Vec<u64> = self.acked_above.iter().copied().collect();
        let bytes = encode_state(self.confirmed, self.dropped, self.corrupt, &above);
        let tmp = self.dir.join("state.tmp");
        let path = self.state_path();
        let mut file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
        file.write_all(&bytes).map_err(|e| io_error(&tmp, e))?;
        if self.config.sync {
            file.sync_all().map_err(|e| io_error(&tmp, e))?;
        }
        drop(file);
        fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))?;
        self.sync_dir()
    }

    fn sync_dir(&self) -> Result<()> {
        if self.config.sync {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_error(&self.dir, e))?;
        }
        Ok(())
    }

    /// After opening or confirming: the watermark past every confirmed or missing record,
    /// fully confirmed segments deleted.
    fn settle(&mut self) -> Result<()> {
        let before = self.confirmed;
        let mut watermark = self.next_seq - 1;
        'find: for segment in &self.segments {
            let mut seq = segment.first.max(self.confirmed.saturating_add(1));
            while seq <= segment.last {
                if !self.acked_above.contains(&seq) {
                    watermark = seq - 1;
                    break 'find;
                }
                seq += 1;
            }
        }
        self.confirmed = self.confirmed.max(watermark);
        let confirmed = self.confirmed;
        self.acked_above.retain(|s| *s > confirmed);
        let mut removed = false;
        while let Some(segment) = self.segments.first() {
            let is_active = self.segments.len() == 1;
            if segment.last > self.confirmed || (is_active && segment.is_empty()) {
                break;
            }
            let segment = self.segments.remove(0);
            if is_active {
                self.active = None;
            }
            self.bytes -= segment.len;
            match fs::remove_file(&segment.path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&segment.path, e)),
            }
            removed = true;
        }
        if removed {
            self.sync_dir()?;
        }
        if self.confirmed != before || removed {
            self.write_state()?;
        }
        Ok(())
    }

    /// The sequence number the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Buffers `payload` for `topic` and gives its sequence number.
    pub fn append(&mut self, topic: &str, payload: Vec<u8>) -> Result<u64> {
        self.append_with(topic, |_| Ok(payload))
    }

    /// Buffers the payload `build` makes knowing its sequence number (to carry it as the
    /// packet's id), and gives that number. When the bound is reached the oldest segments are
    /// dropped first (counted in [`OutboxStats::dropped`], logged). A record larger than a
    /// segment can hold is refused.
    pub fn append_with(
        &mut self,
        topic: &str,
        build: impl FnOnce(u64) -> Result<Vec<u8>>,
    ) -> Result<u64> {
        let seq = self.next_seq;
        if seq == u64::MAX {
            return Err(io_error(&self.dir, "sequence numbers are exhausted"));
        }
        let payload = build(seq)?;
        let record = encode_record(seq, topic, &payload)
            .filter(|r| r.len() as u64 - RECORD_HEADER <= self.config.max_record())
            .ok_or_else(|| {
                io_error(
                    &self.dir,
                    format!(
                        "a packet of {} bytes is larger than a segment holds ({} bytes)",
                        payload.len(),
                        self.config.max_record()
                    ),
                )
            })?;
        let size = record.len() as u64;
        let roll = match self.segments.last() {
            Some(last) => self.active.is_none() || last.len + size > self.config.segment_bytes,
            None => true,
        };
        if roll {
            self.start_segment(seq)?;
        }
        self.make_room(size)?;
        let Some(segment) = self.segments.last_mut() else {
            return Err(io_error(&self.dir, "no segment to append to"));
        };
        let Some(file) = self.active.as_mut() else {
            return Err(io_error(&segment.path, "the segment is not open"));
        };
        let written = file.write_all(&record).and_then(|()| {
            if self.config.sync {
                file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            // Cut off what part of the record made it, so that the next one follows good ones.
            let _ = file.set_len(segment.len);
            let _ = file.seek(SeekFrom::Start(segment.len));
            return Err(io_error(&segment.path, e));
        }
        segment.len += size;
        segment.last = seq;
        self.bytes += size;
        self.next_seq = seq + 1;
        Ok(seq)
    }

    fn start_segment(&mut self, first: u64) -> Result<()> {
        let path = self.dir.join(format!("{first:020}.seg"));
        // An empty segment already last (a fully confirmed buffer restarts there) is reused.
        if let Some(last) = self.segments.last()
            && last.path == path
        {
            self.bytes -= last.len;
            self.segments.pop();
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        file.write_all(SEGMENT_MAGIC)
            .and_then(|()| {
                if self.config.sync {
                    file.sync_all()
                } else {
                    Ok(())
                }
            })
            .map_err(|e| io_error(&path, e))?;
        self.sync_dir()?;
        let len = SEGMENT_MAGIC.len() as u64;
        self.bytes += len;
        self.segments.push(Segment {
            first,
            last: first - 1,
            path,
            len,
        });
        self.active = Some(file);
        Ok(())
    }

    /// Drops the oldest closed segments until `size` more bytes fit the bound.
    fn make_room(&mut self, size: u64) -> Result<()> {
        let mut lost = 0u64;
        let mut dropped_any = false;
        while self.bytes + size > self.config.max_bytes && self.segments.len() > 1 {
            let segment = self.segments.remove(0);
            self.bytes -= segment.len;
            let unconfirmed = (segment.first.max(self.confirmed.saturating_add(1))..=segment.last)
                .filter(|s| !self.acked_above.contains(s))
                .count() as u64;
            lost += unconfirmed;
            self.confirmed = self.confirmed.max(segment.last);
            match fs::remove_file(&segment.path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&segment.path, e)),
            }
            dropped_any = true;
        }
        if dropped_any {
            let confirmed = self.confirmed;
            self.acked_above.retain(|s| *s > confirmed);
            self.dropped += lost;
            tracing::warn!(
                "{}: the buffer reached its bound of {} bytes: {lost} unconfirmed packet(s) \
                 dropped, oldest first ({} dropped in all)",
                self.dir.display(),
                self.config.max_bytes,
                self.dropped
            );
            self.sync_dir()?;
            self.write_state()?;
        }
        Ok(())
    }

    /// Up to `max` unconfirmed records with a sequence number above `after`, oldest first.
    pub fn unconfirmed_after(&mut self, after: u64, max: usize) -> Result<Vec<OutboxRecord>> {
        let mut out = Vec::new();
        let mut from = after.max(self.confirmed).saturating_add(1);
        let mut index = self.segments.partition_point(|s| s.last < from);
        while out.len() < max && index < self.segments.len() {
            let (first, path, limit) = match self.segments.get(index) {
                Some(s) => (s.first, s.path.clone(), s.len),
                None => break,
            };
            from = from.max(first);
            let (mut seq, mut offset) = match self.cursor {
                Some(c) if c.segment == first && c.seq <= from => (c.seq, c.offset),
                _ => (first, SEGMENT_MAGIC.len() as u64),
            };
            let file = File::open(&path).map_err(|e| io_error(&path, e))?;
            let mut reader = BufReader::new(file);
            reader
                .seek(SeekFrom::Start(offset))
                .map_err(|e| io_error(&path, e))?;
            while out.len() < max {
                match read_record(&mut reader, offset, limit, seq) {
                    Ok((record, end)) => {
                        seq = record.seq + 1;
                        offset = end;
                        if record.seq >= from && !self.acked_above.contains(&record.seq) {
                            out.push(record);
                        }
                    }
                    Err(Bad::End) => break,
                    Err(Bad::Io(e)) => return Err(io_error(&path, e)),
                    Err(Bad::Corrupt(why)) => {
                        // Damaged since it was opened: what follows is lost.
                        tracing::warn!(
                            "{}: {why}; the rest of the segment is skipped",
                            path.display()
                        );
                        self.corrupt += 1;
                        if let Some(s) = self.segments.get_mut(index) {
                            self.bytes -= s.len - offset;
                            s.len = offset;
                            s.last = seq - 1;
                        }
                        self.write_state()?;
                        break;
                    }
                }
            }
            self.cursor = Some(Cursor {
                segment: first,
                seq,
                offset,
            });
            from = seq;
            index += 1;
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    /// Records that the broker confirmed the records `seqs` (in any order): they are never
    /// handed out again, and segments wholly confirmed are deleted. Sequence numbers not in
    /// the buffer (already confirmed, dropped) are ignored.
    pub fn confirm(&mut self, seqs: &[u64]) -> Result<()> {
        let mut changed = false;
        for &seq in seqs {
            if seq > self.confirmed && seq < self.next_seq {
                changed |= self.acked_above.insert(seq);
            }
        }
        if !changed {
            return Ok(());
        }
        while self.acked_above.len() > MAX_ACKED_ABOVE {
            // Never reached with a sender's window; bounded all the same.
            let Some(lowest) = self.acked_above.pop_first() else {
                break;
            };
            self.confirmed = self.confirmed.max(lowest);
        }
        let before = self.confirmed;
        self.settle()?;
        if self.confirmed == before {
            self.write_state()?;
        }
        Ok(())
    }

    /// Every record up to this one is confirmed (or gone).
    pub fn confirmed(&self) -> u64 {
        self.confirmed
    }

    /// What the buffer holds and has lost.
    pub fn stats(&self) -> OutboxStats {
        let pending = self
            .segments
            .iter()
            .map(|s| {
                let from = s.first.max(self.confirmed.saturating_add(1));
                (s.last + 1).saturating_sub(from)
            })
            .sum::<u64>()
            .saturating_sub(self.acked_above.len() as u64);
        OutboxStats {
            pending,
            bytes: self.bytes,
            segments: self.segments.len(),
            next_seq: self.next_seq,
            confirmed: self.confirmed,
            dropped: self.dropped,
            corrupt: self.corrupt,
        }
    }
}

mod format;
mod recover;
#[cfg(test)]
mod tests;
