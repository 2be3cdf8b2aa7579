//! Real brokers for the integration tests: Mosquitto started on a free loopback port with a
//! generated configuration in a temporary directory, killed on drop; TLS material made with
//! rcgen.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A Mosquitto broker owned by the test.
pub struct Mosquitto {
    pub port: u16,
    pub dir: tempfile::TempDir,
    config: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    /// Plain listener, anonymous access, persistence on, generous queues.
    pub fn start() -> Mosquitto {
        Mosquitto::start_with(|_dir| String::from("allow_anonymous true\n"))
    }

    /// Plain listener without persistence: a restart forgets every session.
    pub fn start_forgetful() -> Mosquitto {
        Mosquitto::start_full(false, |_dir| String::from("allow_anonymous true\n"))
    }

    /// `listener_extra` returns the lines that follow the `listener` line (TLS, ACL…).
    pub fn start_with(listener_extra: impl FnOnce(&Path) -> String) -> Mosquitto {
        Mosquitto::start_full(true, listener_extra)
    }

    fn start_full(persistence: bool, listener_extra: impl FnOnce(&Path) -> String) -> Mosquitto {
        assert!(
            Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} is missing: install the Debian package `mosquitto`"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let extra = listener_extra(dir.path());
        let user = if running_as_root() { "user root\n" } else { "" };
        let config = format!(
            "{user}per_listener_settings false\n\
             persistence {persistence}\n\
             persistence_location {}/\n\
             autosave_interval 1\n\
             max_queued_messages 100000\n\
             max_inflight_messages 20\n\
             log_dest file {}/mosquitto.log\n\
             log_type error\nlog_type warning\nlog_type notice\n\
             listener {port} 127.0.0.1\n{extra}",
            dir.path().display(),
            dir.path().display(),
        );
        let path = dir.path().join("mosquitto.conf");
        std::fs::write(&path, config).unwrap();
        let mut m = Mosquitto {
            port,
            dir,
            config: path,
            child: None,
        };
        m.launch();
        m
    }

    fn launch(&mut self) {
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("mosquitto exited with {status}; log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Stops the broker with SIGTERM (it saves its persistence file) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Starts it again on the same port with the same persistence.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
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

/// A CA with server and client certificates, written as PEM files.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
}

impl TestCa {
    pub fn new(dir: &Path) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Platone test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join("ca.pem"), issuer.pem()).unwrap();
        TestCa {
            issuer,
            dir: dir.to_owned(),
        }
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn issue(&self, name: &str, sans: Vec<String>, server: bool) -> ClientCert {
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_path = self.dir.join(format!("{name}.pem"));
        let key_path = self.dir.join(format!("{name}.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        ClientCert {
            cert: cert_path,
            key: key_path,
        }
    }

    pub fn server(&self) -> ClientCert {
        self.issue("server", vec!["localhost".into(), "127.0.0.1".into()], true)
    }

    pub fn client(&self, name: &str) -> ClientCert {
        self.issue(name, Vec::new(), false)
    }
}

/// Waits until `cond` holds, polling, for at most `timeout`.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
