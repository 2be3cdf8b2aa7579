//! IEC 61968-9 MeterReadings: reader, writer and ReadingType codes.
//!
//! * [`parse_str`] / [`parse_slice`] read a whole document into a [`MeterReadingsDocument`];
//!   [`MeterReadingsStream`] pulls one [`MeterReading`] at a time from any `BufRead`, with
//!   memory bounded by one `MeterReading`, and [`MeterReadingsStream::records`] flattens it into
//!   one [`Record`] per reading and per event.
//! * Elements are matched by local name whatever their prefix or namespace (2013 edition
//!   `http://iec.ch/TC57/2011/MeterReadings#`, 2009, pre-2011 `http://www.iec.ch/…`, renamed
//!   or none), in any order; unknown elements are skipped. The payload is found inside
//!   IEC 61968-100 messages (`EventMessage`, `RequestMessage`, `ResponseMessage`,
//!   `FaultMessage`) and SOAP 1.1/1.2 wrappers; the message [`Header`] and [`Reply`] are
//!   returned.
//! * Documents in other encodings (a UTF-16 byte order mark, `encoding="ISO-8859-1"`,
//!   `ISO-8859-7`, …) are transcoded to UTF-8 as they are read, and an IEC 61968-100
//!   `Payload/Compressed` (base64 of gzip) is decompressed and read like a plain payload.
//! * [`Mode::Lenient`] turns what real producers get wrong — decimal commas, values that are
//!   not numbers, bad timestamps, `ref="?"`, 19-field ReadingType codes — into [`Warning`]s and
//!   keeps the raw text; [`Mode::Strict`] reports them as errors. Errors and warnings carry the
//!   byte offset, line:column and element path ([`Location`]).
//! * [`write_document`] writes the 2013 edition in schema order, optionally inside an
//!   `EventMessage`; `parse(write(doc)) == doc` for every document the reader produces.
//! * [`ReadingRecord::to_measurement`] converts a reading to a [`platone_model::Measurement`];
//!   [`MeasurementConverter`] converts whole `MeterReading`s, decoding each ReadingType once.
//! * [`ReadingTypeCode`] and [`ReadingQualityCode`] decode the dotted codes.
//!
//! ```
//! use platone_cim::meter_readings::{parse_str, Mode};
//!
//! let xml = r#"<mr:MeterReadings xmlns:mr="http://iec.ch/TC57/2011/MeterReadings#">
//!   <mr:MeterReading>
//!     <mr:Meter><mr:mRID>meter-1</mr:mRID></mr:Meter>
//!     <mr:Readings>
//!       <mr:timeStamp>2019-09-13T15:30:00+03:00</mr:timeStamp>
//!       <mr:value>11.04</mr:value>
//!       <mr:ReadingType ref="0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"/>
//!     </mr:Readings>
//!   </mr:MeterReading>
//! </mr:MeterReadings>"#;
//! let parsed = parse_str(xml, Mode::Strict)?;
//! let reading = &parsed.document.meter_readings[0].readings[0];
//! assert_eq!(reading.value.number(), Some(11.04));
//! # Ok::<(), platone_cim::meter_readings::MeterReadingsError>(())
//! ```

mod convert;
mod envelope;
mod error;
pub mod generate;
mod model;
mod parse;
mod quality;
pub mod reading_type;
mod record;
mod time;
mod value;
mod write;

pub use convert::{MeasurementConverter, measurements_to_document};
pub use envelope::{Envelope, Header, MessageKind, Property, Reply, ReplyError};
pub use error::{Location, MeterReadingsError, Warning};
pub use model::{
    Asset, DateTimeInterval, EndDeviceEvent, EndDeviceEventDetail, EndDeviceEventTypeDefinition,
    IntervalBlock, IntervalReading, Meter, MeterReading, MeterReadingsDocument, Name, NameType,
    NameTypeAuthority, PendingCalculation, RationalText, Reading, ReadingQuality,
    ReadingQualityTypeDefinition, ReadingTypeDefinition, Status, UsagePoint,
};
pub use parse::{
    MeterReadingsStream, ParsedDocument, Records, StreamItem, parse_slice, parse_slice_limited,
    parse_str,
};
pub use quality::{QualityCategory, QualitySystem, ReadingQualityCode};
pub use reading_type::{CodeForm, DecodedReadingType, ReadingType, ReadingTypeCode};
pub use record::{
    EventRecord, QualityRecord, ReadingRecord, ReadingSource, Record, RecordInput,
    document_from_records,
};
pub use time::CimDateTime;
pub use value::ReadingValue;
pub use write::{
    MESSAGE_NAMESPACE, METER_READINGS_NAMESPACE, WriteOptions, write_document, write_document_to,
};

/// How forgiving the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Every deviation from the schema's types is an error.
    #[default]
    Strict,
    /// Deviations real producers make become warnings; the raw text is kept.
    Lenient,
}
