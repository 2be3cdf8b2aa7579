//! IEEE C37.118.2-2011 synchrophasor frames: every frame type, SYNC versions 1 to 3, CHK,
//! CFG-3 with fragments, and a configuration registry for decoding data frames.

mod cfg12;
mod cfg3;
mod command;
mod config;
mod crc;
mod data;
mod frame;
mod reader;
mod registry;
mod stat;
mod time;

pub use cfg3::{Cfg3Assembler, LAST_FRAGMENT, encode_cfg3_fragments};
pub use command::{Command, CommandFrame, HeaderFrame};
pub use config::{
    AnalogChannel, Cfg3Extras, ConfigFrame, DataFormat, DigitalChannel, PhasorChannel,
    PhasorComponent, PhasorKind, PhasorScale, PmuConfig,
};
pub use crc::crc16;
pub use data::{DataFrame, DataLayout, PhasorValue, PmuData};
pub use frame::{FrameHeader, FrameKind, HEADER_SIZE, MIN_FRAME_SIZE, check_frame};
pub use registry::{ConfigRegistry, ConfigUpdate, Decoded, Decoder};
pub use stat::{DataError, Stat, StatView};
pub use time::{
    FracSec, TimeBase, TimeQuality, TimeQualityView, format_micros, frame_time, soc_fracsec,
};

use crate::pmu::PmuError;

/// A checked frame whose body does not need a configuration to decode.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame<'a> {
    /// A data frame, still raw: decode it with a [`ConfigRegistry`] or [`DataLayout`].
    Data(FrameHeader, &'a [u8]),
    /// A header frame.
    Header(HeaderFrame),
    /// A complete CFG-1, CFG-2 or CFG-3 (CONT_IDX 0) frame.
    Config(Box<ConfigFrame>),
    /// One fragment of a CFG-3 frame (CONT_IDX ≠ 0): feed it to a [`Cfg3Assembler`].
    Cfg3Fragment(FrameHeader, u16, &'a [u8]),
    /// A command frame.
    Command(CommandFrame),
}

/// Checks and decodes one frame at the start of `bytes` (see [`check_frame`]).
pub fn parse_frame(bytes: &[u8]) -> Result<Frame<'_>, PmuError> {
    let (header, frame) = check_frame(bytes)?;
    Ok(match header.kind {
        FrameKind::Data => Frame::Data(header, frame),
        FrameKind::Header => Frame::Header(HeaderFrame::decode(header, frame)),
        FrameKind::Cfg1 | FrameKind::Cfg2 => Frame::Config(Box::new(cfg12::decode(header, frame)?)),
        FrameKind::Cfg3 => match cfg3::cont_idx(frame)? {
            0 => Frame::Config(Box::new(cfg3::decode_body(
                header,
                frame
                    .get(cfg3::CFG3_BODY_OFFSET..frame.len() - 2)
                    .unwrap_or(&[]),
            )?)),
            idx => Frame::Cfg3Fragment(header, idx, frame),
        },
        FrameKind::Command => Frame::Command(CommandFrame::decode(header, frame)?),
    })
}

impl ConfigFrame {
    /// Encodes the configuration as one frame of its kind (CFG-1, CFG-2, or CFG-3 with
    /// CONT_IDX 0). Use [`encode_cfg3_fragments`] to split a large CFG-3.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), PmuError> {
        match self.header.kind {
            FrameKind::Cfg1 | FrameKind::Cfg2 => cfg12::encode(self, out),
            FrameKind::Cfg3 => {
                let start = frame::start_frame(self.header, out);
                out.extend_from_slice(&0u16.to_be_bytes());
                cfg3::encode_body(self, out)?;
                frame::finish_frame(out, start)
            }
            other => Err(PmuError::Encode {
                field: "header.kind".into(),
                reason: format!("{} is not a configuration frame type", other.as_str()),
            }),
        }
    }

    /// The same configuration as another kind (CFG-1, CFG-2 or CFG-3).
    pub fn with_kind(&self, kind: FrameKind) -> ConfigFrame {
        let mut c = self.clone();
        c.header.kind = kind;
        c
    }
}
