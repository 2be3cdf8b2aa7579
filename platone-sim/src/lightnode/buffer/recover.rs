//! Opening a buffer: the state file read, every segment checked, damage skipped.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read};
use std::path::PathBuf;

use super::format::{Bad, SEGMENT_MAGIC, parse_state, read_record, segment_first};
use super::{Outbox, Segment, io_error};
use crate::error::Result;

impl Outbox {
    pub(super) fn read_state(&mut self) -> Result<()> {
        let path = self.state_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(&path, e)),
        };
        match parse_state(&bytes) {
            Some((confirmed, dropped, corrupt, above)) => {
                self.confirmed = confirmed;
                self.dropped = dropped;
                self.corrupt = corrupt;
                self.acked_above = above.into_iter().filter(|s| *s > confirmed).collect();
            }
            None => {
                // Without the watermark everything in the segments is sent again: at least
                // once, never lost.
                tracing::warn!(
                    "{}: damaged state file ignored; buffered packets will be sent again",
                    path.display()
                );
                self.corrupt += 1;
            }
        }
        Ok(())
    }

    /// Reads every segment file, oldest first, keeping what verifies.
    pub(super) fn scan(&mut self) -> Result<()> {
        let entries = fs::read_dir(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let mut firsts = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&self.dir, e))?;
            if let Some(first) = entry.file_name().to_str().and_then(segment_first) {
                firsts.push(first);
            }
        }
        firsts.sort_unstable();
        let count = firsts.len();
        for (i, first) in firsts.into_iter().enumerate() {
            let path = self.dir.join(format!("{first:020}.seg"));
            let is_last = i + 1 == count;
            if first < self.next_seq || first == 0 {
                tracing::warn!(
                    "{}: overlaps the segment before it; skipped",
                    path.display()
                );
                self.corrupt += 1;
                continue;
            }
            let Some(segment) = self.scan_segment(first, path, is_last)? else {
                continue;
            };
            if !segment.is_empty() {
                self.next_seq = segment.last + 1;
            } else {
                self.next_seq = self.next_seq.max(first);
            }
            self.bytes += segment.len;
            self.segments.push(segment);
        }
        self.next_seq = self.next_seq.max(self.confirmed.saturating_add(1));
        if let Some(seq) = self.acked_above.last() {
            self.next_seq = self.next_seq.max(seq.saturating_add(1));
        }
        Ok(())
    }

    /// Checks one segment: `None` when it is not a segment at all (bad magic: left aside).
    fn scan_segment(
        &mut self,
        first: u64,
        path: PathBuf,
        is_last: bool,
    ) -> Result<Option<Segment>> {
        let file = File::open(&path).map_err(|e| io_error(&path, e))?;
        let size = file.metadata().map_err(|e| io_error(&path, e))?.len();
        let mut reader = BufReader::new(file);
        let mut magic = [0u8; 8];
        let magic_ok = reader.read_exact(&mut magic).is_ok() && &magic == SEGMENT_MAGIC;
        if !magic_ok {
            tracing::warn!(
                "{}: not a Light Node buffer segment (bad magic); skipped",
                path.display()
            );
            self.corrupt += 1;
            if is_last && size < SEGMENT_MAGIC.len() as u64 {
                // A segment whose creation was cut short: nothing was ever in it.
                let _ = fs::remove_file(&path);
            }
            return Ok(None);
        }
        let mut offset = SEGMENT_MAGIC.len() as u64;
        let mut last = first - 1;
        loop {
            match read_record(&mut reader, offset, size, last + 1) {
                Ok((record, end)) => {
                    last = record.seq;
                    offset = end;
                }
                Err(Bad::End) => break,
                Err(Bad::Io(e)) => return Err(io_error(&path, e)),
                Err(Bad::Corrupt(why)) => {
                    tracing::warn!(
                        "{}: {why}; the {} byte(s) from there on are skipped",
                        path.display(),
                        size - offset
                    );
                    self.corrupt += 1;
                    if is_last {
                        OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .and_then(|f| {
                                f.set_len(offset)?;
                                f.sync_all()
                            })
                            .map_err(|e| io_error(&path, e))?;
                    }
                    break;
                }
            }
        }
        Ok(Some(Segment {
            first,
            last,
            path,
            len: offset,
        }))
    }
}
