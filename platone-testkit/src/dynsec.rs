//! A local Mosquitto with the dynamic-security plugin, optionally with a mutual-TLS listener.
//!
//! [`DynsecMosquitto::start`] writes the plugin's configuration with
//! `mosquitto_ctrl dynsec init FILE admin PASSWORD` (an `admin` account with the plugin's
//! `admin` role), starts [`Mosquitto`] with
//!
//! ```text
//! allow_anonymous false
//! plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
//! plugin_opt_config_file DIR/dynamic-security.json
//! ```
//!
//! (and `per_listener_settings false`, as every launcher broker), having set the file's default
//! for `publishClientReceive` to deny: with the plugin's other defaults (publishing and
//! subscribing denied), a client reads and writes only what its roles allow.
//!
//! With [`DynsecOptions::tls`], a second listener on `127.0.0.1` takes TLS only, with
//! `require_certificate true`: its certificates (a CA, the server's for `localhost` and
//! `127.0.0.1`) are made with rcgen, and [`DynsecMosquitto::client_certificate`] issues client
//! certificates from the same CA.
//!
//! Everything the plugin needs comes with the Debian package `mosquitto` (`mosquitto_ctrl` in
//! `/usr/bin`, the plugin in `/usr/lib/{arch}/`); the error says so when something is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Result, TestkitError};
use crate::mosquitto::{Mosquitto, MosquittoOptions};
pub use crate::tls::CertificateFiles;
use crate::tls::TestCa;

/// The administrator account the launcher creates.
pub const ADMIN: &str = "admin";

/// Where Debian installs the plugin, by architecture.
const PLUGIN_PATHS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
];

/// Where Debian installs `mosquitto_ctrl`.
const CTRL_PATH: &str = "/usr/bin/mosquitto_ctrl";

/// Settings of a [`DynsecMosquitto`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynsecOptions {
    /// Add a TLS listener that requires a client certificate.
    pub tls: bool,
}

/// A Mosquitto broker with the dynamic-security plugin; see the [module](self) docs. Killed,
/// and its files removed, on drop.
pub struct DynsecMosquitto {
    broker: Mosquitto,
    files: tempfile::TempDir,
    password: String,
    tls_port: Option<u16>,
    ca: Option<TestCa>,
}

impl std::fmt::Debug for DynsecMosquitto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynsecMosquitto")
            .field("broker", &self.broker)
            .field("tls_port", &self.tls_port)
            .finish_non_exhaustive()
    }
}

fn fail(stage: &'static str, reason: impl Into<String>) -> TestkitError {
    TestkitError::Mosquitto {
        stage,
        reason: reason.into(),
    }
}

/// The dynamic-security plugin: `$PLATONE_MOSQUITTO_DYNSEC` when set, else Debian's.
pub fn find_dynsec_plugin() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PLATONE_MOSQUITTO_DYNSEC") {
        return Ok(PathBuf::from(path));
    }
    PLUGIN_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            fail(
                "binary",
                format!(
                    "no dynamic-security plugin at {}: install the Debian package `mosquitto` \
                     (apt-get install mosquitto) or set PLATONE_MOSQUITTO_DYNSEC",
                    PLUGIN_PATHS.join(" or ")
                ),
            )
        })
}

fn find_ctrl() -> Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("mosquitto_ctrl"));
    on_path
        .chain(std::iter::once(PathBuf::from(CTRL_PATH)))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            fail(
                "binary",
                "no `mosquitto_ctrl` on PATH nor at /usr/bin: install the Debian package \
                 `mosquitto` (apt-get install mosquitto)",
            )
        })
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| fail("port", format!("no free loopback port: {e}")))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| TestkitError::io(path, e))
}

impl DynsecMosquitto {
    /// Starts the broker and waits until it listens and the plugin takes commands.
    pub fn start(options: DynsecOptions) -> Result<DynsecMosquitto> {
        let plugin = find_dynsec_plugin()?;
        let ctrl = find_ctrl()?;
        let files = tempfile::Builder::new()
            .prefix("platone-dynsec-")
            .tempdir()
            .map_err(|e| fail("config", format!("temporary directory: {e}")))?;
        let dir = files.path();
        let password = format!("admin-{}", std::process::id());
        write(&dir.join("admin.password"), &password)?;
        let json = dir.join("dynamic-security.json");
        let init = Command::new(&ctrl)
            .args(["dynsec", "init"])
            .arg(&json)
            .args([ADMIN, password.as_str()])
            .output()
            .map_err(|e| fail("config", format!("running {}: {e}", ctrl.display())))?;
        if !init.status.success() {
            return Err(fail(
                "config",
                format!(
                    "mosquitto_ctrl dynsec init: {}{}",
                    String::from_utf8_lossy(&init.stdout),
                    String::from_utf8_lossy(&init.stderr)
                ),
            ));
        }
        deny_receiving_by_default(&json)?;
        let mut extra = format!(
            "allow_anonymous false\nplugin {}\nplugin_opt_config_file {}\n",
            plugin.display(),
            json.display()
        );
        let (tls_port, ca) = if options.tls {
            let ca = TestCa::new(dir, "Platone test CA")?;
            let server = ca.server_certificate("server")?;
            let port = free_port()?;
            extra.push_str(&format!(
                "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
                 require_certificate true\n",
                ca.ca_file().display(),
                server.cert.display(),
                server.key.display()
            ));
            (Some(port), Some(ca))
        } else {
            (None, None)
        };
        let broker = Mosquitto::start_with(MosquittoOptions {
            persistence: false,
            extra_config: extra,
            ..MosquittoOptions::default()
        })?;
        let this = DynsecMosquitto {
            broker,
            files,
            password,
            tls_port,
            ca,
        };
        Ok(this)
    }

    /// The broker (its plain listener is [`Mosquitto::url`]).
    pub fn broker(&self) -> &Mosquitto {
        &self.broker
    }

    /// The broker, to stop, restart or pause it.
    pub fn broker_mut(&mut self) -> &mut Mosquitto {
        &mut self.broker
    }

    /// `mqtt://127.0.0.1:PORT`, the plain listener.
    pub fn url(&self) -> String {
        self.broker.url()
    }

    /// `mqtts://localhost:PORT`, the TLS listener that requires a client certificate (with
    /// [`DynsecOptions::tls`]).
    pub fn tls_url(&self) -> Option<String> {
        self.tls_port.map(|p| format!("mqtts://localhost:{p}"))
    }

    /// The administrator's password.
    pub fn admin_password(&self) -> &str {
        &self.password
    }

    /// A file holding the administrator's password.
    pub fn admin_password_file(&self) -> PathBuf {
        self.files.path().join("admin.password")
    }

    /// The CA certificate of the TLS listener (PEM), with [`DynsecOptions::tls`].
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.ca.as_ref().map(TestCa::ca_file)
    }

    /// A client certificate for `name` (its common name) from the listener's CA.
    pub fn client_certificate(&self, name: &str) -> Result<CertificateFiles> {
        let ca = self
            .ca
            .as_ref()
            .ok_or_else(|| fail("config", "the broker was started without TLS"))?;
        ca.client_certificate(name)
    }

    /// Runs `mosquitto_ctrl … dynsec ARGS` as the administrator on the plain listener; returns
    /// its output, or an error with it when the command failed.
    pub fn ctrl(&self, args: &[&str]) -> Result<String> {
        let ctrl = find_ctrl()?;
        let port = self.broker.port().to_string();
        let output = Command::new(&ctrl)
            .args(["-h", "127.0.0.1", "-p", port.as_str(), "-u", ADMIN, "-P"])
            .arg(&self.password)
            .arg("dynsec")
            .args(args)
            .output()
            .map_err(|e| fail("ctrl", format!("running {}: {e}", ctrl.display())))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // mosquitto_ctrl exits 0 on a refused command too: the answer says "Error:".
        if !output.status.success() || text.contains("Error:") {
            return Err(fail(
                "ctrl",
                format!("mosquitto_ctrl dynsec {}: {text}", args.join(" ")),
            ));
        }
        Ok(text)
    }

    /// Creates the account `user` with `password` and a role `user` allowing each
    /// `(acltype, topic)` of `acls` (`publishClientSend`, `subscribePattern`…).
    pub fn add_client(&self, user: &str, password: &str, acls: &[(&str, &str)]) -> Result<()> {
        self.ctrl(&["createClient", user, "-p", password])?;
        self.ctrl(&["createRole", user])?;
        for (acl, topic) in acls {
            self.ctrl(&["addRoleACL", user, acl, topic, "allow"])?;
        }
        self.ctrl(&["addClientRole", user, user])?;
        Ok(())
    }
}

/// Sets the default of `publishClientReceive` to deny in the plugin's configuration file as
/// `mosquitto_ctrl dynsec init` writes it (`mosquitto_ctrl dynsec setDefaultACLAccess` of
/// Mosquitto 2.0.11 does not change it).
fn deny_receiving_by_default(json: &Path) -> Result<()> {
    let text = std::fs::read_to_string(json).map_err(|e| TestkitError::io(json, e))?;
    let edited = text.find("\"defaultACLAccess\"").and_then(|at| {
        let (head, defaults) = text.split_at(at);
        let key = "\"publishClientReceive\":";
        let from = defaults.find(key)? + key.len();
        let value_end = from + defaults[from..].find(',')?;
        (defaults[from..value_end].trim() == "true").then(|| {
            format!(
                "{head}{}\tfalse{}",
                &defaults[..from],
                &defaults[value_end..]
            )
        })
    });
    match edited {
        Some(edited) => write(json, &edited),
        None => Err(fail(
            "config",
            format!(
                "{}: no defaultACLAccess.publishClientReceive = true to deny",
                json.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use platone_bus::{BusError, Message, MqttBus, Publisher, QoS, TlsConfig};

    use super::*;

    fn tls_client(broker: &DynsecMosquitto, id: &str, cert: Option<&CertificateFiles>) -> MqttBus {
        let port = broker
            .tls_url()
            .and_then(|u| u.rsplit(':').next().and_then(|p| p.parse().ok()))
            .unwrap();
        let mut config = platone_bus::MqttConfig::new("localhost", port, id);
        config.clean_session = true;
        config.credentials = Some((ADMIN.into(), broker.admin_password().into()));
        config.tls = Some(
            TlsConfig::from_files(
                &broker.ca_file().unwrap(),
                cert.map(|c| (c.cert.as_path(), c.key.as_path())),
            )
            .unwrap(),
        );
        MqttBus::connect(config).unwrap()
    }

    #[tokio::test]
    async fn the_plugin_takes_commands_and_the_tls_listener_requires_a_certificate() {
        let broker = DynsecMosquitto::start(DynsecOptions { tls: true }).unwrap();
        broker
            .add_client("pmu-1", "pw", &[("publishClientSend", "d/pmu-1/#")])
            .unwrap();
        let e = broker
            .ctrl(&["createClient", "pmu-1", "-p", "x"])
            .unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");

        let cert = broker.client_certificate("bal").unwrap();
        let with = tls_client(&broker, "with-cert", Some(&cert));
        with.wait_connected(Duration::from_secs(10)).await.unwrap();
        with.publish(
            Message::new("$CONTROL/dynamic-security/v1", "{}"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();

        let without = tls_client(&broker, "without-cert", None);
        let refused = without.wait_connected(Duration::from_secs(3)).await;
        assert!(
            matches!(refused, Err(BusError::Connection { .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn receiving_is_denied_by_default() {
        let broker = DynsecMosquitto::start(DynsecOptions::default()).unwrap();
        assert!(broker.tls_url().is_none() && broker.ca_file().is_none());
        let json =
            std::fs::read_to_string(broker.files.path().join("dynamic-security.json")).unwrap();
        let defaults = &json[json.find("defaultACLAccess").unwrap()..];
        assert!(
            defaults.contains("\"publishClientReceive\":\tfalse"),
            "{defaults}"
        );
    }
}
