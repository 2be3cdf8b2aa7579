//! Errors and warnings of the MeterReadings reader and writer, with where the input is wrong.

use std::fmt;

/// Where something is in an XML input: byte offset, 1-based line and column (in bytes), and
/// the path of local element names from the root (`/MeterReadings/MeterReading/Readings/value`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// Byte offset from the start of the input.
    pub offset: u64,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in bytes.
    pub column: u64,
    /// The element path (local names).
    pub path: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Something the lenient reader accepted but that does not follow the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub location: Location,
    /// What.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (byte {}, at {})",
            self.location, self.message, self.location.offset, self.location.path
        )
    }
}

/// Everything that can go wrong reading or writing MeterReadings and ReadingType codes.
///
/// Input errors display as `LINE:COL: message (byte OFFSET, at PATH)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeterReadingsError {
    /// The input is not well-formed XML.
    #[error("{location}: malformed XML: {message} (byte {}, at {})", location.offset, location.path)]
    Xml {
        /// Where.
        location: Location,
        /// The XML parser's message.
        message: String,
    },
    /// Well-formed XML whose content is wrong (strict mode, or wrong in every mode).
    #[error("{location}: {message} (byte {}, at {})", location.offset, location.path)]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
    /// Reading the input failed.
    #[error("{location}: read error: {source} (byte {})", location.offset)]
    Io {
        /// Where reading stopped.
        location: Location,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A ReadingType code that the chosen mode does not accept.
    #[error("ReadingType code `{code}` {reason}")]
    ReadingType {
        /// The code (at most 80 characters of it).
        code: String,
        /// Why.
        reason: String,
    },
    /// A reading that cannot become a `Measurement`.
    #[error("cannot convert the reading at {at} to a Measurement: {reason}")]
    Conversion {
        /// The reading: meter, timestamp and ReadingType.
        at: String,
        /// Why.
        reason: String,
    },
    /// A JSON record given to the writer is invalid.
    #[error("invalid record: {reason}")]
    Record {
        /// Why.
        reason: String,
    },
    /// Writing the output failed.
    #[error("write error: {0}")]
    Write(#[source] std::io::Error),
}

impl MeterReadingsError {
    /// Where in the input the error is, for input errors.
    pub fn location(&self) -> Option<&Location> {
        match self {
            MeterReadingsError::Xml { location, .. }
            | MeterReadingsError::Invalid { location, .. }
            | MeterReadingsError::Io { location, .. } => Some(location),
            _ => None,
        }
    }
}
