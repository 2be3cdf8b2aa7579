//! IEC 61968-9 MeterReadings: reader, writer and ReadingType codes.

/// Everything that can go wrong reading or writing MeterReadings and ReadingType codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeterReadingsError {}
