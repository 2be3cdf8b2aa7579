//! Where XML events come from: a borrowed byte slice (zero-copy) or any `BufRead` (a sliding
//! buffer that holds one token at a time), each able to turn a byte offset into line:column.
//!
//! Both run the same [`Scanner`]. The input is checked to be UTF-8 once, not per event: a
//! slice up front, a stream token by token as it is read. Bytes that are not UTF-8 are
//! reported as an error of the token that contains them.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use super::scanner::{Scanner, Step, Token};

/// One event of the reader; its data borrows from the source until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// A start tag: qualified name and the raw attribute text.
    Start {
        /// The qualified name.
        name: &'a str,
        /// The text between the name and `>`.
        attrs: &'a str,
    },
    /// An end tag (also after every empty-element tag).
    End {
        /// The qualified name.
        name: &'a str,
    },
    /// Character data with its references unresolved (empty for comments and the like).
    Text(&'a str),
    /// The content of a CDATA section.
    CData(&'a str),
    /// The end of the input.
    Eof,
}

/// Why the next event could not be read.
#[derive(Debug)]
pub(crate) enum SourceError {
    /// Not well-formed XML at this offset.
    Syntax {
        /// Byte offset.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// Bytes that are not UTF-8, at this offset.
    Utf8 {
        /// Byte offset of the first bad byte.
        offset: u64,
    },
    /// Reading failed after this offset.
    Io {
        /// Byte offset.
        offset: u64,
        /// The cause.
        error: io::Error,
    },
}

/// A source of XML events with positions.
pub(crate) trait Source {
    /// The next event; its data borrows from the source until the next call.
    fn next_event(&mut self) -> Result<Event<'_>, SourceError>;
    /// For an element just started whose content is plain text directly followed by its
    /// end tag: that text, with the end tag consumed. `None` (nothing consumed) otherwise.
    fn leaf_text(&mut self) -> Option<&str>;
    /// The byte offset just past the last event.
    fn position(&self) -> u64;
    /// The byte offset where the last event's markup starts (the `<` of a start tag).
    fn token_start(&self) -> u64;
    /// 1-based line and column of a byte offset that is not before the last checkpoint.
    fn line_col(&self, offset: u64) -> (u64, u64);
    /// Says that positions before `offset` will not be asked for again.
    fn checkpoint(&mut self, _offset: u64) {}
    /// Stops checking that end tags match start tags (used when recovering from an error).
    fn stop_checking_end_names(&mut self);
}

/// The event of `token` in `text` (ranges found by the scanner end at ASCII delimiters, so
/// they fall on character boundaries).
fn event_of(text: &str, token: Token) -> Event<'_> {
    let slice = |(a, b): (usize, usize)| text.get(a..b).unwrap_or_default();
    match token {
        Token::Start { name, attrs } => Event::Start {
            name: slice(name),
            attrs: slice(attrs),
        },
        Token::End { name } => Event::End { name: slice(name) },
        Token::Text(r) => Event::Text(slice(r)),
        Token::CData(r) => Event::CData(slice(r)),
    }
}

/// The offset of the first byte at or after `from` that does not belong to a UTF-8 sequence.
fn first_bad_utf8(input: &[u8], from: usize) -> Option<usize> {
    let rest = input.get(from..)?;
    match std::str::from_utf8(rest) {
        Ok(_) => None,
        Err(e) => Some(from + e.valid_up_to()),
    }
}

/// Events borrowed from an in-memory document.
pub(crate) struct SliceSource<'a> {
    input: &'a [u8],
    /// The input as text, when it is all UTF-8.
    text: Option<&'a str>,
    scanner: Scanner,
    pos: usize,
    /// Where the last token's markup starts.
    token_start: usize,
    /// The next offset that is not UTF-8, found up front.
    bad_utf8: Option<usize>,
}

impl<'a> SliceSource<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        let bom = if input.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        // One SIMD pass over the whole input; tokens are then sliced from it without another check.
        let (text, bad_utf8) = match simdutf8::compat::from_utf8(input) {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(e.valid_up_to())),
        };
        SliceSource {
            input,
            text,
            scanner: Scanner::new(),
            pos: bom,
            token_start: bom,
            bad_utf8,
        }
    }
}

impl Source for SliceSource<'_> {
    fn next_event(&mut self) -> Result<Event<'_>, SourceError> {
        match self.scanner.step(self.input, self.pos, true) {
            Step::Token(token, next) => {
                self.token_start = token.markup_start();
                if let Some(bad) = self.bad_utf8.filter(|&bad| bad < next) {
                    // Report it once, then look for the next bad sequence after it.
                    let skip = self
                        .input
                        .get(bad..)
                        .and_then(|rest| std::str::from_utf8(rest).err())
                        .and_then(|e| e.error_len())
                        .unwrap_or(1);
                    self.bad_utf8 = first_bad_utf8(self.input, bad + skip);
                    self.pos = next;
                    return Err(SourceError::Utf8 { offset: bad as u64 });
                }
                let start = self.pos;
                self.pos = next;
                match self.text {
                    Some(text) => Ok(event_of(text, token)),
                    // Not all UTF-8, but this token is: check it alone.
                    None => {
                        let start = start.min(token.first());
                        let bytes = self.input.get(start..next).unwrap_or_default();
                        let token_text = std::str::from_utf8(bytes).unwrap_or_default();
                        Ok(event_of(token_text, token.shifted(start)))
                    }
                }
            }
            Step::Eof | Step::NeedMore => Ok(Event::Eof),
            Step::Error(at, message) => {
                // Step over the bad byte so that a caller that goes on makes progress.
                self.pos = self.pos.max(at + 1).min(self.input.len());
                Err(SourceError::Syntax {
                    offset: at as u64,
                    message,
                })
            }
        }
    }

    fn leaf_text(&mut self) -> Option<&str> {
        let text = self.text?;
        let ((a, b), next) = self.scanner.leaf(self.input, self.pos)?;
        let content = text.get(a..b)?;
        self.scanner.commit_leaf();
        self.pos = next;
        Some(content)
    }

    fn position(&self) -> u64 {
        self.pos as u64
    }

    fn token_start(&self) -> u64 {
        self.token_start as u64
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
        self.scanner.check_end_names = false;
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
        super::encoding::read_through_buffer(self, out)
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

/// How much of the input a stream copies into its buffer at a time.
const CHUNK: usize = 64 * 1024;

/// Events from a `BufRead`: a buffer holds the token being read and what follows it in the
/// current chunk.
pub(crate) struct StreamSource<R> {
    input: LineCounter<R>,
    scanner: Scanner,
    buf: Vec<u8>,
    /// Where the next token starts in `buf`.
    pos: usize,
    /// The input offset of `buf[0]`.
    base: u64,
    eof: bool,
    started: bool,
    /// The input offset where the last token's markup starts.
    token_start: u64,
}

impl<R: BufRead> StreamSource<R> {
    pub(crate) fn new(input: R) -> Self {
        StreamSource {
            input: LineCounter::new(input),
            scanner: Scanner::new(),
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
            base: 0,
            eof: false,
            started: false,
            token_start: 0,
        }
    }

    /// Drops what has been read and appends the next chunk of input.
    fn refill(&mut self) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.scanner.shift(self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        if self.buf.capacity() > 4 * CHUNK && self.buf.len() < CHUNK {
            self.buf.shrink_to(2 * CHUNK);
        }
        // Whatever the input has ready, up to a chunk; but a token already longer than a
        // chunk waits for as much again, so that a huge token is not scanned quadratically.
        let want = if self.buf.len() > CHUNK {
            self.buf.len()
        } else {
            1
        };
        let mut got = 0;
        while got < want {
            let chunk = loop {
                match self.input.fill_buf() {
                    Ok(chunk) => break chunk,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if chunk.is_empty() {
                self.eof = true;
                break;
            }
            let n = chunk.len().min(CHUNK.max(want - got));
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
            self.input.consume(n);
            got += n;
        }
        if !self.started && self.buf.len() >= 3 {
            self.started = true;
            if self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.pos = 3;
            }
        }
        Ok(())
    }
}

impl<R: BufRead> Source for StreamSource<R> {
    fn next_event(&mut self) -> Result<Event<'_>, SourceError> {
        let (token, next) = loop {
            match self.scanner.step(&self.buf, self.pos, self.eof) {
                Step::Token(token, next) => break (token, next),
                Step::NeedMore => {
                    if let Err(error) = self.refill() {
                        return Err(SourceError::Io {
                            offset: self.base + self.buf.len() as u64,
                            error,
                        });
                    }
                }
                Step::Eof => return Ok(Event::Eof),
                Step::Error(at, message) => {
                    self.pos = self.pos.max(at + 1).min(self.buf.len());
                    return Err(SourceError::Syntax {
                        offset: self.base + at as u64,
                        message,
                    });
                }
            }
        };
        let start = self.pos.min(token.first());
        self.token_start = self.base + token.markup_start() as u64;
        self.pos = next;
        let bytes = self.buf.get(start..next).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(event_of(text, token.shifted(start))),
            Err(e) => Err(SourceError::Utf8 {
                offset: self.base + (start + e.valid_up_to()) as u64,
            }),
        }
    }

    fn leaf_text(&mut self) -> Option<&str> {
        let ((a, b), next) = self.scanner.leaf(&self.buf, self.pos)?;
        let content = std::str::from_utf8(self.buf.get(a..b)?).ok()?;
        self.scanner.commit_leaf();
        self.pos = next;
        Some(content)
    }

    fn position(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn token_start(&self) -> u64 {
        self.token_start
    }

    fn line_col(&self, offset: u64) -> (u64, u64) {
        self.input.line_col(offset)
    }

    fn checkpoint(&mut self, offset: u64) {
        self.input.forget_before(offset);
    }

    fn stop_checking_end_names(&mut self) {
        self.scanner.check_end_names = false;
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

    /// A `BufRead` that hands out one byte at a time.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(out.len()).min(1);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    impl BufRead for Trickle<'_> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            Ok(&self.0[..self.0.len().min(1)])
        }
        fn consume(&mut self, amt: usize) {
            self.0 = &self.0[amt..];
        }
    }

    fn events<S: Source>(mut s: S) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match s.next_event() {
                Ok(Event::Eof) => return out,
                Ok(e) => {
                    let e = format!("{e:?}");
                    out.push(format!("{e}@{}", s.position()));
                }
                Err(e) => {
                    out.push(format!("{e:?}"));
                    return out;
                }
            }
        }
    }

    #[test]
    fn a_token_far_longer_than_a_chunk_streams() {
        // The buffer grows by doubling while the token is incomplete (see `refill`).
        let mut doc = b"<a><b>".to_vec();
        doc.extend(std::iter::repeat_n(b'x', 4 << 20));
        doc.extend_from_slice(b"</b></a>");
        let reader = io::BufReader::with_capacity(4096, &doc[..]);
        let streamed = events(StreamSource::new(reader));
        assert_eq!(streamed.len(), 5);
        assert_eq!(streamed, events(SliceSource::new(&doc)));
    }

    #[test]
    fn stream_and_slice_give_the_same_events_whatever_the_chunks() {
        let docs: [&[u8]; 4] = [
            b"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t&amp;<![CDATA[c]]><!-- x --></a>",
            b"<a><b></c></a>",
            b"<a>\xff</a>",
            b"<a><b",
        ];
        for doc in docs {
            let whole = events(SliceSource::new(doc));
            assert_eq!(events(StreamSource::new(doc)), whole);
            assert_eq!(events(StreamSource::new(Trickle(doc))), whole);
        }
    }
}
