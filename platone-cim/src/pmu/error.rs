//! The PMU module's error type.

use platone_model::ModelError;

/// Everything that can go wrong decoding or encoding PMU data. Every variant says where the
/// input is wrong: a byte offset inside the frame, a field name, a JSON path or a line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PmuError {
    /// The input ends before a field does.
    #[error("truncated at byte {offset}: {field} needs {needed} byte(s), {available} left")]
    Truncated {
        /// Byte offset of the field within the frame.
        offset: usize,
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// The first SYNC byte is not 0xAA or the reserved bit of the second is set.
    #[error("byte 0: bad SYNC 0x{sync:04X} (expected 0xAA then a byte with bit 7 clear)")]
    BadSync {
        /// The two SYNC bytes.
        sync: u16,
    },
    /// SYNC bits 6-4 name a reserved frame type.
    #[error("byte 1: reserved frame type {code} in SYNC")]
    UnknownFrameType {
        /// The type code (6 or 7).
        code: u8,
    },
    /// SYNC bits 3-0 name a version other than 1, 2 or 3.
    #[error("byte 1: unsupported version {version} in SYNC (1 to 3 are accepted)")]
    UnsupportedVersion {
        /// The version number.
        version: u8,
    },
    /// FRAMESIZE is smaller than the smallest frame or larger than the input.
    #[error("bytes 2-3: FRAMESIZE {size} is invalid: {reason}")]
    BadFrameSize {
        /// The FRAMESIZE field.
        size: usize,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The CHK field does not match the CRC of the frame.
    #[error("bytes {offset}-{}: CHK is 0x{found:04X}, CRC of the frame is 0x{computed:04X}", offset + 1)]
    BadCrc {
        /// Offset of CHK within the frame.
        offset: usize,
        /// CHK as sent.
        found: u16,
        /// CRC computed over the frame.
        computed: u16,
    },
    /// A field holds a value the standard does not allow.
    #[error("byte {offset}: {field}: {reason}")]
    InvalidField {
        /// Byte offset of the field within the frame (or reassembled configuration).
        offset: usize,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A data frame arrived for a stream whose configuration is not known.
    #[error("data frame for IDCODE {idcode}: no configuration frame received for this stream")]
    NoConfig {
        /// The data frame's IDCODE.
        idcode: u16,
    },
    /// A data frame's size does not match its stream's configuration (stale configuration).
    #[error(
        "data frame for IDCODE {idcode}: FRAMESIZE {found} does not match {expected} from the configuration (CFGCNT {cfgcnt})"
    )]
    SizeMismatch {
        /// The data frame's IDCODE.
        idcode: u16,
        /// The size the configuration implies.
        expected: usize,
        /// The frame's size.
        found: usize,
        /// The configuration's change counter.
        cfgcnt: u16,
    },
    /// CFG-3 fragments arrived out of order or disagree with each other.
    #[error("CFG-3 fragment of IDCODE {idcode}, CONT_IDX {cont_idx}: {reason}")]
    Fragment {
        /// The stream.
        idcode: u16,
        /// The fragment's continuation index.
        cont_idx: u16,
        /// What is wrong.
        reason: String,
    },
    /// A value cannot be encoded in the frame's format.
    #[error("cannot encode {field}: {reason}")]
    Encode {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// SOGNO/LOCO JSON that does not match the format.
    #[error("SOGNO JSON at {path}: {reason}")]
    Sogno {
        /// JSON path of the offending value (`$.readings[3].measurand`).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A channel map that cannot be used.
    #[error("channel map at {path}: {reason}")]
    ChannelMap {
        /// Where in the map.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A classic pcap file that cannot be read.
    #[error("pcap packet {packet}: {reason}")]
    Pcap {
        /// 1-based packet number (0: the file header).
        packet: u64,
        /// What is wrong.
        reason: String,
    },
    /// A PMU, PDC or client broke the C37.118.2 conversation.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Input/output failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A decoded value does not make a valid model value.
    #[error("{context}: {source}")]
    Model {
        /// Which value.
        context: String,
        /// The model's complaint.
        source: ModelError,
    },
}

impl PmuError {
    pub(crate) fn invalid(offset: usize, field: &'static str, reason: impl Into<String>) -> Self {
        PmuError::InvalidField {
            offset,
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn model(context: impl Into<String>, source: ModelError) -> Self {
        PmuError::Model {
            context: context.into(),
            source,
        }
    }

    #[cfg(feature = "pmu-client")]
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        PmuError::Io {
            context: context.into(),
            source,
        }
    }
}
