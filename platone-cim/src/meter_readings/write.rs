//! The writer: IEC 61968-9 2013-edition MeterReadings in schema order, optionally inside an
//! IEC 61968-100 message.

use std::fmt::Write as _;
use std::io::Write;

use super::MeterReadingsError;
use super::envelope::{Envelope, Header, Reply};
use super::model::{
    DateTimeInterval, EndDeviceEvent, EndDeviceEventTypeDefinition, IntervalBlock, Meter,
    MeterReading, MeterReadingsDocument, Name, ReadingQuality, ReadingQualityTypeDefinition,
    ReadingTypeDefinition, Status,
};
use super::time::CimDateTime;
use super::value::ReadingValue;

/// The 2013-edition MeterReadings namespace.
pub const METER_READINGS_NAMESPACE: &str = "http://iec.ch/TC57/2011/MeterReadings#";
/// The IEC 61968-100 message namespace.
pub const MESSAGE_NAMESPACE: &str = "http://iec.ch/TC57/2011/schema/message";

/// How to write a document.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Wrap a document that has no envelope in this one (e.g. [`Envelope::created_event`]).
    /// A document's own envelope always wins.
    pub envelope: Option<Envelope>,
    /// Indent nested elements by two spaces per level.
    pub indent: bool,
}

impl WriteOptions {
    /// Indented output inside an `EventMessage` with verb `created`, noun `MeterReadings`.
    pub fn event_message() -> Self {
        WriteOptions {
            envelope: Some(Envelope::created_event()),
            indent: true,
        }
    }
}

struct Out {
    buf: String,
    indent: bool,
    depth: usize,
}

fn escape_into(buf: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '<' => buf.push_str("&lt;"),
            '>' => buf.push_str("&gt;"),
            '&' => buf.push_str("&amp;"),
            '"' if attribute => buf.push_str("&quot;"),
            '\r' => buf.push_str("&#13;"),
            '\n' if attribute => buf.push_str("&#10;"),
            '\t' if attribute => buf.push_str("&#9;"),
            c => buf.push(c),
        }
    }
}

impl Out {
    fn newline(&mut self) {
        if self.indent {
            self.buf.push('\n');
            for _ in 0..self.depth {
                self.buf.push_str("  ");
            }
        }
    }

    fn open(&mut self, name: &str) {
        self.newline();
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        self.depth += 1;
    }

    fn open_ns(&mut self, name: &str, namespace: &str) {
        self.newline();
        let _ = write!(self.buf, "<{name} xmlns=\"{namespace}\">");
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.newline();
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
    }

    fn text(&mut self, name: &str, text: &str) {
        self.newline();
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        escape_into(&mut self.buf, text, false);
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
    }

    fn opt(&mut self, name: &str, text: &Option<String>) {
        if let Some(t) = text {
            self.text(name, t);
        }
    }

    fn time(&mut self, name: &str, t: &Option<CimDateTime>) {
        if let Some(t) = t {
            self.newline();
            let _ = write!(self.buf, "<{name}>");
            // Date-times never need escaping when valid; invalid text is escaped.
            if t.is_valid() {
                let _ = write!(self.buf, "{t}</{name}>");
            } else {
                escape_into(&mut self.buf, &t.to_string(), false);
                let _ = write!(self.buf, "</{name}>");
            }
        }
    }

    fn value(&mut self, v: &ReadingValue) {
        if let Some(raw) = v.raw() {
            self.text("value", raw);
        }
    }

    fn reference(&mut self, name: &str, code: &Option<String>) {
        self.newline();
        match code {
            Some(code) => {
                let _ = write!(self.buf, "<{name} ref=\"");
                escape_into(&mut self.buf, code, true);
                self.buf.push_str("\"/>");
            }
            None => {
                let _ = write!(self.buf, "<{name}/>");
            }
        }
    }

    fn names(&mut self, names: &[Name]) {
        for n in names {
            self.open("Names");
            self.text("name", &n.name);
            if let Some(t) = &n.name_type {
                self.open("NameType");
                self.opt("description", &t.description);
                self.text("name", &t.name);
                if let Some(a) = &t.authority {
                    self.open("NameTypeAuthority");
                    self.opt("description", &a.description);
                    self.text("name", &a.name);
                    self.close("NameTypeAuthority");
                }
                self.close("NameType");
            }
            self.close("Names");
        }
    }

    fn identified(&mut self, element: &str, mrid: &Option<String>, names: &[Name]) {
        self.open(element);
        self.opt("mRID", mrid);
        self.names(names);
        self.close(element);
    }

    fn status(&mut self, s: &Option<Status>) {
        if let Some(s) = s {
            self.open("status");
            self.time("dateTime", &s.date_time);
            self.opt("reason", &s.reason);
            self.opt("remark", &s.remark);
            self.opt("value", &s.value);
            self.close("status");
        }
    }

    fn interval(&mut self, name: &str, i: &Option<DateTimeInterval>) {
        if let Some(i) = i {
            self.open(name);
            self.time("end", &i.end);
            self.time("start", &i.start);
            self.close(name);
        }
    }

    fn qualities(&mut self, qualities: &[ReadingQuality]) {
        for q in qualities {
            self.open("ReadingQualities");
            self.opt("comment", &q.comment);
            self.opt("source", &q.source);
            self.time("timeStamp", &q.time_stamp);
            self.reference("ReadingQualityType", &q.reading_quality_type);
            self.close("ReadingQualities");
        }
    }

    fn event(&mut self, e: &EndDeviceEvent) {
        self.open("EndDeviceEvents");
        self.opt("mRID", &e.mrid);
        self.time("createdDateTime", &e.created_date_time);
        self.opt("issuerID", &e.issuer_id);
        self.opt("issuerTrackingID", &e.issuer_tracking_id);
        self.opt("reason", &e.reason);
        self.opt("severity", &e.severity);
        self.opt("userID", &e.user_id);
        if let Some(a) = &e.assets {
            self.identified("Assets", &a.mrid, &a.names);
        }
        for d in &e.details {
            self.open("EndDeviceEventDetails");
            self.text("name", &d.name);
            self.opt("value", &d.value);
            self.close("EndDeviceEventDetails");
        }
        self.reference("EndDeviceEventType", &e.event_type);
        self.names(&e.names);
        self.status(&e.status);
        if let Some(u) = &e.usage_point {
            self.identified("UsagePoint", &u.mrid, &u.names);
        }
        self.close("EndDeviceEvents");
    }

    fn block(&mut self, b: &IntervalBlock) {
        self.open("IntervalBlocks");
        for r in &b.interval_readings {
            self.open("IntervalReadings");
            self.time("reportedDateTime", &r.reported_date_time);
            self.opt("source", &r.source);
            self.time("timeStamp", &r.time_stamp);
            self.value(&r.value);
            self.qualities(&r.qualities);
            self.interval("timePeriod", &r.time_period);
            self.close("IntervalReadings");
        }
        if let Some(p) = &b.pending_calculation {
            self.open("PendingCalculation");
            self.opt("multiplyBeforeAdd", &p.multiply_before_add);
            self.opt("offset", &p.offset);
            self.opt("scalarDenominator", &p.scalar_denominator);
            self.opt("scalarFloat", &p.scalar_float);
            self.opt("scalarNumerator", &p.scalar_numerator);
            self.reference("ReadingType", &p.reading_type);
            self.close("PendingCalculation");
        }
        self.reference("ReadingType", &b.reading_type);
        self.close("IntervalBlocks");
    }

    fn meter(&mut self, m: &Meter) {
        self.open("Meter");
        self.opt("mRID", &m.mrid);
        self.opt("serialNumber", &m.serial_number);
        self.names(&m.names);
        self.status(&m.status);
        self.close("Meter");
    }

    fn meter_reading(&mut self, mr: &MeterReading) {
        self.open("MeterReading");
        self.opt("isCoincidentTrigger", &mr.is_coincident_trigger);
        for e in &mr.end_device_events {
            self.event(e);
        }
        for b in &mr.interval_blocks {
            self.block(b);
        }
        if let Some(m) = &mr.meter {
            self.meter(m);
        }
        for r in &mr.readings {
            self.open("Readings");
            self.opt("reason", &r.reason);
            self.time("reportedDateTime", &r.reported_date_time);
            self.opt("source", &r.source);
            self.time("timeStamp", &r.time_stamp);
            self.value(&r.value);
            self.qualities(&r.qualities);
            self.reference("ReadingType", &r.reading_type);
            self.interval("timePeriod", &r.time_period);
            self.close("Readings");
        }
        if let Some(u) = &mr.usage_point {
            self.identified("UsagePoint", &u.mrid, &u.names);
        }
        self.interval("valuesInterval", &mr.values_interval);
        self.close("MeterReading");
    }

    fn rational(&mut self, name: &str, r: &Option<super::model::RationalText>) {
        if let Some(r) = r {
            self.open(name);
            self.text("denominator", &r.denominator);
            self.text("numerator", &r.numerator);
            self.close(name);
        }
    }

    fn definitions(
        &mut self,
        event_types: &[EndDeviceEventTypeDefinition],
        quality_types: &[ReadingQualityTypeDefinition],
        reading_types: &[ReadingTypeDefinition],
        meter_readings: &[MeterReading],
    ) {
        for d in event_types {
            self.open("EndDeviceEventType");
            self.opt("mRID", &d.mrid);
            self.opt("domain", &d.domain);
            self.opt("eventOrAction", &d.event_or_action);
            self.opt("subDomain", &d.sub_domain);
            self.opt("type", &d.type_);
            self.names(&d.names);
            self.close("EndDeviceEventType");
        }
        for mr in meter_readings {
            self.meter_reading(mr);
        }
        for d in quality_types {
            self.open("ReadingQualityType");
            self.opt("mRID", &d.mrid);
            self.opt("category", &d.category);
            self.opt("subCategory", &d.sub_category);
            self.opt("systemId", &d.system_id);
            self.names(&d.names);
            self.close("ReadingQualityType");
        }
        for d in reading_types {
            self.open("ReadingType");
            self.opt("mRID", &d.mrid);
            self.opt("accumulation", &d.accumulation);
            self.opt("aggregate", &d.aggregate);
            self.opt("commodity", &d.commodity);
            self.opt("consumptionTier", &d.consumption_tier);
            self.opt("cpp", &d.cpp);
            self.opt("currency", &d.currency);
            self.opt("flowDirection", &d.flow_direction);
            self.opt("macroPeriod", &d.macro_period);
            self.opt("measurementKind", &d.measurement_kind);
            self.opt("measuringPeriod", &d.measuring_period);
            self.opt("multiplier", &d.multiplier);
            self.opt("phases", &d.phases);
            self.opt("tou", &d.tou);
            self.opt("unit", &d.unit);
            self.rational("argument", &d.argument);
            self.rational("interharmonic", &d.interharmonic);
            self.names(&d.names);
            self.close("ReadingType");
        }
    }

    fn header(&mut self, h: &Header) {
        self.open("Header");
        self.text("Verb", &h.verb);
        self.text("Noun", &h.noun);
        self.opt("Revision", &h.revision);
        self.opt("Context", &h.context);
        self.time("Timestamp", &h.timestamp);
        self.opt("Source", &h.source);
        self.opt("AsyncReplyFlag", &h.async_reply_flag);
        self.opt("ReplyAddress", &h.reply_address);
        self.opt("AckRequired", &h.ack_required);
        if h.user_id.is_some() || h.organization.is_some() {
            self.open("User");
            self.opt("UserID", &h.user_id);
            self.opt("Organization", &h.organization);
            self.close("User");
        }
        self.opt("MessageID", &h.message_id);
        self.opt("CorrelationID", &h.correlation_id);
        self.opt("Comment", &h.comment);
        for p in &h.properties {
            self.open("Property");
            self.text("Name", &p.name);
            self.opt("Value", &p.value);
            self.close("Property");
        }
        self.close("Header");
    }

    fn reply(&mut self, r: &Reply) {
        self.open("Reply");
        self.text("Result", &r.result);
        for e in &r.errors {
            self.open("Error");
            self.text("code", &e.code);
            self.opt("level", &e.level);
            self.opt("reason", &e.reason);
            self.opt("details", &e.details);
            self.close("Error");
        }
        self.close("Reply");
    }

    fn payload(&mut self, doc: &MeterReadingsDocument) {
        self.open_ns("MeterReadings", METER_READINGS_NAMESPACE);
        self.definitions(
            &doc.end_device_event_types,
            &doc.reading_quality_types,
            &doc.reading_types,
            &doc.meter_readings,
        );
        self.close("MeterReadings");
    }
}

/// Writes `doc` as XML text.
pub fn write_document(doc: &MeterReadingsDocument, options: &WriteOptions) -> String {
    let mut out = Out {
        buf: String::with_capacity(256 + doc.reading_count() * 160),
        indent: options.indent,
        depth: 0,
    };
    out.buf
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    match doc.envelope.as_ref().or(options.envelope.as_ref()) {
        Some(envelope) => {
            let name = envelope.kind.element_name();
            out.open_ns(name, MESSAGE_NAMESPACE);
            out.header(&envelope.header);
            if let Some(reply) = &envelope.reply {
                out.reply(reply);
            }
            out.open("Payload");
            out.payload(doc);
            out.close("Payload");
            out.close(name);
        }
        None => out.payload(doc),
    }
    out.buf.push('\n');
    out.buf
}

/// Writes `doc` as XML to `writer`.
pub fn write_document_to(
    doc: &MeterReadingsDocument,
    options: &WriteOptions,
    mut writer: impl Write,
) -> Result<(), MeterReadingsError> {
    writer
        .write_all(write_document(doc, options).as_bytes())
        .map_err(MeterReadingsError::Write)
}
