//! `platone cim`: parse, describe and write, with the JSON contract and exit codes.

use std::process::Output;

mod common;
use common::{platone, text};

fn fixture(name: &str) -> String {
    format!(
        "{}/../platone-cim/tests/fixtures/meter_readings/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn parse_seed_lenient_prints_the_contract_fields() {
    let seed = fixture("seed-figure1.xml");
    let out = platone(&["cim", "parse", &seed, "--lenient"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    let r = &lines[0];
    assert_eq!(r["record"], "reading");
    assert_eq!(r["meter"], "11111111");
    assert_eq!(r["usage_point"], "111111");
    assert_eq!(r["timestamp"], "2019-09-13T15:30:00+03:00");
    assert_eq!(r["value"], 11.04);
    assert_eq!(r["raw_value"], "11.04");
    assert_eq!(
        r["reading_type"],
        "0.26.0.0.1.1.12.0.0.0.0.0.0.0.0.224.3.72.0"
    );
    assert_eq!(r["source"], "Readings");
    assert_eq!(r["qualities"], serde_json::json!([]));
    let d = &r["reading_type_decoded"];
    assert_eq!(d["aggregate"], "sum");
    assert_eq!(d["measurement_kind"], "energy");
    assert_eq!(d["unit"], "Wh");
    assert_eq!(d["multiplier"], 3);
    assert_eq!(d["phases"], "ABC");
    assert_eq!(d["flow_direction"], "forward");
    for key in [
        "macro_period",
        "measuring_period",
        "accumulation",
        "commodity",
        "currency",
    ] {
        assert!(d.get(key).is_some(), "{key}");
    }
    assert_eq!(lines[1]["reading_type_decoded"]["unit"], "VArh");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("warning: "), "{stderr}");
    assert!(
        stderr.contains("readings 2, events 0, warnings 2, errors 0"),
        "{stderr}"
    );
}

#[test]
fn parse_strict_rejects_the_19_field_code_with_file_line_col() {
    let seed = fixture("seed-figure1.xml");
    let out = platone(&["cim", "parse", &seed], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("error: {seed}:17:7: ")),
        "{stderr}"
    );
    assert!(stderr.contains("19 fields"), "{stderr}");
}

#[test]
fn parse_json_format_stdin_events_and_count() {
    let xml = std::fs::read_to_string(fixture("quirks.xml")).unwrap();
    let out = platone(
        &["cim", "parse", "-", "--lenient", "--format", "json"],
        &xml,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[1]["value"], serde_json::Value::Null);
    assert_eq!(all[1]["raw_value"], "ERR");
    assert_eq!(all[2]["source"], "IntervalBlocks");
    assert_eq!(all[2]["qualities"][0]["code"], "3.8.0");
    let event = &all[4];
    assert_eq!(event["record"], "event");
    assert_eq!(event["event_type"], "3.12.0.257");
    assert_eq!(event["created"], "2020-10-01T00:07:13Z");
    assert_eq!(event["details"][0]["value"], "opened");

    let out = platone(&["cim", "parse", "--count", "-", "--lenient"], &xml);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "4\n");
}

#[test]
fn malformed_xml_exits_1_with_location() {
    let out = platone(
        &["cim", "parse", "-"],
        "<MeterReadings>\n<MeterReading><Meter></Metre></MeterReading></MeterReadings>",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error: -:2:22: malformed XML"), "{stderr}");
    let out = platone(&["cim", "parse", "/no/such/file.xml"], "");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn describe_prints_the_decoded_code() {
    let out = platone(
        &["cim", "describe", "0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["description"],
        "15-minute forward active energy, kWh, phases ABC"
    );
    assert_eq!(json["form"], "edition2");
    assert_eq!(json["reading_type"]["measuring_period"], "fifteenMinute");

    let seed = "0.26.0.0.1.1.12.0.0.0.0.0.0.0.0.224.3.72.0";
    let out = platone(&["cim", "describe", seed], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: "));
    let out = platone(&["cim", "describe", seed, "--lenient"], "");
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["canonical"],
        "0.26.0.0.1.1.12.0.0.0.0.0.0.0.224.3.72.0"
    );
    assert_eq!(json["code"], seed);

    let out = platone(&["cim", "describe", "3.0.129.160"], "");
    assert_eq!(out.status.code(), Some(1));
    let out = platone(&["cim", "describe"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn write_round_trips_parse_output_and_wraps_in_an_envelope() {
    let quirks = fixture("quirks.xml");
    let parsed = platone(&["cim", "parse", &quirks, "--lenient"], "");
    assert!(parsed.status.success());
    let lines = text(&parsed.stdout);
    let written = platone(&["cim", "write"], &lines);
    assert!(written.status.success(), "{}", text(&written.stderr));
    let xml = text(&written.stdout);
    assert!(xml.contains("<MeterReadings xmlns=\"http://iec.ch/TC57/2011/MeterReadings#\">"));
    let again = platone(&["cim", "parse", "-", "--lenient"], &xml);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), lines);

    let enveloped = platone(&["cim", "write", "-", "--envelope"], &lines);
    assert!(enveloped.status.success());
    let xml = text(&enveloped.stdout);
    assert!(xml.contains("<EventMessage"), "{xml}");
    assert!(xml.contains("<Verb>created</Verb>"));
    assert!(xml.contains("<Noun>MeterReadings</Noun>"));
    let again = platone(&["cim", "parse", "-", "--lenient"], &xml);
    assert_eq!(text(&again.stdout), lines);

    let bad = platone(&["cim", "write"], "{\"record\":\"reading\"}\nnot json\n");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("error: -:2:"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn parse_reads_declared_encodings_and_compressed_payloads() {
    let out = platone(&["cim", "parse", &fixture("enc-iso-8859-7.xml")], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["meter"], "ΜΕΤΡΗΤΗΣ-1");
    assert_eq!(lines[0]["value"], 1.21716);

    let out = platone(&["cim", "parse", &fixture("enc-utf-16le-bom.xml")], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(json_lines(&out)[0]["meter"], "MTR-16");

    let out = platone(
        &["cim", "parse", &fixture("compressed-event-message.xml")],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["meter"], "MTR-1");
    assert_eq!(lines[0]["usage_point"], "UP-1");

    let out = platone(
        &["cim", "parse", "-"],
        "<?xml version=\"1.0\" encoding=\"x-klingon\"?><a/>",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: ") && stderr.contains("x-klingon"),
        "{stderr}"
    );
}
