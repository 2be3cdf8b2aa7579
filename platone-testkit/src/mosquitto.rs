//! A local Mosquitto broker, for tests, benchmarks and trying the MQTT adapter without
//! installing a service.
//!
//! [`Mosquitto::start`] runs the `mosquitto` binary of the Debian package `mosquitto` (found by
//! [`find_mosquitto`]) on `127.0.0.1`, on a free port, with a configuration generated in a
//! temporary directory that also holds its log and persistence file. `start` returns only once
//! the port accepts connections; the broker is killed when the handle is dropped.
//!
//! ```
//! use platone_bus::{Message, MqttBus, Publisher, QoS};
//! use platone_testkit::Mosquitto;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let broker = Mosquitto::start()?; // blocks until the broker listens
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let bus = MqttBus::connect(broker.mqtt_config("device-1"))?;
//! bus.publish(Message::new("platone/bal/x", "1"), QoS::AtLeastOnce).await?;
//! # Ok::<(), platone_bus::BusError>(()) })?;
//! println!("{} says:\n{}", broker.url(), broker.log());
//! # Ok(()) }
//! ```
//!
//! The generated configuration: `per_listener_settings false`, `allow_anonymous true`,
//! persistence in the temporary directory (saved every second and on stop, when
//! [`MosquittoOptions::persistence`] is on), the limits of [`MosquittoOptions`] when given,
//! error/warning/notice logging to `mosquitto.log`, `user root` when this process is root
//! (mosquitto would otherwise drop to the `mosquitto` user, which cannot write the temporary
//! directory), then `listener PORT 127.0.0.1` followed by
//! [`MosquittoOptions::extra_config`]. Lines there can add TLS to the listener
//! (`cafile`, `certfile`, `keyfile`, `require_certificate`…) or override the defaults above
//! (`allow_anonymous false`, `password_file`, `acl_file`…): the later line wins.
//!
//! Starting and stopping block the calling thread (for up to 10 s while the broker comes up);
//! from async code call them outside the runtime or through `tokio::task::spawn_blocking` when
//! that matters.

use std::ffi::OsString;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use platone_bus::MqttConfig;

use crate::error::{Result, TestkitError};

/// Where Debian installs the broker (not on a normal user's `PATH`).
const DEBIAN_PATH: &str = "/usr/sbin/mosquitto";
/// How long [`Mosquitto::start`] waits for the port to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Mosquitto::stop`] waits after SIGTERM before killing.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts with a fresh port when another process took the chosen one first.
const PORT_ATTEMPTS: usize = 3;

/// Settings of a [`Mosquitto`] broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MosquittoOptions {
    /// Keep sessions and queued messages in a persistence file, so that
    /// [`Mosquitto::restart`] (and `stop` then `restart`) keeps them. Default `true`.
    pub persistence: bool,
    /// `max_inflight_messages` (QoS 1/2 messages in flight per client; 0 = unlimited).
    /// `None`: mosquitto's default, 20.
    pub max_inflight: Option<u16>,
    /// `max_queued_messages` (QoS 1/2 messages queued per client beyond those in flight,
    /// offline persistent sessions included; 0 = unlimited; mosquitto drops what exceeds it).
    /// `None`: mosquitto's default, 1000.
    pub max_queued: Option<u32>,
    /// Configuration lines written after the `listener` line (TLS, authentication, ACL, …).
    pub extra_config: String,
}

impl Default for MosquittoOptions {
    fn default() -> Self {
        MosquittoOptions {
            persistence: true,
            max_inflight: None,
            max_queued: None,
            extra_config: String::new(),
        }
    }
}

/// A real `mosquitto` process on `127.0.0.1`, on a free port, configured in a temporary
/// directory; killed (and the directory removed) on drop. See the [module](self) docs.
pub struct Mosquitto {
    binary: PathBuf,
    options: MosquittoOptions,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl std::fmt::Debug for Mosquitto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mosquitto")
            .field("url", &self.url())
            .field("dir", &self.dir.path())
            .field("running", &self.child.is_some())
            .finish()
    }
}

/// The `mosquitto` binary: `$PLATONE_MOSQUITTO` when set, else the first `mosquitto` on `PATH`,
/// else `/usr/sbin/mosquitto`. The error says which Debian package to install.
pub fn find_mosquitto() -> Result<PathBuf> {
    locate_mosquitto(
        std::env::var_os("PLATONE_MOSQUITTO"),
        std::env::var_os("PATH"),
        Path::new(DEBIAN_PATH),
    )
}

/// [`find_mosquitto`] with its inputs given: the override, the `PATH` and the fallback.
fn locate_mosquitto(
    overridden: Option<OsString>,
    path: Option<OsString>,
    fallback: &Path,
) -> Result<PathBuf> {
    if let Some(binary) = overridden {
        let binary = PathBuf::from(binary);
        return if binary.is_file() {
            Ok(binary)
        } else {
            Err(TestkitError::Mosquitto {
                stage: "binary",
                reason: format!(
                    "PLATONE_MOSQUITTO={} is not a file (unset it to use the Debian package \
                     `mosquitto`: apt-get install mosquitto)",
                    binary.display()
                ),
            })
        };
    }
    path.map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("mosquitto"))
        .chain(std::iter::once(fallback.to_path_buf()))
        .find(|p| p.is_file())
        .ok_or_else(|| TestkitError::Mosquitto {
            stage: "binary",
            reason: format!(
                "no `mosquitto` on PATH nor at {}: install the Debian package `mosquitto` \
                 (apt-get install mosquitto) or set PLATONE_MOSQUITTO",
                fallback.display()
            ),
        })
}

fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| TestkitError::Mosquitto {
            stage: "port",
            reason: format!("no free loopback port: {e}"),
        })
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

impl Mosquitto {
    /// Starts a broker with [`MosquittoOptions::default`].
    pub fn start() -> Result<Mosquitto> {
        Mosquitto::start_with(MosquittoOptions::default())
    }

    /// Starts a broker with the given options and waits until its port accepts connections.
    pub fn start_with(options: MosquittoOptions) -> Result<Mosquitto> {
        let binary = find_mosquitto()?;
        let dir = tempfile::Builder::new()
            .prefix("platone-mosquitto-")
            .tempdir()
            .map_err(|e| TestkitError::Mosquitto {
                stage: "config",
                reason: format!("temporary directory: {e}"),
            })?;
        let mut broker = Mosquitto {
            binary,
            options,
            port: 0,
            dir,
            child: None,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            broker.port = free_port()?;
            broker.write_config()?;
            match broker.launch() {
                Ok(()) => return Ok(broker),
                // Another process took the port between our probe and mosquitto's bind.
                Err(e) if attempt < PORT_ATTEMPTS && broker.log().contains("in use") => {
                    tracing::debug!(error = %e, "mosquitto port taken, retrying");
                    let _ = std::fs::remove_file(broker.log_path());
                    let _ = std::fs::remove_file(broker.stderr_path());
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's process id while it runs (to measure its CPU time, for instance).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// `mqtt://127.0.0.1:PORT` (as the `platone bridge` command takes it).
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The temporary directory holding the configuration, the log and the persistence file.
    /// It is created by `start`, so files that `extra_config` names (password file, ACL,
    /// certificates) belong in a directory of the caller's.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Settings for [`MqttBus::connect`](platone_bus::MqttBus::connect) to this broker, with the
    /// client's in-flight window kept within the broker's `max_inflight_messages`.
    pub fn mqtt_config(&self, client_id: &str) -> MqttConfig {
        let mut config = MqttConfig::new("127.0.0.1", self.port, client_id);
        if let Some(n) = self.options.max_inflight.filter(|n| *n > 0) {
            config.max_inflight = n;
        }
        config
    }

    /// Whether the broker process is running (it may have exited by itself).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_))) | Some(Err(_)) | None => false,
        }
    }

    /// Stops the broker with SIGTERM (it saves its persistence file first) and waits for it to
    /// exit; kills it if it has not exited within 5 s. Does nothing when it is not running.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            crate::process::terminate(child, STOP_TIMEOUT);
        }
    }

    /// Kills the broker with SIGKILL, as a crash would: nothing is saved, connections drop
    /// without a goodbye. Does nothing when it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the broker (SIGSTOP): connections stay open, but nothing is read, forwarded or
    /// acknowledged until [`resume`](Self::resume) — a hung broker, for tests of timeouts and of
    /// publishes caught in flight.
    pub fn pause(&mut self) -> Result<()> {
        self.signal("STOP")
    }

    /// Lets a [paused](Self::pause) broker run again (SIGCONT).
    pub fn resume(&mut self) -> Result<()> {
        self.signal("CONT")
    }

    fn signal(&mut self, name: &str) -> Result<()> {
        let Some(child) = self.child.as_ref() else {
            return Err(TestkitError::Mosquitto {
                stage: "signal",
                reason: format!("SIG{name}: the broker is not running"),
            });
        };
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(TestkitError::Mosquitto {
                stage: "signal",
                reason: format!("kill -{name} {} exited with {s}", child.id()),
            }),
            Err(e) => Err(TestkitError::Mosquitto {
                stage: "signal",
                reason: format!("running kill -{name}: {e}"),
            }),
        }
    }

    /// Stops the broker (if running) and starts it again on the same port with the same
    /// configuration and persistence file; returns once the port accepts connections.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.launch()
    }

    /// The broker's log so far (errors, warnings and notices), followed by anything it wrote
    /// on its standard error (configuration errors, reported before the log file is open).
    pub fn log(&self) -> String {
        let mut log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let stderr = std::fs::read_to_string(self.stderr_path()).unwrap_or_default();
        if !stderr.trim().is_empty() {
            log.push_str(&stderr);
        }
        log
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.stderr")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.log")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.conf")
    }

    fn write_config(&self) -> Result<()> {
        let dir = self.dir.path().display();
        let o = &self.options;
        let mut config = String::new();
        if running_as_root() {
            config.push_str("user root\n");
        }
        config.push_str("per_listener_settings false\nallow_anonymous true\n");
        if o.persistence {
            config.push_str(&format!(
                "persistence true\npersistence_location {dir}/\nautosave_interval 1\n"
            ));
        } else {
            config.push_str("persistence false\n");
        }
        if let Some(n) = o.max_inflight {
            config.push_str(&format!("max_inflight_messages {n}\n"));
        }
        if let Some(n) = o.max_queued {
            config.push_str(&format!("max_queued_messages {n}\n"));
        }
        config.push_str(&format!(
            "log_dest file {dir}/mosquitto.log\n\
             log_type error\nlog_type warning\nlog_type notice\n\
             listener {} 127.0.0.1\n{}\n",
            self.port, o.extra_config
        ));
        std::fs::write(self.config_path(), config).map_err(|e| TestkitError::Mosquitto {
            stage: "config",
            reason: format!("writing {}: {e}", self.config_path().display()),
        })
    }

    fn launch(&mut self) -> Result<()> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .map_err(|e| TestkitError::Mosquitto {
                stage: "start",
                reason: format!("{}: {e}", self.stderr_path().display()),
            })?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| TestkitError::Mosquitto {
                stage: "start",
                reason: format!("running {}: {e}", self.binary.display()),
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            let exited = match self.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(e)) => Some(e.to_string()),
                _ => None,
            };
            if let Some(status) = exited {
                self.child = None;
                return Err(TestkitError::Mosquitto {
                    stage: "start",
                    reason: format!(
                        "{} exited ({status}) before listening on port {}; log:\n{}",
                        self.binary.display(),
                        self.port,
                        self.log()
                    ),
                });
            }
            if Instant::now() >= deadline {
                if let Some(mut child) = self.child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                return Err(TestkitError::Mosquitto {
                    stage: "start",
                    reason: format!(
                        "port {} never accepted connections within {START_TIMEOUT:?}; log:\n{}",
                        self.port,
                        self.log()
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_listens_restarts_and_stops() {
        let mut broker = Mosquitto::start().unwrap();
        assert!(broker.url().ends_with(&format!(":{}", broker.port())));
        assert!(TcpStream::connect(("127.0.0.1", broker.port())).is_ok());
        let port = broker.port();
        broker.restart().unwrap();
        assert_eq!(broker.port(), port);
        assert!(broker.is_running());
        broker.stop();
        assert!(!broker.is_running());
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
        assert!(broker.log().contains("New connection"), "{}", broker.log());
    }

    #[test]
    fn a_bad_configuration_reports_the_log() {
        let err = Mosquitto::start_with(MosquittoOptions {
            extra_config: "no_such_option 1".into(),
            ..MosquittoOptions::default()
        })
        .unwrap_err();
        let TestkitError::Mosquitto { stage, reason } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*stage, "start");
        assert!(reason.contains("exited"), "{reason}");
        assert!(
            reason.contains("no_such_option"),
            "the log names the bad line: {reason}"
        );
    }

    #[test]
    fn a_missing_binary_names_the_debian_package() {
        let dir = tempfile::tempdir().unwrap();
        let nowhere = dir.path().join("mosquitto");
        let err = locate_mosquitto(None, Some(dir.path().into()), &nowhere).unwrap_err();
        let TestkitError::Mosquitto { stage, reason } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*stage, "binary");
        assert!(reason.contains("Debian package `mosquitto`"), "{reason}");
        let err = locate_mosquitto(Some(nowhere.clone().into()), None, &nowhere).unwrap_err();
        assert!(err.to_string().contains("PLATONE_MOSQUITTO="), "{err}");
        assert!(
            err.to_string().contains("apt-get install mosquitto"),
            "{err}"
        );
        std::fs::write(&nowhere, "").unwrap();
        assert_eq!(locate_mosquitto(None, None, &nowhere).unwrap(), nowhere);
    }

    #[test]
    fn dropping_the_handle_stops_the_broker_and_removes_its_directory() {
        let broker = Mosquitto::start().unwrap();
        let port = broker.port();
        let dir = broker.dir().to_path_buf();
        assert!(dir.join("mosquitto.conf").is_file());
        drop(broker);
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    #[test]
    fn brokers_started_together_get_distinct_ports() {
        let brokers: Vec<Mosquitto> = (0..4).map(|_| Mosquitto::start().unwrap()).collect();
        let mut ports: Vec<u16> = brokers.iter().map(Mosquitto::port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), brokers.len());
    }

    #[test]
    fn client_window_follows_the_broker_limit() {
        let broker = Mosquitto::start_with(MosquittoOptions {
            persistence: false,
            max_inflight: Some(7),
            max_queued: Some(5000),
            extra_config: String::new(),
        })
        .unwrap();
        let config = broker.mqtt_config("c");
        assert_eq!(config.max_inflight, 7);
        assert_eq!(config.port, broker.port());
        assert_eq!(config.host, "127.0.0.1");
    }
}
