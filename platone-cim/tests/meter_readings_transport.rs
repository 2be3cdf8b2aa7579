//! How MeterReadings documents arrive: in encodings other than UTF-8 (ISO-8859-1, the Greek
//! ISO-8859-7, UTF-16 with a byte order mark), as an IEC 61968-100 `Payload/Compressed`
//! (base64 of gzip), and in chunks of any size (the stream and the whole-document reader see
//! the same events wherever the input is cut).

use std::io::{BufReader, Read};

use platone_cim::meter_readings::{
    MeterReadingsError, MeterReadingsStream, Mode, StreamItem, parse_slice, parse_str,
};
use proptest::prelude::*;

fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/meter_readings/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {path} is missing: {e}"))
}

fn fixture(name: &str) -> String {
    String::from_utf8(fixture_bytes(name)).unwrap()
}

/// Meter mRID and first name of every `MeterReading`, from the document reader and from the
/// stream (which must agree).
fn meters(bytes: &[u8]) -> Vec<(String, String)> {
    let parsed = parse_slice(bytes, Mode::Strict).unwrap();
    let from_doc: Vec<_> = parsed
        .document
        .meter_readings
        .iter()
        .map(|mr| {
            let meter = mr.meter.as_ref().unwrap();
            (meter.mrid.clone().unwrap(), meter.names[0].name.clone())
        })
        .collect();
    let streamed: Vec<_> = MeterReadingsStream::new(bytes, Mode::Strict)
        .filter_map(|item| match item.unwrap() {
            StreamItem::MeterReading(mr) => {
                let meter = mr.meter.unwrap();
                Some((meter.mrid.unwrap(), meter.names[0].name.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(streamed, from_doc);
    from_doc
}

#[test]
fn declared_single_byte_encodings_are_transcoded() {
    assert_eq!(
        meters(&fixture_bytes("enc-iso-8859-1.xml")),
        [("ZÄHLER-1".to_string(), "Zähler Süd".to_string())]
    );
    assert_eq!(
        meters(&fixture_bytes("enc-iso-8859-7.xml")),
        [("ΜΕΤΡΗΤΗΣ-1".to_string(), "Μετρητής Αθήνα".to_string())]
    );
}

#[test]
fn utf16_with_a_byte_order_mark_is_transcoded() {
    assert_eq!(
        meters(&fixture_bytes("enc-utf-16le-bom.xml")),
        [("MTR-16".to_string(), "Ωmega".to_string())]
    );
    // The same document in UTF-16BE, and without a mark, reads the same.
    let utf8 = fixture("quirks.xml");
    let expected = parse_str(&utf8, Mode::Lenient).unwrap().document;
    let be: Vec<u8> = std::iter::once('\u{FEFF}')
        .chain(utf8.chars())
        .collect::<String>()
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    assert_eq!(parse_slice(&be, Mode::Lenient).unwrap().document, expected);
    let le_unmarked: Vec<u8> = utf8.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(
        parse_slice(&le_unmarked, Mode::Lenient).unwrap().document,
        expected
    );
}

#[test]
fn bytes_not_valid_in_the_encoding_and_unknown_encodings_are_errors() {
    let mut bad = fixture_bytes("enc-utf-16le-bom.xml");
    let at = bad.len() - 20;
    bad[at] = 0x00;
    bad[at + 1] = 0xDC; // a lone low surrogate
    let err = parse_slice(&bad, Mode::Lenient).unwrap_err();
    let MeterReadingsError::Xml { location, message } = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("UTF-16LE"), "{message}");
    assert_eq!(location.offset, at as u64);
    let streamed: Vec<_> = MeterReadingsStream::new(&bad[..], Mode::Lenient).collect();
    assert!(streamed.last().unwrap().is_err(), "{streamed:?}");

    let unknown = b"<?xml version=\"1.0\" encoding=\"x-klingon\"?><MeterReadings/>";
    let err = parse_slice(unknown, Mode::Lenient).unwrap_err();
    assert!(
        err.to_string().contains("`x-klingon` is not supported"),
        "{err}"
    );
    let first = MeterReadingsStream::new(&unknown[..], Mode::Lenient)
        .next()
        .unwrap();
    assert!(first.unwrap_err().to_string().contains("x-klingon"));
    // Bytes that are not UTF-8 in a document that says nothing else stay an error.
    let err = parse_slice(b"<MeterReadings>\xe9</MeterReadings>", Mode::Lenient).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}

#[test]
fn a_compressed_payload_is_decompressed_and_read() {
    let xml = fixture("compressed-event-message.xml");
    let plain = parse_str(&fixture("ns-2011.xml"), Mode::Strict)
        .unwrap()
        .document;
    let parsed = parse_str(&xml, Mode::Strict).unwrap();
    assert_eq!(parsed.document.meter_readings, plain.meter_readings);
    assert_eq!(parsed.payload_format.as_deref(), Some("XML"));
    let envelope = parsed.document.envelope.unwrap();
    assert_eq!(envelope.header.verb, "created");
    assert_eq!(
        envelope.header.message_id.as_deref(),
        Some("8f1c2a5e-compressed")
    );

    let mut stream = MeterReadingsStream::new(xml.as_bytes(), Mode::Strict);
    let items: Vec<_> = stream.by_ref().map(Result::unwrap).collect();
    assert!(matches!(items[0], StreamItem::Header { .. }));
    assert!(matches!(&items[1], StreamItem::MeterReading(mr) if mr.meter_id() == Some("MTR-1")));
    assert_eq!(stream.payload_format(), Some("XML"));
    assert_eq!(stream.envelope().unwrap().header.noun, "MeterReadings");
}

#[test]
fn problems_inside_a_compressed_payload_are_reported_under_its_path() {
    use std::io::Write;
    let inner = fixture("quirks.xml");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(inner.as_bytes()).unwrap();
    let b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        gz.finish().unwrap(),
    );
    let message = format!(
        "<ResponseMessage><Header><Verb>reply</Verb><Noun>MeterReadings</Noun></Header>\
         <Reply><Result>OK</Result></Reply><Payload><Compressed>{b64}</Compressed></Payload>\
         </ResponseMessage>"
    );
    let lenient = parse_str(&message, Mode::Lenient).unwrap();
    let direct = parse_str(&inner, Mode::Lenient).unwrap();
    assert_eq!(
        lenient.document.meter_readings,
        direct.document.meter_readings
    );
    assert_eq!(lenient.warnings.len(), direct.warnings.len());
    assert!(
        lenient.warnings[0]
            .location
            .path
            .starts_with("/ResponseMessage/Payload/Compressed/MeterReadings/"),
        "{}",
        lenient.warnings[0]
    );
    let err = parse_str(&message, Mode::Strict).unwrap_err();
    assert!(
        err.location()
            .unwrap()
            .path
            .starts_with("/ResponseMessage/Payload/Compressed/MeterReadings/"),
        "{err}"
    );

    let junk = "<EventMessage><Header><Verb>created</Verb><Noun>MeterReadings</Noun></Header>\
                <Payload><Compressed>H4sI-not-gzip</Compressed></Payload></EventMessage>";
    let err = parse_str(junk, Mode::Lenient).unwrap_err();
    assert!(err.to_string().contains("Compressed"), "{err}");
}

/// A `BufRead` over `bytes` whose reads return at most `chunk` bytes.
fn chunked(bytes: &[u8], chunk: usize) -> BufReader<impl Read + '_> {
    struct Chunks<'a>(&'a [u8], usize);
    impl Read for Chunks<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(out.len()).min(self.1);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    BufReader::with_capacity(chunk, Chunks(bytes, chunk))
}

fn stream_items(reader: impl std::io::BufRead, mode: Mode) -> Vec<String> {
    MeterReadingsStream::new(reader, mode)
        .take(1_000)
        .map(|item| format!("{item:?}"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Wherever the input is cut into chunks, the stream yields exactly what it yields over
    /// the whole input, for intact, truncated and mangled documents alike.
    #[test]
    fn chunk_boundaries_change_nothing(
        which in 0usize..4,
        chunk in 1usize..64,
        cut in 0usize..6000,
        flip in proptest::option::of((0usize..6000, any::<u8>())),
        lenient in any::<bool>(),
    ) {
        let names = [
            "quirks.xml",
            "event-message.xml",
            "enc-iso-8859-7.xml",
            "compressed-event-message.xml",
        ];
        let name = names[which];
        let mut bytes = fixture_bytes(name);
        if let Some((at, byte)) = flip {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        bytes.truncate(cut.max(1).min(bytes.len()));
        let mode = if lenient { Mode::Lenient } else { Mode::Strict };
        let whole = stream_items(&bytes[..], mode);
        prop_assert_eq!(stream_items(chunked(&bytes, chunk), mode), whole);
    }
}
