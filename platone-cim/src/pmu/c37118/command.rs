//! Command frames (type 4): turn data on and off, ask for header or configuration frames.

use super::frame::{FrameHeader, FrameKind, HEADER_SIZE, finish_frame, start_frame};
use crate::pmu::PmuError;

/// A command to a PMU or PDC (CMD field, with EXTFRAME for command 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// 0x0001: turn off data transmission.
    TurnOff,
    /// 0x0002: turn on data transmission.
    TurnOn,
    /// 0x0003: send the header frame.
    SendHeader,
    /// 0x0004: send CFG-1.
    SendCfg1,
    /// 0x0005: send CFG-2.
    SendCfg2,
    /// 0x0006: send CFG-3.
    SendCfg3,
    /// 0x0008: extended frame with its EXTFRAME bytes.
    Extended(Vec<u8>),
    /// Any other code (reserved or user-defined), with trailing bytes if any.
    Other(u16, Vec<u8>),
}

impl Command {
    /// The CMD code.
    pub fn code(&self) -> u16 {
        match self {
            Command::TurnOff => 1,
            Command::TurnOn => 2,
            Command::SendHeader => 3,
            Command::SendCfg1 => 4,
            Command::SendCfg2 => 5,
            Command::SendCfg3 => 6,
            Command::Extended(_) => 8,
            Command::Other(code, _) => *code,
        }
    }

    /// A short name: `turn_off`, `turn_on`, `send_header`, `send_cfg1`, `send_cfg2`,
    /// `send_cfg3`, `extended`, `user_defined` or `reserved`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::TurnOff => "turn_off",
            Command::TurnOn => "turn_on",
            Command::SendHeader => "send_header",
            Command::SendCfg1 => "send_cfg1",
            Command::SendCfg2 => "send_cfg2",
            Command::SendCfg3 => "send_cfg3",
            Command::Extended(_) => "extended",
            Command::Other(code, _) if (0x0100..0x1000).contains(code) => "user_defined",
            Command::Other(..) => "reserved",
        }
    }

    /// The bytes after CMD (EXTFRAME).
    pub fn extra(&self) -> &[u8] {
        match self {
            Command::Extended(b) | Command::Other(_, b) => b,
            _ => &[],
        }
    }
}

/// A decoded command frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFrame {
    /// The header (IDCODE = destination stream).
    pub header: FrameHeader,
    /// The command.
    pub command: Command,
}

impl CommandFrame {
    /// Decodes a checked command frame.
    pub(crate) fn decode(header: FrameHeader, frame: &[u8]) -> Result<Self, PmuError> {
        let body = frame
            .get(HEADER_SIZE..frame.len().saturating_sub(2))
            .unwrap_or(&[]);
        let Some((code, extra)) = body.split_first_chunk::<2>() else {
            return Err(PmuError::Truncated {
                offset: HEADER_SIZE,
                field: "CMD",
                needed: 2,
                available: body.len(),
            });
        };
        let code = u16::from_be_bytes(*code);
        let command = match (code, extra.is_empty()) {
            (1, true) => Command::TurnOff,
            (2, true) => Command::TurnOn,
            (3, true) => Command::SendHeader,
            (4, true) => Command::SendCfg1,
            (5, true) => Command::SendCfg2,
            (6, true) => Command::SendCfg3,
            (8, _) => Command::Extended(extra.to_vec()),
            (code, _) => Command::Other(code, extra.to_vec()),
        };
        Ok(CommandFrame { header, command })
    }

    /// Encodes the frame.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), PmuError> {
        let mut header = self.header;
        header.kind = FrameKind::Command;
        let start = start_frame(header, out);
        out.extend_from_slice(&self.command.code().to_be_bytes());
        out.extend_from_slice(self.command.extra());
        finish_frame(out, start)
    }
}

/// A header frame: free text (ASCII by the standard; decoded as lossy UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderFrame {
    /// The header.
    pub header: FrameHeader,
    /// The text.
    pub text: String,
}

impl HeaderFrame {
    pub(crate) fn decode(header: FrameHeader, frame: &[u8]) -> Self {
        let body = frame
            .get(HEADER_SIZE..frame.len().saturating_sub(2))
            .unwrap_or(&[]);
        HeaderFrame {
            header,
            text: String::from_utf8_lossy(body).into_owned(),
        }
    }

    /// Encodes the frame.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), PmuError> {
        let mut header = self.header;
        header.kind = FrameKind::Header;
        let start = start_frame(header, out);
        out.extend_from_slice(self.text.as_bytes());
        finish_frame(out, start)
    }
}
