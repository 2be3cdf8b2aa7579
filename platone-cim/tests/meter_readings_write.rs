//! Writing: schema order, envelopes, `parse(write(doc)) == doc`, documents from records and
//! measurements, and no panic on arbitrary bytes.

use platone_cim::meter_readings::{
    CimDateTime, DateTimeInterval, EndDeviceEvent, EndDeviceEventDetail, Envelope, Header,
    IntervalBlock, IntervalReading, MessageKind, Meter, MeterReading, MeterReadingsDocument,
    MeterReadingsStream, Mode, Name, NameType, NameTypeAuthority, Property, Reading,
    ReadingQuality, ReadingTypeDefinition, ReadingValue, Record, RecordInput, Reply, ReplyError,
    Status, UsagePoint, WriteOptions, document_from_records, measurements_to_document, parse_slice,
    parse_str, write_document,
};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/meter_readings/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path} is missing: {e}"))
}

#[test]
fn every_fixture_round_trips_through_the_writer() {
    for name in [
        "seed-figure1.xml",
        "quirks.xml",
        "event-message.xml",
        "response-message.xml",
        "request-message.xml",
        "fault-message.xml",
        "soap11-created.xml",
        "soap12-response.xml",
        "edition1-2009.xml",
        "ns-none.xml",
    ] {
        let doc = parse_str(&fixture(name), Mode::Lenient).unwrap().document;
        for indent in [false, true] {
            let options = WriteOptions {
                envelope: None,
                indent,
            };
            let xml = write_document(&doc, &options);
            let back = parse_str(&xml, Mode::Lenient).unwrap().document;
            assert_eq!(back, doc, "{name}\n{xml}");
        }
    }
}

#[test]
fn output_is_in_2013_schema_order() {
    let doc = parse_str(&fixture("quirks.xml"), Mode::Lenient)
        .unwrap()
        .document;
    let xml = write_document(&doc, &WriteOptions::default());
    let order = |needles: &[&str]| {
        let positions: Vec<usize> = needles.iter().map(|n| xml.find(n).unwrap()).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "{needles:?}\n{xml}"
        );
    };
    assert!(xml.contains("<MeterReadings xmlns=\"http://iec.ch/TC57/2011/MeterReadings#\">"));
    order(&[
        "<EndDeviceEventType>",
        "<MeterReading>",
        "<ReadingQualityType>",
        "<ReadingType><mRID>",
    ]);
    order(&[
        "<EndDeviceEvents>",
        "<IntervalBlocks>",
        "<Meter>",
        "<Readings>",
        "<UsagePoint>",
        "<valuesInterval>",
    ]);
    order(&[
        "<Readings><timeStamp>",
        "<value>1,21716</value>",
        "<ReadingType ref=\"0.0.0.1",
    ]);
    order(&[
        "<IntervalReadings>",
        "<PendingCalculation>",
        "<ReadingType ref=\"0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0\"/></IntervalBlocks>",
    ]);
}

#[test]
fn event_message_envelope_with_verb_created() {
    let doc = parse_str(&fixture("ns-2011.xml"), Mode::Strict)
        .unwrap()
        .document;
    let xml = write_document(&doc, &WriteOptions::event_message());
    assert!(xml.contains("<EventMessage xmlns=\"http://iec.ch/TC57/2011/schema/message\">"));
    let back = parse_str(&xml, Mode::Strict).unwrap().document;
    let envelope = back.envelope.as_ref().unwrap();
    assert_eq!(envelope.kind, MessageKind::Event);
    assert_eq!(envelope.header.verb, "created");
    assert_eq!(envelope.header.noun, "MeterReadings");
    assert_eq!(back.meter_readings, doc.meter_readings);
}

#[test]
fn documents_from_records_and_measurements() {
    let doc = parse_str(&fixture("quirks.xml"), Mode::Lenient)
        .unwrap()
        .document;
    let lines: Vec<String> = doc
        .records()
        .map(|r| serde_json::to_string(&r).unwrap())
        .collect();
    let inputs: Vec<RecordInput> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rebuilt = document_from_records(inputs).unwrap();
    let again: Vec<String> = rebuilt
        .records()
        .map(|r| serde_json::to_string(&r).unwrap())
        .collect();
    assert_eq!(again, lines);

    let generated = platone_cim::meter_readings::generate::dump_document(3);
    let generated = parse_str(&generated, Mode::Strict).unwrap().document;
    let measurements: Vec<_> = generated
        .measurements()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let written = measurements_to_document(&measurements);
    assert_eq!(written.meter_readings.len(), 3);
    let xml = write_document(&written, &WriteOptions::event_message());
    let back = parse_str(&xml, Mode::Strict).unwrap().document;
    let again: Vec<_> = back
        .measurements()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(again.len(), measurements.len());
    for (a, b) in measurements.iter().zip(&again) {
        assert!(a.same_datum_value(b), "{a:?}\n{b:?}");
        assert_eq!(a.usage_point, b.usage_point);
        assert_eq!(a.channel, b.channel);
    }
}

// ---- property tests -------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ._:-]{0,12}",
        "[<>&\"' \\t\\n\\r\\u{e9}\\u{20ac}a-z]{0,10}",
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn date_time() -> impl Strategy<Value = CimDateTime> {
    prop_oneof![
        (
            2000i32..2030,
            1u32..13,
            1u32..29,
            0u32..24,
            0u32..60,
            0u32..1_000_000_000,
            0usize..10,
            -14i32..15,
            any::<bool>()
        )
            .prop_map(|(y, mo, d, h, mi, nanos, digits, off, zulu)| {
                let frac = if digits == 0 {
                    String::new()
                } else {
                    format!(".{:09}", nanos)[..digits + 1].to_string()
                };
                let offset = if zulu {
                    "Z".to_string()
                } else {
                    format!(
                        "{}{:02}:00",
                        if off < 0 { '-' } else { '+' },
                        off.abs().max(1)
                    )
                };
                CimDateTime::parse(&format!(
                    "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00{frac}{offset}"
                ))
            }),
        text().prop_map(|t| CimDateTime::parse(&t)),
    ]
}

fn value() -> impl Strategy<Value = ReadingValue> {
    prop_oneof![
        Just(ReadingValue::missing()),
        any::<f64>().prop_map(ReadingValue::from_number),
        text().prop_map(|t| ReadingValue::from_raw(&t)),
        "[0-9]{1,5},[0-9]{1,5}".prop_map(|t| ReadingValue::from_raw(&t)),
    ]
}

fn names() -> impl Strategy<Value = Vec<Name>> {
    proptest::collection::vec(
        (
            text(),
            proptest::option::of((
                opt_text(),
                text(),
                proptest::option::of((opt_text(), text())),
            )),
        )
            .prop_map(|(name, nt)| Name {
                name,
                name_type: nt.map(|(description, name, auth)| NameType {
                    description,
                    name,
                    authority: auth
                        .map(|(description, name)| NameTypeAuthority { description, name }),
                }),
            }),
        0..2,
    )
}

fn quality() -> impl Strategy<Value = ReadingQuality> {
    (
        opt_text(),
        opt_text(),
        proptest::option::of(date_time()),
        opt_text(),
    )
        .prop_map(
            |(comment, source, time_stamp, reading_quality_type)| ReadingQuality {
                comment,
                source,
                time_stamp,
                reading_quality_type,
            },
        )
}

fn interval() -> impl Strategy<Value = Option<DateTimeInterval>> {
    proptest::option::of(
        (
            proptest::option::of(date_time()),
            proptest::option::of(date_time()),
        )
            .prop_map(|(end, start)| DateTimeInterval { end, start }),
    )
}

fn reading() -> impl Strategy<Value = Reading> {
    (
        opt_text(),
        proptest::option::of(date_time()),
        opt_text(),
        proptest::option::of(date_time()),
        value(),
        proptest::collection::vec(quality(), 0..2),
        opt_text(),
        interval(),
    )
        .prop_map(
            |(
                reason,
                reported_date_time,
                source,
                time_stamp,
                value,
                qualities,
                reading_type,
                time_period,
            )| {
                Reading {
                    reason,
                    reported_date_time,
                    source,
                    time_stamp,
                    value,
                    qualities,
                    reading_type,
                    time_period,
                }
            },
        )
}

fn block() -> impl Strategy<Value = IntervalBlock> {
    (
        proptest::collection::vec(
            (
                proptest::option::of(date_time()),
                value(),
                proptest::collection::vec(quality(), 0..2),
                interval(),
            )
                .prop_map(|(time_stamp, value, qualities, time_period)| {
                    IntervalReading {
                        reported_date_time: None,
                        source: None,
                        time_stamp,
                        value,
                        qualities,
                        time_period,
                    }
                }),
            0..4,
        ),
        opt_text(),
    )
        .prop_map(|(interval_readings, reading_type)| IntervalBlock {
            interval_readings,
            pending_calculation: None,
            reading_type,
        })
}

fn event() -> impl Strategy<Value = EndDeviceEvent> {
    (
        opt_text(),
        proptest::option::of(date_time()),
        opt_text(),
        proptest::collection::vec(
            (text(), opt_text()).prop_map(|(name, value)| EndDeviceEventDetail { name, value }),
            0..2,
        ),
        names(),
        proptest::option::of((proptest::option::of(date_time()), opt_text()).prop_map(
            |(date_time, value)| Status {
                date_time,
                reason: None,
                remark: None,
                value,
            },
        )),
    )
        .prop_map(
            |(mrid, created_date_time, event_type, details, names, status)| EndDeviceEvent {
                mrid,
                created_date_time,
                event_type,
                details,
                names,
                status,
                ..EndDeviceEvent::default()
            },
        )
}

fn meter_reading() -> impl Strategy<Value = MeterReading> {
    (
        proptest::collection::vec(event(), 0..2),
        proptest::collection::vec(block(), 0..2),
        proptest::option::of((opt_text(), opt_text(), names()).prop_map(
            |(mrid, serial_number, names)| Meter {
                mrid,
                serial_number,
                names,
                status: None,
            },
        )),
        proptest::collection::vec(reading(), 0..4),
        proptest::option::of(
            (opt_text(), names()).prop_map(|(mrid, names)| UsagePoint { mrid, names }),
        ),
        interval(),
    )
        .prop_map(
            |(
                end_device_events,
                interval_blocks,
                meter,
                readings,
                usage_point,
                values_interval,
            )| MeterReading {
                is_coincident_trigger: None,
                end_device_events,
                interval_blocks,
                meter,
                readings,
                usage_point,
                values_interval,
            },
        )
}

fn envelope() -> impl Strategy<Value = Option<Envelope>> {
    proptest::option::of(
        (
            prop_oneof![
                Just(MessageKind::Event),
                Just(MessageKind::Request),
                Just(MessageKind::Response),
                Just(MessageKind::Fault)
            ],
            text(),
            text(),
            proptest::option::of(date_time()),
            opt_text(),
            proptest::collection::vec(
                (text(), opt_text()).prop_map(|(name, value)| Property { name, value }),
                0..2,
            ),
            proptest::option::of(
                (
                    text(),
                    proptest::collection::vec(
                        (text(), opt_text()).prop_map(|(code, reason)| ReplyError {
                            code,
                            level: None,
                            reason,
                            details: None,
                        }),
                        0..2,
                    ),
                )
                    .prop_map(|(result, errors)| Reply { result, errors }),
            ),
        )
            .prop_map(
                |(kind, verb, noun, timestamp, message_id, properties, reply)| Envelope {
                    kind,
                    header: Header {
                        verb,
                        noun,
                        timestamp,
                        message_id,
                        properties,
                        ..Header::default()
                    },
                    reply,
                },
            ),
    )
}

fn document() -> impl Strategy<Value = MeterReadingsDocument> {
    (
        envelope(),
        proptest::collection::vec(meter_reading(), 0..3),
        proptest::collection::vec(
            (opt_text(), opt_text(), opt_text(), names()).prop_map(
                |(mrid, unit, multiplier, names)| ReadingTypeDefinition {
                    mrid,
                    unit,
                    multiplier,
                    names,
                    ..ReadingTypeDefinition::default()
                },
            ),
            0..2,
        ),
    )
        .prop_map(
            |(envelope, meter_readings, reading_types)| MeterReadingsDocument {
                envelope,
                meter_readings,
                reading_types,
                ..MeterReadingsDocument::default()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn parse_of_write_gives_the_document_back(doc in document(), indent in any::<bool>()) {
        let xml = write_document(&doc, &WriteOptions { envelope: None, indent });
        let back = parse_str(&xml, Mode::Lenient).unwrap().document;
        prop_assert_eq!(&back, &doc);
        let streamed: Vec<MeterReading> = MeterReadingsStream::new(xml.as_bytes(), Mode::Lenient)
            .filter_map(|item| match item.unwrap() {
                platone_cim::meter_readings::StreamItem::MeterReading(mr) => Some(mr),
                _ => None,
            })
            .collect();
        prop_assert_eq!(&streamed, &doc.meter_readings);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for mode in [Mode::Strict, Mode::Lenient] {
            if let Ok(parsed) = parse_slice(&bytes, mode) {
                for r in parsed.document.records() {
                    serde_json::to_string(&r).unwrap();
                }
            }
            for item in MeterReadingsStream::new(&bytes[..], mode).records().take(10_000) {
                if let Ok(Record::Reading(r)) = item {
                    let _ = r.to_measurement();
                }
            }
        }
    }

    #[test]
    fn mangled_documents_never_panic(
        cut in 0usize..4000,
        flip in 0usize..4000,
        byte in any::<u8>(),
    ) {
        let mut bytes = fixture("quirks.xml").into_bytes();
        let at = flip % bytes.len();
        bytes[at] = byte;
        bytes.truncate(cut.max(1).min(bytes.len()));
        for mode in [Mode::Strict, Mode::Lenient] {
            let _ = parse_slice(&bytes, mode);
            let _ = MeterReadingsStream::new(&bytes[..], mode).take(10_000).count();
        }
    }
}
