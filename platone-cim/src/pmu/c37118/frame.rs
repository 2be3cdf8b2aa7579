//! The common frame header (SYNC, FRAMESIZE, IDCODE, SOC, FRACSEC), frame types and the CHK
//! check every frame goes through.

use serde::Serialize;

use super::crc::crc16;
use super::time::FracSec;
use crate::pmu::PmuError;

/// The smallest legal frame: 14 header bytes and CHK.
pub const MIN_FRAME_SIZE: usize = 16;
/// The size of the common header.
pub const HEADER_SIZE: usize = 14;

/// The frame type, SYNC bits 6-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameKind {
    /// 000: data frame.
    Data,
    /// 001: header frame (free text).
    Header,
    /// 010: configuration frame 1 (capabilities).
    Cfg1,
    /// 011: configuration frame 2 (what is being sent).
    Cfg2,
    /// 100: command frame (to the PMU).
    Command,
    /// 101: configuration frame 3 (extended).
    Cfg3,
}

impl FrameKind {
    /// The type code in SYNC bits 6-4.
    pub const fn code(self) -> u8 {
        match self {
            FrameKind::Data => 0,
            FrameKind::Header => 1,
            FrameKind::Cfg1 => 2,
            FrameKind::Cfg2 => 3,
            FrameKind::Command => 4,
            FrameKind::Cfg3 => 5,
        }
    }

    /// The type for a code, `None` for the reserved codes 6 and 7.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => FrameKind::Data,
            1 => FrameKind::Header,
            2 => FrameKind::Cfg1,
            3 => FrameKind::Cfg2,
            4 => FrameKind::Command,
            5 => FrameKind::Cfg3,
            _ => return None,
        })
    }

    /// The name the CLI prints: `data`, `header`, `cfg1`, `cfg2`, `command`, `cfg3`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FrameKind::Data => "data",
            FrameKind::Header => "header",
            FrameKind::Cfg1 => "cfg1",
            FrameKind::Cfg2 => "cfg2",
            FrameKind::Command => "command",
            FrameKind::Cfg3 => "cfg3",
        }
    }
}

/// The 14-byte header every frame starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// The frame type.
    pub kind: FrameKind,
    /// The version (SYNC bits 3-0): 1 (2005), 2 (2011) or 3 (draft 2024).
    pub version: u8,
    /// FRAMESIZE: the whole frame's length including CHK.
    pub frame_size: u16,
    /// IDCODE: the source stream (data, configuration, header) or the destination (command).
    pub idcode: u16,
    /// SOC: seconds since 1970-01-01T00:00:00Z.
    pub soc: u32,
    /// FRACSEC: time quality and fraction-of-second count.
    pub fracsec: FracSec,
}

impl FrameHeader {
    /// A header for a new frame; `frame_size` is filled in when the frame is encoded.
    pub const fn new(
        kind: FrameKind,
        version: u8,
        idcode: u16,
        soc: u32,
        fracsec: FracSec,
    ) -> Self {
        FrameHeader {
            kind,
            version,
            frame_size: 0,
            idcode,
            soc,
            fracsec,
        }
    }

    /// The second SYNC byte.
    pub const fn sync_byte(self) -> u8 {
        (self.kind.code() << 4) | (self.version & 0x0F)
    }

    /// Reads and checks the header fields of `bytes` (SYNC, type, version, FRAMESIZE ≥ 16),
    /// without looking at CHK or requiring the whole frame.
    pub fn peek(bytes: &[u8]) -> Result<Self, PmuError> {
        let Some(head) = bytes.get(..HEADER_SIZE) else {
            return Err(PmuError::Truncated {
                offset: 0,
                field: "common header",
                needed: HEADER_SIZE,
                available: bytes.len(),
            });
        };
        let sync = u16::from_be_bytes([head[0], head[1]]);
        if head[0] != 0xAA || head[1] & 0x80 != 0 {
            return Err(PmuError::BadSync { sync });
        }
        let code = (head[1] >> 4) & 0x07;
        let kind = FrameKind::from_code(code).ok_or(PmuError::UnknownFrameType { code })?;
        let version = head[1] & 0x0F;
        if !(1..=3).contains(&version) {
            return Err(PmuError::UnsupportedVersion { version });
        }
        let frame_size = u16::from_be_bytes([head[2], head[3]]);
        if usize::from(frame_size) < MIN_FRAME_SIZE {
            return Err(PmuError::BadFrameSize {
                size: usize::from(frame_size),
                reason: "smaller than the 16-byte minimum",
            });
        }
        Ok(FrameHeader {
            kind,
            version,
            frame_size,
            idcode: u16::from_be_bytes([head[4], head[5]]),
            soc: u32::from_be_bytes([head[6], head[7], head[8], head[9]]),
            fracsec: FracSec(u32::from_be_bytes([head[10], head[11], head[12], head[13]])),
        })
    }

    /// Writes the 14 header bytes (FRAMESIZE as given).
    pub(crate) fn write(self, out: &mut Vec<u8>) {
        out.push(0xAA);
        out.push(self.sync_byte());
        out.extend_from_slice(&self.frame_size.to_be_bytes());
        out.extend_from_slice(&self.idcode.to_be_bytes());
        out.extend_from_slice(&self.soc.to_be_bytes());
        out.extend_from_slice(&self.fracsec.0.to_be_bytes());
    }
}

/// Checks one complete frame at the start of `bytes`: header, FRAMESIZE within `bytes`, and
/// CHK. Returns the header and the frame (exactly FRAMESIZE bytes); bytes after it are ignored.
///
/// ```
/// use platone_cim::pmu::c37118::{check_frame, FrameKind};
/// let cmd = [0xAA, 0x41, 0x00, 0x12, 0x1E, 0x36, 0x44, 0x85, 0x60, 0x30,
///            0x0F, 0x0B, 0xBF, 0xD0, 0x00, 0x02, 0xCE, 0x00];
/// let (header, frame) = check_frame(&cmd)?;
/// assert_eq!(header.kind, FrameKind::Command);
/// assert_eq!(header.idcode, 7734);
/// assert_eq!(frame.len(), 18);
/// # Ok::<(), platone_cim::pmu::PmuError>(())
/// ```
#[inline]
pub fn check_frame(bytes: &[u8]) -> Result<(FrameHeader, &[u8]), PmuError> {
    let header = FrameHeader::peek(bytes)?;
    let size = usize::from(header.frame_size);
    let Some(frame) = bytes.get(..size) else {
        return Err(PmuError::Truncated {
            offset: bytes.len(),
            field: "frame body (FRAMESIZE)",
            needed: size,
            available: bytes.len(),
        });
    };
    let (body, chk) = frame.split_at(size - 2);
    let found = u16::from_be_bytes([chk[0], chk[1]]);
    let computed = crc16(body);
    if found != computed {
        return Err(PmuError::BadCrc {
            offset: size - 2,
            found,
            computed,
        });
    }
    Ok((header, frame))
}

/// Builds a frame: the header is written with a placeholder FRAMESIZE that [`finish_frame`]
/// fills in together with CHK.
pub(crate) fn start_frame(header: FrameHeader, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    header.write(out);
    start
}

/// Completes a frame begun at `start`: sets FRAMESIZE and appends CHK.
pub(crate) fn finish_frame(out: &mut Vec<u8>, start: usize) -> Result<(), PmuError> {
    let size = out.len() - start + 2;
    let size16 = u16::try_from(size).map_err(|_| PmuError::Encode {
        field: "FRAMESIZE".into(),
        reason: format!("the frame would be {size} bytes, over 65535"),
    })?;
    out[start + 2..start + 4].copy_from_slice(&size16.to_be_bytes());
    let chk = crc16(&out[start..]);
    out.extend_from_slice(&chk.to_be_bytes());
    Ok(())
}
