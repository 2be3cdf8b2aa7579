//! Data frames: decoding into a reusable [`DataFrame`] against a configuration's compiled
//! [`DataLayout`], and encoding.

use super::config::{ConfigFrame, DataFormat, PmuConfig};
use super::frame::{FrameHeader, FrameKind, HEADER_SIZE, finish_frame, start_frame};
use super::stat::Stat;
use super::time::{TimeBase, frame_time};
use crate::pmu::PmuError;
use platone_model::Timestamp;

/// A phasor in engineering units (V or A, RMS; angle in radians), kept in the form it was sent
/// in so decoding needs no trigonometry; the accessors convert on demand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PhasorValue {
    /// Real and imaginary parts.
    Rectangular {
        /// Real part.
        real: f64,
        /// Imaginary part.
        imag: f64,
    },
    /// Magnitude and angle.
    Polar {
        /// Magnitude.
        magnitude: f64,
        /// Angle in radians.
        angle: f64,
    },
}

impl PhasorValue {
    /// The real part.
    pub fn real(self) -> f64 {
        match self {
            PhasorValue::Rectangular { real, .. } => real,
            PhasorValue::Polar { magnitude, angle } => magnitude * angle.cos(),
        }
    }
    /// The imaginary part.
    pub fn imag(self) -> f64 {
        match self {
            PhasorValue::Rectangular { imag, .. } => imag,
            PhasorValue::Polar { magnitude, angle } => magnitude * angle.sin(),
        }
    }
    /// The magnitude.
    pub fn magnitude(self) -> f64 {
        match self {
            PhasorValue::Rectangular { real, imag } => real.hypot(imag),
            PhasorValue::Polar { magnitude, .. } => magnitude,
        }
    }
    /// The angle in radians.
    pub fn angle(self) -> f64 {
        match self {
            PhasorValue::Rectangular { real, imag } => imag.atan2(real),
            PhasorValue::Polar { angle, .. } => angle,
        }
    }
}

/// One PMU block of a data frame, in engineering units; `None` marks absent data (NaN or
/// 0x8000 in the frame).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PmuData {
    /// STAT.
    pub stat: Stat,
    /// Phasors, in configuration order.
    pub phasors: Vec<Option<PhasorValue>>,
    /// Frequency in Hz (absolute, whatever the encoding).
    pub frequency: Option<f64>,
    /// Rate of change of frequency in Hz/s.
    pub rocof: Option<f64>,
    /// Analogs, scaled.
    pub analogs: Vec<Option<f64>>,
    /// Digital words.
    pub digitals: Vec<u16>,
}

/// A decoded data frame. Reuse one value with [`DataLayout::decode_into`]: its vectors keep
/// their capacity, so decoding allocates nothing after the first frame.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFrame {
    /// The header.
    pub header: FrameHeader,
    /// TIME_BASE of the configuration it was decoded with.
    pub time_base: TimeBase,
    /// One entry per PMU block.
    pub pmus: Vec<PmuData>,
}

impl Default for DataFrame {
    fn default() -> Self {
        DataFrame {
            header: FrameHeader::new(FrameKind::Data, 1, 0, 0, super::time::FracSec(0)),
            time_base: TimeBase::MICROSECONDS,
            pmus: Vec::new(),
        }
    }
}

impl DataFrame {
    /// The measurement instant, `None` when TIME_BASE is 0.
    pub fn time(&self) -> Option<Timestamp> {
        frame_time(self.header.soc, self.header.fracsec, self.time_base)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct PhasorConv {
    factor: f64,
    theta: f64,
    cos: f64,
    sin: f64,
    rotate: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct PmuLayout {
    format: DataFormat,
    fnom: f64,
    phasors: Vec<PhasorConv>,
    analogs: Vec<(f64, f64)>,
    digitals: usize,
}

/// A configuration compiled for fast data-frame decoding: the frame size and per-channel
/// scale factors (with CFG-3 angle offsets turned into a precomputed rotation).
#[derive(Debug, Clone, PartialEq)]
pub struct DataLayout {
    frame_size: usize,
    time_base: TimeBase,
    pmus: Vec<PmuLayout>,
}

#[inline(always)]
fn be<const N: usize>(b: &[u8], off: usize) -> Result<[u8; N], PmuError> {
    b.get(off..off + N)
        .and_then(|s| s.try_into().ok())
        .ok_or(PmuError::Truncated {
            offset: off,
            field: "data frame field",
            needed: N,
            available: b.len().saturating_sub(off),
        })
}

impl DataLayout {
    /// Compiles `config`.
    pub fn new(config: &ConfigFrame) -> Self {
        let pmus = config
            .pmus
            .iter()
            .map(|p: &PmuConfig| PmuLayout {
                format: p.format,
                fnom: p.nominal_frequency(),
                phasors: p
                    .phasors
                    .iter()
                    .map(|c| {
                        let theta = c.angle_offset();
                        PhasorConv {
                            factor: c.magnitude_factor(p.format.phasor_float()),
                            theta,
                            cos: theta.cos(),
                            sin: theta.sin(),
                            rotate: theta != 0.0,
                        }
                    })
                    .collect(),
                analogs: p
                    .analogs
                    .iter()
                    .map(|a| match (a.scale, p.format.analog_float()) {
                        (Some((m, b)), _) => (f64::from(m), f64::from(b)),
                        (None, false) => (f64::from(a.unit_scale), 0.0),
                        (None, true) => (1.0, 0.0),
                    })
                    .collect(),
                digitals: p.digitals.len(),
            })
            .collect();
        DataLayout {
            frame_size: config.data_frame_size(),
            time_base: config.time_base,
            pmus,
        }
    }

    /// The data frame size this configuration implies.
    pub fn frame_size(&self) -> usize {
        self.frame_size
    }

    /// Decodes the data frame `frame` (exactly FRAMESIZE bytes, already checked with
    /// [`check_frame`](super::check_frame)) into `out`, reusing its allocations.
    #[inline]
    pub fn decode_into(
        &self,
        header: FrameHeader,
        frame: &[u8],
        cfgcnt: u16,
        out: &mut DataFrame,
    ) -> Result<(), PmuError> {
        if frame.len() != self.frame_size {
            return Err(PmuError::SizeMismatch {
                idcode: header.idcode,
                expected: self.frame_size,
                found: frame.len(),
                cfgcnt,
            });
        }
        out.header = header;
        out.time_base = self.time_base;
        out.pmus.truncate(self.pmus.len());
        while out.pmus.len() < self.pmus.len() {
            out.pmus.push(PmuData::default());
        }
        let mut off = HEADER_SIZE;
        for (layout, data) in self.pmus.iter().zip(out.pmus.iter_mut()) {
            off = decode_pmu(layout, frame, off, data)?;
        }
        Ok(())
    }

    /// Encodes a data frame for this layout. `header.kind` is forced to data; the values are
    /// converted back to the configuration's encoding (rounded for int16).
    pub fn encode(
        &self,
        header: FrameHeader,
        pmus: &[PmuData],
        out: &mut Vec<u8>,
    ) -> Result<(), PmuError> {
        if pmus.len() != self.pmus.len() {
            return Err(PmuError::Encode {
                field: "pmus".into(),
                reason: format!(
                    "{} PMU blocks given, the configuration has {}",
                    pmus.len(),
                    self.pmus.len()
                ),
            });
        }
        let mut header = header;
        header.kind = FrameKind::Data;
        let start = start_frame(header, out);
        for (i, (layout, data)) in self.pmus.iter().zip(pmus).enumerate() {
            encode_pmu(layout, data, i, out)?;
        }
        finish_frame(out, start)
    }
}

#[inline(always)]
fn decode_pmu(l: &PmuLayout, f: &[u8], mut off: usize, d: &mut PmuData) -> Result<usize, PmuError> {
    d.stat = Stat(u16::from_be_bytes(be(f, off)?));
    off += 2;
    d.phasors.clear();
    let fmt = l.format;
    for c in &l.phasors {
        let value = if fmt.phasor_float() {
            let a = f32::from_be_bytes(be(f, off)?);
            let b = f32::from_be_bytes(be(f, off + 4)?);
            off += 8;
            if a.is_nan() || b.is_nan() {
                None
            } else if fmt.polar() {
                Some(polar(c, f64::from(a), f64::from(b)))
            } else {
                Some(rect(c, f64::from(a), f64::from(b)))
            }
        } else {
            let a = be::<2>(f, off)?;
            let b = i16::from_be_bytes(be(f, off + 2)?);
            off += 4;
            if fmt.polar() {
                if b == i16::MIN {
                    None
                } else {
                    Some(polar(
                        c,
                        f64::from(u16::from_be_bytes(a)),
                        f64::from(b) * 1e-4,
                    ))
                }
            } else {
                let a = i16::from_be_bytes(a);
                if a == i16::MIN || b == i16::MIN {
                    None
                } else {
                    Some(rect(c, f64::from(a), f64::from(b)))
                }
            }
        };
        d.phasors.push(value);
    }
    if fmt.freq_float() {
        let fr = f32::from_be_bytes(be(f, off)?);
        let df = f32::from_be_bytes(be(f, off + 4)?);
        off += 8;
        d.frequency = (!fr.is_nan()).then_some(f64::from(fr));
        d.rocof = (!df.is_nan()).then_some(f64::from(df));
    } else {
        let fr = i16::from_be_bytes(be(f, off)?);
        let df = i16::from_be_bytes(be(f, off + 2)?);
        off += 4;
        d.frequency = (fr != i16::MIN).then(|| l.fnom + f64::from(fr) * 1e-3);
        d.rocof = (df != i16::MIN).then(|| f64::from(df) * 1e-2);
    }
    d.analogs.clear();
    for &(m, b) in &l.analogs {
        let raw = if fmt.analog_float() {
            let v = f32::from_be_bytes(be(f, off)?);
            off += 4;
            (!v.is_nan()).then_some(f64::from(v))
        } else {
            let v = i16::from_be_bytes(be(f, off)?);
            off += 2;
            (v != i16::MIN).then_some(f64::from(v))
        };
        d.analogs.push(raw.map(|x| m * x + b));
    }
    d.digitals.clear();
    for _ in 0..l.digitals {
        d.digitals.push(u16::from_be_bytes(be(f, off)?));
        off += 2;
    }
    Ok(off)
}

#[inline(always)]
fn polar(c: &PhasorConv, magnitude: f64, angle: f64) -> PhasorValue {
    PhasorValue::Polar {
        magnitude: magnitude * c.factor,
        angle: angle - c.theta,
    }
}

#[inline(always)]
fn rect(c: &PhasorConv, re: f64, im: f64) -> PhasorValue {
    let (re, im) = (re * c.factor, im * c.factor);
    if c.rotate {
        // Multiply by e^{-jθ}.
        PhasorValue::Rectangular {
            real: re * c.cos + im * c.sin,
            imag: im * c.cos - re * c.sin,
        }
    } else {
        PhasorValue::Rectangular { real: re, imag: im }
    }
}

fn to_i16(value: f64, field: &str) -> Result<i16, PmuError> {
    let r = value.round();
    if r.is_finite() && r > f64::from(i16::MIN) && r <= f64::from(i16::MAX) {
        Ok(r as i16)
    } else {
        Err(PmuError::Encode {
            field: field.to_string(),
            reason: format!("{value} does not fit an int16 count (±32767)"),
        })
    }
}

fn to_u16(value: f64, field: &str) -> Result<u16, PmuError> {
    let r = value.round();
    if r.is_finite() && r >= 0.0 && r <= f64::from(u16::MAX) {
        Ok(r as u16)
    } else {
        Err(PmuError::Encode {
            field: field.to_string(),
            reason: format!("{value} does not fit an unsigned 16-bit magnitude"),
        })
    }
}

fn encode_pmu(l: &PmuLayout, d: &PmuData, i: usize, out: &mut Vec<u8>) -> Result<(), PmuError> {
    let fmt = l.format;
    if d.phasors.len() != l.phasors.len()
        || d.analogs.len() != l.analogs.len()
        || d.digitals.len() != l.digitals
    {
        return Err(PmuError::Encode {
            field: format!("pmus[{i}]"),
            reason: "channel counts differ from the configuration".into(),
        });
    }
    out.extend_from_slice(&d.stat.0.to_be_bytes());
    for (k, (c, v)) in l.phasors.iter().zip(&d.phasors).enumerate() {
        let field = format!("pmus[{i}].phasors[{k}]");
        let factor = if c.factor == 0.0 { 1.0 } else { c.factor };
        match v {
            None if fmt.phasor_float() => {
                out.extend_from_slice(&f32::NAN.to_be_bytes());
                out.extend_from_slice(&f32::NAN.to_be_bytes());
            }
            None if fmt.polar() => out.extend_from_slice(&[0, 0, 0x80, 0]),
            None => out.extend_from_slice(&[0x80, 0, 0x80, 0]),
            Some(v) if fmt.polar() => {
                let mag = v.magnitude() / factor;
                let ang = v.angle() + c.theta;
                if fmt.phasor_float() {
                    out.extend_from_slice(&(mag as f32).to_be_bytes());
                    out.extend_from_slice(&(ang as f32).to_be_bytes());
                } else {
                    out.extend_from_slice(&to_u16(mag, &field)?.to_be_bytes());
                    out.extend_from_slice(&to_i16(ang * 1e4, &field)?.to_be_bytes());
                }
            }
            Some(v) => {
                let (re, im) = (v.real(), v.imag());
                // Undo the rotation by e^{-jθ}.
                let (re, im) = if c.rotate {
                    (re * c.cos - im * c.sin, im * c.cos + re * c.sin)
                } else {
                    (re, im)
                };
                let (re, im) = (re / factor, im / factor);
                if fmt.phasor_float() {
                    out.extend_from_slice(&(re as f32).to_be_bytes());
                    out.extend_from_slice(&(im as f32).to_be_bytes());
                } else {
                    out.extend_from_slice(&to_i16(re, &field)?.to_be_bytes());
                    out.extend_from_slice(&to_i16(im, &field)?.to_be_bytes());
                }
            }
        }
    }
    if fmt.freq_float() {
        out.extend_from_slice(&(d.frequency.unwrap_or(f64::NAN) as f32).to_be_bytes());
        out.extend_from_slice(&(d.rocof.unwrap_or(f64::NAN) as f32).to_be_bytes());
    } else {
        let fr = match d.frequency {
            Some(f) => to_i16((f - l.fnom) * 1e3, &format!("pmus[{i}].frequency"))?,
            None => i16::MIN,
        };
        let df = match d.rocof {
            Some(r) => to_i16(r * 1e2, &format!("pmus[{i}].rocof"))?,
            None => i16::MIN,
        };
        out.extend_from_slice(&fr.to_be_bytes());
        out.extend_from_slice(&df.to_be_bytes());
    }
    for (k, (&(m, b), v)) in l.analogs.iter().zip(&d.analogs).enumerate() {
        let m = if m == 0.0 { 1.0 } else { m };
        let raw = v.map(|x| (x - b) / m);
        if fmt.analog_float() {
            out.extend_from_slice(&(raw.unwrap_or(f64::NAN) as f32).to_be_bytes());
        } else {
            let count = match raw {
                Some(x) => to_i16(x, &format!("pmus[{i}].analogs[{k}]"))?,
                None => i16::MIN,
            };
            out.extend_from_slice(&count.to_be_bytes());
        }
    }
    for w in &d.digitals {
        out.extend_from_slice(&w.to_be_bytes());
    }
    Ok(())
}
