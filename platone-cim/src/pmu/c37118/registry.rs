//! The configuration registry (keyed by stream IDCODE) and a stateful frame [`Decoder`].

use std::collections::HashMap;
use std::sync::Arc;

use super::cfg3::Cfg3Assembler;
use super::command::{CommandFrame, HeaderFrame};
use super::config::ConfigFrame;
use super::data::{DataFrame, DataLayout};
use super::frame::{FrameHeader, FrameKind};
use super::{Frame, parse_frame};
use crate::pmu::PmuError;

/// What storing a configuration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigUpdate {
    /// The first configuration for this stream.
    New,
    /// The same revision (CFGCNT) again; a CFG-3 or CFG-2 replaced a less detailed kind.
    Same,
    /// CFGCNT changed: data frames are now decoded with the new configuration.
    Changed {
        /// The previous CFGCNT.
        old: u16,
        /// The new CFGCNT.
        new: u16,
    },
    /// Kept for reference only: a CFG-1 (capabilities) while a CFG-2 or CFG-3 of the same
    /// revision is known.
    Ignored,
}

#[derive(Debug, Clone)]
struct Entry {
    config: Arc<ConfigFrame>,
    layout: DataLayout,
}

fn rank(kind: FrameKind) -> u8 {
    match kind {
        FrameKind::Cfg3 => 3,
        FrameKind::Cfg2 => 2,
        _ => 1,
    }
}

/// Configurations by stream IDCODE, each compiled into a [`DataLayout`]. Data frames are
/// decoded with CFG-3 when known, else CFG-2, else CFG-1.
///
/// A data frame whose IDCODE has no configuration is still decoded when exactly one known
/// configuration implies its size (captures where a PDC relabels the stream).
#[derive(Debug, Clone, Default)]
pub struct ConfigRegistry {
    streams: HashMap<u16, Entry>,
}

impl ConfigRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `config` under its header's IDCODE and says whether it changed anything.
    pub fn insert(&mut self, config: impl Into<Arc<ConfigFrame>>) -> ConfigUpdate {
        let config: Arc<ConfigFrame> = config.into();
        let idcode = config.header.idcode;
        let entry = |config: Arc<ConfigFrame>| Entry {
            layout: DataLayout::new(&config),
            config,
        };
        match self.streams.get(&idcode) {
            None => {
                self.streams.insert(idcode, entry(config));
                ConfigUpdate::New
            }
            Some(old) => {
                let (old_cnt, new_cnt) = (old.config.cfgcnt(), config.cfgcnt());
                if old_cnt != new_cnt {
                    self.streams.insert(idcode, entry(config));
                    ConfigUpdate::Changed {
                        old: old_cnt,
                        new: new_cnt,
                    }
                } else if rank(config.header.kind) >= rank(old.config.header.kind) {
                    self.streams.insert(idcode, entry(config));
                    ConfigUpdate::Same
                } else {
                    ConfigUpdate::Ignored
                }
            }
        }
    }

    /// The configuration in use for a stream.
    pub fn get(&self, idcode: u16) -> Option<&Arc<ConfigFrame>> {
        self.streams.get(&idcode).map(|e| &e.config)
    }

    /// Number of streams known.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no configuration is known.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    fn entry_for(&self, idcode: u16, size: usize) -> Result<&Entry, PmuError> {
        if let Some(e) = self.streams.get(&idcode) {
            return Ok(e);
        }
        let mut matching = self
            .streams
            .values()
            .filter(|e| e.layout.frame_size() == size);
        match (matching.next(), matching.next()) {
            (Some(e), None) => Ok(e),
            _ => Err(PmuError::NoConfig { idcode }),
        }
    }

    /// The configuration a data frame of this IDCODE and size would be decoded with.
    pub fn config_for(&self, idcode: u16, size: usize) -> Option<&Arc<ConfigFrame>> {
        self.entry_for(idcode, size).ok().map(|e| &e.config)
    }

    /// Decodes a checked data frame into `out` (no allocation once `out` has grown).
    #[inline]
    pub fn decode_data_into(
        &self,
        header: FrameHeader,
        frame: &[u8],
        out: &mut DataFrame,
    ) -> Result<(), PmuError> {
        let e = self.entry_for(header.idcode, frame.len())?;
        e.layout.decode_into(header, frame, e.config.cfgcnt(), out)
    }

    /// Checks (CHK included) and decodes a data frame at the start of `bytes` into `out`.
    #[inline]
    pub fn decode_data(&self, bytes: &[u8], out: &mut DataFrame) -> Result<(), PmuError> {
        let (header, frame) = super::check_frame(bytes)?;
        if header.kind != FrameKind::Data {
            return Err(PmuError::invalid(
                1,
                "SYNC",
                format!("a {} frame, not a data frame", header.kind.as_str()),
            ));
        }
        self.decode_data_into(header, frame, out)
    }
}

/// One decoded frame, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A data frame and the configuration it was decoded with.
    Data(DataFrame, Arc<ConfigFrame>),
    /// A header frame.
    Header(HeaderFrame),
    /// A complete configuration (a single frame or the last CFG-3 fragment).
    Config(Arc<ConfigFrame>, ConfigUpdate),
    /// A CFG-3 fragment that is not the last.
    Cfg3Fragment {
        /// The header of the fragment.
        header: FrameHeader,
        /// Its CONT_IDX.
        cont_idx: u16,
    },
    /// A command frame.
    Command(CommandFrame),
}

/// A stateful decoder for one connection or capture: remembers configurations (CFG-3
/// fragments joined per stream) and decodes every later data frame with them.
///
/// ```
/// use platone_cim::pmu::c37118::{Decoder, Decoded};
/// let mut decoder = Decoder::new();
/// let frame = [0xAA, 0x41, 0x00, 0x12, 0x1E, 0x36, 0x44, 0x85, 0x60, 0x30,
///              0x0F, 0x0B, 0xBF, 0xD0, 0x00, 0x02, 0xCE, 0x00];
/// match decoder.decode(&frame)? {
///     Decoded::Command(c) => assert_eq!(c.command.name(), "turn_on"),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), platone_cim::pmu::PmuError>(())
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    registry: ConfigRegistry,
    fragments: HashMap<u16, Cfg3Assembler>,
}

impl Decoder {
    /// A decoder that knows no configuration yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The configurations seen so far.
    pub fn registry(&self) -> &ConfigRegistry {
        &self.registry
    }

    /// Mutable access, e.g. to preload a configuration.
    pub fn registry_mut(&mut self) -> &mut ConfigRegistry {
        &mut self.registry
    }

    /// Checks and decodes the frame at the start of `bytes`.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Decoded, PmuError> {
        match parse_frame(bytes)? {
            Frame::Data(header, frame) => {
                let e = self.registry.entry_for(header.idcode, frame.len())?;
                let mut out = DataFrame::default();
                e.layout
                    .decode_into(header, frame, e.config.cfgcnt(), &mut out)?;
                Ok(Decoded::Data(out, e.config.clone()))
            }
            Frame::Header(h) => Ok(Decoded::Header(h)),
            Frame::Command(c) => Ok(Decoded::Command(c)),
            Frame::Config(config) => Ok(self.store(*config)),
            Frame::Cfg3Fragment(header, cont_idx, frame) => {
                let assembler = self.fragments.entry(header.idcode).or_default();
                match assembler.push(header, frame)? {
                    Some(config) => {
                        self.fragments.remove(&header.idcode);
                        Ok(self.store(config))
                    }
                    None => Ok(Decoded::Cfg3Fragment { header, cont_idx }),
                }
            }
        }
    }

    fn store(&mut self, config: ConfigFrame) -> Decoded {
        let received = Arc::new(config);
        let update = self.registry.insert(received.clone());
        Decoded::Config(received, update)
    }
}
