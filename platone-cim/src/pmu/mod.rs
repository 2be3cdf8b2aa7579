//! PMU data: IEEE C37.118.2 frames and SOGNO/LOCO JSON.

/// Everything that can go wrong decoding or encoding PMU data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PmuError {}
