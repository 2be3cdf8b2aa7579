//! Stopping a harness's server process.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Sends SIGTERM (the server saves its state first) and waits up to `timeout` for the process
/// to exit; kills it if it has not.
pub(crate) fn terminate(mut child: Child, timeout: Duration) {
    let terminated = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let deadline = Instant::now() + timeout;
    while terminated && Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}
