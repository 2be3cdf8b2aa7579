//! A throw-away certificate authority for tests: a CA, server certificates for `localhost`
//! and `127.0.0.1`, and client certificates, made with rcgen and written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::error::{Result, TestkitError};

/// A PEM certificate and its key, as files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, PKCS#8).
    pub key: PathBuf,
}

/// A certificate authority whose certificate and issued certificates live in a directory.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").field("dir", &self.dir).finish()
    }
}

fn fail(reason: impl Into<String>) -> TestkitError {
    TestkitError::Mosquitto {
        stage: "config",
        reason: reason.into(),
    }
}

fn tls_error(e: rcgen::Error) -> TestkitError {
    fail(format!("making certificates: {e}"))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| TestkitError::io(path, e))
}

impl TestCa {
    /// A new CA named `name`, its certificate written to `DIR/ca.pem`.
    pub fn new(dir: &Path, name: &str) -> Result<TestCa> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().map_err(tls_error)?)
            .map_err(tls_error)?;
        let ca = TestCa {
            issuer,
            dir: dir.to_path_buf(),
        };
        write(&ca.ca_file(), &ca.issuer.pem())?;
        Ok(ca)
    }

    /// The CA certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A server certificate for `localhost` and `127.0.0.1`, written as `DIR/NAME.pem` and
    /// `DIR/NAME.key`.
    pub fn server_certificate(&self, name: &str) -> Result<CertificateFiles> {
        self.issue(name, true)
    }

    /// A client certificate whose common name is `name`.
    pub fn client_certificate(&self, name: &str) -> Result<CertificateFiles> {
        self.issue(name, false)
    }

    fn issue(&self, name: &str, server: bool) -> Result<CertificateFiles> {
        let sans = if server {
            vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
        } else {
            Vec::new()
        };
        let mut params = CertificateParams::new(sans).map_err(tls_error)?;
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
        let key = KeyPair::generate().map_err(tls_error)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(tls_error)?;
        let files = CertificateFiles {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        };
        write(&files.cert, &cert.pem())?;
        write(&files.key, &key.serialize_pem())?;
        Ok(files)
    }
}
