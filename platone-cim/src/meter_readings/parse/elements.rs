//! Parsers for the elements of a MeterReadings document, in any child order.

use super::cursor::{Cursor, Result, Tag};
use super::source::Source;
use crate::meter_readings::envelope::{Header, Property, Reply, ReplyError};
use crate::meter_readings::model::{
    Asset, DateTimeInterval, EndDeviceEvent, EndDeviceEventDetail, EndDeviceEventTypeDefinition,
    IntervalBlock, IntervalReading, Meter, MeterReading, Name, NameType, NameTypeAuthority,
    PendingCalculation, RationalText, Reading, ReadingQuality, ReadingQualityTypeDefinition,
    ReadingTypeDefinition, Status, UsagePoint,
};
use crate::meter_readings::reading_type::ReadingTypeCode;
use crate::meter_readings::time::CimDateTime;
use crate::meter_readings::value::ReadingValue;

/// Which kind of code a `ref` holds.
#[derive(Clone, Copy)]
enum RefKind {
    ReadingType,
    Quality,
    EventType,
}

impl<S: Source> Cursor<S> {
    pub(crate) fn opt_text(&mut self) -> Result<Option<String>> {
        self.text_string().map(Some)
    }

    fn date_time(&mut self) -> Result<CimDateTime> {
        let (at, tag) = (self.elem_start, self.last_tag);
        self.read_text()?;
        let t = CimDateTime::parse_with(&self.text, &mut self.dates);
        if !t.is_valid() {
            let cut: String = self.text.chars().take(40).collect();
            self.issue_in(
                tag,
                at,
                format!("`{cut}` is not an RFC 3339 date-time with a UTC offset"),
            )?;
        }
        Ok(t)
    }

    fn opt_date_time(&mut self) -> Result<Option<CimDateTime>> {
        self.date_time().map(Some)
    }

    fn value(&mut self) -> Result<ReadingValue> {
        let (at, tag) = (self.elem_start, self.last_tag);
        self.read_text()?;
        let (value, issue) = ReadingValue::from_text(&self.text);
        if let Some(issue) = issue {
            let message = issue.message(&self.text);
            self.issue_in(tag, at, message)?;
        }
        Ok(value)
    }

    /// A `ReadingType`, `ReadingQualityType` or `EndDeviceEventType` reference: the `ref`
    /// attribute, or an `mRID` child when there is no attribute.
    fn reference(&mut self, kind: RefKind) -> Result<Option<String>> {
        let (at, tag) = (self.elem_start, self.last_tag);
        let mut code = self.attr_ref.take();
        self.children(|c, tag| match tag {
            Tag::MRid if code.is_none() => {
                code = c.opt_text()?;
                Ok(())
            }
            _ => c.skip(),
        })?;
        match code.as_deref().map(str::trim) {
            None | Some("") | Some("?") => {
                let shown = code.as_deref().unwrap_or("");
                self.issue_in(tag, at, format!("reference has no usable code (`{shown}`)"))?;
            }
            Some(c) => {
                if matches!(kind, RefKind::ReadingType) {
                    self.check_reading_type(tag, at, c)?;
                }
            }
        }
        Ok(code)
    }

    /// In strict mode a 19-field ReadingType is an error; in lenient mode a warning, once per
    /// code for the run.
    fn check_reading_type(&mut self, tag: Tag, at: u64, code: &str) -> Result<()> {
        if memchr::memchr_iter(b'.', code.as_bytes()).count() != 18 {
            return Ok(());
        }
        match ReadingTypeCode::parse(code, crate::meter_readings::Mode::Strict) {
            Ok(_) => Ok(()),
            Err(e) => {
                let message = e.to_string();
                if self.warned_codes.iter().any(|c| c == code) {
                    return Ok(());
                }
                if self.warned_codes.len() < 256 {
                    self.warned_codes.push(code.to_string());
                }
                self.issue_in(tag, at, message)
            }
        }
    }

    fn names(&mut self) -> Result<Name> {
        let mut name = Name::default();
        self.children(|c, tag| {
            match tag {
                Tag::NameLower => name.name = c.text_string()?,
                Tag::NameType => {
                    let mut t = NameType::default();
                    c.children(|c, tag| {
                        match tag {
                            Tag::Description => t.description = c.opt_text()?,
                            Tag::NameLower => t.name = c.text_string()?,
                            Tag::NameTypeAuthority => {
                                let mut a = NameTypeAuthority::default();
                                c.children(|c, tag| {
                                    match tag {
                                        Tag::Description => a.description = c.opt_text()?,
                                        Tag::NameLower => a.name = c.text_string()?,
                                        _ => c.skip()?,
                                    }
                                    Ok(())
                                })?;
                                t.authority = Some(a);
                            }
                            _ => c.skip()?,
                        }
                        Ok(())
                    })?;
                    name.name_type = Some(t);
                }
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(name)
    }

    fn status(&mut self) -> Result<Status> {
        let mut s = Status::default();
        self.children(|c, tag| {
            match tag {
                Tag::DateTime => s.date_time = c.opt_date_time()?,
                Tag::Reason => s.reason = c.opt_text()?,
                Tag::Remark => s.remark = c.opt_text()?,
                Tag::ValueLower => s.value = c.opt_text()?,
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(s)
    }

    /// `mRID` and `Names` of a `UsagePoint` or an `Asset`.
    fn identified(&mut self) -> Result<(Option<String>, Vec<Name>)> {
        let (mut mrid, mut names) = (None, Vec::new());
        self.children(|c, tag| {
            match tag {
                Tag::MRid => mrid = c.opt_text()?,
                Tag::Names => names.push(c.names()?),
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok((mrid, names))
    }

    fn interval(&mut self) -> Result<DateTimeInterval> {
        let mut i = DateTimeInterval::default();
        self.children(|c, tag| {
            match tag {
                Tag::Start => i.start = c.opt_date_time()?,
                Tag::End => i.end = c.opt_date_time()?,
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(i)
    }

    fn reading_quality(&mut self) -> Result<ReadingQuality> {
        let mut q = ReadingQuality::default();
        self.children(|c, tag| {
            match tag {
                Tag::CommentLower => q.comment = c.opt_text()?,
                Tag::SourceLower => q.source = c.opt_text()?,
                Tag::TimeStamp => q.time_stamp = c.opt_date_time()?,
                Tag::ReadingQualityType => {
                    q.reading_quality_type = c.reference(RefKind::Quality)?
                }
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(q)
    }

    fn reading(&mut self) -> Result<Reading> {
        let mut r = Reading::default();
        self.children(|c, tag| {
            match tag {
                Tag::Reason => r.reason = c.opt_text()?,
                Tag::ReportedDateTime => r.reported_date_time = c.opt_date_time()?,
                Tag::SourceLower => r.source = c.opt_text()?,
                Tag::TimeStamp => r.time_stamp = c.opt_date_time()?,
                Tag::ValueLower => r.value = c.value()?,
                Tag::ReadingQualities => r.qualities.push(c.reading_quality()?),
                Tag::ReadingType => r.reading_type = c.reference(RefKind::ReadingType)?,
                Tag::TimePeriod => r.time_period = Some(c.interval()?),
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(r)
    }

    fn interval_reading(&mut self) -> Result<IntervalReading> {
        let mut r = IntervalReading::default();
        self.children(|c, tag| {
            match tag {
                Tag::ReportedDateTime => r.reported_date_time = c.opt_date_time()?,
                Tag::SourceLower => r.source = c.opt_text()?,
                Tag::TimeStamp => r.time_stamp = c.opt_date_time()?,
                Tag::ValueLower => r.value = c.value()?,
                Tag::ReadingQualities => r.qualities.push(c.reading_quality()?),
                Tag::TimePeriod => r.time_period = Some(c.interval()?),
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(r)
    }

    fn interval_block(&mut self) -> Result<IntervalBlock> {
        let mut b = IntervalBlock::default();
        // Blocks of one document tend to have the same length: start with the last one's.
        b.interval_readings.reserve(self.last_block_len.min(4096));
        self.children(|c, tag| {
            match tag {
                Tag::IntervalReadings => b.interval_readings.push(c.interval_reading()?),
                Tag::PendingCalculation => {
                    let mut p = PendingCalculation::default();
                    c.children(|c, tag| {
                        match tag {
                            Tag::MultiplyBeforeAdd => p.multiply_before_add = c.opt_text()?,
                            Tag::Offset => p.offset = c.opt_text()?,
                            Tag::ScalarDenominator => p.scalar_denominator = c.opt_text()?,
                            Tag::ScalarFloat => p.scalar_float = c.opt_text()?,
                            Tag::ScalarNumerator => p.scalar_numerator = c.opt_text()?,
                            Tag::ReadingType => {
                                p.reading_type = c.reference(RefKind::ReadingType)?
                            }
                            _ => c.skip()?,
                        }
                        Ok(())
                    })?;
                    b.pending_calculation = Some(p);
                }
                Tag::ReadingType => b.reading_type = c.reference(RefKind::ReadingType)?,
                _ => c.skip()?,
            }
            Ok(())
        })?;
        self.last_block_len = b.interval_readings.len();
        Ok(b)
    }

    fn end_device_event(&mut self) -> Result<EndDeviceEvent> {
        let mut e = EndDeviceEvent::default();
        self.children(|c, tag| {
            match tag {
                Tag::MRid => e.mrid = c.opt_text()?,
                Tag::CreatedDateTime => e.created_date_time = c.opt_date_time()?,
                Tag::IssuerId => e.issuer_id = c.opt_text()?,
                Tag::IssuerTrackingId => e.issuer_tracking_id = c.opt_text()?,
                Tag::Reason => e.reason = c.opt_text()?,
                Tag::Severity => e.severity = c.opt_text()?,
                Tag::UserIdLower => e.user_id = c.opt_text()?,
                Tag::Assets => {
                    let (mrid, names) = c.identified()?;
                    e.assets = Some(Asset { mrid, names });
                }
                Tag::EndDeviceEventDetails => {
                    let mut d = EndDeviceEventDetail::default();
                    c.children(|c, tag| {
                        match tag {
                            Tag::NameLower => d.name = c.text_string()?,
                            Tag::ValueLower => d.value = c.opt_text()?,
                            _ => c.skip()?,
                        }
                        Ok(())
                    })?;
                    e.details.push(d);
                }
                Tag::EndDeviceEventType => e.event_type = c.reference(RefKind::EventType)?,
                Tag::Names => e.names.push(c.names()?),
                Tag::StatusLower => e.status = Some(c.status()?),
                Tag::UsagePoint => {
                    let (mrid, names) = c.identified()?;
                    e.usage_point = Some(UsagePoint { mrid, names });
                }
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(e)
    }

    fn meter(&mut self) -> Result<Meter> {
        let mut m = Meter::default();
        self.children(|c, tag| {
            match tag {
                Tag::MRid => m.mrid = c.opt_text()?,
                Tag::SerialNumber => m.serial_number = c.opt_text()?,
                Tag::Names => m.names.push(c.names()?),
                Tag::StatusLower => m.status = Some(c.status()?),
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(m)
    }

    /// A `MeterReading`, its start already read.
    pub(crate) fn meter_reading(&mut self) -> Result<MeterReading> {
        let mut mr = MeterReading::default();
        self.children(|c, tag| {
            match tag {
                Tag::IsCoincidentTrigger => mr.is_coincident_trigger = c.opt_text()?,
                Tag::EndDeviceEvents => mr.end_device_events.push(c.end_device_event()?),
                Tag::IntervalBlocks => mr.interval_blocks.push(c.interval_block()?),
                Tag::Meter => mr.meter = Some(c.meter()?),
                Tag::Readings => mr.readings.push(c.reading()?),
                Tag::UsagePoint => {
                    let (mrid, names) = c.identified()?;
                    mr.usage_point = Some(UsagePoint { mrid, names });
                }
                Tag::ValuesInterval => mr.values_interval = Some(c.interval()?),
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(mr)
    }

    fn rational(&mut self) -> Result<RationalText> {
        let mut r = RationalText::default();
        self.children(|c, tag| {
            match tag {
                Tag::Numerator => r.numerator = c.text_string()?,
                Tag::Denominator => r.denominator = c.text_string()?,
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(r)
    }

    /// A document-level `ReadingType` definition.
    pub(crate) fn reading_type_definition(&mut self) -> Result<ReadingTypeDefinition> {
        let mut d = ReadingTypeDefinition::default();
        self.children(|c, tag| {
            match tag {
                Tag::MRid => d.mrid = c.opt_text()?,
                Tag::Accumulation => d.accumulation = c.opt_text()?,
                Tag::Aggregate => d.aggregate = c.opt_text()?,
                Tag::Commodity => d.commodity = c.opt_text()?,
                Tag::ConsumptionTier => d.consumption_tier = c.opt_text()?,
                Tag::Cpp => d.cpp = c.opt_text()?,
                Tag::Currency => d.currency = c.opt_text()?,
                Tag::FlowDirection => d.flow_direction = c.opt_text()?,
                Tag::MacroPeriod => d.macro_period = c.opt_text()?,
                Tag::MeasurementKind => d.measurement_kind = c.opt_text()?,
                Tag::MeasuringPeriod => d.measuring_period = c.opt_text()?,
                Tag::Multiplier => d.multiplier = c.opt_text()?,
                Tag::Phases => d.phases = c.opt_text()?,
                Tag::Tou => d.tou = c.opt_text()?,
                Tag::Unit => d.unit = c.opt_text()?,
                Tag::Argument => d.argument = Some(c.rational()?),
                Tag::Interharmonic => d.interharmonic = Some(c.rational()?),
                Tag::Names => d.names.push(c.names()?),
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(d)
    }

    /// A document-level `ReadingQualityType` definition.
    pub(crate) fn reading_quality_type_definition(
        &mut self,
    ) -> Result<ReadingQualityTypeDefinition> {
        let mut d = ReadingQualityTypeDefinition::default();
        self.children(|c, tag| {
            match tag {
                Tag::MRid => d.mrid = c.opt_text()?,
                Tag::Category => d.category = c.opt_text()?,
                Tag::SubCategory => d.sub_category = c.opt_text()?,
                Tag::SystemId => d.system_id = c.opt_text()?,
                Tag::Names => d.names.push(c.names()?),
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(d)
    }

    /// A document-level `EndDeviceEventType` definition.
    pub(crate) fn end_device_event_type_definition(
        &mut self,
    ) -> Result<EndDeviceEventTypeDefinition> {
        let mut d = EndDeviceEventTypeDefinition::default();
        self.children(|c, tag| {
            match tag {
                Tag::MRid => d.mrid = c.opt_text()?,
                Tag::Domain => d.domain = c.opt_text()?,
                Tag::EventOrAction => d.event_or_action = c.opt_text()?,
                Tag::SubDomain => d.sub_domain = c.opt_text()?,
                Tag::Type => d.type_ = c.opt_text()?,
                Tag::Names => d.names.push(c.names()?),
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(d)
    }

    /// An IEC 61968-100 `Header`.
    pub(crate) fn header(&mut self) -> Result<Header> {
        let mut h = Header::default();
        self.children(|c, tag| {
            match tag {
                Tag::Verb => h.verb = c.text_string()?,
                Tag::Noun => h.noun = c.text_string()?,
                Tag::Revision => h.revision = c.opt_text()?,
                Tag::Context => h.context = c.opt_text()?,
                Tag::Timestamp => h.timestamp = c.opt_date_time()?,
                Tag::SourceUpper => h.source = c.opt_text()?,
                Tag::AsyncReplyFlag => h.async_reply_flag = c.opt_text()?,
                Tag::ReplyAddress => h.reply_address = c.opt_text()?,
                Tag::AckRequired => h.ack_required = c.opt_text()?,
                Tag::User => c.children(|c, tag| {
                    match tag {
                        Tag::UserId => h.user_id = c.opt_text()?,
                        Tag::Organization => h.organization = c.opt_text()?,
                        _ => c.skip()?,
                    }
                    Ok(())
                })?,
                Tag::MessageId => h.message_id = c.opt_text()?,
                Tag::CorrelationId => h.correlation_id = c.opt_text()?,
                Tag::CommentUpper => h.comment = c.opt_text()?,
                Tag::Property => {
                    let mut p = Property::default();
                    c.children(|c, tag| {
                        match tag {
                            Tag::NameUpper => p.name = c.text_string()?,
                            Tag::ValueUpper => p.value = c.opt_text()?,
                            _ => c.skip()?,
                        }
                        Ok(())
                    })?;
                    h.properties.push(p);
                }
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(h)
    }

    /// An IEC 61968-100 `Reply`.
    pub(crate) fn reply(&mut self) -> Result<Reply> {
        let mut r = Reply::default();
        self.children(|c, tag| {
            match tag {
                Tag::Result => r.result = c.text_string()?,
                Tag::Error => {
                    let mut e = ReplyError::default();
                    c.children(|c, tag| {
                        match tag {
                            Tag::Code => e.code = c.text_string()?,
                            Tag::Level => e.level = c.opt_text()?,
                            Tag::Reason => e.reason = c.opt_text()?,
                            Tag::Details => e.details = c.opt_text()?,
                            _ => c.skip()?,
                        }
                        Ok(())
                    })?;
                    r.errors.push(e);
                }
                _ => c.skip()?,
            }
            Ok(())
        })?;
        Ok(r)
    }
}
