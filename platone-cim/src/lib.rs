//! Standard energy-data formats for the Platone SDK.
//!
//! This crate reads and writes the formats field devices and head-end systems send to the
//! Blockchain Access Layer: IEC 61968-9 MeterReadings XML (with its IEC 61968-100 envelopes and
//! ReadingType codes, module [`meter_readings`]) and PMU data (IEEE C37.118.2 frames,
//! SOGNO/LOCO JSON, module [`pmu`]), and converts them to and from
//! [`platone_model::Measurement`]. Formats know nothing of transports.
//!
//! Reading the MeterReadings document a DSO Data Server sends every 15 minutes (with the
//! 19-field ReadingType code real producers write, accepted in lenient mode) and turning its
//! readings into measurements:
//!
//! ```
//! use platone_cim::meter_readings::{parse_str, Mode, Record};
//! use platone_model::{FlowDirection, MeasurementKind, PhaseSet, Unit};
//!
//! let xml = r#"<mr:MeterReadings xmlns:mr="http://iec.ch/TC57/2011/MeterReadings#">
//!   <mr:MeterReading>
//!     <mr:Meter><mr:Names><mr:name>11111111</mr:name></mr:Names></mr:Meter>
//!     <mr:Readings>
//!       <mr:timeStamp>2019-09-13T15:30:00+03:00</mr:timeStamp>
//!       <mr:value>11.04</mr:value>
//!       <mr:ReadingType ref="0.26.0.0.1.1.12.0.0.0.0.0.0.0.0.224.3.72.0"/>
//!     </mr:Readings>
//!     <mr:UsagePoint><mr:mRID>111111</mr:mRID></mr:UsagePoint>
//!   </mr:MeterReading>
//! </mr:MeterReadings>"#;
//!
//! let parsed = parse_str(xml, Mode::Lenient)?;
//! assert_eq!(parsed.warnings.len(), 1); // the 19-field code
//! let Some(Record::Reading(reading)) = parsed.document.records().next() else { panic!() };
//! let m = reading.to_measurement()?;
//! assert_eq!(m.meter.as_ref().map(|id| id.as_str()), Some("11111111"));
//! assert_eq!((m.kind, m.unit, m.multiplier.exponent()), (MeasurementKind::Energy, Unit::WattHour, 3));
//! assert_eq!((m.phases, m.direction), (PhaseSet::ABC, FlowDirection::Forward));
//! assert_eq!(m.base_value(), 11_040.0);
//!
//! // Strict mode rejects the 19-field code, naming where it is.
//! let err = parse_str(xml, Mode::Strict).unwrap_err();
//! assert!(err.to_string().starts_with("7:"), "{err}");
//! # Ok::<(), platone_cim::CimError>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
pub mod meter_readings;
pub mod pmu;

pub use error::CimError;
pub use meter_readings::{
    MeterReadingsDocument, MeterReadingsError, MeterReadingsStream, ReadingType, ReadingTypeCode,
};
