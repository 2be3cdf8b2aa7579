//! The crate's error type.

use crate::meter_readings::MeterReadingsError;
use crate::pmu::PmuError;

/// Everything that can go wrong in this crate: one variant per format family, each carrying
/// that family's detailed error (which names where the input went wrong).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CimError {
    /// IEC 61968-9 MeterReadings or a ReadingType code.
    #[error(transparent)]
    MeterReadings(#[from] MeterReadingsError),
    /// IEEE C37.118.2 or SOGNO/LOCO PMU data.
    #[error(transparent)]
    Pmu(#[from] PmuError),
}
