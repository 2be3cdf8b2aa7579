//! Reading MeterReadings documents: the seed example, every namespace and envelope variant,
//! the quirks of real producers in lenient and strict mode, errors with their locations, and
//! the lenient stream going on after a bad MeterReading.

use platone_cim::meter_readings::{
    MessageKind, MeterReadingsError, MeterReadingsStream, Mode, Record, StreamItem, parse_slice,
    parse_str,
};
use platone_model::{
    Accumulation, Aggregate, FlowDirection, MeasurementKind, PhaseSet, QualityFlag, Unit,
};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/meter_readings/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path} is missing: {e}"))
}

fn seed_from_report() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/seeds/D2.9-interoperability-and-communication-protocols.txt"
    );
    let report = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the D2.9 report is missing at {path}: {e}"));
    let start = report
        .find("<mr:MeterReadings")
        .expect("Figure 1 is in the report");
    let end = report[start..].find("</mr:MeterReadings>").unwrap() + start;
    report[start..end + "</mr:MeterReadings>".len()].to_string()
}

fn readings(
    records: impl Iterator<Item = Record>,
) -> Vec<platone_cim::meter_readings::ReadingRecord> {
    records
        .filter_map(|r| match r {
            Record::Reading(r) => Some(r),
            Record::Event(_) => None,
        })
        .collect()
}

#[test]
fn seed_example_decodes_in_lenient_mode() {
    let xml = seed_from_report();
    assert_eq!(xml, fixture("seed-figure1.xml").trim_end());
    let parsed = parse_str(&xml, Mode::Lenient).unwrap();
    // One warning per distinct 19-field code.
    assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
    assert!(parsed.warnings[0].message.contains("19 fields"));
    let rs = readings(parsed.document.records());
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].meter.as_deref(), Some("11111111"));
    assert_eq!(rs[0].usage_point.as_deref(), Some("111111"));
    let m = rs[0].to_measurement().unwrap();
    assert_eq!(m.kind, MeasurementKind::Energy);
    assert_eq!(m.unit, Unit::WattHour);
    assert_eq!(m.multiplier.prefix(), Some("k"));
    assert_eq!(m.phases, PhaseSet::ABC);
    assert_eq!(m.direction, FlowDirection::Forward);
    assert_eq!(m.aggregate, Aggregate::Sum);
    assert_eq!(m.value, 11.04);
    assert_eq!(
        platone_model::format_timestamp(&m.timestamp),
        "2019-09-13T15:30:00+03:00"
    );
    assert_eq!(
        m.channel.as_deref(),
        Some("0.26.0.0.1.1.12.0.0.0.0.0.0.0.224.3.72.0")
    );
    let reactive = rs[1].to_measurement().unwrap();
    assert_eq!(reactive.unit, Unit::VarHour);
    assert_ne!(m.series_key(), reactive.series_key());
    // The code as written is kept.
    assert_eq!(
        rs[0].reading_type.as_deref(),
        Some("0.26.0.0.1.1.12.0.0.0.0.0.0.0.0.224.3.72.0")
    );
}

#[test]
fn seed_example_is_an_error_in_strict_mode_with_its_location() {
    let xml = seed_from_report();
    let err = parse_str(&xml, Mode::Strict).unwrap_err();
    let MeterReadingsError::Invalid { location, message } = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("19 fields"), "{message}");
    assert_eq!(location.line, 17);
    assert_eq!(location.column, 7);
    assert_eq!(
        location.path,
        "/mr:MeterReadings/mr:MeterReading/mr:Readings/mr:ReadingType".replace("mr:", "")
    );
    assert_eq!(&xml[location.offset as usize..][..15], "<mr:ReadingType");
    assert!(err.to_string().starts_with("17:7: "), "{err}");
}

#[test]
fn every_namespace_variant_reads_the_same() {
    let expected = parse_str(&fixture("ns-2011.xml"), Mode::Strict)
        .unwrap()
        .document;
    assert_eq!(expected.reading_count(), 1);
    for name in [
        "ns-2009.xml",
        "ns-www-iec-2008.xml",
        "ns-project-renamed.xml",
        "ns-none.xml",
    ] {
        let doc = parse_str(&fixture(name), Mode::Strict).unwrap().document;
        assert_eq!(doc, expected, "{name}");
    }
}

#[test]
fn every_envelope_gives_the_payload_and_the_header() {
    let payload = parse_str(&fixture("ns-2011.xml"), Mode::Strict)
        .unwrap()
        .document
        .meter_readings;
    for (name, kind, verb) in [
        ("event-message.xml", MessageKind::Event, "created"),
        ("response-message.xml", MessageKind::Response, "reply"),
        ("request-message.xml", MessageKind::Request, "create"),
        ("soap11-created.xml", MessageKind::Event, "created"),
        ("soap12-response.xml", MessageKind::Response, "reply"),
    ] {
        let doc = parse_str(&fixture(name), Mode::Strict).unwrap().document;
        assert_eq!(doc.meter_readings, payload, "{name}");
        let envelope = doc.envelope.as_ref().unwrap();
        assert_eq!(envelope.kind, kind, "{name}");
        assert_eq!(envelope.header.verb, verb, "{name}");
        assert_eq!(envelope.header.noun, "MeterReadings", "{name}");
    }
    let event = parse_str(&fixture("event-message.xml"), Mode::Strict)
        .unwrap()
        .document;
    let h = &event.envelope.unwrap().header;
    assert_eq!(h.source.as_deref(), Some("HEDNO-DSO-DataServer"));
    assert_eq!(h.correlation_id.as_deref(), Some("corr-42"));
    assert_eq!(h.user_id.as_deref(), Some("bal"));
    assert_eq!(h.properties[0].name, "batch");
    assert_eq!(
        h.timestamp.as_ref().unwrap().to_string(),
        "2020-10-01T00:16:02.1234567+03:00"
    );
    let response = parse_str(&fixture("response-message.xml"), Mode::Strict)
        .unwrap()
        .document;
    let reply = response.envelope.unwrap().reply.unwrap();
    assert_eq!(reply.result, "PARTIAL");
    assert_eq!(reply.errors[0].details.as_deref(), Some("MTR-2"));
    let soap = parse_str(&fixture("soap11-created.xml"), Mode::Strict)
        .unwrap()
        .document;
    assert_eq!(
        soap.envelope.unwrap().header.message_id.as_deref(),
        Some("soap-1")
    );
    let fault = parse_str(&fixture("fault-message.xml"), Mode::Strict)
        .unwrap()
        .document;
    assert!(fault.meter_readings.is_empty());
    let envelope = fault.envelope.unwrap();
    assert_eq!(envelope.kind, MessageKind::Fault);
    assert_eq!(envelope.reply.unwrap().result, "FAILED");
}

#[test]
fn lenient_mode_reads_what_real_producers_send() {
    let xml = fixture("quirks.xml");
    let parsed = parse_str(&xml, Mode::Lenient).unwrap();
    let messages: Vec<&str> = parsed.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(messages[0].contains("decimal comma"));
    assert!(messages[1].contains("`ERR` is not a finite number"));
    assert!(messages[2].contains("no usable code (`?`)"));
    assert!(messages[3].contains("value is empty"));
    let doc = &parsed.document;
    let mr = &doc.meter_readings[0];
    assert_eq!(mr.meter_id(), Some("11111111"));
    assert_eq!(mr.usage_point_id(), Some("UP-9"));
    assert_eq!(mr.readings[0].value.number(), Some(1.21716));
    assert_eq!(mr.readings[0].value.raw(), Some("1,21716"));
    assert_eq!(
        mr.readings[0].time_stamp.as_ref().unwrap().to_string(),
        "2020-10-01T00:15:00.1234567+03:00"
    );
    assert!(mr.readings[0].time_period.is_some());
    assert_eq!(mr.readings[1].value.number(), None);
    assert_eq!(mr.readings[1].value.raw(), Some("ERR"));
    assert_eq!(mr.readings[1].reading_type.as_deref(), Some("?"));
    let block = &mr.interval_blocks[0];
    assert_eq!(block.interval_readings.len(), 2);
    assert_eq!(
        block.interval_readings[0].qualities[0].comment.as_deref(),
        Some("estimated & <filled>")
    );
    assert_eq!(
        block
            .pending_calculation
            .as_ref()
            .unwrap()
            .scalar_numerator
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        mr.end_device_events[0].event_type.as_deref(),
        Some("3.12.0.257")
    );
    assert_eq!(doc.reading_types[0].unit.as_deref(), Some("Watt hours"));
    assert_eq!(doc.reading_quality_types[0].category.as_deref(), Some("8"));
    assert_eq!(
        doc.end_device_event_types[0].event_or_action.as_deref(),
        Some("257")
    );

    let records: Vec<Record> = doc.records().collect();
    assert_eq!(records.len(), 5);
    let Record::Reading(estimated) = &records[2] else {
        panic!()
    };
    let m = estimated.to_measurement().unwrap();
    assert!(m.quality.has(QualityFlag::Estimated));
    assert_eq!(m.accumulation, Accumulation::Delta);
    assert_eq!(m.interval.unwrap().seconds(), 900);
    let Record::Reading(missing) = &records[1] else {
        panic!()
    };
    assert!(missing.to_measurement().is_err());
    let Record::Event(event) = &records[4] else {
        panic!()
    };
    assert_eq!(event.details[0].value.as_deref(), Some("opened"));
    assert_eq!(event.usage_point.as_deref(), Some("UP-9"));
}

#[test]
fn strict_mode_reports_the_first_quirk_where_it_is() {
    let xml = fixture("quirks.xml");
    let err = parse_str(&xml, Mode::Strict).unwrap_err();
    let location = err.location().unwrap();
    assert!(err.to_string().contains("decimal comma"), "{err}");
    assert_eq!(&xml[location.offset as usize..][..10], "<mr:value>");
    assert_eq!(location.line, 18);
    assert_eq!(location.path, "/MeterReadings/MeterReading/Readings/value");
}

#[test]
fn edition1_codes_are_decoded_and_mapped() {
    let doc = parse_str(&fixture("edition1-2009.xml"), Mode::Strict)
        .unwrap()
        .document;
    let rs = readings(doc.records());
    let interval = rs[1].to_measurement().unwrap();
    assert_eq!(interval.kind, MeasurementKind::Energy);
    assert_eq!(interval.direction, FlowDirection::Total);
    assert_eq!(interval.interval.unwrap().seconds(), 3600);
    assert_eq!(interval.accumulation, Accumulation::Delta);
    let demand = rs[0].to_measurement().unwrap();
    assert_eq!(demand.kind, MeasurementKind::Demand);
    assert_eq!(demand.unit, Unit::Watt);
}

#[test]
fn malformed_xml_gives_offset_line_column_and_path() {
    let xml = "<MeterReadings>\n  <MeterReading>\n    <Meter><mRID>m</mRID></Metre>\n";
    let check = |err: &MeterReadingsError| {
        let MeterReadingsError::Xml { location, message } = err else {
            panic!("{err:?}")
        };
        assert!(message.contains("Metre"), "{message}");
        assert_eq!((location.line, location.column), (3, 26));
        assert_eq!(location.offset, xml.find("</Metre>").unwrap() as u64);
        assert_eq!(location.path, "/MeterReadings/MeterReading/Meter");
    };
    check(&parse_str(xml, Mode::Strict).unwrap_err());
    let first = MeterReadingsStream::new(xml.as_bytes(), Mode::Lenient)
        .next()
        .unwrap();
    check(&first.unwrap_err());
    // Lenient mode too fails a document that ends inside its elements.
    assert!(parse_str(xml, Mode::Lenient).is_err());
    let truncated = "<MeterReadings><MeterReading><Meter><mRID>m</mRID>";
    assert!(parse_str(truncated, Mode::Lenient).is_err());
    assert!(parse_str("<html/>", Mode::Lenient).is_err());
    assert!(parse_str("", Mode::Lenient).is_err());
    assert!(parse_slice(b"<MeterReadings>\xff</MeterReadings>", Mode::Lenient).is_err());
}

fn three_meters(bad_middle: &str) -> String {
    format!(
        "<MeterReadings>\n\
         <MeterReading><Meter><mRID>m1</mRID></Meter><Readings><timeStamp>2020-01-01T00:00:00Z</timeStamp><value>1</value></Readings></MeterReading>\n\
         <MeterReading><Meter><mRID>m2</mRID></Meter><Readings>{bad_middle}</Readings></MeterReading>\n\
         <MeterReading><Meter><mRID>m3</mRID></Meter><Readings><timeStamp>2020-01-01T00:00:00Z</timeStamp><value>3</value></Readings></MeterReading>\n\
         </MeterReadings>\n"
    )
}

#[test]
fn lenient_stream_reports_one_bad_meter_reading_and_goes_on() {
    let xml = three_meters("<value>2</valeu>");
    let items: Vec<_> = MeterReadingsStream::new(xml.as_bytes(), Mode::Lenient).collect();
    assert_eq!(items.len(), 3, "{items:?}");
    let meter = |i: usize| match &items[i] {
        Ok(StreamItem::MeterReading(mr)) => mr.meter_id().map(str::to_string),
        _ => None,
    };
    assert_eq!(meter(0).as_deref(), Some("m1"));
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.location().unwrap().line, 3, "{err}");
    assert_eq!(meter(2).as_deref(), Some("m3"));
    // The whole-document reader does the same and lists what it skipped.
    let parsed = parse_str(&xml, Mode::Lenient).unwrap();
    assert_eq!(parsed.document.meter_readings.len(), 2);
    assert_eq!(parsed.skipped.len(), 1);
    // Strict mode stops at the first error.
    let strict: Vec<_> = MeterReadingsStream::new(xml.as_bytes(), Mode::Strict).collect();
    assert_eq!(strict.len(), 2);
    assert!(strict[1].is_err());
    assert!(parse_str(&xml, Mode::Strict).is_err());
}

#[test]
fn stream_records_match_the_document_reader() {
    let xml = platone_cim::meter_readings::generate::dump_document(20);
    let doc = parse_str(&xml, Mode::Strict).unwrap().document;
    let from_doc: Vec<Record> = doc.records().collect();
    let from_stream: Vec<Record> = MeterReadingsStream::new(xml.as_bytes(), Mode::Strict)
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(from_doc.len(), 20 * 108);
    assert_eq!(from_doc, from_stream);
    // Every generated reading converts.
    for r in readings(from_doc.into_iter()) {
        r.to_measurement().unwrap();
    }
}

#[test]
fn record_json_follows_the_cli_contract() {
    let parsed = parse_str(&fixture("quirks.xml"), Mode::Lenient).unwrap();
    let lines: Vec<serde_json::Value> = parsed
        .document
        .records()
        .map(|r| serde_json::to_value(&r).unwrap())
        .collect();
    let first = &lines[0];
    assert_eq!(first["record"], "reading");
    assert_eq!(first["meter"], "11111111");
    assert_eq!(first["usage_point"], "UP-9");
    assert_eq!(first["timestamp"], "2020-10-01T00:15:00.1234567+03:00");
    assert_eq!(first["value"], 1.21716);
    assert_eq!(first["raw_value"], "1,21716");
    assert_eq!(
        first["reading_type"],
        "0.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
    );
    assert_eq!(first["source"], "Readings");
    let d = &first["reading_type_decoded"];
    assert_eq!(d["measurement_kind"], "energy");
    assert_eq!(d["accumulation"], "bulkQuantity");
    assert_eq!(d["flow_direction"], "forward");
    assert_eq!(d["macro_period"], "none");
    assert_eq!(d["measuring_period"], "none");
    assert_eq!(d["aggregate"], "none");
    assert_eq!(d["commodity"], "electricitySecondaryMetered");
    assert_eq!(d["phases"], "ABC");
    assert_eq!(d["multiplier"], 3);
    assert_eq!(d["unit"], "Wh");
    assert_eq!(d["currency"], serde_json::Value::Null);
    assert_eq!(d["tou"], 0);
    assert_eq!(lines[1]["value"], serde_json::Value::Null);
    assert_eq!(lines[1]["reading_type_decoded"], serde_json::Value::Null);
    assert_eq!(lines[1]["qualities"][0]["code"], "2.5.259");
    assert_eq!(lines[1]["qualities"][0]["flags"][0], "missing");
    assert_eq!(lines[2]["source"], "IntervalBlocks");
    assert_eq!(lines[2]["qualities"][0]["category"], "estimated");
    assert_eq!(lines[4]["record"], "event");
    assert_eq!(lines[4]["event_type"], "3.12.0.257");
    assert_eq!(lines[4]["created"], "2020-10-01T00:07:13Z");
    assert_eq!(lines[4]["details"][0]["name"], "cover");
}
