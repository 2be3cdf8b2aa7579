//! The client side: HTTPS requests to a Platone service (or an OpenID Connect issuer) over
//! rustls, trusting a given CA or the system's bundle, with a bearer token.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use axum::http::{Method, Request, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::Value;

use crate::{AccessToken, Result, ServiceError};

/// Where the system's CA bundle is (Debian, Ubuntu, Alpine).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A client of a Platone service's REST API: JSON over HTTPS (or HTTP), a CA to trust, a
/// timeout and a bound on answers.
///
/// ```no_run
/// # async fn run() -> platone_service::Result<()> {
/// use platone_service::ServiceClient;
///
/// let bal = ServiceClient::new("https://bal.example:8082", Some("ca.pem".as_ref()))?;
/// let token = bal.access_token("aggregator-1", "s3cret").await?;
/// let (status, page) = bal
///     .get("/api/measurements?pod=IT001E00000001", Some(&token.access_token))
///     .await?;
/// assert!(status.is_success(), "{page}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServiceClient {
    base: String,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_answer: usize,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ServiceClient {
    /// A client of the service at `base` (`https://host:port`, or `http://` on loopback),
    /// trusting certificates that chain to `ca` (PEM) or, without one, to the system's CA
    /// bundle. Requests time out after 10 s; answers beyond 16 MiB are refused.
    pub fn new(base: &str, ca: Option<&Path>) -> Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ServiceError::config(
                "service URL",
                format!("`{base}` is not an http:// or https:// URL"),
            ));
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(client_tls(ca)?)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Ok(ServiceClient {
            base,
            client,
            timeout: Duration::from_secs(10),
            max_answer: 16 << 20,
        })
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sets how long one request may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends a request; `target` is a path (appended to the base) or an absolute URL. Answers
    /// the status and the body's bytes; an error when no HTTP answer came in time.
    pub async fn send(
        &self,
        method: Method,
        target: &str,
        token: Option<&str>,
        body: Option<(&'static str, Bytes)>,
    ) -> Result<(StatusCode, Bytes)> {
        let url = if target.starts_with("http://") || target.starts_with("https://") {
            target.to_owned()
        } else {
            format!("{}{target}", self.base)
        };
        let fail = |reason: String| ServiceError::Provider {
            issuer: self.base.clone(),
            reason: format!("{method} {url}: {reason}"),
        };
        let uri: Uri = url.parse().map_err(|e| fail(format!("{e}")))?;
        let mut request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(ACCEPT, "application/json");
        if let Some(token) = token {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| fail(format!("token: {e}")))?;
            request = request.header(AUTHORIZATION, value);
        }
        let body = match body {
            Some((media_type, bytes)) => {
                request = request.header(CONTENT_TYPE, media_type);
                Full::new(bytes)
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body).map_err(|e| fail(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| fail(error_chain(&e)))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), self.max_answer)
                .collect()
                .await
                .map_err(|e| fail(e.to_string()))?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| fail(format!("no answer within {:?}", self.timeout)))?
    }

    /// `GET target`: the status and the JSON answer (`null` when the answer is not JSON).
    pub async fn get(&self, target: &str, token: Option<&str>) -> Result<(StatusCode, Value)> {
        let (status, bytes) = self.send(Method::GET, target, token, None).await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// `POST target` with a JSON body: the status and the JSON answer.
    pub async fn post(
        &self,
        target: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<(StatusCode, Value)> {
        let body = Bytes::from(body.to_string());
        let (status, bytes) = self
            .send(
                Method::POST,
                target,
                token,
                Some(("application/json", body)),
            )
            .await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// An access token of the service's embedded issuer (`POST /oauth/token`,
    /// client-credentials grant, the client's id and secret in the form).
    pub async fn access_token(&self, client_id: &str, secret: &str) -> Result<AccessToken> {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", client_id)
            .append_pair("client_secret", secret)
            .finish();
        let (status, bytes) = self
            .send(
                Method::POST,
                crate::TOKEN_PATH,
                None,
                Some(("application/x-www-form-urlencoded", Bytes::from(form))),
            )
            .await?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match answer["access_token"].as_str() {
            Some(token) if status.is_success() => Ok(AccessToken {
                access_token: token.to_owned(),
                token_type: "Bearer",
                expires_in: answer["expires_in"].as_u64().unwrap_or(0),
            }),
            _ => Err(ServiceError::Provider {
                issuer: self.base.clone(),
                reason: format!("token of {client_id}: {status} {answer}"),
            }),
        }
    }
}

/// An error with its causes (a connection error's cause says what failed: refused, TLS…).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A rustls client configuration (ring) trusting `ca` or the system's CA bundle.
pub(crate) fn client_tls(ca: Option<&Path>) -> Result<rustls::ClientConfig> {
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
        // No system bundle: only http:// services can be reached.
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
