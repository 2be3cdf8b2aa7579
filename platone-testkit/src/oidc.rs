//! A local OpenID Connect provider: [node-oidc-provider](https://github.com/panva/node-oidc-provider)
//! (npm `oidc-provider`, pinned in the repository's `package.json`, installed by `npm ci`)
//! issuing RFC 9068 JWT access tokens to clients by the client-credentials grant.
//!
//! The provider is `oidc/provider.mjs` of this crate, run by Node.js: issuer
//! `http://127.0.0.1:PORT`, discovery at `/.well-known/openid-configuration`, token endpoint
//! `/token` (client authentication `client_secret_basic`), RS256 tokens for the configured
//! audience with the client's roles in `realm_access.roles` (as Keycloak puts them) and the
//! client id as `sub`. Each start signs with a new key, so [`OidcProvider::restart`] rotates
//! the key (same port, new `kid`).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{Result, TestkitError};
use crate::paths::workspace_root;

/// How long the provider may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    /// The client id (the tokens' `sub`).
    pub id: String,
    /// Its secret.
    pub secret: String,
    /// The roles its tokens carry in `realm_access.roles`.
    pub roles: Vec<String>,
}

impl OidcClient {
    /// A client with roles.
    pub fn new(id: &str, secret: &str, roles: &[&str]) -> Self {
        OidcClient {
            id: id.to_owned(),
            secret: secret.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }
}

/// A provider's signing key ([`OidcProvider::signing_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyFiles {
    /// The key id in the JWKS.
    pub kid: String,
    /// The RSA private key, PKCS#1 DER.
    pub private_pkcs1_der: Vec<u8>,
    /// The public key, SPKI PEM.
    pub public_pem: String,
}

/// A running provider; stopped on drop.
pub struct OidcProvider {
    port: u16,
    config: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.issuer())
            .finish_non_exhaustive()
    }
}

fn error(stage: &'static str, reason: impl Into<String>) -> TestkitError {
    TestkitError::Oidc {
        stage,
        reason: reason.into(),
    }
}

/// The provider script and the `oidc-provider` package it imports; the error says how to
/// install what is missing.
fn find_provider() -> Result<PathBuf> {
    let package = workspace_root().join("node_modules/oidc-provider/package.json");
    if !package.is_file() {
        return Err(error(
            "binary",
            format!(
                "no {}: run `npm ci` at the repository root (scripts/test does)",
                package.display()
            ),
        ));
    }
    Ok(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc/provider.mjs"))
}

impl OidcProvider {
    /// Starts a provider for `clients`, its tokens for `audience`, and waits until it listens.
    pub fn start(audience: &str, clients: &[OidcClient]) -> Result<OidcProvider> {
        find_provider()?;
        let dir = tempfile::Builder::new()
            .prefix("platone-oidc-")
            .tempdir()
            .map_err(|e| error("config", format!("temporary directory: {e}")))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| error("port", format!("no free loopback port: {e}")))?;
        let config = dir.path().join("provider.json");
        let clients: Vec<serde_json::Value> = clients
            .iter()
            .map(|c| serde_json::json!({"id": c.id, "secret": c.secret, "roles": c.roles}))
            .collect();
        let text = serde_json::json!({
            "issuer": format!("http://127.0.0.1:{port}"),
            "port": port,
            "audience": audience,
            "dir": dir.path(),
            "clients": clients,
        });
        std::fs::write(&config, text.to_string()).map_err(|e| TestkitError::io(&config, e))?;
        let mut provider = OidcProvider {
            port,
            config,
            dir,
            child: None,
        };
        provider.launch()?;
        Ok(provider)
    }

    /// The issuer URL (`http://127.0.0.1:PORT`, no trailing `/`).
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer())
    }

    /// The provider's current signing key, to forge tokens it could have signed: its `kid`, the
    /// RSA private key (PKCS#1 DER) and the public key (SPKI PEM).
    pub fn signing_key(&self) -> Result<SigningKeyFiles> {
        let read = |name: &str| {
            let path = self.dir.path().join(name);
            std::fs::read(&path).map_err(|e| TestkitError::io(&path, e))
        };
        Ok(SigningKeyFiles {
            kid: String::from_utf8_lossy(&read("signing-key.kid")?).into_owned(),
            private_pkcs1_der: read("signing-key.der")?,
            public_pem: String::from_utf8_lossy(&read("signing-key.pub.pem")?).into_owned(),
        })
    }

    /// Stops the provider (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            crate::process::terminate(child, Duration::from_secs(5));
        }
    }

    /// Starts it again on the same port with a new signing key (key rotation). Tokens it
    /// issued before no longer verify against its keys.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.launch()
    }

    fn launch(&mut self) -> Result<()> {
        let script = find_provider()?;
        let log_path = self.dir.path().join("provider.log");
        let log = std::fs::File::create(&log_path).map_err(|e| TestkitError::io(&log_path, e))?;
        let mut child = Command::new("node")
            .arg(&script)
            .arg(&self.config)
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| error("start", format!("running node {}: {e}", script.display())))?;
        let stdout = child.stdout.take();
        self.child = Some(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            for line in BufReader::new(stdout)
                .lines()
                .map_while(std::result::Result::ok)
            {
                if line.trim() == "listening" {
                    let _ = tx.send(());
                }
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.stop();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                Err(error(
                    "start",
                    format!("not listening within {START_TIMEOUT:?}; stderr:\n{log}"),
                ))
            }
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
