//! Where a validator's keys come from: an OpenID Connect issuer's discovery document and
//! JWKS, or a fixed key set.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use jsonwebtoken::jwk::JwkSet;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::{Result, ServiceError};

/// Supplies the public keys of one issuer.
///
/// # Contract
///
/// `fetch` returns the issuer's current key set, fetched anew (the validator caches it and
/// decides when to ask again); an error is a reason the keys cannot be had now, so tokens
/// signed by unknown keys are answered "unavailable", not "invalid". It must be safe to call
/// from several tasks at once.
pub trait JwksSource: Send + Sync + 'static {
    /// The issuer's current keys.
    fn fetch(&self) -> BoxFuture<'_, Result<JwkSet>>;
}

/// A fixed key set (the embedded issuer's, or keys configured by hand).
#[derive(Debug, Clone)]
pub struct StaticJwks(pub JwkSet);

impl JwksSource for StaticJwks {
    fn fetch(&self) -> BoxFuture<'_, Result<JwkSet>> {
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }
}

/// An OpenID Connect issuer: its keys are at the `jwks_uri` of
/// `ISSUER/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4), whose `issuer`
/// must be exactly the configured issuer (§4.3).
pub struct OidcDiscovery {
    issuer: String,
    client: HttpsClient,
    jwks_uri: Mutex<Option<String>>,
}

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Empty<bytes::Bytes>,
>;

/// How long one request to the issuer may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes a discovery document or key set may have.
const MAX_DOCUMENT: usize = 1 << 20;

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl OidcDiscovery {
    /// The issuer at `issuer` (an `http://` or `https://` URL). `https` servers are trusted
    /// when their certificate chains to `ca` (a PEM file) or, without one, to the system's
    /// CA bundle (`/etc/ssl/certs/ca-certificates.crt`).
    pub fn new(issuer: &str, ca: Option<&Path>) -> Result<Self> {
        let issuer = issuer.trim_end_matches('/').to_owned();
        if !(issuer.starts_with("http://") || issuer.starts_with("https://")) {
            return Err(ServiceError::config(
                "OIDC issuer",
                format!("`{issuer}` is not an http:// or https:// URL"),
            ));
        }
        let tls = client_tls(ca)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(OidcDiscovery {
            issuer,
            client,
            jwks_uri: Mutex::new(None),
        })
    }

    /// The issuer URL, without a trailing `/`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn provider_error(&self, reason: impl ToString) -> ServiceError {
        ServiceError::Provider {
            issuer: self.issuer.clone(),
            reason: reason.to_string(),
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T> {
        use http_body_util::BodyExt;
        let fail = |reason: String| self.provider_error(format!("GET {url}: {reason}"));
        let uri: axum::http::Uri = url.parse().map_err(|e| fail(format!("{e}")))?;
        let request = axum::http::Request::get(uri)
            .header(axum::http::header::ACCEPT, "application/json")
            .body(http_body_util::Empty::new())
            .map_err(|e| fail(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| fail(error_chain(&e)))?;
            let status = response.status();
            if !status.is_success() {
                return Err(fail(format!("status {status}")));
            }
            let body = http_body_util::Limited::new(response.into_body(), MAX_DOCUMENT)
                .collect()
                .await
                .map_err(|e| fail(e.to_string()))?;
            Ok(body.to_bytes())
        };
        let bytes = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| fail(format!("no answer within {REQUEST_TIMEOUT:?}")))??;
        serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))
    }

    async fn discover(&self) -> Result<String> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let discovery: Discovery = self.get_json(&url).await?;
        if discovery.issuer.trim_end_matches('/') != self.issuer {
            return Err(self.provider_error(format!(
                "the discovery document names issuer `{}`",
                discovery.issuer
            )));
        }
        Ok(discovery.jwks_uri)
    }
}

impl std::fmt::Debug for OidcDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcDiscovery")
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl JwksSource for OidcDiscovery {
    fn fetch(&self) -> BoxFuture<'_, Result<JwkSet>> {
        Box::pin(async move {
            let mut cached = self.jwks_uri.lock().await;
            let uri = match cached.as_ref() {
                Some(uri) => uri.clone(),
                None => {
                    let uri = self.discover().await?;
                    *cached = Some(uri.clone());
                    uri
                }
            };
            drop(cached);
            match self.get_json::<JwkSet>(&uri).await {
                Ok(keys) => Ok(keys),
                Err(e) => {
                    // The provider may have moved its keys: discover again next time.
                    *self.jwks_uri.lock().await = None;
                    Err(e)
                }
            }
        })
    }
}

/// An error with its causes (a connection error's cause says what failed: refused, TLS…).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A rustls client configuration trusting `ca` or the system's CA bundle.
fn client_tls(ca: Option<&Path>) -> Result<rustls::ClientConfig> {
    const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
    let mut roots = rustls::RootCertStore::empty();
    let path = ca.unwrap_or(Path::new(SYSTEM_BUNDLE));
    match std::fs::read(path) {
        Ok(pem) => {
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| ServiceError::key(path.display().to_string(), e))?;
                roots
                    .add(cert)
                    .map_err(|e| ServiceError::key(path.display().to_string(), e))?;
            }
        }
        Err(e) if ca.is_some() => return Err(ServiceError::io(path, e)),
        // No system bundle: only http:// issuers can be reached.
        Err(_) => {}
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServiceError::key("TLS", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
