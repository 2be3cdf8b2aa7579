//! A cursor over XML events that matches elements by local name, keeps the element path for
//! messages, collects leaf text and turns content problems into warnings or errors.

use super::scanner::unescape_into;
use super::source::{Event, Source, SourceError};
use crate::meter_readings::{Location, MeterReadingsError, Mode, Warning};

macro_rules! tags {
    ($($variant:ident => $name:literal,)+) => {
        /// The local element names the reader knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Tag { $($variant,)+ Unknown }

        impl Tag {
            pub(crate) fn name(self) -> &'static str {
                match self { $(Tag::$variant => $name,)+ Tag::Unknown => "?" }
            }
        }
    };
}

tags! {
    MeterReadings => "MeterReadings",
    MeterReading => "MeterReading",
    Header => "Header",
    Reply => "Reply",
    ReadingType => "ReadingType",
    ReadingQualityType => "ReadingQualityType",
    EndDeviceEventType => "EndDeviceEventType",
    IsCoincidentTrigger => "isCoincidentTrigger",
    EndDeviceEvents => "EndDeviceEvents",
    IntervalBlocks => "IntervalBlocks",
    Meter => "Meter",
    Readings => "Readings",
    UsagePoint => "UsagePoint",
    ValuesInterval => "valuesInterval",
    MRid => "mRID",
    SerialNumber => "serialNumber",
    Names => "Names",
    NameLower => "name",
    NameType => "NameType",
    Description => "description",
    NameTypeAuthority => "NameTypeAuthority",
    StatusLower => "status",
    DateTime => "dateTime",
    Reason => "reason",
    Remark => "remark",
    ValueLower => "value",
    ReportedDateTime => "reportedDateTime",
    SourceLower => "source",
    TimeStamp => "timeStamp",
    ReadingQualities => "ReadingQualities",
    CommentLower => "comment",
    TimePeriod => "timePeriod",
    Start => "start",
    End => "end",
    IntervalReadings => "IntervalReadings",
    PendingCalculation => "PendingCalculation",
    MultiplyBeforeAdd => "multiplyBeforeAdd",
    Offset => "offset",
    ScalarDenominator => "scalarDenominator",
    ScalarFloat => "scalarFloat",
    ScalarNumerator => "scalarNumerator",
    CreatedDateTime => "createdDateTime",
    IssuerId => "issuerID",
    IssuerTrackingId => "issuerTrackingID",
    Severity => "severity",
    UserIdLower => "userID",
    Assets => "Assets",
    EndDeviceEventDetails => "EndDeviceEventDetails",
    Domain => "domain",
    EventOrAction => "eventOrAction",
    SubDomain => "subDomain",
    Type => "type",
    Category => "category",
    SubCategory => "subCategory",
    SystemId => "systemId",
    Accumulation => "accumulation",
    Aggregate => "aggregate",
    Commodity => "commodity",
    ConsumptionTier => "consumptionTier",
    Cpp => "cpp",
    Currency => "currency",
    FlowDirection => "flowDirection",
    MacroPeriod => "macroPeriod",
    MeasurementKind => "measurementKind",
    MeasuringPeriod => "measuringPeriod",
    Multiplier => "multiplier",
    Phases => "phases",
    Tou => "tou",
    Unit => "unit",
    Argument => "argument",
    Interharmonic => "interharmonic",
    Numerator => "numerator",
    Denominator => "denominator",
    Verb => "Verb",
    Noun => "Noun",
    Revision => "Revision",
    Context => "Context",
    Timestamp => "Timestamp",
    SourceUpper => "Source",
    AsyncReplyFlag => "AsyncReplyFlag",
    ReplyAddress => "ReplyAddress",
    AckRequired => "AckRequired",
    User => "User",
    UserId => "UserID",
    Organization => "Organization",
    MessageId => "MessageID",
    CorrelationId => "CorrelationID",
    CommentUpper => "Comment",
    Property => "Property",
    NameUpper => "Name",
    ValueUpper => "Value",
    Result => "Result",
    Error => "Error",
    Code => "code",
    Level => "level",
    Details => "details",
    Compressed => "Compressed",
    Format => "Format",
}

impl Tag {
    pub(crate) fn of(local: &[u8]) -> Tag {
        // Bucketed by length so that each name is compared with few others.
        match local.len() {
            3 => match local {
                b"end" => Tag::End,
                b"cpp" => Tag::Cpp,
                b"tou" => Tag::Tou,
                _ => Tag::Unknown,
            },
            4 => match local {
                b"mRID" => Tag::MRid,
                b"name" => Tag::NameLower,
                b"type" => Tag::Type,
                b"unit" => Tag::Unit,
                b"Verb" => Tag::Verb,
                b"Noun" => Tag::Noun,
                b"User" => Tag::User,
                b"Name" => Tag::NameUpper,
                b"code" => Tag::Code,
                _ => Tag::Unknown,
            },
            5 => match local {
                b"Reply" => Tag::Reply,
                b"Meter" => Tag::Meter,
                b"Names" => Tag::Names,
                b"value" => Tag::ValueLower,
                b"start" => Tag::Start,
                b"Value" => Tag::ValueUpper,
                b"Error" => Tag::Error,
                b"level" => Tag::Level,
                _ => Tag::Unknown,
            },
            6 => match local {
                b"Header" => Tag::Header,
                b"Format" => Tag::Format,
                b"status" => Tag::StatusLower,
                b"reason" => Tag::Reason,
                b"remark" => Tag::Remark,
                b"source" => Tag::SourceLower,
                b"offset" => Tag::Offset,
                b"userID" => Tag::UserIdLower,
                b"Assets" => Tag::Assets,
                b"domain" => Tag::Domain,
                b"phases" => Tag::Phases,
                b"Source" => Tag::SourceUpper,
                b"UserID" => Tag::UserId,
                b"Result" => Tag::Result,
                _ => Tag::Unknown,
            },
            7 => match local {
                b"comment" => Tag::CommentLower,
                b"Context" => Tag::Context,
                b"Comment" => Tag::CommentUpper,
                b"details" => Tag::Details,
                _ => Tag::Unknown,
            },
            8 => match local {
                b"Readings" => Tag::Readings,
                b"NameType" => Tag::NameType,
                b"dateTime" => Tag::DateTime,
                b"issuerID" => Tag::IssuerId,
                b"severity" => Tag::Severity,
                b"category" => Tag::Category,
                b"systemId" => Tag::SystemId,
                b"currency" => Tag::Currency,
                b"argument" => Tag::Argument,
                b"Revision" => Tag::Revision,
                b"Property" => Tag::Property,
                _ => Tag::Unknown,
            },
            9 => match local {
                b"timeStamp" => Tag::TimeStamp,
                b"subDomain" => Tag::SubDomain,
                b"aggregate" => Tag::Aggregate,
                b"commodity" => Tag::Commodity,
                b"numerator" => Tag::Numerator,
                b"Timestamp" => Tag::Timestamp,
                b"MessageID" => Tag::MessageId,
                _ => Tag::Unknown,
            },
            10 => match local {
                b"UsagePoint" => Tag::UsagePoint,
                b"timePeriod" => Tag::TimePeriod,
                b"multiplier" => Tag::Multiplier,
                b"Compressed" => Tag::Compressed,
                _ => Tag::Unknown,
            },
            11 => match local {
                b"ReadingType" => Tag::ReadingType,
                b"description" => Tag::Description,
                b"scalarFloat" => Tag::ScalarFloat,
                b"subCategory" => Tag::SubCategory,
                b"macroPeriod" => Tag::MacroPeriod,
                b"denominator" => Tag::Denominator,
                b"AckRequired" => Tag::AckRequired,
                _ => Tag::Unknown,
            },
            12 => match local {
                b"MeterReading" => Tag::MeterReading,
                b"serialNumber" => Tag::SerialNumber,
                b"accumulation" => Tag::Accumulation,
                b"ReplyAddress" => Tag::ReplyAddress,
                b"Organization" => Tag::Organization,
                _ => Tag::Unknown,
            },
            13 => match local {
                b"MeterReadings" => Tag::MeterReadings,
                b"eventOrAction" => Tag::EventOrAction,
                b"flowDirection" => Tag::FlowDirection,
                b"interharmonic" => Tag::Interharmonic,
                b"CorrelationID" => Tag::CorrelationId,
                _ => Tag::Unknown,
            },
            14 => match local {
                b"IntervalBlocks" => Tag::IntervalBlocks,
                b"valuesInterval" => Tag::ValuesInterval,
                b"AsyncReplyFlag" => Tag::AsyncReplyFlag,
                _ => Tag::Unknown,
            },
            15 => match local {
                b"EndDeviceEvents" => Tag::EndDeviceEvents,
                b"scalarNumerator" => Tag::ScalarNumerator,
                b"createdDateTime" => Tag::CreatedDateTime,
                b"consumptionTier" => Tag::ConsumptionTier,
                b"measurementKind" => Tag::MeasurementKind,
                b"measuringPeriod" => Tag::MeasuringPeriod,
                _ => Tag::Unknown,
            },
            16 => match local {
                b"reportedDateTime" => Tag::ReportedDateTime,
                b"ReadingQualities" => Tag::ReadingQualities,
                b"IntervalReadings" => Tag::IntervalReadings,
                b"issuerTrackingID" => Tag::IssuerTrackingId,
                _ => Tag::Unknown,
            },
            17 => match local {
                b"NameTypeAuthority" => Tag::NameTypeAuthority,
                b"multiplyBeforeAdd" => Tag::MultiplyBeforeAdd,
                b"scalarDenominator" => Tag::ScalarDenominator,
                _ => Tag::Unknown,
            },
            18 => match local {
                b"ReadingQualityType" => Tag::ReadingQualityType,
                b"EndDeviceEventType" => Tag::EndDeviceEventType,
                b"PendingCalculation" => Tag::PendingCalculation,
                _ => Tag::Unknown,
            },
            19 => match local {
                b"isCoincidentTrigger" => Tag::IsCoincidentTrigger,
                _ => Tag::Unknown,
            },
            21 => match local {
                b"EndDeviceEventDetails" => Tag::EndDeviceEventDetails,
                _ => Tag::Unknown,
            },
            _ => Tag::Unknown,
        }
    }

    /// Elements whose `ref` attribute is a code the reader keeps.
    fn has_ref(self) -> bool {
        matches!(
            self,
            Tag::ReadingType | Tag::ReadingQualityType | Tag::EndDeviceEventType
        )
    }
}

/// The part of a qualified name after its prefix (short names: a plain scan beats a search).
fn local_part(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => name.get(i + 1..).unwrap_or(name),
        None => name,
    }
}

/// Appends text content (checked to be UTF-8 by the source) with its references resolved
/// and XML 1.0 line-end normalisation (`\r\n` and a lone `\r` become `\n`). Returns a
/// reference that could not be resolved (kept as written).
fn push_content(text: &mut String, content: &str, cdata: bool) -> Option<String> {
    let plain = !content.bytes().any(|b| b == b'&' || b == b'\r');
    if plain {
        text.push_str(content);
        return None;
    }
    let content = std::borrow::Cow::Borrowed(content);
    let content = if content.contains('\r') {
        std::borrow::Cow::Owned(content.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        content
    };
    if cdata {
        text.push_str(&content);
        None
    } else {
        unescape_into(&content, text)
    }
}

/// The `ref` attribute in a start tag's attribute text, references resolved and whitespace
/// normalised as XML does for attribute values.
fn ref_attribute(attrs: &str) -> Option<String> {
    let mut rest = attrs.as_bytes();
    loop {
        let start = rest.iter().position(|&b| !b.is_ascii_whitespace())?;
        rest = rest.get(start..)?;
        let eq = memchr::memchr(b'=', rest)?;
        let key = rest.get(..eq)?.trim_ascii();
        let after = rest.get(eq + 1..)?.trim_ascii_start();
        let quote = *after.first().filter(|&&q| q == b'"' || q == b'\'')?;
        let len = memchr::memchr(quote, after.get(1..)?)?;
        let value = after.get(1..1 + len)?;
        if local_part(key) == b"ref" {
            let plain = !value
                .iter()
                .any(|&b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'));
            if plain {
                return Some(String::from_utf8_lossy(value).into_owned());
            }
            let value = String::from_utf8_lossy(value);
            let value = value.replace(['\t', '\n', '\r'], " ");
            let mut out = String::with_capacity(value.len());
            unescape_into(&value, &mut out);
            return Some(out);
        }
        rest = after.get(len + 2..)?;
    }
}

fn push_open(open: &mut Vec<Open>, unknown_names: &mut String, tag: Tag, local: &[u8]) {
    let start = unknown_names.len();
    if tag == Tag::Unknown {
        unknown_names.push_str(&String::from_utf8_lossy(local));
    }
    open.push(Open {
        tag,
        name: (start, unknown_names.len()),
    });
}

/// One structural step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// An element started (empty elements also give an `End`).
    Start(Tag),
    /// The current element ended.
    End,
    /// The input ended.
    Eof,
}

pub(crate) type Result<T> = std::result::Result<T, MeterReadingsError>;

/// One open element: its tag and, for an element the reader does not know, where its name
/// is in [`Cursor::unknown_names`].
#[derive(Debug, Clone, Copy)]
struct Open {
    tag: Tag,
    name: (usize, usize),
}

pub(crate) struct Cursor<S> {
    pub(crate) src: S,
    pub(crate) mode: Mode,
    /// The open elements, outermost first (the element path, built only for messages).
    open: Vec<Open>,
    /// The local names of the open elements the reader does not know, one after another.
    unknown_names: String,
    /// Leaf text read by [`Cursor::read_text`].
    pub(crate) text: String,
    /// The `ref` attribute of the last started element that has one.
    pub(crate) attr_ref: Option<String>,
    /// Byte offset where the last started element begins.
    pub(crate) elem_start: u64,
    pub(crate) warnings: Vec<Warning>,
    /// The date of the last date-time read.
    pub(crate) dates: crate::meter_readings::time::DateCache,
    /// The tag of the last started element.
    pub(crate) last_tag: Tag,
    /// ReadingType codes already warned about.
    pub(crate) warned_codes: Vec<String>,
    /// The number of interval readings of the last interval block.
    pub(crate) last_block_len: usize,
}

impl<S: Source> Cursor<S> {
    pub(crate) fn new(src: S, mode: Mode) -> Self {
        Cursor {
            src,
            mode,
            open: Vec::with_capacity(16),
            unknown_names: String::with_capacity(128),
            text: String::with_capacity(64),
            attr_ref: None,
            elem_start: 0,
            warnings: Vec::new(),
            warned_codes: Vec::new(),
            last_block_len: 0,
            last_tag: Tag::Unknown,
            dates: Default::default(),
        }
    }

    /// Depth of open elements.
    pub(crate) fn depth(&self) -> usize {
        self.open.len()
    }

    fn name_of(&self, open: Open) -> &str {
        match open.tag {
            Tag::Unknown => self
                .unknown_names
                .get(open.name.0..open.name.1)
                .unwrap_or("?"),
            known => known.name(),
        }
    }

    /// The local name of the parent of the current element.
    pub(crate) fn parent_name(&self) -> &str {
        match self
            .open
            .len()
            .checked_sub(2)
            .and_then(|i| self.open.get(i))
        {
            Some(&open) => self.name_of(open),
            None => "",
        }
    }

    /// `/a/b/c` of the open elements.
    pub(crate) fn path(&self) -> String {
        if self.open.is_empty() {
            return "/".into();
        }
        let mut path = String::with_capacity(16 * self.open.len());
        for &open in &self.open {
            path.push('/');
            path.push_str(self.name_of(open));
        }
        path
    }

    /// Closes open elements down to `depth` (after an error, to resynchronise).
    pub(crate) fn truncate(&mut self, depth: usize) {
        if let Some(open) = self.open.get(depth) {
            self.unknown_names.truncate(open.name.0);
            self.open.truncate(depth);
        }
    }

    pub(crate) fn location(&self, offset: u64) -> Location {
        let (line, column) = self.src.line_col(offset);
        Location {
            offset,
            line,
            column,
            path: self.path(),
        }
    }

    fn xml_error(&self, error: SourceError) -> MeterReadingsError {
        match error {
            SourceError::Syntax { offset, message } => MeterReadingsError::Xml {
                location: self.location(offset),
                message,
            },
            SourceError::Utf8 { offset } => MeterReadingsError::Xml {
                location: self.location(offset),
                message: "bytes that are not UTF-8".to_string(),
            },
            SourceError::Io { offset, error } => MeterReadingsError::Io {
                location: self.location(offset),
                source: error,
            },
        }
    }

    /// A content problem at `offset`: a warning in lenient mode, an error in strict mode.
    pub(crate) fn issue(&mut self, offset: u64, message: String) -> Result<()> {
        let location = self.location(offset);
        match self.mode {
            Mode::Lenient => {
                self.warnings.push(Warning { location, message });
                Ok(())
            }
            Mode::Strict => Err(MeterReadingsError::Invalid { location, message }),
        }
    }

    /// A content problem in the element `tag` that has just been closed.
    pub(crate) fn issue_in(&mut self, tag: Tag, offset: u64, message: String) -> Result<()> {
        self.push(tag, tag.name().as_bytes());
        let result = self.issue(offset, message);
        self.pop();
        result
    }

    /// An error whatever the mode.
    pub(crate) fn invalid(&self, offset: u64, message: impl Into<String>) -> MeterReadingsError {
        MeterReadingsError::Invalid {
            location: self.location(offset),
            message: message.into(),
        }
    }

    fn push(&mut self, tag: Tag, local: &[u8]) {
        push_open(&mut self.open, &mut self.unknown_names, tag, local);
    }

    fn pop(&mut self) {
        if let Some(open) = self.open.pop() {
            self.unknown_names.truncate(open.name.0);
        }
    }

    /// The next start or end of an element, skipping text, comments and declarations.
    pub(crate) fn next(&mut self) -> Result<Tok> {
        loop {
            let event = match self.src.next_event() {
                Ok(event) => event,
                Err(e) => return Err(self.xml_error(e)),
            };
            match event {
                Event::Start { name, attrs } => {
                    let local = local_part(name.as_bytes());
                    let tag = Tag::of(local);
                    push_open(&mut self.open, &mut self.unknown_names, tag, local);
                    self.attr_ref = None;
                    if tag.has_ref() && !attrs.is_empty() {
                        self.attr_ref = ref_attribute(attrs);
                    }
                    self.elem_start = self.src.token_start();
                    self.last_tag = tag;
                    return Ok(Tok::Start(tag));
                }
                Event::End { .. } => {
                    self.pop();
                    return Ok(Tok::End);
                }
                Event::Eof => return Ok(Tok::Eof),
                Event::Text(_) | Event::CData(_) => {}
            }
        }
    }

    /// Reads the text of the element just started, up to its end, into `self.text`. Child
    /// elements inside a text element are skipped with a warning.
    pub(crate) fn read_text(&mut self) -> Result<()> {
        self.text.clear();
        let start = self.elem_start;
        if let Some(content) = self.src.leaf_text() {
            if let Some(written) = push_content(&mut self.text, content, false) {
                let msg = format!("unknown entity `{written}` kept as written");
                self.issue(start, msg)?;
            }
            self.pop();
            return Ok(());
        }
        let mut nested = 0usize;
        loop {
            let event = match self.src.next_event() {
                Ok(event) => event,
                Err(e) => return Err(self.xml_error(e)),
            };
            match event {
                Event::Text(t) | Event::CData(t) if nested == 0 => {
                    let cdata = matches!(event, Event::CData(_));
                    if let Some(written) = push_content(&mut self.text, t, cdata) {
                        let msg = format!("unknown entity `{written}` kept as written");
                        self.issue(start, msg)?;
                    }
                }
                Event::Start { name, .. } => {
                    if nested == 0 {
                        let local = local_part(name.as_bytes());
                        let local = String::from_utf8_lossy(local).into_owned();
                        let msg = format!("element `{local}` inside a text element skipped");
                        self.issue(start, msg)?;
                    }
                    nested += 1;
                }
                Event::End { .. } if nested > 0 => nested -= 1,
                Event::End { .. } => {
                    self.pop();
                    return Ok(());
                }
                Event::Eof => {
                    return Err(self.invalid(self.src.position(), "input ends inside an element"));
                }
                Event::Text(_) | Event::CData(_) => {}
            }
        }
    }

    /// The text of the element just started, as an owned string.
    pub(crate) fn text_string(&mut self) -> Result<String> {
        self.read_text()?;
        Ok(self.text.clone())
    }

    /// Skips the element just started, with everything inside it.
    pub(crate) fn skip(&mut self) -> Result<()> {
        let mut nested = 0usize;
        loop {
            let event = match self.src.next_event() {
                Ok(event) => event,
                Err(e) => return Err(self.xml_error(e)),
            };
            match event {
                Event::Start { .. } => nested += 1,
                Event::End { .. } if nested > 0 => nested -= 1,
                Event::End { .. } => {
                    self.pop();
                    return Ok(());
                }
                Event::Eof => {
                    return Err(self.invalid(self.src.position(), "input ends inside an element"));
                }
                Event::Text(_) | Event::CData(_) => {}
            }
        }
    }

    /// Calls `child` for every child element of the element just started, until its end.
    /// `child` must consume the child element (read its text, parse it or skip it).
    pub(crate) fn children(
        &mut self,
        mut child: impl FnMut(&mut Self, Tag) -> Result<()>,
    ) -> Result<()> {
        loop {
            match self.next()? {
                Tok::Start(tag) => child(self, tag)?,
                Tok::End => return Ok(()),
                Tok::Eof => {
                    return Err(self.invalid(self.src.position(), "input ends inside an element"));
                }
            }
        }
    }

    /// Reads raw events until an element named `local` starts (opened at `depth`, with
    /// everything deeper closed) or one named `end_local` ends, ignoring errors; used to go
    /// on after a bad element. Returns the tag found, or `None` at the end of input.
    pub(crate) fn resync(
        &mut self,
        depth: usize,
        start_local: &str,
        end_local: &str,
    ) -> Option<Tok> {
        self.truncate(depth);
        let mut errors = 0u32;
        loop {
            match self.src.next_event() {
                Ok(Event::Start { name, .. })
                    if local_part(name.as_bytes()) == start_local.as_bytes() =>
                {
                    self.push(Tag::of(start_local.as_bytes()), start_local.as_bytes());
                    self.attr_ref = None;
                    self.elem_start = self.src.token_start();
                    return Some(Tok::Start(Tag::of(start_local.as_bytes())));
                }
                Ok(Event::End { name }) if local_part(name.as_bytes()) == end_local.as_bytes() => {
                    return Some(Tok::End);
                }
                Ok(Event::Eof) => return None,
                Ok(_) => errors = 0,
                Err(_) => {
                    errors += 1;
                    if errors > 64 {
                        return None;
                    }
                }
            }
        }
    }
}
