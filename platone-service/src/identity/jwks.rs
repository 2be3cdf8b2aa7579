//! Where a validator's keys come from: an OpenID Connect issuer's discovery document and
//! JWKS, or a fixed key set.

use std::path::Path;

use futures::future::BoxFuture;
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::{Result, ServiceClient, ServiceError};

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
    client: ServiceClient,
    jwks_uri: Mutex<Option<String>>,
}

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
        let client = ServiceClient::new(issuer, ca)?;
        Ok(OidcDiscovery {
            issuer: client.base().to_owned(),
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
        let (status, bytes) = self
            .client
            .send(axum::http::Method::GET, url, None, None)
            .await
            .map_err(|e| self.provider_error(e))?;
        if !status.is_success() {
            return Err(self.provider_error(format!("GET {url}: status {status}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| self.provider_error(format!("GET {url}: {e}")))
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
