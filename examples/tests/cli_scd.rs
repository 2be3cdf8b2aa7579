//! `platone scd`: import, query, archive and restore on the embedded store and on a real
//! PostgreSQL server started by the test.

use std::path::Path;

use platone_model::Measurement;
use platone_testkit::{Durability, TempPostgres};

mod common;
use common::{platone, text};

/// Two days of quarter-hour readings of meter `m1` at PoD `p1`, as JSON lines.
fn two_days() -> Vec<String> {
    (1..=192)
        .map(|i| {
            let minutes = 15 * i;
            let (day, rest) = (minutes / 1440, minutes % 1440);
            // 2021-06-29, 06-30 and (for the last reading, 24:00) 07-01.
            let (month, mday) = if day < 2 { (6, 29 + day) } else { (7, 1) };
            let stamp = format!(
                "2021-{month:02}-{mday:02}T{:02}:{:02}:00Z",
                rest / 60,
                rest % 60
            );
            format!(
                r#"{{"source":"ln-1","meter":"m1","pod":"p1","timestamp":"{stamp}","kind":"energy","unit":"Wh","direction":"forward","accumulation":"delta","interval":900,"value":{i}}}"#
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, lines: &[String]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.display().to_string()
}

/// Runs the whole contract against the store at `db`.
fn contract(db: &str, dir: &Path) {
    let lines = two_days();
    let input = write(dir, "in.jsonl", &lines);
    let out = platone(&["scd", "import", "--db", db, "--input", &input], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "imported 192, duplicates 0, conflicts 0\n"
    );

    // Again, from standard input, with one changed value and one bad line.
    let mut again = lines.clone();
    again[5] = again[5].replace(r#""value":6}"#, r#""value":600}"#);
    again.push("{not json".into());
    let out = platone(
        &["scd", "import", "--db", db, "--input", "-"],
        &(again.join("\n") + "\n"),
    );
    assert_eq!(out.status.code(), Some(1), "the bad line makes it exit 1");
    assert_eq!(
        text(&out.stdout),
        "imported 0, duplicates 191, conflicts 1\n"
    );
    let err = text(&out.stderr);
    assert!(err.contains("conflict: -:6: ln-1|m1|"), "{err}");
    assert!(err.contains("error: -:193:"), "{err}");

    let out = platone(&["scd", "query", "--db", db, "--pod", "p1", "--count"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "192\n");

    let out = platone(
        &[
            "scd",
            "query",
            "--db",
            db,
            "--meter",
            "m1",
            "--device",
            "ln-1",
            "--from",
            "2021-06-29T01:00:00Z",
            "--to",
            "2021-06-29T02:00:00+00:00",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: Vec<Measurement> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want: Vec<Measurement> = lines[3..7]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got, want);

    // Archive the first day (2021-06-29 UTC), then restore it.
    let archive = dir.join("archive");
    let out = platone(
        &[
            "scd",
            "archive",
            "--db",
            db,
            "--before",
            "2021-06-30T10:00:00+02:00",
            "--out",
            archive.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "archived 95 measurements of 1 days before 2021-06-30T00:00:00Z to {}\n",
            archive.display()
        )
    );
    assert!(archive.join("manifest.json").exists());
    let out = platone(&["scd", "query", "--db", db, "--count"], "");
    assert_eq!(text(&out.stdout), "97\n");
    let out = platone(
        &[
            "scd",
            "restore",
            "--db",
            db,
            "--from",
            archive.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "restored 1 days: imported 95, duplicates 0, conflicts 0, certifications 0\n"
    );
    let out = platone(&["scd", "query", "--db", db, "--count"], "");
    assert_eq!(text(&out.stdout), "192\n");
}

#[test]
fn contract_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("scd.db").display());
    contract(&db, dir.path());
}

#[test]
fn contract_on_postgres() {
    let server = TempPostgres::start(Durability::Fast).unwrap();
    let db = server.create_database("cli").unwrap();
    let dir = tempfile::tempdir().unwrap();
    contract(&db, dir.path());
}

#[test]
fn usage_and_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("scd.db").display());
    let out = platone(&["scd", "query", "--db", "mysql://x", "--count"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: invalid store URL"));
    let out = platone(&["scd", "query", "--db", &db, "--from", "yesterday"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--from \"yesterday\""));
    let out = platone(&["scd", "import", "--db", &db], "");
    assert_eq!(out.status.code(), Some(2), "--input is required");
    let out = platone(
        &[
            "scd",
            "import",
            "--db",
            &db,
            "--input",
            "/no/such/file.jsonl",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/no/such/file.jsonl: cannot open"));
    let out = platone(
        &[
            "scd",
            "restore",
            "--db",
            &db,
            "--from",
            dir.path().to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("manifest.json"),
        "{}",
        text(&out.stderr)
    );
}

const METER_READINGS: &str = r#"<mr:MeterReadings xmlns:mr="http://iec.ch/TC57/2011/MeterReadings#">
  <mr:MeterReading>
    <mr:Meter><mr:Names><mr:name>11111111</mr:name></mr:Names></mr:Meter>
    <mr:Readings>
      <mr:timeStamp>2019-09-13T15:30:00+03:00</mr:timeStamp>
      <mr:value>11.04</mr:value>
      <mr:ReadingType ref="0.26.0.0.1.1.12.0.0.0.0.0.0.0.0.224.3.72.0"/>
    </mr:Readings>
    <mr:UsagePoint><mr:mRID>111111</mr:mRID></mr:UsagePoint>
  </mr:MeterReading>
</mr:MeterReadings>"#;

#[test]
fn import_from_cim_meter_readings() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("scd.db").display());
    let xml = dir.path().join("readings.xml");
    std::fs::write(&xml, METER_READINGS).unwrap();
    let xml = xml.to_str().unwrap();
    let out = platone(&["scd", "import", "--db", &db, "--from-cim", xml], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "imported 1, duplicates 0, conflicts 0\n");
    assert!(
        text(&out.stderr).starts_with("warning: "),
        "the 19-field code is reported"
    );
    let out = platone(
        &["scd", "import", "--db", &db, "--from-cim", "-"],
        METER_READINGS,
    );
    assert_eq!(text(&out.stdout), "imported 0, duplicates 1, conflicts 0\n");
    let out = platone(&["scd", "query", "--db", &db, "--meter", "11111111"], "");
    let m: Measurement = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(m.base_value(), 11_040.0);
    // Exactly one source.
    let out = platone(
        &[
            "scd",
            "import",
            "--db",
            &db,
            "--from-cim",
            xml,
            "--input",
            xml,
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = platone(
        &["scd", "import", "--db", &db, "--from-cim", "-"],
        "<mr:MeterReadings",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: -:"),
        "{}",
        text(&out.stderr)
    );
}

/// A generated 15-minute dump (as a DSO sends it) imported, imported again, then imported
/// with changed values, on the store at `db`: the second import changes nothing and the
/// changed values are reported as conflicts with their reading numbers, the stored values
/// kept.
fn cim_dump_reimport(db: &str, dir: &Path) {
    use platone_cim::meter_readings::generate::{READINGS_PER_METER, dump_document};
    const METERS: usize = 30;
    let n = METERS * READINGS_PER_METER;
    let xml = dump_document(METERS);
    let path = dir.join("dump.xml");
    std::fs::write(&path, &xml).unwrap();
    let path = path.to_str().unwrap();
    let import = |file: &str, stdin: &str| {
        platone(&["scd", "import", "--db", db, "--from-cim", file], stdin)
    };
    let out = import(path, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("imported {n}, duplicates 0, conflicts 0\n")
    );
    let count = || text(&platone(&["scd", "query", "--db", db, "--count"], "").stdout);
    assert_eq!(count(), format!("{n}\n"));
    let meter =
        || text(&platone(&["scd", "query", "--db", db, "--meter", "MTR00000007"], "").stdout);
    let before = meter();
    assert_eq!(before.lines().count(), READINGS_PER_METER);

    let out = import("-", &xml);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("imported 0, duplicates {n}, conflicts 0\n")
    );
    assert_eq!(count(), format!("{n}\n"));
    assert_eq!(meter(), before, "a re-import changes nothing");

    // Meter 7's first register reading (reading 7 × 108 + 1) and its last interval reading
    // (reading 8 × 108) get other values.
    let start = xml.find("<mr:mRID>MTR00000007</mr:mRID>").unwrap();
    let end = xml.find("<mr:mRID>MTR00000008</mr:mRID>").unwrap();
    let mut meter7 = xml[start..end].to_string();
    let first = meter7.find("<mr:value>").unwrap() + "<mr:value>".len();
    meter7.insert(first, '9');
    let last = meter7.rfind("<mr:value>").unwrap() + "<mr:value>".len();
    meter7.insert(last, '8');
    let changed = format!("{}{meter7}{}", &xml[..start], &xml[end..]);
    let out = import("-", &changed);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("imported 0, duplicates {}, conflicts 2\n", n - 2)
    );
    let stderr = text(&out.stderr);
    let conflicts: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("conflict: "))
        .collect();
    assert_eq!(conflicts.len(), 2, "{stderr}");
    assert!(
        conflicts[0].starts_with(&format!(
            "conflict: -:{}: MTR00000007|",
            7 * READINGS_PER_METER + 1
        )),
        "{stderr}"
    );
    assert!(
        conflicts[1].starts_with(&format!(
            "conflict: -:{}: MTR00000007|",
            8 * READINGS_PER_METER
        )),
        "{stderr}"
    );
    assert!(conflicts.iter().all(|c| c.ends_with("(kept)")), "{stderr}");
    assert_eq!(meter(), before, "the stored values are kept");
}

#[test]
fn cim_dump_reimport_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("scd.db").display());
    cim_dump_reimport(&db, dir.path());
}

#[test]
fn cim_dump_reimport_on_postgres() {
    let server = TempPostgres::start(Durability::Fast).unwrap();
    let db = server.create_database("cim").unwrap();
    let dir = tempfile::tempdir().unwrap();
    cim_dump_reimport(&db, dir.path());
}
