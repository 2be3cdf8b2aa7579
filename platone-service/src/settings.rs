//! The security settings every Platone server reads the same way (the `[api]` table of its
//! configuration, and the `--tls-*`, `--client*`, `--oidc-*` flags): how it listens and whose
//! tokens it accepts, and [`ServiceSecurity::identify`], which turns them into the token check.
//!
//! ```toml
//! [api]
//! public_url = "https://bal.example:8443"   # the embedded issuer's `iss`
//! clients = ["dso=change-me:dso", "aggregator-1=$argon2id$v=19$…:aggregator"]
//! # client_file = "/etc/platone/clients"    # one ID=SECRET:ROLES per line
//! [api.tls]
//! cert = "/etc/platone/bal.pem"
//! key = "/etc/platone/bal.key"
//! # client_ca = "/etc/platone/clients-ca.pem"
//! [api.oidc]
//! issuer = "https://keycloak.example/realms/platone"
//! audience = "platone-bal"
//! roles_claim = "realm_access.roles"      # default: roles,realm_access.roles
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};
use crate::identity::{
    Authentication, Authenticators, FetchObserver, JwtConfig, JwtValidator, OidcDiscovery,
    RolesClaim, StaticTokens,
};
use crate::issuer::{ClientSpec, EmbeddedIssuer, IssuerConfig};
use crate::limits::Limits;
use crate::tls::{TlsFiles, Transport};

/// The file in the data directory holding the embedded issuer's signing key.
pub const ISSUER_KEY_FILE: &str = "issuer-key.pem";

/// A server's listener and token issuers (`[api]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSecurity {
    /// HTTPS: the certificate, its key and, for client certificates, their CA.
    #[serde(default)]
    pub tls: Option<TlsSettings>,
    /// Serve plain HTTP (only when no `tls` is given; tokens then travel in clear).
    #[serde(default)]
    pub insecure_http: bool,
    /// The clients of the embedded issuer: `ID=SECRET:ROLE[,ROLE…]`, the secret in clear or
    /// as its argon2 PHC string. The id is the participant.
    #[serde(default)]
    pub clients: Vec<String>,
    /// A file of more clients, one per line (blank lines and `#` comments skipped).
    #[serde(default)]
    pub client_file: Option<PathBuf>,
    /// The API's public base URL: the embedded issuer's `iss` and the base of its discovery
    /// document (default: `SCHEME://ADDRESS` of the listener).
    #[serde(default)]
    pub public_url: Option<String>,
    /// The `aud` of the embedded issuer's tokens (default: the service's own, such as
    /// `platone-bal`).
    #[serde(default)]
    pub audience: Option<String>,
    /// How long an embedded issuer's token is valid, in seconds.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
    /// An external OpenID Connect issuer whose tokens are accepted.
    #[serde(default)]
    pub oidc: Option<OidcSettings>,
    /// The largest request body, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// The largest request head (request line and headers), in bytes.
    #[serde(default = "default_max_header")]
    pub max_header_bytes: usize,
    /// Requests per second one client address may make, sustained; 0: no limit.
    #[serde(default = "default_requests_per_second")]
    pub requests_per_second: u32,
    /// Requests one client address may make at once beyond the sustained rate.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

fn default_max_body() -> usize {
    Limits::default().max_body_bytes
}

fn default_max_header() -> usize {
    Limits::default().max_header_bytes
}

fn default_requests_per_second() -> u32 {
    Limits::default().requests_per_second
}

fn default_burst() -> u32 {
    Limits::default().burst
}

fn default_token_lifetime() -> u64 {
    600
}

fn default_key_refetch() -> u64 {
    30
}

fn default_roles_claim() -> String {
    "roles,realm_access.roles".to_owned()
}

/// The files of the HTTPS listener (PEM).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The certificate chain, the server's first.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// When given, clients must present a certificate chaining to this CA.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// An external OpenID Connect issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer URL (its discovery document is at `ISSUER/.well-known/openid-configuration`).
    pub issuer: String,
    /// The audience tokens must name (default: the service's own, such as `platone-bal`).
    #[serde(default)]
    pub audience: Option<String>,
    /// The claims holding the roles, dotted for nested objects, several separated by commas
    /// (default `roles,realm_access.roles`: Keycloak's realm roles work as they are).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// The CA (PEM) the issuer's certificate chains to (default: the system's bundle).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The least time, in seconds, between two fetches of the issuer's keys caused by tokens
    /// naming a key not yet known (key rotation); a flood of forged key ids costs the issuer
    /// no more than one fetch per interval.
    #[serde(default = "default_key_refetch")]
    pub key_refetch_secs: u64,
}

impl OidcSettings {
    /// The issuer at `issuer`, its tokens for the service's own audience, roles in `roles` or
    /// `realm_access.roles`, its certificate checked against the system's bundle.
    pub fn new(issuer: impl Into<String>) -> Self {
        OidcSettings {
            issuer: issuer.into(),
            audience: None,
            roles_claim: default_roles_claim(),
            ca: None,
            key_refetch_secs: default_key_refetch(),
        }
    }
}

impl Default for ServiceSecurity {
    fn default() -> Self {
        ServiceSecurity {
            tls: None,
            insecure_http: false,
            clients: Vec::new(),
            client_file: None,
            public_url: None,
            audience: None,
            token_lifetime_secs: default_token_lifetime(),
            oidc: None,
            max_body_bytes: default_max_body(),
            max_header_bytes: default_max_header(),
            requests_per_second: default_requests_per_second(),
            burst: default_burst(),
        }
    }
}

/// What [`ServiceSecurity::identify`] needs besides the settings.
pub struct IdentitySetup<'a> {
    /// The audience of the service's tokens when the settings name none (`platone-bal`).
    pub default_audience: &'a str,
    /// The data directory (the embedded issuer keeps its key there).
    pub data_dir: &'a Path,
    /// The listener's address (the embedded issuer's default `iss`).
    pub address: SocketAddr,
    /// How the listener serves.
    pub transport: &'a Transport,
    /// Static tokens (tests and demonstrations), checked last.
    pub static_tokens: StaticTokens,
    /// Told after every fetch of the OIDC issuer's keys: how many, or why none (the service's
    /// health report).
    pub on_fetch: Option<FetchObserver>,
}

/// Who may call the API, as [`ServiceSecurity::identify`] sets it up.
pub struct ServiceIdentity {
    /// Checks bearer tokens: the OIDC issuer's, the embedded issuer's, then static tokens.
    pub authentication: Authentication,
    /// The embedded issuer, when clients are configured (its routes join the API).
    pub issuer: Option<Arc<EmbeddedIssuer>>,
}

impl std::fmt::Debug for ServiceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceIdentity")
            .field(
                "issuer",
                &self.issuer.as_ref().map(|i| i.issuer().to_owned()),
            )
            .finish_non_exhaustive()
    }
}

impl ServiceSecurity {
    /// How the API listens: HTTPS when `tls` is given, plain HTTP when `insecure_http` is
    /// set, an error when neither or both.
    pub fn transport(&self) -> Result<Transport> {
        match (&self.tls, self.insecure_http) {
            (Some(tls), false) => Ok(Transport::Https(TlsFiles {
                cert: tls.cert.clone(),
                key: tls.key.clone(),
                client_ca: tls.client_ca.clone(),
            })),
            (None, true) => Ok(Transport::InsecureHttp),
            (Some(_), true) => Err(ServiceError::config(
                "api.insecure_http",
                "give either a TLS certificate (api.tls) or insecure_http, not both",
            )),
            (None, false) => Err(ServiceError::config(
                "api.tls",
                "the REST API needs a certificate (--tls-cert and --tls-key); plain HTTP only \
                 with --insecure-http",
            )),
        }
    }

    /// What one client may ask.
    pub fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_body_bytes,
            max_header_bytes: self.max_header_bytes,
            requests_per_second: self.requests_per_second,
            burst: self.burst,
        }
    }

    /// The embedded issuer's clients: [`clients`](Self::clients) then the client file's, each
    /// id given once.
    pub fn client_specs(&self) -> Result<Vec<ClientSpec>> {
        let mut specs = self
            .clients
            .iter()
            .enumerate()
            .map(|(i, text)| {
                ClientSpec::parse(text)
                    .map_err(|e| ServiceError::config(format!("api.clients[{i}]"), e))
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(path) = &self.client_file {
            let text = std::fs::read_to_string(path).map_err(|e| ServiceError::io(path, e))?;
            let more = ClientSpec::parse_file(&text)
                .map_err(|e| ServiceError::config(format!("{}", path.display()), e))?;
            specs.extend(more);
        }
        let mut seen = std::collections::BTreeSet::new();
        for spec in &specs {
            if !seen.insert(spec.id.as_str()) {
                return Err(ServiceError::config(
                    "api.clients",
                    format!("the client `{}` is given twice", spec.id),
                ));
            }
        }
        Ok(specs)
    }

    /// Checks the settings agree with each other (files are read when the service starts).
    pub fn validate(&self) -> Result<()> {
        if self.tls.is_some() && self.insecure_http {
            self.transport()?;
        }
        if self.max_header_bytes < 8192 {
            return Err(ServiceError::config(
                "api.max_header_bytes",
                "must be at least 8192",
            ));
        }
        if self.token_lifetime_secs == 0 {
            return Err(ServiceError::config(
                "api.token_lifetime_secs",
                "must be at least 1",
            ));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ServiceError::config(
                "api.public_url",
                format!("`{url}` is not an http:// or https:// URL"),
            ));
        }
        if let Some(oidc) = &self.oidc {
            RolesClaim::parse(&oidc.roles_claim)
                .map_err(|e| ServiceError::config("api.oidc.roles_claim", e))?;
        }
        Ok(())
    }

    /// Sets up the token checks: the OIDC issuer's (its keys fetched on the first token, not
    /// here, so an issuer that is down delays no start; its tokens are answered 503 until it is
    /// back), the embedded issuer's when clients are configured, then `setup.static_tokens`.
    pub fn identify(&self, setup: IdentitySetup<'_>) -> Result<ServiceIdentity> {
        let mut chain = Authenticators::new();
        if let Some(oidc) = &self.oidc {
            let source = OidcDiscovery::new(&oidc.issuer, oidc.ca.as_deref())
                .map_err(|e| ServiceError::config("api.oidc.issuer", e))?;
            let audience = oidc.audience.as_deref().unwrap_or(setup.default_audience);
            let mut jwt = JwtConfig::new(oidc.issuer.clone(), audience.to_owned());
            jwt.roles = RolesClaim::parse(&oidc.roles_claim)
                .map_err(|e| ServiceError::config("api.oidc.roles_claim", e))?;
            jwt.min_refetch = Duration::from_secs(oidc.key_refetch_secs);
            let mut validator = JwtValidator::new(jwt, Arc::new(source));
            if let Some(observer) = setup.on_fetch.clone() {
                validator = validator.on_fetch(move |fetched| observer(fetched));
            }
            chain = chain.with(Arc::new(validator));
        }
        let clients = self.client_specs()?;
        let issuer = if clients.is_empty() {
            None
        } else {
            let public_url = self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("{}://{}", setup.transport.scheme(), setup.address));
            let issuer = EmbeddedIssuer::open(IssuerConfig {
                issuer: public_url,
                audience: self
                    .audience
                    .clone()
                    .unwrap_or_else(|| setup.default_audience.to_owned()),
                key_file: setup.data_dir.join(ISSUER_KEY_FILE),
                clients,
                token_lifetime: Duration::from_secs(self.token_lifetime_secs),
            })
            .map_err(|e| ServiceError::config("api.clients", e))?;
            chain = chain.with(Arc::new(issuer.validator()));
            Some(Arc::new(issuer))
        };
        if !setup.static_tokens.is_empty() {
            chain = chain.with(Arc::new(setup.static_tokens));
        }
        Ok(ServiceIdentity {
            authentication: Authentication::new(chain),
            issuer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transport_is_https_or_explicitly_plain() {
        let mut api = ServiceSecurity::default();
        assert!(
            api.transport().is_err(),
            "neither certificate nor insecure_http"
        );
        api.insecure_http = true;
        assert_eq!(api.transport().unwrap(), Transport::InsecureHttp);
        api.tls = Some(TlsSettings {
            cert: "c.pem".into(),
            key: "k.pem".into(),
            client_ca: None,
        });
        assert!(api.transport().is_err(), "both");
        assert!(api.validate().is_err());
        api.insecure_http = false;
        assert_eq!(api.transport().unwrap().scheme(), "https");
    }

    #[test]
    fn clients_are_given_once() {
        let mut api = ServiceSecurity {
            clients: vec!["dso=s1:dso".into(), "cust-1=s2:".into()],
            ..ServiceSecurity::default()
        };
        let specs = api.client_specs().unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].roles, ["dso"]);
        api.clients.push("dso=other:".into());
        let e = api.client_specs().unwrap_err().to_string();
        assert!(e.contains("given twice"), "{e}");
        api.clients = vec!["no-secret".into()];
        let e = api.client_specs().unwrap_err().to_string();
        assert!(e.contains("api.clients[0]"), "{e}");
    }

    #[test]
    fn the_embedded_issuer_names_the_services_audience_unless_configured() {
        let dir = tempfile::tempdir().unwrap();
        let mut api = ServiceSecurity {
            clients: vec!["agg-1=s3cret:aggregator".into()],
            insecure_http: true,
            ..ServiceSecurity::default()
        };
        let transport = api.transport().unwrap();
        let identify = |api: &ServiceSecurity| {
            api.identify(IdentitySetup {
                default_audience: "platone-market",
                data_dir: dir.path(),
                address: "127.0.0.1:8443".parse().unwrap(),
                transport: &transport,
                static_tokens: StaticTokens::new(),
                on_fetch: None,
            })
            .unwrap()
        };
        let issuer = identify(&api).issuer.unwrap();
        assert_eq!(issuer.issuer(), "http://127.0.0.1:8443");
        assert_eq!(issuer.audience(), "platone-market");
        api.audience = Some("market-eu".into());
        assert_eq!(identify(&api).issuer.unwrap().audience(), "market-eu");
    }
}
