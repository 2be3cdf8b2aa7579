//! The `platone` binary's log subscriber: a library's `tracing::warn!` reaches stderr (human or
//! JSON), `RUST_LOG` filters it, and stdout stays free for data.
//!
//! The warning used is the MQTT adapter's "MQTT connection" (platone-bus), logged on every
//! failed connection attempt: `platone sim` against a port where nothing listens hits it
//! before giving up with exit code 1.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};

/// `platone sim` against a closed loopback port, with the given environment.
fn sim_against_nothing(extra_args: &[&str], env: &[(&str, &str)]) -> Output {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_platone"));
    command
        .args(extra_args)
        .args([
            "sim",
            "--mqtt",
            &url,
            "--duration",
            "1",
            "--connect-timeout",
            "1",
        ])
        .env_remove("RUST_LOG")
        .env_remove("PLATONE_LOG_FORMAT")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The stderr lines that are log events (everything but the final `error: …`).
fn log_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !l.starts_with("error: "))
        .collect()
}

#[test]
fn a_library_warning_reaches_stderr_in_the_human_format() {
    let out = sim_against_nothing(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let warning = log_lines(&stderr)
        .into_iter()
        .find(|l| l.contains("MQTT connection"))
        .unwrap_or_else(|| panic!("no library warning on stderr:\n{stderr}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("platone_bus"), "{warning}");
    assert!(
        !warning.contains('\u{1b}'),
        "no colours when stderr is not a terminal: {warning:?}"
    );
    assert!(out.stdout.is_empty(), "logs stay off stdout");
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("error: cannot reach the broker"),
        "{stderr}"
    );
}

#[test]
fn json_logs_by_flag_or_environment() {
    for (args, env) in [
        (&["--log-format", "json"][..], &[][..]),
        (&[][..], &[("PLATONE_LOG_FORMAT", "json")][..]),
    ] {
        let out = sim_against_nothing(args, env);
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        let events: Vec<serde_json::Value> = log_lines(&stderr)
            .into_iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let warning = events
            .iter()
            .find(|e| e["fields"]["message"] == "MQTT connection")
            .unwrap_or_else(|| panic!("no library warning among {events:?}"));
        assert_eq!(warning["level"], "WARN");
        assert_eq!(warning["target"], "platone_bus::mqtt::driver");
        assert!(warning["fields"]["error"].is_string(), "{warning}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn rust_log_filters_and_a_bad_filter_is_a_usage_error() {
    let out = sim_against_nothing(&[], &[("RUST_LOG", "error")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(log_lines(&stderr).is_empty(), "{stderr}");

    let out = sim_against_nothing(&[], &[("RUST_LOG", "platone=loudest")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("error: RUST_LOG=platone=loudest"));
}
