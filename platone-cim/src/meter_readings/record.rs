//! Flat records: one per reading, interval reading and event, each with its meter and usage
//! point — the JSON-lines form of `platone cim parse` and the input of `platone cim write`.

use serde::{Deserialize, Serialize, Serializer};

use super::model::{
    EndDeviceEvent, EndDeviceEventDetail, IntervalBlock, IntervalReading, Meter, MeterReading,
    MeterReadingsDocument, Reading, ReadingQuality, UsagePoint,
};
use super::quality::ReadingQualityCode;
use super::reading_type::{DecodedReadingType, ReadingTypeCode};
use super::time::CimDateTime;
use super::value::ReadingValue;
use super::{MeterReadingsError, Mode};

/// Where a reading came from in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReadingSource {
    /// A `Readings` element.
    Readings,
    /// An `IntervalReadings` element of an `IntervalBlocks`.
    IntervalBlocks,
}

/// A decoded reading quality, as the JSON form shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityRecord {
    /// The code as written.
    pub code: String,
    /// The system (CIM literal), when decoded.
    pub system: Option<String>,
    /// The category (CIM literal), when decoded.
    pub category: Option<String>,
    /// The sub-category, when decoded.
    pub sub_category: Option<u32>,
    /// A human description, when decoded.
    pub description: Option<String>,
    /// The SDK quality flags it stands for.
    pub flags: platone_model::Quality,
}

impl QualityRecord {
    /// The decoded form of a quality code.
    pub fn of(code: &str) -> Self {
        let q = ReadingQualityCode::parse(code);
        QualityRecord {
            code: code.to_string(),
            system: q.system().map(|s| {
                s.name()
                    .map_or_else(|| s.code().to_string(), str::to_string)
            }),
            category: q.category().map(|c| {
                c.name()
                    .map_or_else(|| c.code().to_string(), str::to_string)
            }),
            sub_category: q.sub_category(),
            description: q.description(),
            flags: q.flags(),
        }
    }
}

/// One reading with its context.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingRecord {
    /// The meter's mRID, else its first name.
    pub meter: Option<String>,
    /// The usage point's mRID, else its first name.
    pub usage_point: Option<String>,
    /// `timeStamp`.
    pub timestamp: Option<CimDateTime>,
    /// `value`.
    pub value: ReadingValue,
    /// The ReadingType code as written.
    pub reading_type: Option<String>,
    /// `Readings` or `IntervalBlocks`.
    pub source: ReadingSource,
    /// The quality codes as written.
    pub qualities: Vec<String>,
    /// `reportedDateTime`.
    pub reported: Option<CimDateTime>,
    /// `reason` (readings only).
    pub reason: Option<String>,
}

impl ReadingRecord {
    /// The ReadingType code, decoded leniently (a 19-field code is normalised).
    pub fn reading_type_code(&self) -> Option<ReadingTypeCode> {
        self.reading_type
            .as_deref()
            .and_then(|c| ReadingTypeCode::parse(c, Mode::Lenient).ok())
    }
}

/// One end-device event with its context.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// The meter's mRID, else its first name.
    pub meter: Option<String>,
    /// The event's usage point, else the `MeterReading`'s.
    pub usage_point: Option<String>,
    /// The event's mRID.
    pub mrid: Option<String>,
    /// The `EndDeviceEventType` code as written.
    pub event_type: Option<String>,
    /// `createdDateTime`.
    pub created: Option<CimDateTime>,
    /// `EndDeviceEventDetails`.
    pub details: Vec<EndDeviceEventDetail>,
    /// `reason`.
    pub reason: Option<String>,
    /// `severity`.
    pub severity: Option<String>,
}

/// A reading or an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A reading or interval reading.
    Reading(ReadingRecord),
    /// An end-device event.
    Event(EventRecord),
}

fn text_time(t: &Option<CimDateTime>) -> (Option<String>, Option<String>) {
    match t {
        Some(t) if t.is_valid() => (Some(t.to_string()), None),
        Some(t) => (None, Some(t.to_string())),
        None => (None, None),
    }
}

impl Serialize for Record {
    /// The `platone cim parse` JSON object (see the crate's CLI contract).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Record::Reading(r) => {
                let code = r.reading_type_code();
                let (timestamp, raw_timestamp) = text_time(&r.timestamp);
                ReadingJson {
                    record: "reading",
                    meter: r.meter.as_deref(),
                    usage_point: r.usage_point.as_deref(),
                    timestamp,
                    raw_timestamp,
                    value: r.value.number(),
                    raw_value: r.value.raw(),
                    reading_type: r.reading_type.as_deref(),
                    reading_type_decoded: code.as_ref().and_then(DecodedReadingType::of),
                    source: r.source,
                    qualities: r.qualities.iter().map(|q| QualityRecord::of(q)).collect(),
                    reported: r.reported.as_ref().map(ToString::to_string),
                    reason: r.reason.as_deref(),
                }
                .serialize(s)
            }
            Record::Event(e) => {
                let (created, raw_created) = text_time(&e.created);
                EventJson {
                    record: "event",
                    meter: e.meter.as_deref(),
                    usage_point: e.usage_point.as_deref(),
                    mrid: e.mrid.as_deref(),
                    event_type: e.event_type.as_deref(),
                    created,
                    raw_created,
                    details: &e.details,
                    reason: e.reason.as_deref(),
                    severity: e.severity.as_deref(),
                }
                .serialize(s)
            }
        }
    }
}

#[derive(Serialize)]
struct ReadingJson<'a> {
    record: &'static str,
    meter: Option<&'a str>,
    usage_point: Option<&'a str>,
    timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_timestamp: Option<String>,
    value: Option<f64>,
    raw_value: Option<&'a str>,
    reading_type: Option<&'a str>,
    reading_type_decoded: Option<DecodedReadingType>,
    source: ReadingSource,
    qualities: Vec<QualityRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reported: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct EventJson<'a> {
    record: &'static str,
    meter: Option<&'a str>,
    usage_point: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mrid: Option<&'a str>,
    event_type: Option<&'a str>,
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_created: Option<String>,
    details: &'a [EndDeviceEventDetail],
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'a str>,
}

fn quality_codes(qualities: &[ReadingQuality]) -> Vec<String> {
    qualities
        .iter()
        .filter_map(|q| q.reading_quality_type.clone())
        .collect()
}

/// The records of one `MeterReading`: readings, then interval readings, then events.
pub(crate) fn records_of(mr: &MeterReading) -> Vec<Record> {
    let meter = mr.meter_id().map(str::to_string);
    let usage_point = mr.usage_point_id().map(str::to_string);
    let mut out = Vec::with_capacity(mr.reading_count() + mr.end_device_events.len());
    for r in &mr.readings {
        out.push(Record::Reading(ReadingRecord {
            meter: meter.clone(),
            usage_point: usage_point.clone(),
            timestamp: r.time_stamp.clone(),
            value: r.value.clone(),
            reading_type: r.reading_type.clone(),
            source: ReadingSource::Readings,
            qualities: quality_codes(&r.qualities),
            reported: r.reported_date_time.clone(),
            reason: r.reason.clone(),
        }));
    }
    for block in &mr.interval_blocks {
        for r in &block.interval_readings {
            out.push(Record::Reading(ReadingRecord {
                meter: meter.clone(),
                usage_point: usage_point.clone(),
                timestamp: r.time_stamp.clone(),
                value: r.value.clone(),
                reading_type: block.reading_type.clone(),
                source: ReadingSource::IntervalBlocks,
                qualities: quality_codes(&r.qualities),
                reported: r.reported_date_time.clone(),
                reason: None,
            }));
        }
    }
    for e in &mr.end_device_events {
        out.push(Record::Event(EventRecord {
            meter: meter.clone(),
            usage_point: e
                .usage_point
                .as_ref()
                .and_then(|u| super::model::identify(&u.mrid, &u.names))
                .map(str::to_string)
                .or_else(|| usage_point.clone()),
            mrid: e.mrid.clone(),
            event_type: e.event_type.clone(),
            created: e.created_date_time.clone(),
            details: e.details.clone(),
            reason: e.reason.clone(),
            severity: e.severity.clone(),
        }));
    }
    out
}

impl MeterReadingsDocument {
    /// One record per reading, interval reading and event, in document order.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.meter_readings.iter().flat_map(records_of)
    }
}

/// A quality in a JSON record given to the writer: a code, or an object with a `code`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum QualityInput {
    Code(String),
    Object { code: String },
}

/// One JSON line given to `platone cim write`: the fields of a `platone cim parse` record
/// (others, such as `reading_type_decoded`, are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct RecordInput {
    /// `"reading"` or `"event"`.
    pub record: String,
    /// The meter.
    #[serde(default)]
    pub meter: Option<String>,
    /// The usage point.
    #[serde(default)]
    pub usage_point: Option<String>,
    /// The timestamp (readings).
    #[serde(default)]
    pub timestamp: Option<String>,
    /// The timestamp text when it was not valid.
    #[serde(default)]
    pub raw_timestamp: Option<String>,
    /// The number (used when `raw_value` is absent).
    #[serde(default)]
    pub value: Option<f64>,
    /// The value as written.
    #[serde(default)]
    pub raw_value: Option<String>,
    /// The ReadingType code as written.
    #[serde(default)]
    pub reading_type: Option<String>,
    /// `Readings` (default) or `IntervalBlocks`.
    #[serde(default)]
    pub source: Option<ReadingSource>,
    #[serde(default)]
    qualities: Vec<QualityInput>,
    /// `reportedDateTime`.
    #[serde(default)]
    pub reported: Option<String>,
    /// `reason`.
    #[serde(default)]
    pub reason: Option<String>,
    /// The event's mRID.
    #[serde(default)]
    pub mrid: Option<String>,
    /// The event type code.
    #[serde(default)]
    pub event_type: Option<String>,
    /// The event's `createdDateTime`.
    #[serde(default)]
    pub created: Option<String>,
    /// The `createdDateTime` text when it was not valid.
    #[serde(default)]
    pub raw_created: Option<String>,
    /// The event details.
    #[serde(default)]
    pub details: Vec<EndDeviceEventDetail>,
    /// The event severity.
    #[serde(default)]
    pub severity: Option<String>,
}

fn time_of(valid: &Option<String>, raw: &Option<String>) -> Option<CimDateTime> {
    valid.as_deref().or(raw.as_deref()).map(CimDateTime::parse)
}

impl RecordInput {
    fn qualities(&self) -> Vec<ReadingQuality> {
        self.qualities
            .iter()
            .map(|q| ReadingQuality {
                reading_quality_type: Some(match q {
                    QualityInput::Code(c) | QualityInput::Object { code: c } => c.clone(),
                }),
                ..ReadingQuality::default()
            })
            .collect()
    }

    fn value(&self) -> ReadingValue {
        match (&self.raw_value, self.value) {
            (Some(raw), _) => ReadingValue::from_raw(raw),
            (None, Some(n)) => ReadingValue::from_number(n),
            (None, None) => ReadingValue::missing(),
        }
    }
}

/// Builds a document from records: one `MeterReading` per meter and usage point (in order of
/// first appearance), `Readings` in record order, one `IntervalBlocks` per ReadingType for
/// interval records, and the events.
pub fn document_from_records(
    records: impl IntoIterator<Item = RecordInput>,
) -> Result<MeterReadingsDocument, MeterReadingsError> {
    let mut doc = MeterReadingsDocument::default();
    let mut keys: Vec<(Option<String>, Option<String>)> = Vec::new();
    for (index, r) in records.into_iter().enumerate() {
        let key = (r.meter.clone(), r.usage_point.clone());
        let slot = match keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                keys.push(key.clone());
                doc.meter_readings.push(MeterReading {
                    meter: key.0.map(|id| Meter {
                        mrid: Some(id),
                        ..Meter::default()
                    }),
                    usage_point: key.1.map(|id| UsagePoint {
                        mrid: Some(id),
                        names: Vec::new(),
                    }),
                    ..MeterReading::default()
                });
                keys.len() - 1
            }
        };
        let Some(mr) = doc.meter_readings.get_mut(slot) else {
            continue;
        };
        match r.record.as_str() {
            "reading" => match r.source.unwrap_or(ReadingSource::Readings) {
                ReadingSource::Readings => mr.readings.push(Reading {
                    reason: r.reason.clone(),
                    reported_date_time: r.reported.as_deref().map(CimDateTime::parse),
                    source: None,
                    time_stamp: time_of(&r.timestamp, &r.raw_timestamp),
                    value: r.value(),
                    qualities: r.qualities(),
                    reading_type: r.reading_type.clone(),
                    time_period: None,
                }),
                ReadingSource::IntervalBlocks => {
                    let reading = IntervalReading {
                        reported_date_time: r.reported.as_deref().map(CimDateTime::parse),
                        source: None,
                        time_stamp: time_of(&r.timestamp, &r.raw_timestamp),
                        value: r.value(),
                        qualities: r.qualities(),
                        time_period: None,
                    };
                    match mr
                        .interval_blocks
                        .iter_mut()
                        .find(|b| b.reading_type == r.reading_type)
                    {
                        Some(block) => block.interval_readings.push(reading),
                        None => mr.interval_blocks.push(IntervalBlock {
                            interval_readings: vec![reading],
                            pending_calculation: None,
                            reading_type: r.reading_type.clone(),
                        }),
                    }
                }
            },
            "event" => mr.end_device_events.push(EndDeviceEvent {
                mrid: r.mrid.clone(),
                created_date_time: time_of(&r.created, &r.raw_created),
                reason: r.reason.clone(),
                severity: r.severity.clone(),
                details: r.details.clone(),
                event_type: r.event_type.clone(),
                ..EndDeviceEvent::default()
            }),
            other => {
                return Err(MeterReadingsError::Record {
                    reason: format!(
                        "record {}: `record` is `{other}`, expected `reading` or `event`",
                        index + 1
                    ),
                });
            }
        }
    }
    Ok(doc)
}
