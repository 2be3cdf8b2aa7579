//! Where XML events come from: a borrowed byte slice (zero-copy) or any `BufRead` (one event
//! buffered at a time), each able to turn a byte offset into line:column.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use quick_xml::Reader;
use quick_xml::events::Event;

/// A source of XML events with positions.
pub(crate) trait Source {
    /// The next event; its data borrows from the source until the next call.
    fn next_event(&mut self) -> Result<Event<'_>, quick_xml::Error>;
    /// The byte offset just past the last event.
    fn position(&self) -> u64;
    /// The byte offset of the last error.
    fn error_position(&self) -> u64;
    /// 1-based line and column of a byte offset that is not before the last checkpoint.
    fn line_col(&self, offset: u64) -> (u64, u64);
    /// Says that positions before `offset` will not be asked for again.
    fn checkpoint(&mut self, _offset: u64) {}
    /// Stops checking that end tags match start tags (used when recovering from an error).
    fn stop_checking_end_names(&mut self);
}

fn configure<R>(reader: &mut Reader<R>) {
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.trim_text(false);
}

/// Events borrowed from an in-memory document.
pub(crate) struct SliceSource<'a> {
    reader: Reader<&'a [u8]>,
    input: &'a [u8],
}

impl<'a> SliceSource<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        let mut reader = Reader::from_reader(input);
        configure(&mut reader);
        SliceSource { reader, input }
    }
}

impl Source for SliceSource<'_> {
    fn next_event(&mut self) -> Result<Event<'_>, quick_xml::Error> {
        self.reader.read_event()
    }

    fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn error_position(&self) -> u64 {
        self.reader.error_position()
    }

    fn line_col(&self, offset: u64) -> (u64, u64) {
        let end = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.input.len());
        let before = self.input.get(..end).unwrap_or_default();
        let line = memchr::memchr_iter(b'\n', before).count() as u64 + 1;
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        (line, (end - line_start) as u64 + 1)
    }

    fn stop_checking_end_names(&mut self) {
        self.reader.config_mut().check_end_names = false;
    }
}

/// A `BufRead` that remembers where the lines it has handed out start, so that positions can
/// be turned into line:column without keeping the text. Newline offsets older than the last
/// checkpoint are folded into a count; memory stays bounded by what lies after it.
pub(crate) struct LineCounter<R> {
    inner: R,
    consumed: u64,
    /// Offsets of newlines after the checkpoint.
    recent: VecDeque<u64>,
    /// Newlines before the checkpoint, and the offset of the last of them.
    folded_lines: u64,
    folded_last: Option<u64>,
}

impl<R: BufRead> LineCounter<R> {
    pub(crate) fn new(inner: R) -> Self {
        LineCounter {
            inner,
            consumed: 0,
            recent: VecDeque::new(),
            folded_lines: 0,
            folded_last: None,
        }
    }

    fn forget_before(&mut self, offset: u64) {
        while let Some(&first) = self.recent.front() {
            if first >= offset {
                break;
            }
            self.recent.pop_front();
            self.folded_lines += 1;
            self.folded_last = Some(first);
        }
    }

    fn line_col(&self, offset: u64) -> (u64, u64) {
        let newer = self.recent.partition_point(|&nl| nl < offset);
        let line = self.folded_lines + newer as u64 + 1;
        let last_newline = match newer {
            0 => self.folded_last,
            n => self.recent.get(n - 1).copied(),
        };
        let line_start = last_newline.map_or(0, |nl| nl + 1);
        (line, offset.saturating_sub(line_start) + 1)
    }
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), available.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if amt > 0 {
            let start = self.consumed;
            if let Ok(buf) = self.inner.fill_buf() {
                let chunk = buf.get(..amt).unwrap_or(buf);
                self.recent
                    .extend(memchr::memchr_iter(b'\n', chunk).map(|i| start + i as u64));
            }
        }
        self.consumed += amt as u64;
        self.inner.consume(amt);
    }
}

/// Events from a `BufRead`, one event's bytes in memory at a time.
pub(crate) struct StreamSource<R> {
    reader: Reader<LineCounter<R>>,
    buf: Vec<u8>,
}

impl<R: BufRead> StreamSource<R> {
    pub(crate) fn new(input: R) -> Self {
        let mut reader = Reader::from_reader(LineCounter::new(input));
        configure(&mut reader);
        StreamSource {
            reader,
            buf: Vec::with_capacity(256),
        }
    }
}

impl<R: BufRead> Source for StreamSource<R> {
    fn next_event(&mut self) -> Result<Event<'_>, quick_xml::Error> {
        self.buf.clear();
        if self.buf.capacity() > 1 << 20 {
            self.buf.shrink_to(1 << 12);
        }
        self.reader.read_event_into(&mut self.buf)
    }

    fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn error_position(&self) -> u64 {
        self.reader.error_position()
    }

    fn line_col(&self, offset: u64) -> (u64, u64) {
        self.reader.get_ref().line_col(offset)
    }

    fn checkpoint(&mut self, offset: u64) {
        self.reader.get_mut().forget_before(offset);
    }

    fn stop_checking_end_names(&mut self) {
        self.reader.config_mut().check_end_names = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counter_and_slice_agree() {
        let text = b"<a>\n  <b>x</b>\n\n  <c/>\n</a>\n";
        let slice = SliceSource::new(text);
        let mut stream = StreamSource::new(&text[..]);
        while !matches!(stream.next_event().unwrap(), Event::Eof) {}
        for offset in 0..text.len() as u64 {
            assert_eq!(slice.line_col(offset), stream.line_col(offset), "{offset}");
        }
        assert_eq!(slice.line_col(0), (1, 1));
        assert_eq!(slice.line_col(6), (2, 3));
        stream.checkpoint(16);
        assert_eq!(stream.line_col(18), slice.line_col(18));
    }
}
