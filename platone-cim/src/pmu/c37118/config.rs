//! Configuration frames (CFG-1, CFG-2, CFG-3): the types. Decoding and encoding are in
//! `cfg12` and `cfg3`.

use super::frame::{FrameHeader, FrameKind};
use super::time::TimeBase;

/// FORMAT: how a PMU block's values are encoded in data frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataFormat(pub u16);

impl DataFormat {
    /// Bit 0: phasors in polar form (magnitude, angle); otherwise rectangular.
    pub const fn polar(self) -> bool {
        self.0 & 0x1 != 0
    }
    /// Bit 1: phasors as f32; otherwise int16.
    pub const fn phasor_float(self) -> bool {
        self.0 & 0x2 != 0
    }
    /// Bit 2: analogs as f32; otherwise int16.
    pub const fn analog_float(self) -> bool {
        self.0 & 0x4 != 0
    }
    /// Bit 3: FREQ/DFREQ as f32 (absolute Hz, Hz/s); otherwise int16 (mHz deviation from
    /// nominal, ROCOF × 100).
    pub const fn freq_float(self) -> bool {
        self.0 & 0x8 != 0
    }
    /// Bytes per phasor in a data frame.
    pub const fn phasor_size(self) -> usize {
        if self.phasor_float() { 8 } else { 4 }
    }
    /// Bytes per FREQ or DFREQ value.
    pub const fn freq_size(self) -> usize {
        if self.freq_float() { 4 } else { 2 }
    }
    /// Bytes per analog value.
    pub const fn analog_size(self) -> usize {
        if self.analog_float() { 4 } else { 2 }
    }
}

/// Voltage or current, from PHUNIT's MSB (CFG-1/2) or PHSCALE's phasor type bit 3 (CFG-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhasorKind {
    /// A voltage phasor (V).
    Voltage,
    /// A current phasor (A).
    Current,
}

/// Which phase or sequence component a CFG-3 phasor is (PHSCALE phasor type bits 2-0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhasorComponent {
    /// 000: zero sequence.
    ZeroSequence,
    /// 001: positive sequence.
    PositiveSequence,
    /// 010: negative sequence.
    NegativeSequence,
    /// 100: phase A.
    PhaseA,
    /// 101: phase B.
    PhaseB,
    /// 110: phase C.
    PhaseC,
    /// 011 or 111: reserved.
    Reserved,
}

impl PhasorComponent {
    /// From PHSCALE bits 2-0 of the phasor type byte.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0x7 {
            0 => PhasorComponent::ZeroSequence,
            1 => PhasorComponent::PositiveSequence,
            2 => PhasorComponent::NegativeSequence,
            4 => PhasorComponent::PhaseA,
            5 => PhasorComponent::PhaseB,
            6 => PhasorComponent::PhaseC,
            _ => PhasorComponent::Reserved,
        }
    }
}

/// CFG-3 PHSCALE: modification flags, phasor type, magnitude scale and angle offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhasorScale {
    /// Bits 31-16 of word 1: modification flags (upsampled, filtered, calibrated, rotated …).
    pub modification: u16,
    /// Bits 15-8: phasor type (bit 3 current, bits 2-0 component).
    pub phasor_type: u8,
    /// Bits 7-0: user-defined.
    pub user: u8,
    /// Y: magnitude scale to primary volts or amperes.
    pub magnitude_scale: f32,
    /// θ: angle offset in radians; the corrected phasor is Y·X·e^{j(φ−θ)}.
    pub angle_offset: f32,
}

impl PhasorScale {
    /// Voltage or current.
    pub const fn kind(&self) -> PhasorKind {
        if self.phasor_type & 0x08 != 0 {
            PhasorKind::Current
        } else {
            PhasorKind::Voltage
        }
    }
    /// Phase or sequence component.
    pub const fn component(&self) -> PhasorComponent {
        PhasorComponent::from_bits(self.phasor_type)
    }
}

/// One phasor channel of a PMU.
#[derive(Debug, Clone, PartialEq)]
pub struct PhasorChannel {
    /// The channel name (CHNAM; trailing padding removed).
    pub name: String,
    /// Voltage or current.
    pub kind: PhasorKind,
    /// PHUNIT bits 23-0: 10⁻⁵ V or A per count for int16 data (CFG-1/2; 0 in CFG-3).
    pub unit_scale: u32,
    /// CFG-3 PHSCALE, absent in CFG-1/2.
    pub scale: Option<PhasorScale>,
}

impl PhasorChannel {
    /// The factor from an int16 count, or the multiplier of a float value, to volts or amperes.
    pub fn magnitude_factor(&self, float: bool) -> f64 {
        match (&self.scale, float) {
            (Some(s), _) => f64::from(s.magnitude_scale),
            (None, false) => f64::from(self.unit_scale) * 1e-5,
            (None, true) => 1.0,
        }
    }
    /// The angle offset θ to subtract (0 for CFG-1/2).
    pub fn angle_offset(&self) -> f64 {
        self.scale.map_or(0.0, |s| f64::from(s.angle_offset))
    }
}

/// One analog channel.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalogChannel {
    /// The channel name.
    pub name: String,
    /// ANUNIT MSB: 0 point-on-wave, 1 RMS, 2 peak, others reserved or user (CFG-1/2).
    pub analog_kind: u8,
    /// ANUNIT bits 23-0 as a signed 24-bit scale for int16 data (CFG-1/2).
    pub unit_scale: i32,
    /// CFG-3 ANSCALE (M, B): X' = M·X + B.
    pub scale: Option<(f32, f32)>,
}

impl AnalogChannel {
    /// Engineering value of a raw analog (`float`: the value is an f32 already).
    pub fn apply(&self, raw: f64, float: bool) -> f64 {
        match (self.scale, float) {
            (Some((m, b)), _) => f64::from(m) * raw + f64::from(b),
            (None, false) => raw * f64::from(self.unit_scale),
            (None, true) => raw,
        }
    }
}

/// One 16-bit digital status word.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitalChannel {
    /// The 16 bit names, bit 0 (LSB) first.
    pub names: Vec<String>,
    /// DIGUNIT high word: the normal state (word XOR mask is 0 when normal).
    pub normal: u16,
    /// DIGUNIT low word: which inputs are valid.
    pub valid: u16,
}

/// CFG-3's extra per-PMU fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cfg3Extras {
    /// G_PMU_ID: 16 user-assigned bytes.
    pub global_pmu_id: [u8; 16],
    /// WGS-84 latitude in degrees (+∞: unspecified).
    pub latitude: f32,
    /// WGS-84 longitude in degrees (+∞: unspecified).
    pub longitude: f32,
    /// Elevation in metres (+∞: unspecified).
    pub elevation: f32,
    /// SVC_CLASS: `b'M'` or `b'P'`.
    pub service_class: u8,
    /// WINDOW: measurement window in µs.
    pub window: i32,
    /// GRP_DLY: group delay in µs.
    pub group_delay: i32,
}

/// One PMU block of a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PmuConfig {
    /// STN: the station name.
    pub station: String,
    /// The data source's IDCODE (may differ from the stream's).
    pub idcode: u16,
    /// FORMAT.
    pub format: DataFormat,
    /// The phasor channels.
    pub phasors: Vec<PhasorChannel>,
    /// The analog channels.
    pub analogs: Vec<AnalogChannel>,
    /// The digital words.
    pub digitals: Vec<DigitalChannel>,
    /// FNOM as sent (bit 0: 1 = 50 Hz, 0 = 60 Hz).
    pub fnom: u16,
    /// CFGCNT: the configuration change counter.
    pub cfgcnt: u16,
    /// CFG-3 only.
    pub cfg3: Option<Cfg3Extras>,
}

impl PmuConfig {
    /// The nominal frequency in Hz (50 or 60).
    pub const fn nominal_frequency(&self) -> f64 {
        if self.fnom & 1 == 1 { 50.0 } else { 60.0 }
    }

    /// Bytes this PMU block takes in a data frame.
    pub fn data_size(&self) -> usize {
        2 + self.phasors.len() * self.format.phasor_size()
            + 2 * self.format.freq_size()
            + self.analogs.len() * self.format.analog_size()
            + 2 * self.digitals.len()
    }
}

/// A decoded configuration frame (CFG-1, CFG-2 or CFG-3).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFrame {
    /// The header (kind Cfg1, Cfg2 or Cfg3).
    pub header: FrameHeader,
    /// TIME_BASE.
    pub time_base: TimeBase,
    /// The PMU blocks, in data-frame order.
    pub pmus: Vec<PmuConfig>,
    /// DATA_RATE: > 0 frames per second, < 0 seconds per frame.
    pub data_rate: i16,
}

impl ConfigFrame {
    /// The size of a data frame described by this configuration.
    pub fn data_frame_size(&self) -> usize {
        16 + self.pmus.iter().map(PmuConfig::data_size).sum::<usize>()
    }

    /// CFG-1, CFG-2 or CFG-3.
    pub fn kind(&self) -> FrameKind {
        self.header.kind
    }

    /// The first PMU block's CFGCNT (0 when there is none).
    pub fn cfgcnt(&self) -> u16 {
        self.pmus.first().map_or(0, |p| p.cfgcnt)
    }

    /// Frames per second (negative DATA_RATE gives a fraction).
    pub fn frames_per_second(&self) -> f64 {
        match self.data_rate {
            0 => 0.0,
            r if r > 0 => f64::from(r),
            r => -1.0 / f64::from(r),
        }
    }
}
