//! A `Payload/Compressed` that inflates beyond the caller's limit is refused at that element.

use std::io::Write;

use base64::Engine as _;
use platone_cim::meter_readings::{Mode, parse_slice, parse_slice_limited};

fn compressed_message(inflated: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(inflated).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    format!(
        "<ResponseMessage><Header><Verb>reply</Verb><Noun>MeterReadings</Noun></Header>\
         <Payload><Compressed>{b64}</Compressed><Format>XML</Format></Payload></ResponseMessage>"
    )
}

#[test]
fn a_decompression_bomb_is_refused_at_the_limit() {
    // 4 MiB of XML whitespace inside a MeterReadings document compresses to a few KiB.
    let mut xml = b"<MeterReadings>".to_vec();
    xml.extend(std::iter::repeat_n(b' ', 4 << 20));
    xml.extend_from_slice(b"</MeterReadings>");
    let message = compressed_message(&xml);
    assert!(message.len() < 64 * 1024, "{}", message.len());

    let err = parse_slice_limited(message.as_bytes(), Mode::Lenient, 1 << 20).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("more than 1048576 bytes"), "{text}");
    assert!(text.contains("Compressed"), "{text}");

    // Within the limit, and with the default limit, it reads.
    assert!(parse_slice_limited(message.as_bytes(), Mode::Lenient, 8 << 20).is_ok());
    assert!(parse_slice(message.as_bytes(), Mode::Lenient).is_ok());
}
