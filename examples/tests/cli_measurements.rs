//! The `platone` binary: help, version, exit codes and `measurements check`.

mod common;
use common::{platone, text};

#[test]
fn help_lists_existing_groups_and_version_prints() {
    let out = platone(&["--help"], "");
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("measurements"), "{help}");
    let out = platone(&["--version"], "");
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("platone "));
}

#[test]
fn usage_errors_exit_2() {
    let out = platone(&["no-such-group"], "");
    assert_eq!(out.status.code(), Some(2));
    let out = platone(&["measurements", "check"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_prints_series_keys_and_reports_bad_lines() {
    let input = concat!(
        r#"{"source":"m1","timestamp":"2021-01-01T00:15:00+01:00","kind":"energy","unit":"Wh","value":5,"direction":"forward"}"#,
        "\n\n",
        r#"{"source":"","timestamp":"2021-01-01T00:15:00Z","kind":"energy","unit":"Wh","value":1}"#,
        "\n",
        r#"{"source":"m2","timestamp":"2021-01-01T00:15:00Z","kind":"power","unit":"W","value":2}"#,
        "\n",
    );
    let out = platone(&["measurements", "check", "-"], input);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(
        lines[0],
        "1\tm1||||energy|Wh|none|forward|not_applicable||none\t2021-01-01T00:15:00+01:00"
    );
    assert!(lines[1].starts_with("4\tm2|"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: -:3: DeviceId must not be empty"),
        "{stderr}"
    );
    assert!(stderr.contains("valid 2, invalid 1"), "{stderr}");
}

#[test]
fn check_of_a_missing_file_is_an_input_error() {
    let out = platone(&["measurements", "check", "/nonexistent/m.jsonl"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: /nonexistent/m.jsonl: cannot open"));
}
