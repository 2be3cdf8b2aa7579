//! Helpers shared by the `platone` command-line tests (each test file uses some of them).
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs the `platone` binary with `args`, feeding `stdin`, and returns its output.
pub fn platone(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_platone"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The options of a short `platone demo` (4 s, 2 PMUs at 10 frames/s, 5 meters).
pub const SHORT_DEMO: &[&str] = &[
    "--duration",
    "4",
    "--pmus",
    "2",
    "--rate",
    "10",
    "--meters",
    "5",
    "--accelerate",
    "450",
];

/// Output bytes as text (lossy).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
