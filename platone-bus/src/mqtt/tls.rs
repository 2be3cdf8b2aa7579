//! TLS for MQTT with rustls (ring provider): a CA to trust and, for mutual TLS, a client
//! certificate chain and key, all PEM.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{BusError, BusResult};

/// TLS settings: PEM-encoded CA certificate(s) and an optional client certificate and key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// The CA certificate(s) the broker's certificate must chain to (PEM).
    pub ca_pem: Vec<u8>,
    /// Client certificate chain (PEM) and private key (PEM, PKCS#8, SEC1 or PKCS#1) for mutual
    /// TLS.
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("ca_pem_len", &self.ca_pem.len())
            .field("client_auth", &self.client_pem.is_some())
            .finish()
    }
}

impl TlsConfig {
    /// Reads the CA and optionally the client certificate and key from files.
    pub fn from_files(ca: &Path, client: Option<(&Path, &Path)>) -> BusResult<Self> {
        let read = |what, p: &Path| {
            std::fs::read(p).map_err(|e| BusError::Tls {
                what,
                reason: format!("{}: {e}", p.display()),
            })
        };
        let ca_pem = read("ca", ca)?;
        let client_pem = match client {
            Some((cert, key)) => Some((read("cert", cert)?, read("key", key)?)),
            None => None,
        };
        Ok(TlsConfig { ca_pem, client_pem })
    }

    /// The rustls client configuration (TLS 1.2 and 1.3).
    pub fn client_config(&self) -> BusResult<Arc<ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for (i, cert) in CertificateDer::pem_slice_iter(&self.ca_pem).enumerate() {
            let cert = cert.map_err(|e| BusError::Tls {
                what: "ca",
                reason: format!("certificate {i}: {e}"),
            })?;
            roots.add(cert).map_err(|e| BusError::Tls {
                what: "ca",
                reason: format!("certificate {i}: {e}"),
            })?;
        }
        if roots.is_empty() {
            return Err(BusError::Tls {
                what: "ca",
                reason: "no PEM certificate found".into(),
            });
        }
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BusError::Tls {
                what: "config",
                reason: e.to_string(),
            })?
            .with_root_certificates(roots);
        let config = match &self.client_pem {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| BusError::Tls {
                        what: "cert",
                        reason: e.to_string(),
                    })?;
                if chain.is_empty() {
                    return Err(BusError::Tls {
                        what: "cert",
                        reason: "no PEM certificate found".into(),
                    });
                }
                let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| BusError::Tls {
                    what: "key",
                    reason: e.to_string(),
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| BusError::Tls {
                        what: "key",
                        reason: e.to_string(),
                    })?
            }
        };
        Ok(Arc::new(config))
    }
}
