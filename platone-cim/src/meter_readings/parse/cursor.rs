//! A cursor over XML events that matches elements by local name, keeps the element path for
//! messages, collects leaf text and turns content problems into warnings or errors.

use quick_xml::events::Event;

use super::source::Source;
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
}

impl Tag {
    pub(crate) fn of(local: &str) -> Tag {
        // Bucketed by length so that each name is compared with few others.
        match local.len() {
            3 => match local {
                "end" => Tag::End,
                "cpp" => Tag::Cpp,
                "tou" => Tag::Tou,
                _ => Tag::Unknown,
            },
            4 => match local {
                "mRID" => Tag::MRid,
                "name" => Tag::NameLower,
                "type" => Tag::Type,
                "unit" => Tag::Unit,
                "Verb" => Tag::Verb,
                "Noun" => Tag::Noun,
                "User" => Tag::User,
                "Name" => Tag::NameUpper,
                "code" => Tag::Code,
                _ => Tag::Unknown,
            },
            5 => match local {
                "Reply" => Tag::Reply,
                "Meter" => Tag::Meter,
                "Names" => Tag::Names,
                "value" => Tag::ValueLower,
                "start" => Tag::Start,
                "Value" => Tag::ValueUpper,
                "Error" => Tag::Error,
                "level" => Tag::Level,
                _ => Tag::Unknown,
            },
            6 => match local {
                "Header" => Tag::Header,
                "status" => Tag::StatusLower,
                "reason" => Tag::Reason,
                "remark" => Tag::Remark,
                "source" => Tag::SourceLower,
                "offset" => Tag::Offset,
                "userID" => Tag::UserIdLower,
                "Assets" => Tag::Assets,
                "domain" => Tag::Domain,
                "phases" => Tag::Phases,
                "Source" => Tag::SourceUpper,
                "UserID" => Tag::UserId,
                "Result" => Tag::Result,
                _ => Tag::Unknown,
            },
            7 => match local {
                "comment" => Tag::CommentLower,
                "Context" => Tag::Context,
                "Comment" => Tag::CommentUpper,
                "details" => Tag::Details,
                _ => Tag::Unknown,
            },
            8 => match local {
                "Readings" => Tag::Readings,
                "NameType" => Tag::NameType,
                "dateTime" => Tag::DateTime,
                "issuerID" => Tag::IssuerId,
                "severity" => Tag::Severity,
                "category" => Tag::Category,
                "systemId" => Tag::SystemId,
                "currency" => Tag::Currency,
                "argument" => Tag::Argument,
                "Revision" => Tag::Revision,
                "Property" => Tag::Property,
                _ => Tag::Unknown,
            },
            9 => match local {
                "timeStamp" => Tag::TimeStamp,
                "subDomain" => Tag::SubDomain,
                "aggregate" => Tag::Aggregate,
                "commodity" => Tag::Commodity,
                "numerator" => Tag::Numerator,
                "Timestamp" => Tag::Timestamp,
                "MessageID" => Tag::MessageId,
                _ => Tag::Unknown,
            },
            10 => match local {
                "UsagePoint" => Tag::UsagePoint,
                "timePeriod" => Tag::TimePeriod,
                "multiplier" => Tag::Multiplier,
                _ => Tag::Unknown,
            },
            11 => match local {
                "ReadingType" => Tag::ReadingType,
                "description" => Tag::Description,
                "scalarFloat" => Tag::ScalarFloat,
                "subCategory" => Tag::SubCategory,
                "macroPeriod" => Tag::MacroPeriod,
                "denominator" => Tag::Denominator,
                "AckRequired" => Tag::AckRequired,
                _ => Tag::Unknown,
            },
            12 => match local {
                "MeterReading" => Tag::MeterReading,
                "serialNumber" => Tag::SerialNumber,
                "accumulation" => Tag::Accumulation,
                "ReplyAddress" => Tag::ReplyAddress,
                "Organization" => Tag::Organization,
                _ => Tag::Unknown,
            },
            13 => match local {
                "MeterReadings" => Tag::MeterReadings,
                "eventOrAction" => Tag::EventOrAction,
                "flowDirection" => Tag::FlowDirection,
                "interharmonic" => Tag::Interharmonic,
                "CorrelationID" => Tag::CorrelationId,
                _ => Tag::Unknown,
            },
            14 => match local {
                "IntervalBlocks" => Tag::IntervalBlocks,
                "valuesInterval" => Tag::ValuesInterval,
                "AsyncReplyFlag" => Tag::AsyncReplyFlag,
                _ => Tag::Unknown,
            },
            15 => match local {
                "EndDeviceEvents" => Tag::EndDeviceEvents,
                "scalarNumerator" => Tag::ScalarNumerator,
                "createdDateTime" => Tag::CreatedDateTime,
                "consumptionTier" => Tag::ConsumptionTier,
                "measurementKind" => Tag::MeasurementKind,
                "measuringPeriod" => Tag::MeasuringPeriod,
                _ => Tag::Unknown,
            },
            16 => match local {
                "reportedDateTime" => Tag::ReportedDateTime,
                "ReadingQualities" => Tag::ReadingQualities,
                "IntervalReadings" => Tag::IntervalReadings,
                "issuerTrackingID" => Tag::IssuerTrackingId,
                _ => Tag::Unknown,
            },
            17 => match local {
                "NameTypeAuthority" => Tag::NameTypeAuthority,
                "multiplyBeforeAdd" => Tag::MultiplyBeforeAdd,
                "scalarDenominator" => Tag::ScalarDenominator,
                _ => Tag::Unknown,
            },
            18 => match local {
                "ReadingQualityType" => Tag::ReadingQualityType,
                "EndDeviceEventType" => Tag::EndDeviceEventType,
                "PendingCalculation" => Tag::PendingCalculation,
                _ => Tag::Unknown,
            },
            19 => match local {
                "isCoincidentTrigger" => Tag::IsCoincidentTrigger,
                _ => Tag::Unknown,
            },
            21 => match local {
                "EndDeviceEventDetails" => Tag::EndDeviceEventDetails,
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
fn local_part(name: &str) -> &str {
    match name.bytes().rposition(|b| b == b':') {
        Some(i) => name.get(i + 1..).unwrap_or(name),
        None => name,
    }
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

pub(crate) struct Cursor<S> {
    pub(crate) src: S,
    pub(crate) mode: Mode,
    /// `/a/b/c` of the open elements.
    path: String,
    /// Length of `path` before each open element was pushed.
    stack: Vec<usize>,
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
}

impl<S: Source> Cursor<S> {
    pub(crate) fn new(src: S, mode: Mode) -> Self {
        Cursor {
            src,
            mode,
            path: String::with_capacity(128),
            stack: Vec::with_capacity(16),
            text: String::with_capacity(64),
            attr_ref: None,
            elem_start: 0,
            warnings: Vec::new(),
            warned_codes: Vec::new(),
            last_tag: Tag::Unknown,
            dates: Default::default(),
        }
    }

    /// Depth of open elements.
    pub(crate) fn depth(&self) -> usize {
        self.stack.len()
    }

    /// The local name of the parent of the current element.
    pub(crate) fn parent_name(&self) -> &str {
        let mut parts = self.path.rsplit('/');
        parts.next();
        parts.next().unwrap_or("")
    }

    /// Closes open elements down to `depth` (after an error, to resynchronise).
    pub(crate) fn truncate(&mut self, depth: usize) {
        if let Some(&len) = self.stack.get(depth) {
            self.path.truncate(len);
            self.stack.truncate(depth);
        }
    }

    pub(crate) fn location(&self, offset: u64) -> Location {
        let (line, column) = self.src.line_col(offset);
        Location {
            offset,
            line,
            column,
            path: if self.path.is_empty() {
                "/".into()
            } else {
                self.path.clone()
            },
        }
    }

    fn xml_error(&self, error: quick_xml::Error) -> MeterReadingsError {
        let offset = self.src.error_position();
        let location = self.location(offset);
        match error {
            quick_xml::Error::Io(e) => MeterReadingsError::Io {
                location,
                source: std::io::Error::new(e.kind(), e.to_string()),
            },
            other => MeterReadingsError::Xml {
                location,
                message: other.to_string(),
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
        self.push(tag.name());
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

    fn push(&mut self, local: &str) {
        self.stack.push(self.path.len());
        self.path.push('/');
        self.path.push_str(local);
    }

    fn pop(&mut self) {
        if let Some(len) = self.stack.pop() {
            self.path.truncate(len);
        }
    }

    /// The next start or end of an element, skipping text, comments and declarations.
    pub(crate) fn next(&mut self) -> Result<Tok> {
        loop {
            let before = self.src.position();
            let event = match self.src.next_event() {
                Ok(event) => event,
                Err(e) => return Err(self.xml_error(e)),
            };
            match event {
                Event::Start(e) => {
                    let local = local_part(e.name().0);
                    let tag = Tag::of(local);
                    self.stack.push(self.path.len());
                    self.path.push('/');
                    self.path.push_str(local);
                    self.attr_ref = None;
                    if tag.has_ref() && !e.attributes_raw().is_empty() {
                        for attr in e.attributes().with_checks(false).flatten() {
                            if attr.key.local_name().as_ref() == "ref" {
                                self.attr_ref = Some(
                                    match attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    {
                                        Ok(v) => v.into_owned(),
                                        Err(_) => attr.value.into_owned(),
                                    },
                                );
                            }
                        }
                    }
                    self.elem_start = before;
                    self.last_tag = tag;
                    return Ok(Tok::Start(tag));
                }
                Event::End(_) => {
                    self.pop();
                    return Ok(Tok::End);
                }
                Event::Eof => return Ok(Tok::Eof),
                _ => {}
            }
        }
    }

    /// Reads the text of the element just started, up to its end, into `self.text`. Child
    /// elements inside a text element are skipped with a warning.
    pub(crate) fn read_text(&mut self) -> Result<()> {
        self.text.clear();
        let start = self.elem_start;
        let mut nested = 0usize;
        loop {
            let event = match self.src.next_event() {
                Ok(event) => event,
                Err(e) => return Err(self.xml_error(e)),
            };
            match event {
                Event::Text(t) if nested == 0 => self.text.push_str(&t.xml10_content()),
                Event::CData(t) if nested == 0 => self.text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) if nested == 0 => {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        self.text.push(c);
                    } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                        self.text.push_str(s);
                    } else {
                        let name = r.to_string();
                        self.text.push('&');
                        self.text.push_str(&name);
                        self.text.push(';');
                        let msg = format!("unknown entity `&{name};` kept as written");
                        self.issue(start, msg)?;
                    }
                }
                Event::Start(e) => {
                    if nested == 0 {
                        let local = e.local_name().as_ref().to_string();
                        let msg = format!("element `{local}` inside a text element skipped");
                        self.issue(start, msg)?;
                    }
                    nested += 1;
                }
                Event::End(_) if nested > 0 => nested -= 1,
                Event::End(_) => {
                    self.pop();
                    return Ok(());
                }
                Event::Eof => {
                    return Err(self.invalid(self.src.position(), "input ends inside an element"));
                }
                _ => {}
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
                Event::Start(_) => nested += 1,
                Event::End(_) if nested > 0 => nested -= 1,
                Event::End(_) => {
                    self.pop();
                    return Ok(());
                }
                Event::Eof => {
                    return Err(self.invalid(self.src.position(), "input ends inside an element"));
                }
                _ => {}
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
            let before = self.src.position();
            match self.src.next_event() {
                Ok(Event::Start(e)) if e.local_name().as_ref() == start_local => {
                    self.push(start_local);
                    self.attr_ref = None;
                    self.elem_start = before;
                    return Some(Tok::Start(Tag::of(start_local)));
                }
                Ok(Event::End(e)) if e.local_name().as_ref() == end_local => {
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
