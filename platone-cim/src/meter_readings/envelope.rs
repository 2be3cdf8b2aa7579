//! IEC 61968-100 message envelopes around a MeterReadings payload.

use super::time::CimDateTime;

/// Which IEC 61968-100 message carried the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// `RequestMessage` (or a `Get…`/`Request…` wrapper).
    Request,
    /// `ResponseMessage` (or a `…Response…`/`Reply…` wrapper).
    Response,
    /// `EventMessage` (or a `Created…`/`Changed…` wrapper).
    Event,
    /// `FaultMessage`.
    Fault,
}

impl MessageKind {
    /// The standard element name: `EventMessage`, `RequestMessage`, ….
    pub fn element_name(self) -> &'static str {
        match self {
            MessageKind::Request => "RequestMessage",
            MessageKind::Response => "ResponseMessage",
            MessageKind::Event => "EventMessage",
            MessageKind::Fault => "FaultMessage",
        }
    }

    /// The kind a message element's local name stands for, by the names 61968-100 messages
    /// and their WSDL wrappers use.
    pub(crate) fn from_element(local_name: &str) -> Self {
        if local_name.contains("Fault") {
            MessageKind::Fault
        } else if local_name.contains("Response") || local_name.starts_with("Reply") {
            MessageKind::Response
        } else if local_name.contains("Request") || local_name.starts_with("Get") {
            MessageKind::Request
        } else {
            MessageKind::Event
        }
    }
}

/// The message around a payload: its kind, header and reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The message kind.
    pub kind: MessageKind,
    /// The header.
    pub header: Header,
    /// The reply, in responses and faults.
    pub reply: Option<Reply>,
}

impl Envelope {
    /// An `EventMessage` with verb `created` and noun `MeterReadings`, as a DSO Data Server
    /// sends it.
    pub fn created_event() -> Self {
        Envelope {
            kind: MessageKind::Event,
            header: Header {
                verb: "created".into(),
                noun: "MeterReadings".into(),
                ..Header::default()
            },
            reply: None,
        }
    }
}

/// A header `Property`: a name/value pair.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Property {
    /// `Name`.
    pub name: String,
    /// `Value`.
    pub value: Option<String>,
}

/// The IEC 61968-100 `Header`, its fields as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Header {
    /// `Verb` (`created`, `reply`, `get` …).
    pub verb: String,
    /// `Noun` (`MeterReadings`).
    pub noun: String,
    /// `Revision`.
    pub revision: Option<String>,
    /// `Context`.
    pub context: Option<String>,
    /// `Timestamp`.
    pub timestamp: Option<CimDateTime>,
    /// `Source`.
    pub source: Option<String>,
    /// `AsyncReplyFlag`.
    pub async_reply_flag: Option<String>,
    /// `ReplyAddress`.
    pub reply_address: Option<String>,
    /// `AckRequired`.
    pub ack_required: Option<String>,
    /// `User/UserID`.
    pub user_id: Option<String>,
    /// `User/Organization`.
    pub organization: Option<String>,
    /// `MessageID`.
    pub message_id: Option<String>,
    /// `CorrelationID`.
    pub correlation_id: Option<String>,
    /// `Comment`.
    pub comment: Option<String>,
    /// `Property`.
    pub properties: Vec<Property>,
}

/// An `Error` of a `Reply`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplyError {
    /// `code`.
    pub code: String,
    /// `level`.
    pub level: Option<String>,
    /// `reason`.
    pub reason: Option<String>,
    /// `details`.
    pub details: Option<String>,
}

/// The `Reply` of a response or fault.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    /// `Result` (`OK`, `PARTIAL`, `FAILED`).
    pub result: String,
    /// `Error`.
    pub errors: Vec<ReplyError>,
}
