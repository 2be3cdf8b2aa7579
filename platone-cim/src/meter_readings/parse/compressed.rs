//! IEC 61968-100 `Payload/Compressed`: a payload carried as base64 text of its gzip
//! (RFC 1952) compression, as the standard says; zlib, raw deflate and uncompressed base64
//! are accepted too, since producers differ.

use std::io::Read;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The largest decompressed payload accepted (a guard against decompression bombs).
pub(crate) const MAX_PAYLOAD: u64 = 1 << 31;

const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn looks_like_xml(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    match start.and_then(|i| bytes.get(i..)) {
        Some(rest) => {
            rest.starts_with(b"<")
                || rest.starts_with(b"\xEF\xBB\xBF")
                || rest.starts_with(b"\xFF\xFE")
                || rest.starts_with(b"\xFE\xFF")
        }
        None => false,
    }
}

fn inflate(reader: impl Read, limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the Compressed payload does not decompress: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!(
            "the Compressed payload decompresses to more than {limit} bytes"
        ));
    }
    Ok(out)
}

/// The payload inside the text of a `Compressed` element.
pub(crate) fn decompress(text: &str, limit: u64) -> Result<Vec<u8>, String> {
    let cleaned: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if cleaned.is_empty() {
        return Err("the Compressed payload is empty".into());
    }
    let raw = BASE64
        .decode(&cleaned)
        .map_err(|e| format!("the Compressed payload is not base64: {e}"))?;
    let out = match raw.get(..2) {
        Some([0x1f, 0x8b]) => inflate(flate2::read::MultiGzDecoder::new(&raw[..]), limit)?,
        Some([0x78, second]) if (0x7800u16 | u16::from(*second)).is_multiple_of(31) => {
            inflate(flate2::read::ZlibDecoder::new(&raw[..]), limit)?
        }
        _ if looks_like_xml(&raw) => raw,
        _ => inflate(flate2::read::DeflateDecoder::new(&raw[..]), limit)?,
    };
    if !looks_like_xml(&out) {
        return Err("the Compressed payload is not an XML document".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_zlib_deflate_and_plain_payloads_decode() {
        let xml = b"<MeterReadings/>";
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        assert_eq!(decompress(&b64(&gzip(xml)), MAX_PAYLOAD).unwrap(), xml);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(xml).unwrap();
        assert_eq!(
            decompress(&b64(&z.finish().unwrap()), MAX_PAYLOAD).unwrap(),
            xml
        );
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        d.write_all(xml).unwrap();
        assert_eq!(
            decompress(&b64(&d.finish().unwrap()), MAX_PAYLOAD).unwrap(),
            xml
        );
        // Line-wrapped, unpadded base64 of the plain document.
        let wrapped = b64(xml).trim_end_matches('=').replace("Rl", "Rl\n  ");
        assert_eq!(decompress(&wrapped, MAX_PAYLOAD).unwrap(), xml);
    }

    #[test]
    fn junk_and_bombs_are_errors() {
        assert!(decompress("", MAX_PAYLOAD).is_err());
        assert!(decompress("not base64!", MAX_PAYLOAD).is_err());
        let b64 = base64::engine::general_purpose::STANDARD.encode(b"\x00\x01binary");
        assert!(decompress(&b64, MAX_PAYLOAD).is_err());
        let big = gzip(&[b' '; 10_000]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(big);
        let err = decompress(&b64, 1_000).unwrap_err();
        assert!(err.contains("more than 1000 bytes"), "{err}");
    }
}
