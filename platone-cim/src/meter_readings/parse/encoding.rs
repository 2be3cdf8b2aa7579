//! Documents in encodings other than UTF-8.
//!
//! The encoding is found as XML 1.0 Appendix F says: a byte order mark (UTF-8, UTF-16LE,
//! UTF-16BE), else `<?` as 16-bit units (UTF-16 without a mark), else the `encoding` of the
//! XML declaration (`ISO-8859-1`, `windows-1252`, `ISO-8859-7`, …, any label the WHATWG
//! Encoding Standard knows), else UTF-8. Anything but UTF-8 is transcoded to UTF-8 with
//! `encoding_rs` before the reader sees it: a whole slice at once, a stream chunk by chunk.
//! Positions in messages then count bytes of the UTF-8 text (lines are the same).
//!
//! Labels follow the WHATWG mapping, so `ISO-8859-1` and `US-ASCII` are read as
//! windows-1252, their superset. A declaration that says UTF-16 on a document without
//! 16-bit markup is wrong about itself; the bytes win and it is read as UTF-8.

use std::borrow::Cow;
use std::io::{self, BufRead, Read};

use encoding_rs::{DecoderResult, Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// How much of the start of a document is looked at for the XML declaration.
const PREFIX: usize = 1024;

/// What the start of a document says about its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Detected {
    /// UTF-8: nothing to do.
    Utf8,
    /// Another encoding, after a byte order mark of `bom` bytes.
    Other {
        /// The encoding.
        encoding: &'static Encoding,
        /// Length of the byte order mark.
        bom: usize,
    },
    /// The declaration names an encoding that is not known.
    Unknown {
        /// The label as written.
        label: String,
        /// Where the label is.
        offset: usize,
    },
}

/// The encoding of a document that starts with `prefix`.
pub(crate) fn detect(prefix: &[u8]) -> Detected {
    if let Some((encoding, bom)) = Encoding::for_bom(prefix) {
        return if encoding == UTF_8 {
            Detected::Utf8
        } else {
            Detected::Other { encoding, bom }
        };
    }
    if prefix.starts_with(b"<\0?\0") {
        return Detected::Other {
            encoding: UTF_16LE,
            bom: 0,
        };
    }
    if prefix.starts_with(b"\0<\0?") {
        return Detected::Other {
            encoding: UTF_16BE,
            bom: 0,
        };
    }
    let Some((label, offset)) = declared_encoding(prefix) else {
        return Detected::Utf8;
    };
    match Encoding::for_label(label) {
        Some(encoding) if encoding == UTF_8 || encoding == UTF_16LE || encoding == UTF_16BE => {
            Detected::Utf8
        }
        Some(encoding) => Detected::Other { encoding, bom: 0 },
        None => Detected::Unknown {
            label: String::from_utf8_lossy(label).into_owned(),
            offset,
        },
    }
}

/// The `encoding` of an XML declaration at the start of `prefix`, and its offset.
fn declared_encoding(prefix: &[u8]) -> Option<(&[u8], usize)> {
    if !prefix.starts_with(b"<?xml") {
        return None;
    }
    let end = memchr::memmem::find(prefix, b"?>")?;
    let decl = prefix.get(..end)?;
    let key = memchr::memmem::find(decl, b"encoding")?;
    let mut at = key + 8;
    let skip_space = |at: &mut usize| {
        while decl.get(*at).is_some_and(u8::is_ascii_whitespace) {
            *at += 1;
        }
    };
    skip_space(&mut at);
    if decl.get(at) != Some(&b'=') {
        return None;
    }
    at += 1;
    skip_space(&mut at);
    let quote = *decl.get(at).filter(|&&q| q == b'"' || q == b'\'')?;
    let value = decl.get(at + 1..)?;
    let len = memchr::memchr(quote, value)?;
    Some((value.get(..len)?, at + 1))
}

/// Why a document could not be turned into UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The declared encoding is not known.
    Unknown {
        /// The label.
        label: String,
        /// Where it is.
        offset: usize,
    },
    /// Bytes that are not valid in the encoding.
    Malformed {
        /// The encoding's name.
        encoding: &'static str,
        /// Where the bad bytes start.
        offset: usize,
    },
}

impl DecodeError {
    pub(crate) fn offset(&self) -> usize {
        match self {
            DecodeError::Unknown { offset, .. } | DecodeError::Malformed { offset, .. } => *offset,
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            DecodeError::Unknown { label, .. } => {
                format!("the declared encoding `{label}` is not supported")
            }
            DecodeError::Malformed { encoding, .. } => {
                format!("bytes that are not valid {encoding}")
            }
        }
    }
}

/// The offset of the first malformed sequence of `input` in `encoding`.
fn malformed_offset(encoding: &'static Encoding, input: &[u8]) -> usize {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = vec![0u8; 4096];
    let mut done = 0;
    loop {
        let rest = input.get(done..).unwrap_or_default();
        let (result, read, _) = decoder.decode_to_utf8_without_replacement(rest, &mut out, true);
        match result {
            DecoderResult::Malformed(bad, after) => {
                return (done + read).saturating_sub(usize::from(bad) + usize::from(after));
            }
            DecoderResult::OutputFull => done += read,
            DecoderResult::InputEmpty => return input.len(),
        }
    }
}

/// A whole document as UTF-8: borrowed when it already is.
pub(crate) fn decode_slice(input: &[u8]) -> Result<Cow<'_, [u8]>, DecodeError> {
    match detect(input.get(..PREFIX).unwrap_or(input)) {
        Detected::Utf8 => Ok(Cow::Borrowed(input)),
        Detected::Unknown { label, offset } => Err(DecodeError::Unknown { label, offset }),
        Detected::Other { encoding, bom } => {
            let body = input.get(bom..).unwrap_or_default();
            match encoding.decode_without_bom_handling_and_without_replacement(body) {
                Some(Cow::Borrowed(text)) => Ok(Cow::Borrowed(text.as_bytes())),
                Some(Cow::Owned(text)) => Ok(Cow::Owned(text.into_bytes())),
                None => Err(DecodeError::Malformed {
                    encoding: encoding.name(),
                    offset: bom + malformed_offset(encoding, body),
                }),
            }
        }
    }
}

/// A `BufRead` that transcodes its input to UTF-8.
struct Transcoder<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    name: &'static str,
    out: Vec<u8>,
    at: usize,
    /// Input bytes consumed.
    consumed: u64,
    done: bool,
    /// An error found after text that has not been handed out yet.
    pending: Option<io::Error>,
}

impl<R: BufRead> Transcoder<R> {
    fn fill(&mut self) -> io::Result<()> {
        if self.at >= self.out.len()
            && let Some(e) = self.pending.take()
        {
            return Err(e);
        }
        while self.at >= self.out.len() && !self.done {
            let src = self.inner.fill_buf()?;
            let last = src.is_empty();
            let src = src.get(..src.len().min(64 * 1024)).unwrap_or_default();
            let room = self
                .decoder
                .max_utf8_buffer_length_without_replacement(src.len())
                .unwrap_or(usize::MAX)
                .clamp(16, 4 * 64 * 1024 + 16);
            self.out.clear();
            self.out.resize(room, 0);
            self.at = 0;
            let (result, read, written) =
                self.decoder
                    .decode_to_utf8_without_replacement(src, &mut self.out, last);
            self.out.truncate(written);
            self.inner.consume(read);
            self.consumed += read as u64;
            match result {
                DecoderResult::Malformed(bad, after) => {
                    self.done = true;
                    let offset = self
                        .consumed
                        .saturating_sub(u64::from(bad) + u64::from(after));
                    let error = io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "bytes that are not valid {} at input byte {offset}",
                            self.name
                        ),
                    );
                    // Hand out the text before the bad bytes first.
                    if written == 0 {
                        return Err(error);
                    }
                    self.pending = Some(error);
                }
                DecoderResult::InputEmpty if last => self.done = true,
                DecoderResult::InputEmpty | DecoderResult::OutputFull => {}
            }
        }
        Ok(())
    }
}

/// A `BufRead` that gives `prefix` first, then `inner`.
struct Prefixed<R> {
    prefix: Vec<u8>,
    at: usize,
    inner: R,
}

/// `Read::read` for a reader whose `BufRead` side does the work: copies what `fill_buf` has
/// and consumes it.
pub(super) fn read_through_buffer<R: BufRead + ?Sized>(
    reader: &mut R,
    out: &mut [u8],
) -> io::Result<usize> {
    let available = reader.fill_buf()?;
    let n = available.len().min(out.len());
    if let (Some(dst), Some(src)) = (out.get_mut(..n), available.get(..n)) {
        dst.copy_from_slice(src);
    }
    reader.consume(n);
    Ok(n)
}

impl<R: BufRead> Read for Prefixed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_through_buffer(self, out)
    }
}

impl<R: BufRead> BufRead for Prefixed<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at < self.prefix.len() {
            return Ok(self.prefix.get(self.at..).unwrap_or_default());
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if self.at < self.prefix.len() {
            self.at = (self.at + amt).min(self.prefix.len());
            if self.at == self.prefix.len() {
                self.prefix = Vec::new();
                self.at = 0;
            }
        } else {
            self.inner.consume(amt);
        }
    }
}

enum State<R> {
    /// Nothing read yet.
    Start(R),
    /// UTF-8 input.
    Utf8(Prefixed<R>),
    /// Transcoded input.
    Transcoded(Transcoder<Prefixed<R>>),
    /// The encoding is not known: this error, once.
    Failed(Option<io::Error>),
}

/// The input of a stream, transcoded to UTF-8 when it is in another encoding (found when it
/// is first read).
pub(crate) struct Utf8Input<R> {
    state: State<R>,
}

impl<R: BufRead> Utf8Input<R> {
    pub(crate) fn new(inner: R) -> Self {
        Utf8Input {
            state: State::Start(inner),
        }
    }

    fn start(&mut self) {
        let State::Start(mut inner) = std::mem::replace(&mut self.state, State::Failed(None))
        else {
            return;
        };
        let mut prefix = Vec::new();
        // Enough of the start to see the declaration.
        while prefix.len() < PREFIX && memchr::memmem::find(&prefix, b"?>").is_none() {
            if prefix.len() >= 5 && !(prefix.starts_with(b"<?xml") || prefix.contains(&0)) {
                break;
            }
            match inner.fill_buf() {
                Ok([]) => break,
                Ok(chunk) => {
                    let n = chunk.len().min(PREFIX);
                    prefix.extend_from_slice(chunk.get(..n).unwrap_or_default());
                    inner.consume(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.state = State::Failed(Some(e));
                    return;
                }
            }
        }
        let detected = detect(&prefix);
        let mut input = Prefixed {
            prefix,
            at: 0,
            inner,
        };
        self.state = match detected {
            Detected::Utf8 => State::Utf8(input),
            Detected::Other { encoding, bom } => {
                input.consume(bom);
                State::Transcoded(Transcoder {
                    inner: input,
                    decoder: encoding.new_decoder_without_bom_handling(),
                    name: encoding.name(),
                    out: Vec::new(),
                    at: 0,
                    consumed: bom as u64,
                    done: false,
                    pending: None,
                })
            }
            unknown => {
                let message = DecodeError::Unknown {
                    label: match &unknown {
                        Detected::Unknown { label, .. } => label.clone(),
                        _ => String::new(),
                    },
                    offset: 0,
                }
                .message();
                State::Failed(Some(io::Error::new(io::ErrorKind::InvalidData, message)))
            }
        };
    }
}

impl<R: BufRead> Read for Utf8Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_through_buffer(self, out)
    }
}

impl<R: BufRead> BufRead for Utf8Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if matches!(self.state, State::Start(_)) {
            self.start();
        }
        match &mut self.state {
            State::Start(_) => Ok(&[]),
            State::Utf8(input) => input.fill_buf(),
            State::Transcoded(t) => {
                t.fill()?;
                Ok(t.out.get(t.at..).unwrap_or_default())
            }
            State::Failed(error) => match error.take() {
                Some(e) => Err(e),
                None => Ok(&[]),
            },
        }
    }

    fn consume(&mut self, amt: usize) {
        match &mut self.state {
            State::Utf8(input) => input.consume(amt),
            State::Transcoded(t) => t.at = (t.at + amt).min(t.out.len()),
            State::Start(_) | State::Failed(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_found() {
        assert_eq!(detect(b"<a/>"), Detected::Utf8);
        assert_eq!(
            detect(b"<?xml version='1.0' encoding='UTF-8'?>"),
            Detected::Utf8
        );
        assert_eq!(
            detect(b"<?xml version=\"1.0\" encoding = \"ISO-8859-1\"?><a/>"),
            Detected::Other {
                encoding: encoding_rs::WINDOWS_1252,
                bom: 0
            }
        );
        assert_eq!(
            detect(b"\xFF\xFE<\0"),
            Detected::Other {
                encoding: UTF_16LE,
                bom: 2
            }
        );
        assert_eq!(
            detect(b"\0<\0?\0x"),
            Detected::Other {
                encoding: UTF_16BE,
                bom: 0
            }
        );
        assert_eq!(
            detect(b"<?xml version='1.0' encoding='UTF-16'?><a/>"),
            Detected::Utf8
        );
        assert_eq!(
            detect(b"<?xml version='1.0' encoding='klingon'?>"),
            Detected::Unknown {
                label: "klingon".into(),
                offset: 30
            }
        );
    }

    #[test]
    fn slices_and_streams_transcode_alike() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>Gr\xFC\xDFe</a>";
        let text = decode_slice(latin1).unwrap();
        assert_eq!(
            std::str::from_utf8(&text).unwrap(),
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>Grüße</a>"
        );
        let mut streamed = String::new();
        Utf8Input::new(&latin1[..])
            .read_to_string(&mut streamed)
            .unwrap();
        assert_eq!(streamed.as_bytes(), &text[..]);

        let utf16: Vec<u8> = "\u{FEFF}<a>Ωmega</a>"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(
            &decode_slice(&utf16).unwrap()[..],
            "<a>Ωmega</a>".as_bytes()
        );
        let mut streamed = String::new();
        Utf8Input::new(&utf16[..])
            .read_to_string(&mut streamed)
            .unwrap();
        assert_eq!(streamed, "<a>Ωmega</a>");
    }

    #[test]
    fn bad_bytes_and_unknown_labels_are_errors() {
        let bad = b"\xFF\xFE<\0a\0>\0\x00\xD8>\0";
        let err = decode_slice(bad).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Malformed {
                encoding: "UTF-16LE",
                offset: 8
            }
        );
        let mut out = String::new();
        assert!(Utf8Input::new(&bad[..]).read_to_string(&mut out).is_err());
        let unknown = b"<?xml version='1.0' encoding='klingon'?><a/>";
        assert!(decode_slice(unknown).is_err());
        assert!(
            Utf8Input::new(&unknown[..])
                .read_to_string(&mut out)
                .is_err()
        );
    }
}
