//! Real brokers for the integration tests: Mosquitto through the test launcher
//! ([`platone_testkit::Mosquitto`]) with the tests' settings; TLS material made with rcgen.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod outage;

use platone_testkit::{Mosquitto, MosquittoOptions};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A broker with the defaults the tests rely on: persistence on, a queue long enough for every
/// stream the tests send (mosquitto's default of 1000 would drop beyond it).
pub fn mosquitto() -> Mosquitto {
    mosquitto_with(String::new())
}

/// No persistence: a restart forgets every session.
pub fn mosquitto_forgetful() -> Mosquitto {
    Mosquitto::start_with(MosquittoOptions {
        persistence: false,
        max_queued: Some(100_000),
        ..MosquittoOptions::default()
    })
    .unwrap()
}

/// `extra` follows the `listener` line (TLS, authentication, ACL…).
pub fn mosquitto_with(extra: String) -> Mosquitto {
    Mosquitto::start_with(MosquittoOptions {
        max_queued: Some(100_000),
        extra_config: extra,
        ..MosquittoOptions::default()
    })
    .unwrap()
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
