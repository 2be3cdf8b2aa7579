//! Listeners: HTTPS with rustls (certificate reloaded on SIGHUP, optional client
//! certificates), or plain HTTP when asked for explicitly; graceful shutdown either way.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{Result, ServiceError};

/// The files of an HTTPS listener, all PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// When given, every client must present a certificate that chains to one of these CAs.
    pub client_ca: Option<PathBuf>,
}

/// How a listener speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS.
    Https(TlsFiles),
    /// Plain HTTP: only when the operator asks for it (`--insecure-http`), and logged.
    InsecureHttp,
}

impl Transport {
    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Transport::Https(_) => "https",
            Transport::InsecureHttp => "http",
        }
    }
}

impl TlsFiles {
    /// The rustls configuration (ring provider, TLS 1.2 and 1.3, HTTP/1.1 by ALPN), read from
    /// the files now.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = read_certs(&self.cert)?;
        let key_pem = std::fs::read(&self.key).map_err(|e| ServiceError::io(&self.key, e))?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| ServiceError::key(self.key.display().to_string(), e))?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ServiceError::key("TLS", e))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certs(ca)? {
                    roots
                        .add(cert)
                        .map_err(|e| ServiceError::key(ca.display().to_string(), e))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| ServiceError::key(ca.display().to_string(), e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| ServiceError::key(self.cert.display().to_string(), e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(|e| ServiceError::io(path, e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ServiceError::key(path.display().to_string(), e))?;
    if certs.is_empty() {
        return Err(ServiceError::key(
            path.display().to_string(),
            "no certificate in the file",
        ));
    }
    Ok(certs)
}

/// How [`serve`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// What one client may ask ([`harden`](crate::harden)).
    pub limits: crate::Limits,
    /// How long requests in flight may take to finish once shutdown begins.
    pub grace: Duration,
}

impl Default for ServeOptions {
    /// The default [`Limits`](crate::Limits), 5 s of grace.
    fn default() -> Self {
        ServeOptions {
            limits: crate::Limits::default(),
            grace: Duration::from_secs(5),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight finish
/// for up to [`ServeOptions::grace`]. The app is [hardened](crate::harden) with the options'
/// limits (request ids, body size, rate per client address), and request heads are bounded by
/// [`Limits::max_header_bytes`](crate::Limits::max_header_bytes). Over HTTPS, the
/// certificate and key are read again on every SIGHUP (a reload that fails is logged and the
/// previous certificate kept). Handlers can take `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    transport: &Transport,
    options: &ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let grace = options.grace;
    let (app, limiter) = crate::harden(app, &options.limits);
    let forgetting = limiter.map(|limiter| {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                limiter.forget_idle();
            }
        })
    });
    let head = options.limits.max_header_bytes.max(8192);
    let address = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    let failed = |e: std::io::Error| ServiceError::Listener {
        address: address.clone(),
        reason: e.to_string(),
    };
    let listener = listener.into_std().map_err(failed)?;
    let handle: Handle<SocketAddr> = Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(grace));
    });
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    let served = match transport {
        Transport::Https(files) => {
            let config = RustlsConfig::from_config(files.server_config()?);
            let reloader = reload_on_hangup(files.clone(), config.clone());
            let mut server = axum_server::from_tcp_rustls(listener, config).map_err(failed)?;
            server.http_builder().http1().max_buf_size(head);
            let served = server.handle(handle).serve(make).await;
            reloader.abort();
            served
        }
        Transport::InsecureHttp => {
            tracing::warn!(%address, "serving plain HTTP: tokens and data travel unencrypted");
            let mut server = axum_server::from_tcp(listener).map_err(failed)?;
            server.http_builder().http1().max_buf_size(head);
            server.handle(handle).serve(make).await
        }
    };
    if let Some(task) = forgetting {
        task.abort();
    }
    served.map_err(failed)
}

/// Waits, up to `within`, until no more than `holders` strong references to `shared` remain;
/// whether they went. After [`serve`] returns, the tasks of its last connections drop their
/// copy of the router — and of what its state holds, such as a ledger whose file lock a restart
/// needs — a moment later: a service's shutdown waits for that before it returns.
pub async fn until_released<T: ?Sized>(shared: &Arc<T>, holders: usize, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while Arc::strong_count(shared) > holders {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

#[cfg(unix)]
fn reload_on_hangup(files: TlsFiles, config: RustlsConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the certificate will not be reloaded");
            return;
        };
        while hangups.recv().await.is_some() {
            match files.server_config() {
                Ok(fresh) => {
                    config.reload_from_config(fresh);
                    tracing::info!(cert = %files.cert.display(), "reloaded the TLS certificate");
                }
                Err(e) => {
                    tracing::error!("TLS certificate not reloaded, keeping the previous one: {e}")
                }
            }
        }
    })
}

#[cfg(not(unix))]
fn reload_on_hangup(_: TlsFiles, _: RustlsConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {})
}
