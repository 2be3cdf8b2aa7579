//! IEC 61968-9 MeterReadings XML (any encoding, inside any message envelope), read whole and
//! as a stream, in both modes.
//!
//! Invariants: a document the reader accepts is written back and read again unchanged; the
//! stream reader yields the same `MeterReading`s as the whole-document reader; records and
//! their conversion to measurements never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platone_cim::meter_readings::{
    MeterReadingsStream, Mode, StreamItem, WriteOptions, parse_slice, parse_str, write_document,
};

fuzz_target!(|bytes: &[u8]| {
    for mode in [Mode::Strict, Mode::Lenient] {
        let whole = parse_slice(bytes, mode);
        if let Ok(parsed) = &whole {
            let doc = &parsed.document;
            for record in doc.records() {
                if let platone_cim::meter_readings::Record::Reading(r) = record {
                    let _ = r.to_measurement();
                }
            }
            for indent in [false, true] {
                let xml = write_document(
                    doc,
                    &WriteOptions {
                        envelope: None,
                        indent,
                    },
                );
                let back = match parse_str(&xml, Mode::Lenient) {
                    Ok(back) => back.document,
                    Err(e) => panic!("the writer's output does not read back: {e}\n{xml}"),
                };
                assert_eq!(&back, doc, "parse(write(doc)) != doc\n{xml}");
            }
        }

        let mut streamed = Vec::new();
        let mut stream_failed = false;
        for item in MeterReadingsStream::new(bytes, mode).take(100_000) {
            match item {
                Ok(StreamItem::MeterReading(mr)) => streamed.push(mr),
                Ok(_) => {}
                Err(_) => stream_failed = true,
            }
        }
        if let (Ok(parsed), false) = (&whole, stream_failed) {
            assert_eq!(
                streamed, parsed.document.meter_readings,
                "the stream and the whole-document reader disagree"
            );
        }
    }
});
