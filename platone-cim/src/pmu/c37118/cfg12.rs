//! CFG-1 and CFG-2 frames: fixed 16-byte names, PHUNIT/ANUNIT/DIGUNIT.

use super::config::{
    AnalogChannel, ConfigFrame, DataFormat, DigitalChannel, PhasorChannel, PhasorKind, PmuConfig,
};
use super::frame::{FrameHeader, HEADER_SIZE, finish_frame, start_frame};
use super::reader::Reader;
use super::time::TimeBase;
use crate::pmu::PmuError;

/// A 16-byte name field without its padding (spaces or NULs).
pub(crate) fn fixed_name(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |i| i + 1);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn write_fixed_name(out: &mut Vec<u8>, name: &str, field: &str) -> Result<(), PmuError> {
    let bytes = name.as_bytes();
    if bytes.len() > 16 {
        return Err(PmuError::Encode {
            field: field.to_string(),
            reason: format!("name {name:?} is longer than 16 bytes"),
        });
    }
    out.extend_from_slice(bytes);
    out.extend(std::iter::repeat_n(b' ', 16 - bytes.len()));
    Ok(())
}

/// Decodes a checked CFG-1 or CFG-2 frame (`frame` is exactly FRAMESIZE bytes).
/// Writes PHNMR, ANNMR and DGNMR and then every phasor, analog and digital channel name of PMU
/// block `i`, as CFG-1/2 and CFG-3 both lay them out; `write_name` is the frame type's name
/// encoding (16 fixed bytes, or length-prefixed UTF-8).
pub(crate) fn write_channel_counts_and_names(
    out: &mut Vec<u8>,
    pmu: &PmuConfig,
    i: usize,
    write_name: fn(&mut Vec<u8>, &str, &str) -> Result<(), PmuError>,
) -> Result<(), PmuError> {
    for n in [pmu.phasors.len(), pmu.analogs.len(), pmu.digitals.len()] {
        let n = u16::try_from(n).map_err(|_| PmuError::Encode {
            field: format!("pmus[{i}] channel count"),
            reason: "over 65535".into(),
        })?;
        out.extend_from_slice(&n.to_be_bytes());
    }
    for p in &pmu.phasors {
        write_name(out, &p.name, "phasor name")?;
    }
    for a in &pmu.analogs {
        write_name(out, &a.name, "analog name")?;
    }
    for d in &pmu.digitals {
        for k in 0..16 {
            write_name(
                out,
                d.names.get(k).map_or("", String::as_str),
                "digital name",
            )?;
        }
    }
    Ok(())
}

pub(crate) fn decode(header: FrameHeader, frame: &[u8]) -> Result<ConfigFrame, PmuError> {
    let body = &frame[HEADER_SIZE..frame.len() - 2];
    let mut r = Reader::new(body, HEADER_SIZE);
    let time_base = TimeBase(r.u32("TIME_BASE")?);
    let num_pmu = r.u16("NUM_PMU")?;
    let mut pmus = Vec::with_capacity(usize::from(num_pmu).min(256));
    for _ in 0..num_pmu {
        let station = fixed_name(r.bytes(16, "STN")?);
        let idcode = r.u16("IDCODE")?;
        let format = DataFormat(r.u16("FORMAT")?);
        let phnmr = usize::from(r.u16("PHNMR")?);
        let annmr = usize::from(r.u16("ANNMR")?);
        let dgnmr = usize::from(r.u16("DGNMR")?);
        let names_len = 16 * (phnmr + annmr + 16 * dgnmr);
        if names_len + 4 * (phnmr + annmr + dgnmr) > r.remaining() {
            return Err(PmuError::Truncated {
                offset: r.offset(),
                field: "CHNAM/PHUNIT/ANUNIT/DIGUNIT",
                needed: names_len + 4 * (phnmr + annmr + dgnmr),
                available: r.remaining(),
            });
        }
        let mut phasor_names = Vec::with_capacity(phnmr);
        for _ in 0..phnmr {
            phasor_names.push(fixed_name(r.bytes(16, "CHNAM")?));
        }
        let mut analog_names = Vec::with_capacity(annmr);
        for _ in 0..annmr {
            analog_names.push(fixed_name(r.bytes(16, "CHNAM")?));
        }
        let mut digital_names = Vec::with_capacity(dgnmr);
        for _ in 0..dgnmr {
            let mut names = Vec::with_capacity(16);
            for _ in 0..16 {
                names.push(fixed_name(r.bytes(16, "CHNAM")?));
            }
            digital_names.push(names);
        }
        let mut phasors = Vec::with_capacity(phnmr);
        for name in phasor_names {
            let at = r.offset();
            let unit = r.u32("PHUNIT")?;
            let kind = match unit >> 24 {
                0 => PhasorKind::Voltage,
                1 => PhasorKind::Current,
                other => {
                    return Err(PmuError::invalid(
                        at,
                        "PHUNIT",
                        format!("type byte {other} is neither 0 (voltage) nor 1 (current)"),
                    ));
                }
            };
            phasors.push(PhasorChannel {
                name,
                kind,
                unit_scale: unit & 0x00FF_FFFF,
                scale: None,
            });
        }
        let mut analogs = Vec::with_capacity(annmr);
        for name in analog_names {
            let unit = r.u32("ANUNIT")?;
            // Low 24 bits as a signed integer.
            let scale = ((unit << 8) as i32) >> 8;
            analogs.push(AnalogChannel {
                name,
                analog_kind: (unit >> 24) as u8,
                unit_scale: scale,
                scale: None,
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
            cfg3: None,
        });
    }
    let data_rate = r.i16("DATA_RATE")?;
    if r.remaining() != 0 {
        return Err(PmuError::invalid(
            r.offset(),
            "DATA_RATE",
            format!("{} unexpected byte(s) before CHK", r.remaining()),
        ));
    }
    Ok(ConfigFrame {
        header,
        time_base,
        pmus,
        data_rate,
    })
}

/// Encodes a CFG-1 or CFG-2 frame (the kind and version come from `config.header`).
pub(crate) fn encode(config: &ConfigFrame, out: &mut Vec<u8>) -> Result<(), PmuError> {
    let start = start_frame(config.header, out);
    out.extend_from_slice(&config.time_base.0.to_be_bytes());
    let num_pmu = u16::try_from(config.pmus.len()).map_err(|_| PmuError::Encode {
        field: "NUM_PMU".into(),
        reason: "more than 65535 PMU blocks".into(),
    })?;
    out.extend_from_slice(&num_pmu.to_be_bytes());
    for (i, pmu) in config.pmus.iter().enumerate() {
        write_fixed_name(out, &pmu.station, &format!("pmus[{i}].station"))?;
        out.extend_from_slice(&pmu.idcode.to_be_bytes());
        out.extend_from_slice(&pmu.format.0.to_be_bytes());
        write_channel_counts_and_names(out, pmu, i, write_fixed_name)?;
        for p in &pmu.phasors {
            let kind = match p.kind {
                PhasorKind::Voltage => 0u32,
                PhasorKind::Current => 1u32,
            };
            out.extend_from_slice(&((kind << 24) | (p.unit_scale & 0x00FF_FFFF)).to_be_bytes());
        }
        for a in &pmu.analogs {
            let word = (u32::from(a.analog_kind) << 24) | ((a.unit_scale as u32) & 0x00FF_FFFF);
            out.extend_from_slice(&word.to_be_bytes());
        }
        for d in &pmu.digitals {
            out.extend_from_slice(&d.normal.to_be_bytes());
            out.extend_from_slice(&d.valid.to_be_bytes());
        }
        out.extend_from_slice(&pmu.fnom.to_be_bytes());
        out.extend_from_slice(&pmu.cfgcnt.to_be_bytes());
    }
    out.extend_from_slice(&config.data_rate.to_be_bytes());
    finish_frame(out, start)
}
