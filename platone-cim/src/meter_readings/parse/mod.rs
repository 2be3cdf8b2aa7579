//! The reader: whole documents from memory, or a pull stream over any `BufRead`.

mod compressed;
mod cursor;
mod elements;
mod encoding;
mod scanner;
mod source;

use std::io::BufRead;

use cursor::{Cursor, Tag, Tok};
use encoding::Utf8Input;
use source::{SliceSource, Source, StreamSource};

use super::envelope::{Envelope, Header, MessageKind, Reply};
use super::model::{
    EndDeviceEventTypeDefinition, MeterReading, MeterReadingsDocument,
    ReadingQualityTypeDefinition, ReadingTypeDefinition,
};
use super::record::{Record, records_of};
use super::{MeterReadingsError, Mode, Warning};

/// One top-level item of a MeterReadings stream, in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// The IEC 61968-100 header of the message around the payload.
    Header {
        /// The message kind, from the element around the header.
        kind: MessageKind,
        /// The header.
        header: Header,
    },
    /// The message's reply.
    Reply(Reply),
    /// One `MeterReading`.
    MeterReading(MeterReading),
    /// A document-level `ReadingType` definition.
    ReadingType(ReadingTypeDefinition),
    /// A document-level `ReadingQualityType` definition.
    ReadingQualityType(ReadingQualityTypeDefinition),
    /// A document-level `EndDeviceEventType` definition.
    EndDeviceEventType(EndDeviceEventTypeDefinition),
}

/// The walk over the top level: envelopes and wrappers are transparent, `Header` and `Reply`
/// outside the payload are read, the children of `MeterReadings` are items; a
/// `Payload/Compressed` is decompressed and walked in turn.
struct Walker {
    /// The largest decompressed `Payload/Compressed` accepted, in bytes.
    max_decompressed: u64,
    /// Depth of the open `MeterReadings` element.
    payload_depth: Option<usize>,
    seen_payload: bool,
    seen_header: bool,
    finished: bool,
    recovering: bool,
    /// The stream over a decompressed `Payload/Compressed`, while it has items.
    inner: Option<Box<MeterReadingsStream<std::io::Cursor<Vec<u8>>>>>,
    /// The element path of that `Compressed` element.
    inner_path: String,
    /// `Payload/Format`, as written.
    payload_format: Option<String>,
}

impl Default for Walker {
    fn default() -> Self {
        Walker::with_limit(compressed::MAX_PAYLOAD)
    }
}

impl Walker {
    fn with_limit(max_decompressed: u64) -> Self {
        Walker {
            max_decompressed,
            payload_depth: None,
            seen_payload: false,
            seen_header: false,
            finished: false,
            recovering: false,
            inner: None,
            inner_path: String::new(),
            payload_format: None,
        }
    }
}

/// `error` with its element path placed under `prefix` (for errors inside a compressed
/// payload).
fn within(prefix: &str, mut error: MeterReadingsError) -> MeterReadingsError {
    if let MeterReadingsError::Xml { location, .. }
    | MeterReadingsError::Invalid { location, .. }
    | MeterReadingsError::Io { location, .. } = &mut error
    {
        location.path = prefixed(prefix, &location.path);
    }
    error
}

fn prefixed(prefix: &str, path: &str) -> String {
    match path {
        "/" => prefix.to_string(),
        path => format!("{prefix}{path}"),
    }
}

impl Walker {
    fn next_item<S: Source>(
        &mut self,
        cur: &mut Cursor<S>,
    ) -> Option<Result<StreamItem, MeterReadingsError>> {
        loop {
            if let Some(inner) = self.inner.as_mut() {
                let next = inner.next();
                for mut warning in inner.take_warnings() {
                    warning.location.path = prefixed(&self.inner_path, &warning.location.path);
                    cur.warnings.push(warning);
                }
                match next {
                    Some(Ok(item)) => return Some(Ok(item)),
                    Some(Err(e)) => {
                        if inner.walker.finished {
                            self.finished = true;
                        }
                        return Some(Err(within(&self.inner_path, e)));
                    }
                    None => self.inner = None,
                }
            }
            if self.finished {
                return None;
            }
            if self.recovering {
                self.recovering = false;
                let depth = self.payload_depth.unwrap_or(0);
                match cur.resync(depth, "MeterReading", "MeterReadings") {
                    Some(Tok::Start(_)) => match self.child(cur, Tag::MeterReading) {
                        Ok(Some(item)) => return Some(Ok(item)),
                        Ok(None) => continue,
                        Err(e) => return Some(Err(e)),
                    },
                    Some(_) => {
                        cur.truncate(depth.saturating_sub(1));
                        self.payload_depth = None;
                        continue;
                    }
                    None => {
                        self.finished = true;
                        let at = cur.src.position();
                        return Some(Err(cur.invalid(at, "input ends before its elements close")));
                    }
                }
            }
            let tok = match cur.next() {
                Ok(tok) => tok,
                // Broken markup between the items cannot be blamed on one `MeterReading`.
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            };
            match tok {
                Tok::Eof => {
                    self.finished = true;
                    if cur.depth() > 0 {
                        let at = cur.src.position();
                        return Some(Err(cur.invalid(at, "input ends before its elements close")));
                    }
                    if !self.seen_payload && !self.seen_header {
                        return Some(Err(cur.invalid(
                            cur.src.position(),
                            "no MeterReadings element or message header found",
                        )));
                    }
                    return None;
                }
                Tok::End => {
                    if self.payload_depth.is_some_and(|d| cur.depth() < d) {
                        self.payload_depth = None;
                    }
                }
                Tok::Start(tag) if self.payload_depth.is_some() => match self.child(cur, tag) {
                    Ok(Some(item)) => return Some(Ok(item)),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                },
                Tok::Start(Tag::MeterReadings) => {
                    self.payload_depth = Some(cur.depth());
                    self.seen_payload = true;
                }
                Tok::Start(Tag::Compressed) if cur.parent_name() == "Payload" => {
                    let at = cur.elem_start;
                    let path = cur.path();
                    let text = match cur.text_string() {
                        Ok(text) => text,
                        Err(e) => {
                            self.finished = true;
                            return Some(Err(e));
                        }
                    };
                    self.seen_payload = true;
                    match compressed::decompress(&text, self.max_decompressed) {
                        Ok(payload) => {
                            let input = std::io::Cursor::new(payload);
                            self.inner = Some(Box::new(MeterReadingsStream::with_limit(
                                input,
                                cur.mode,
                                self.max_decompressed,
                            )));
                            self.inner_path = path;
                        }
                        Err(message) => {
                            self.finished = true;
                            return Some(Err(cur.invalid(at, message)));
                        }
                    }
                }
                Tok::Start(Tag::Format) if cur.parent_name() == "Payload" => {
                    match cur.text_string() {
                        Ok(format) => self.payload_format = Some(format.trim().to_string()),
                        Err(e) => {
                            self.finished = true;
                            return Some(Err(e));
                        }
                    }
                }
                Tok::Start(Tag::Header) if cur.parent_name() != "Envelope" => {
                    let kind = MessageKind::from_element(cur.parent_name());
                    self.seen_header = true;
                    return Some(
                        cur.header()
                            .map(|header| StreamItem::Header { kind, header })
                            .map_err(|e| self.fail(cur, e)),
                    );
                }
                Tok::Start(Tag::Reply) => {
                    return Some(
                        cur.reply()
                            .map(StreamItem::Reply)
                            .map_err(|e| self.fail(cur, e)),
                    );
                }
                Tok::Start(_) => {}
            }
        }
    }

    /// A child of `MeterReadings`: an item, or `None` for a skipped element.
    fn child<S: Source>(
        &mut self,
        cur: &mut Cursor<S>,
        tag: Tag,
    ) -> Result<Option<StreamItem>, MeterReadingsError> {
        let start = cur.elem_start;
        cur.src.checkpoint(start);
        let item = match tag {
            Tag::MeterReading => cur.meter_reading().map(StreamItem::MeterReading),
            Tag::ReadingType => cur.reading_type_definition().map(StreamItem::ReadingType),
            Tag::ReadingQualityType => cur
                .reading_quality_type_definition()
                .map(StreamItem::ReadingQualityType),
            Tag::EndDeviceEventType => cur
                .end_device_event_type_definition()
                .map(StreamItem::EndDeviceEventType),
            _ => return cur.skip().map(|()| None).map_err(|e| self.fail(cur, e)),
        };
        item.map(Some).map_err(|e| self.fail(cur, e))
    }

    /// Decides how to go on after `error`: inside the payload in lenient mode, skip to the
    /// next `MeterReading`; otherwise stop.
    fn fail<S: Source>(
        &mut self,
        cur: &mut Cursor<S>,
        error: MeterReadingsError,
    ) -> MeterReadingsError {
        if cur.mode == Mode::Lenient && self.payload_depth.is_some() {
            self.recovering = true;
            cur.src.stop_checking_end_names();
        } else {
            self.finished = true;
        }
        error
    }
}

/// A whole document with what the reader noticed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDocument {
    /// The document.
    pub document: MeterReadingsDocument,
    /// What lenient mode accepted (always empty in strict mode).
    pub warnings: Vec<Warning>,
    /// `MeterReading`s that lenient mode skipped because they were malformed (always empty in
    /// strict mode, where the first one fails the parse).
    pub skipped: Vec<String>,
    /// The IEC 61968-100 `Payload/Format` hint (`XML`, …), when the message gives one.
    pub payload_format: Option<String>,
}

/// Reads a whole document from text.
pub fn parse_str(text: &str, mode: Mode) -> Result<ParsedDocument, MeterReadingsError> {
    parse_slice(text.as_bytes(), mode)
}

/// Reads a whole document from bytes.
///
/// UTF-8 input is read in place. A document in another encoding (a UTF-16 byte order mark,
/// or an XML declaration such as `encoding="ISO-8859-1"`) is transcoded to UTF-8 first;
/// positions in messages then count bytes of the UTF-8 text.
pub fn parse_slice(input: &[u8], mode: Mode) -> Result<ParsedDocument, MeterReadingsError> {
    parse_slice_limited(input, mode, compressed::MAX_PAYLOAD)
}

/// [`parse_slice`] for untrusted input: a `Payload/Compressed` that decompresses to more than
/// `max_decompressed` bytes is an error at that element (a guard against decompression bombs;
/// [`parse_slice`] allows 2 GiB).
pub fn parse_slice_limited(
    input: &[u8],
    mode: Mode,
    max_decompressed: u64,
) -> Result<ParsedDocument, MeterReadingsError> {
    let input = encoding::decode_slice(input).map_err(|e| {
        let source = SliceSource::new(input);
        let offset = e.offset() as u64;
        let (line, column) = source.line_col(offset);
        MeterReadingsError::Xml {
            location: super::Location {
                offset,
                line,
                column,
                path: "/".into(),
            },
            message: e.message(),
        }
    })?;
    let mut cur = Cursor::new(SliceSource::new(&input), mode);
    let mut walker = Walker::with_limit(max_decompressed);
    let mut document = MeterReadingsDocument::default();
    let mut skipped = Vec::new();
    while let Some(item) = walker.next_item(&mut cur) {
        match item {
            Ok(item) => add_item(&mut document, item),
            Err(e) if !walker.finished => skipped.push(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    Ok(ParsedDocument {
        document,
        warnings: cur.warnings,
        skipped,
        payload_format: walker.payload_format,
    })
}

fn add_item(document: &mut MeterReadingsDocument, item: StreamItem) {
    match item {
        StreamItem::Header { kind, header } => {
            let reply = document.envelope.take().and_then(|e| e.reply);
            document.envelope = Some(Envelope {
                kind,
                header,
                reply,
            });
        }
        StreamItem::Reply(reply) => match &mut document.envelope {
            Some(envelope) => envelope.reply = Some(reply),
            None => {
                document.envelope = Some(Envelope {
                    kind: MessageKind::Response,
                    header: Header::default(),
                    reply: Some(reply),
                })
            }
        },
        StreamItem::MeterReading(mr) => document.meter_readings.push(mr),
        StreamItem::ReadingType(d) => document.reading_types.push(d),
        StreamItem::ReadingQualityType(d) => document.reading_quality_types.push(d),
        StreamItem::EndDeviceEventType(d) => document.end_device_event_types.push(d),
    }
}

/// A pull parser over a `BufRead` that yields one [`StreamItem`] at a time; memory stays
/// bounded by the largest single `MeterReading` (plus the warnings not yet taken).
///
/// In lenient mode a malformed `MeterReading` yields one error and the stream goes on with
/// the next one; in strict mode the first error ends the stream.
///
/// ```
/// use platone_cim::meter_readings::{MeterReadingsStream, Mode, StreamItem};
///
/// let xml = "<MeterReadings><MeterReading><Meter><mRID>m1</mRID></Meter></MeterReading>\
///            <MeterReading><Meter><mRID>m2</mRID></Meter></MeterReading></MeterReadings>";
/// let meters: Vec<String> = MeterReadingsStream::new(xml.as_bytes(), Mode::Strict)
///     .filter_map(|item| match item {
///         Ok(StreamItem::MeterReading(mr)) => mr.meter_id().map(str::to_string),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(meters, ["m1", "m2"]);
/// ```
pub struct MeterReadingsStream<R> {
    cursor: Cursor<StreamSource<Utf8Input<R>>>,
    walker: Walker,
    envelope: Option<Envelope>,
}

impl<R: BufRead> MeterReadingsStream<R> {
    /// A stream over `input`. Input in an encoding other than UTF-8 (see [`parse_slice`]) is
    /// transcoded as it is read.
    pub fn new(input: R, mode: Mode) -> Self {
        Self::with_limit(input, mode, compressed::MAX_PAYLOAD)
    }

    /// A stream over untrusted `input`: a `Payload/Compressed` that decompresses to more than
    /// `max_decompressed` bytes is an error at that element ([`new`](Self::new) allows 2 GiB).
    pub fn with_limit(input: R, mode: Mode, max_decompressed: u64) -> Self {
        MeterReadingsStream {
            cursor: Cursor::new(StreamSource::new(Utf8Input::new(input)), mode),
            walker: Walker::with_limit(max_decompressed),
            envelope: None,
        }
    }

    /// Takes the warnings collected so far.
    pub fn take_warnings(&mut self) -> Vec<Warning> {
        std::mem::take(&mut self.cursor.warnings)
    }

    /// The message envelope, once its header (and reply) have been read.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }

    /// The IEC 61968-100 `Payload/Format` hint, once read.
    pub fn payload_format(&self) -> Option<&str> {
        self.walker.payload_format.as_deref()
    }

    /// Flattens the stream into one [`Record`] per reading, interval reading and event.
    pub fn records(self) -> Records<R> {
        Records {
            stream: self,
            pending: Vec::new().into_iter(),
        }
    }
}

impl<R: BufRead> Iterator for MeterReadingsStream<R> {
    type Item = Result<StreamItem, MeterReadingsError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.walker.next_item(&mut self.cursor)?;
        match &item {
            Ok(StreamItem::Header { kind, header }) => {
                let reply = self.envelope.take().and_then(|e| e.reply);
                self.envelope = Some(Envelope {
                    kind: *kind,
                    header: header.clone(),
                    reply,
                });
            }
            Ok(StreamItem::Reply(reply)) => match &mut self.envelope {
                Some(e) => e.reply = Some(reply.clone()),
                None => {
                    self.envelope = Some(Envelope {
                        kind: MessageKind::Response,
                        header: Header::default(),
                        reply: Some(reply.clone()),
                    })
                }
            },
            _ => {}
        }
        Some(item)
    }
}

/// One [`Record`] per reading and per event of a [`MeterReadingsStream`], in document order.
pub struct Records<R> {
    stream: MeterReadingsStream<R>,
    pending: std::vec::IntoIter<Record>,
}

impl<R: BufRead> Records<R> {
    /// Takes the warnings collected so far.
    pub fn take_warnings(&mut self) -> Vec<Warning> {
        self.stream.take_warnings()
    }

    /// The message envelope, once read.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.stream.envelope()
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<Record, MeterReadingsError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.pending.next() {
                return Some(Ok(record));
            }
            match self.stream.next()? {
                Ok(StreamItem::MeterReading(mr)) => self.pending = records_of(&mr).into_iter(),
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
