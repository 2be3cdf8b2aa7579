//! CFG-3 frames: length-prefixed UTF-8 names, G_PMU_ID, PHSCALE/ANSCALE, location, service
//! class, window and group delay; CONT_IDX fragments.

use super::cfg12::write_channel_counts_and_names;
use super::config::{
    AnalogChannel, Cfg3Extras, ConfigFrame, DataFormat, DigitalChannel, PhasorChannel, PhasorScale,
    PmuConfig,
};
use super::frame::{FrameHeader, HEADER_SIZE, finish_frame, start_frame};
use super::reader::Reader;
use super::time::TimeBase;
use crate::pmu::PmuError;

/// CONT_IDX of the last fragment.
pub const LAST_FRAGMENT: u16 = 0xFFFF;

/// Offset of the configuration body (TIME_BASE) in a CFG-3 frame: header and CONT_IDX.
pub const CFG3_BODY_OFFSET: usize = HEADER_SIZE + 2;

fn name(r: &mut Reader<'_>, field: &'static str) -> Result<String, PmuError> {
    let len = usize::from(r.u8(field)?);
    Ok(String::from_utf8_lossy(r.bytes(len, field)?).into_owned())
}

fn write_name(out: &mut Vec<u8>, text: &str, field: &str) -> Result<(), PmuError> {
    let len = u8::try_from(text.len()).map_err(|_| PmuError::Encode {
        field: field.to_string(),
        reason: format!("name is {} bytes, over 255", text.len()),
    })?;
    out.push(len);
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Reads CONT_IDX of a checked CFG-3 frame.
pub(crate) fn cont_idx(frame: &[u8]) -> Result<u16, PmuError> {
    Reader::new(frame.get(HEADER_SIZE..).unwrap_or(&[]), HEADER_SIZE).u16("CONT_IDX")
}

/// Decodes a CFG-3 configuration body (from TIME_BASE to DATA_RATE; for a fragmented frame,
/// the fragments' bodies joined in order).
pub(crate) fn decode_body(header: FrameHeader, body: &[u8]) -> Result<ConfigFrame, PmuError> {
    let mut r = Reader::new(body, CFG3_BODY_OFFSET);
    let time_base = TimeBase(r.u32("TIME_BASE")?);
    let num_pmu = r.u16("NUM_PMU")?;
    let mut pmus = Vec::with_capacity(usize::from(num_pmu).min(256));
    for _ in 0..num_pmu {
        let station = name(&mut r, "STN")?;
        let idcode = r.u16("IDCODE")?;
        let global_pmu_id = r.array::<16>("G_PMU_ID")?;
        let format = DataFormat(r.u16("FORMAT")?);
        let phnmr = usize::from(r.u16("PHNMR")?);
        let annmr = usize::from(r.u16("ANNMR")?);
        let dgnmr = usize::from(r.u16("DGNMR")?);
        // Every name takes at least its length byte: refuse counts the body cannot hold.
        let min_len = phnmr * 13 + annmr * 9 + dgnmr * 20;
        if min_len > r.remaining() {
            return Err(PmuError::Truncated {
                offset: r.offset(),
                field: "CHNAM/PHSCALE/ANSCALE/DIGUNIT",
                needed: min_len,
                available: r.remaining(),
            });
        }
        let mut phasor_names = Vec::with_capacity(phnmr);
        for _ in 0..phnmr {
            phasor_names.push(name(&mut r, "CHNAM")?);
        }
        let mut analog_names = Vec::with_capacity(annmr);
        for _ in 0..annmr {
            analog_names.push(name(&mut r, "CHNAM")?);
        }
        let mut digital_names = Vec::with_capacity(dgnmr);
        for _ in 0..dgnmr {
            let mut names = Vec::with_capacity(16);
            for _ in 0..16 {
                names.push(name(&mut r, "CHNAM")?);
            }
            digital_names.push(names);
        }
        let mut phasors = Vec::with_capacity(phnmr);
        for name in phasor_names {
            let modification = r.u16("PHSCALE flags")?;
            let phasor_type = r.u8("PHSCALE type")?;
            let user = r.u8("PHSCALE user")?;
            let magnitude_scale = r.f32("PHSCALE Y")?;
            let angle_offset = r.f32("PHSCALE angle")?;
            let scale = PhasorScale {
                modification,
                phasor_type,
                user,
                magnitude_scale,
                angle_offset,
            };
            phasors.push(PhasorChannel {
                name,
                kind: scale.kind(),
                unit_scale: 0,
                scale: Some(scale),
            });
        }
        let mut analogs = Vec::with_capacity(annmr);
        for name in analog_names {
            let m = r.f32("ANSCALE M")?;
            let b = r.f32("ANSCALE B")?;
            analogs.push(AnalogChannel {
                name,
                analog_kind: 0,
                unit_scale: 1,
                scale: Some((m, b)),
            });
        }
        let mut digitals = Vec::with_capacity(dgnmr);
        for names in digital_names {
            let normal = r.u16("DIGUNIT")?;
            let valid = r.u16("DIGUNIT")?;
            digitals.push(DigitalChannel {
                names,
                normal,
                valid,
            });
        }
        let latitude = r.f32("PMU_LAT")?;
        let longitude = r.f32("PMU_LON")?;
        let elevation = r.f32("PMU_ELEV")?;
        let service_class = r.u8("SVC_CLASS")?;
        let window = r.i32("WINDOW")?;
        let group_delay = r.i32("GRP_DLY")?;
        let fnom = r.u16("FNOM")?;
        let cfgcnt = r.u16("CFGCNT")?;
        pmus.push(PmuConfig {
            station,
            idcode,
            format,
            phasors,
            analogs,
            digitals,
            fnom,
            cfgcnt,
            cfg3: Some(Cfg3Extras {
                global_pmu_id,
                latitude,
                longitude,
                elevation,
                service_class,
                window,
                group_delay,
            }),
        });
    }
    let data_rate = r.i16("DATA_RATE")?;
    if r.remaining() != 0 {
        return Err(PmuError::invalid(
            r.offset(),
            "DATA_RATE",
            format!(
                "{} unexpected byte(s) after the configuration",
                r.remaining()
            ),
        ));
    }
    Ok(ConfigFrame {
        header,
        time_base,
        pmus,
        data_rate,
    })
}

/// Encodes the CFG-3 body (TIME_BASE … DATA_RATE). PMU blocks without CFG-3 extras get
/// unspecified location (+∞), service class `M`, and PHSCALE derived from PHUNIT.
pub(crate) fn encode_body(config: &ConfigFrame, out: &mut Vec<u8>) -> Result<(), PmuError> {
    out.extend_from_slice(&config.time_base.0.to_be_bytes());
    let num_pmu = u16::try_from(config.pmus.len()).map_err(|_| PmuError::Encode {
        field: "NUM_PMU".into(),
        reason: "more than 65535 PMU blocks".into(),
    })?;
    out.extend_from_slice(&num_pmu.to_be_bytes());
    for (i, pmu) in config.pmus.iter().enumerate() {
        write_name(out, &pmu.station, &format!("pmus[{i}].station"))?;
        out.extend_from_slice(&pmu.idcode.to_be_bytes());
        let extras = pmu.cfg3.unwrap_or(Cfg3Extras {
            global_pmu_id: [0; 16],
            latitude: f32::INFINITY,
            longitude: f32::INFINITY,
            elevation: f32::INFINITY,
            service_class: b'M',
            window: 0,
            group_delay: 0,
        });
        out.extend_from_slice(&extras.global_pmu_id);
        out.extend_from_slice(&pmu.format.0.to_be_bytes());
        write_channel_counts_and_names(out, pmu, i, write_name)?;
        for p in &pmu.phasors {
            let s = p.scale.unwrap_or(PhasorScale {
                modification: 0,
                phasor_type: match p.kind {
                    super::config::PhasorKind::Voltage => 0,
                    super::config::PhasorKind::Current => 0x08,
                },
                user: 0,
                magnitude_scale: p.magnitude_factor(pmu.format.phasor_float()) as f32,
                angle_offset: 0.0,
            });
            out.extend_from_slice(&s.modification.to_be_bytes());
            out.push(s.phasor_type);
            out.push(s.user);
            out.extend_from_slice(&s.magnitude_scale.to_be_bytes());
            out.extend_from_slice(&s.angle_offset.to_be_bytes());
        }
        for a in &pmu.analogs {
            let (m, b) = a.scale.unwrap_or((
                if pmu.format.analog_float() {
                    1.0
                } else {
                    a.unit_scale as f32
                },
                0.0,
            ));
            out.extend_from_slice(&m.to_be_bytes());
            out.extend_from_slice(&b.to_be_bytes());
        }
        for d in &pmu.digitals {
            out.extend_from_slice(&d.normal.to_be_bytes());
            out.extend_from_slice(&d.valid.to_be_bytes());
        }
        out.extend_from_slice(&extras.latitude.to_be_bytes());
        out.extend_from_slice(&extras.longitude.to_be_bytes());
        out.extend_from_slice(&extras.elevation.to_be_bytes());
        out.push(extras.service_class);
        out.extend_from_slice(&extras.window.to_be_bytes());
        out.extend_from_slice(&extras.group_delay.to_be_bytes());
        out.extend_from_slice(&pmu.fnom.to_be_bytes());
        out.extend_from_slice(&pmu.cfgcnt.to_be_bytes());
    }
    out.extend_from_slice(&config.data_rate.to_be_bytes());
    Ok(())
}

/// Encodes `config` as CFG-3 frames no larger than `max_frame_size` bytes each: one frame with
/// CONT_IDX 0 when it fits, otherwise fragments numbered 1, 2, … and 0xFFFF for the last.
pub fn encode_cfg3_fragments(
    config: &ConfigFrame,
    max_frame_size: usize,
) -> Result<Vec<Vec<u8>>, PmuError> {
    let mut body = Vec::with_capacity(1024);
    encode_body(config, &mut body)?;
    let overhead = CFG3_BODY_OFFSET + 2;
    let max_frame_size = max_frame_size.min(usize::from(u16::MAX));
    if max_frame_size <= overhead {
        return Err(PmuError::Encode {
            field: "CFG-3 fragment size".into(),
            reason: format!("{max_frame_size} bytes leaves no room for data"),
        });
    }
    let mut header = config.header;
    header.kind = super::frame::FrameKind::Cfg3;
    let frame = |idx: u16, chunk: &[u8]| -> Result<Vec<u8>, PmuError> {
        let mut out = Vec::with_capacity(chunk.len() + overhead);
        let start = start_frame(header, &mut out);
        out.extend_from_slice(&idx.to_be_bytes());
        out.extend_from_slice(chunk);
        finish_frame(&mut out, start)?;
        Ok(out)
    };
    if body.len() + overhead <= max_frame_size {
        return Ok(vec![frame(0, &body)?]);
    }
    let chunks: Vec<&[u8]> = body.chunks(max_frame_size - overhead).collect();
    if chunks.len() >= usize::from(LAST_FRAGMENT) {
        return Err(PmuError::Encode {
            field: "CONT_IDX".into(),
            reason: "too many fragments".into(),
        });
    }
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            frame(
                if i == last {
                    LAST_FRAGMENT
                } else {
                    i as u16 + 1
                },
                c,
            )
        })
        .collect()
}

/// Joins CFG-3 fragments of one stream: keeps each fragment's body (after CONT_IDX, before
/// CHK) in order, and decodes the whole when the last fragment arrives.
#[derive(Debug, Default)]
pub struct Cfg3Assembler {
    pending: Option<(FrameHeader, u16, Vec<u8>)>,
}

impl Cfg3Assembler {
    /// A new, empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a fragmented configuration is partly received.
    pub fn in_progress(&self) -> bool {
        self.pending.is_some()
    }

    /// Feeds one checked CFG-3 frame. Returns the configuration when it is complete (at once
    /// for CONT_IDX 0), `None` while fragments are still expected.
    pub fn push(
        &mut self,
        header: FrameHeader,
        frame: &[u8],
    ) -> Result<Option<ConfigFrame>, PmuError> {
        let idx = cont_idx(frame)?;
        let body = frame
            .get(CFG3_BODY_OFFSET..frame.len().saturating_sub(2))
            .unwrap_or(&[]);
        let fragment_error = |reason: String| PmuError::Fragment {
            idcode: header.idcode,
            cont_idx: idx,
            reason,
        };
        match idx {
            0 => {
                self.pending = None;
                decode_body(header, body).map(Some)
            }
            1 => {
                self.pending = Some((header, 1, body.to_vec()));
                Ok(None)
            }
            _ => {
                let Some((first, last_idx, mut joined)) = self.pending.take() else {
                    return Err(fragment_error(
                        "no first fragment (CONT_IDX 1) before it".into(),
                    ));
                };
                if first.idcode != header.idcode {
                    return Err(fragment_error(format!(
                        "belongs to IDCODE {}, not {}",
                        header.idcode, first.idcode
                    )));
                }
                if idx != LAST_FRAGMENT && idx != last_idx.wrapping_add(1) {
                    return Err(fragment_error(format!(
                        "expected CONT_IDX {} or 65535 after {last_idx}",
                        last_idx.wrapping_add(1)
                    )));
                }
                joined.extend_from_slice(body);
                if idx == LAST_FRAGMENT {
                    decode_body(first, &joined).map(Some)
                } else {
                    self.pending = Some((first, idx, joined));
                    Ok(None)
                }
            }
        }
    }
}
