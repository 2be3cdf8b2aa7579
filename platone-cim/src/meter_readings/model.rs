//! The MeterReadings document as the reader produces it and the writer takes it.
//!
//! Field names follow the XSD's element names in snake case. Codes (`ReadingType` refs,
//! quality refs, event types) are kept as written; decode them with
//! [`ReadingTypeCode`](super::ReadingTypeCode) and
//! [`ReadingQualityCode`](super::ReadingQualityCode). Optional schema elements are `Option`s;
//! values the reader could not interpret keep their raw text ([`ReadingValue`],
//! [`CimDateTime`]). Scalars the SDK does not interpret (booleans, integers of
//! `PendingCalculation`, the fields of a `ReadingType` definition, which producers fill with
//! codes or labels) are kept as text.

use super::envelope::Envelope;
use super::time::CimDateTime;
use super::value::ReadingValue;

/// A MeterReadings document: the payload and, when it came in an IEC 61968-100 message, the
/// message's header and reply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeterReadingsDocument {
    /// The IEC 61968-100 message around the payload, if any.
    pub envelope: Option<Envelope>,
    /// Document-level `EndDeviceEventType` definitions.
    pub end_device_event_types: Vec<EndDeviceEventTypeDefinition>,
    /// The meter readings.
    pub meter_readings: Vec<MeterReading>,
    /// Document-level `ReadingQualityType` definitions.
    pub reading_quality_types: Vec<ReadingQualityTypeDefinition>,
    /// Document-level `ReadingType` definitions.
    pub reading_types: Vec<ReadingTypeDefinition>,
}

impl MeterReadingsDocument {
    /// The number of values: readings plus interval readings.
    pub fn reading_count(&self) -> usize {
        self.meter_readings
            .iter()
            .map(MeterReading::reading_count)
            .sum()
    }
}

/// `MeterReading`: the values and events of one meter (or usage point).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeterReading {
    /// `isCoincidentTrigger`, as written.
    pub is_coincident_trigger: Option<String>,
    /// `EndDeviceEvents`.
    pub end_device_events: Vec<EndDeviceEvent>,
    /// `IntervalBlocks`.
    pub interval_blocks: Vec<IntervalBlock>,
    /// `Meter`.
    pub meter: Option<Meter>,
    /// `Readings`.
    pub readings: Vec<Reading>,
    /// `UsagePoint`.
    pub usage_point: Option<UsagePoint>,
    /// `valuesInterval`.
    pub values_interval: Option<DateTimeInterval>,
}

impl MeterReading {
    /// The number of values: readings plus interval readings.
    pub fn reading_count(&self) -> usize {
        self.readings.len()
            + self
                .interval_blocks
                .iter()
                .map(|b| b.interval_readings.len())
                .sum::<usize>()
    }

    /// The meter's identifier: its mRID, else its first name.
    pub fn meter_id(&self) -> Option<&str> {
        self.meter
            .as_ref()
            .and_then(|m| identify(&m.mrid, &m.names))
    }

    /// The usage point's identifier: its mRID, else its first name.
    pub fn usage_point_id(&self) -> Option<&str> {
        self.usage_point
            .as_ref()
            .and_then(|u| identify(&u.mrid, &u.names))
    }
}

pub(crate) fn identify<'a>(mrid: &'a Option<String>, names: &'a [Name]) -> Option<&'a str> {
    mrid.as_deref()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| {
            names
                .iter()
                .map(|n| n.name.as_str())
                .find(|n| !n.trim().is_empty())
        })
}

/// `Name`: another name of an object, with its type and authority.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Name {
    /// `name`.
    pub name: String,
    /// `NameType`.
    pub name_type: Option<NameType>,
}

/// `NameType`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NameType {
    /// `description`.
    pub description: Option<String>,
    /// `name`.
    pub name: String,
    /// `NameTypeAuthority`.
    pub authority: Option<NameTypeAuthority>,
}

/// `NameTypeAuthority`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NameTypeAuthority {
    /// `description`.
    pub description: Option<String>,
    /// `name`.
    pub name: String,
}

/// `Status`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Status {
    /// `dateTime`.
    pub date_time: Option<CimDateTime>,
    /// `reason`.
    pub reason: Option<String>,
    /// `remark`.
    pub remark: Option<String>,
    /// `value`.
    pub value: Option<String>,
}

/// `Meter`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Meter {
    /// `mRID`.
    pub mrid: Option<String>,
    /// `serialNumber` (2016 schemas).
    pub serial_number: Option<String>,
    /// `Names`.
    pub names: Vec<Name>,
    /// `status`.
    pub status: Option<Status>,
}

/// `UsagePoint`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsagePoint {
    /// `mRID`.
    pub mrid: Option<String>,
    /// `Names`.
    pub names: Vec<Name>,
}

/// `Assets` of an end-device event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Asset {
    /// `mRID`.
    pub mrid: Option<String>,
    /// `Names`.
    pub names: Vec<Name>,
}

/// `DateTimeInterval` (`timePeriod`, `valuesInterval`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DateTimeInterval {
    /// `end`.
    pub end: Option<CimDateTime>,
    /// `start`.
    pub start: Option<CimDateTime>,
}

/// `ReadingQualities`: one quality statement about a value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadingQuality {
    /// `comment`.
    pub comment: Option<String>,
    /// `source`.
    pub source: Option<String>,
    /// `timeStamp`.
    pub time_stamp: Option<CimDateTime>,
    /// `ReadingQualityType/@ref`: the code, as written.
    pub reading_quality_type: Option<String>,
}

/// `Readings`: one value with its own ReadingType.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reading {
    /// `reason`.
    pub reason: Option<String>,
    /// `reportedDateTime`.
    pub reported_date_time: Option<CimDateTime>,
    /// `source`.
    pub source: Option<String>,
    /// `timeStamp`.
    pub time_stamp: Option<CimDateTime>,
    /// `value`.
    pub value: ReadingValue,
    /// `ReadingQualities`.
    pub qualities: Vec<ReadingQuality>,
    /// `ReadingType/@ref`: the code, as written.
    pub reading_type: Option<String>,
    /// `timePeriod`.
    pub time_period: Option<DateTimeInterval>,
}

/// `IntervalReadings`: one value of an interval block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntervalReading {
    /// `reportedDateTime`.
    pub reported_date_time: Option<CimDateTime>,
    /// `source`.
    pub source: Option<String>,
    /// `timeStamp`.
    pub time_stamp: Option<CimDateTime>,
    /// `value`.
    pub value: ReadingValue,
    /// `ReadingQualities`.
    pub qualities: Vec<ReadingQuality>,
    /// `timePeriod`.
    pub time_period: Option<DateTimeInterval>,
}

/// `PendingCalculation` of an interval block, its scalars as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PendingCalculation {
    /// `multiplyBeforeAdd`.
    pub multiply_before_add: Option<String>,
    /// `offset`.
    pub offset: Option<String>,
    /// `scalarDenominator`.
    pub scalar_denominator: Option<String>,
    /// `scalarFloat`.
    pub scalar_float: Option<String>,
    /// `scalarNumerator`.
    pub scalar_numerator: Option<String>,
    /// `ReadingType/@ref`.
    pub reading_type: Option<String>,
}

/// `IntervalBlocks`: values of one ReadingType at successive intervals.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntervalBlock {
    /// `IntervalReadings`.
    pub interval_readings: Vec<IntervalReading>,
    /// `PendingCalculation`.
    pub pending_calculation: Option<PendingCalculation>,
    /// `ReadingType/@ref`: the code, as written.
    pub reading_type: Option<String>,
}

/// `EndDeviceEventDetails`: a name/value pair.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct EndDeviceEventDetail {
    /// `name`.
    pub name: String,
    /// `value`.
    #[serde(default)]
    pub value: Option<String>,
}

/// `EndDeviceEvents`: an event a meter reported.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndDeviceEvent {
    /// `mRID`.
    pub mrid: Option<String>,
    /// `createdDateTime`.
    pub created_date_time: Option<CimDateTime>,
    /// `issuerID`.
    pub issuer_id: Option<String>,
    /// `issuerTrackingID`.
    pub issuer_tracking_id: Option<String>,
    /// `reason`.
    pub reason: Option<String>,
    /// `severity`.
    pub severity: Option<String>,
    /// `userID`.
    pub user_id: Option<String>,
    /// `Assets`.
    pub assets: Option<Asset>,
    /// `EndDeviceEventDetails`.
    pub details: Vec<EndDeviceEventDetail>,
    /// `EndDeviceEventType/@ref`: the `type.domain.subDomain.eventOrAction` code.
    pub event_type: Option<String>,
    /// `Names`.
    pub names: Vec<Name>,
    /// `status`.
    pub status: Option<Status>,
    /// `UsagePoint`.
    pub usage_point: Option<UsagePoint>,
}

/// A `numerator`/`denominator` pair as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RationalText {
    /// `denominator`.
    pub denominator: String,
    /// `numerator`.
    pub numerator: String,
}

/// A document-level `ReadingType` definition, its fields as written (codes or labels).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadingTypeDefinition {
    /// `mRID`: usually the dotted code.
    pub mrid: Option<String>,
    /// `accumulation`.
    pub accumulation: Option<String>,
    /// `aggregate`.
    pub aggregate: Option<String>,
    /// `commodity`.
    pub commodity: Option<String>,
    /// `consumptionTier`.
    pub consumption_tier: Option<String>,
    /// `cpp`.
    pub cpp: Option<String>,
    /// `currency`.
    pub currency: Option<String>,
    /// `flowDirection`.
    pub flow_direction: Option<String>,
    /// `macroPeriod`.
    pub macro_period: Option<String>,
    /// `measurementKind`.
    pub measurement_kind: Option<String>,
    /// `measuringPeriod`.
    pub measuring_period: Option<String>,
    /// `multiplier`.
    pub multiplier: Option<String>,
    /// `phases`.
    pub phases: Option<String>,
    /// `tou`.
    pub tou: Option<String>,
    /// `unit`.
    pub unit: Option<String>,
    /// `argument`.
    pub argument: Option<RationalText>,
    /// `interharmonic`.
    pub interharmonic: Option<RationalText>,
    /// `Names`.
    pub names: Vec<Name>,
}

/// A document-level `ReadingQualityType` definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadingQualityTypeDefinition {
    /// `mRID`: usually the dotted code.
    pub mrid: Option<String>,
    /// `category`.
    pub category: Option<String>,
    /// `subCategory`.
    pub sub_category: Option<String>,
    /// `systemId`.
    pub system_id: Option<String>,
    /// `Names`.
    pub names: Vec<Name>,
}

/// A document-level `EndDeviceEventType` definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndDeviceEventTypeDefinition {
    /// `mRID`: usually the dotted code.
    pub mrid: Option<String>,
    /// `domain`.
    pub domain: Option<String>,
    /// `eventOrAction`.
    pub event_or_action: Option<String>,
    /// `subDomain`.
    pub sub_domain: Option<String>,
    /// `type`.
    pub type_: Option<String>,
    /// `Names`.
    pub names: Vec<Name>,
}
