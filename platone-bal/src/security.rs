//! The REST API's security: who may call it and how it listens.
//!
//! Callers present OAuth 2.0 bearer tokens, checked by [`platone_service`]:
//! - JWTs of an **OpenID Connect issuer** (`[api.oidc]`: Keycloak, an enterprise IdP…), its
//!   keys fetched from the discovery document's JWKS and refetched on rotation;
//! - JWTs of the **embedded issuer** (`[api] clients`): `POST /oauth/token` with the
//!   client-credentials grant, for the one-machine default; its signing key is kept in the
//!   data directory (`issuer-key.pem`);
//! - **static tokens** (`[tokens]`, `--token`), for tests and demonstrations only.
//!
//! A token's subject is the participant. The participant `dso`, or any token with the role
//! `dso`, reads everything (as the store's operator).
//!
//! Each client address may make `requests_per_second` requests per second (bursts of
//! `burst`; 429 beyond), bodies are bounded by `max_body_bytes` (413) and request heads by
//! `max_header_bytes`; every answer carries an `x-request-id`, also in the request's log lines.
//!
//! The API listens over HTTPS (`[api.tls]`, certificate reloaded on SIGHUP, client
//! certificates required when `client_ca` is given), or over plain HTTP only when
//! `insecure_http = true` (`--insecure-http`).
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
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use platone_service::{
    Authentication, Authenticators, ClientSpec, EmbeddedIssuer, Identity, IssuerConfig, JwtConfig,
    JwtValidator, Limits, OidcDiscovery, RolesClaim, StaticTokens, TlsFiles, Transport,
};
use serde::{Deserialize, Serialize};

use crate::config::{BalConfig, DSO_PARTICIPANT};
use crate::error::{BalError, Result};
use crate::health::{Engine, Health};

/// The role that reads everything, like the participant `dso`.
pub const DSO_ROLE: &str = "dso";

/// The audience of the embedded issuer's tokens unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "platone-bal";

/// The file in the data directory holding the embedded issuer's signing key.
pub const ISSUER_KEY_FILE: &str = "issuer-key.pem";

/// The REST API's listener and token issuers (`[api]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSecurity {
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
    /// The `aud` of the embedded issuer's tokens.
    #[serde(default = "default_audience")]
    pub audience: String,
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
    /// The audience tokens must name.
    #[serde(default = "default_audience")]
    pub audience: String,
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
    /// The issuer at `issuer`, its tokens for [`DEFAULT_AUDIENCE`], roles in `roles` or
    /// `realm_access.roles`, its certificate checked against the system's bundle.
    pub fn new(issuer: impl Into<String>) -> Self {
        OidcSettings {
            issuer: issuer.into(),
            audience: default_audience(),
            roles_claim: default_roles_claim(),
            ca: None,
            key_refetch_secs: default_key_refetch(),
        }
    }
}

fn default_audience() -> String {
    DEFAULT_AUDIENCE.to_owned()
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

impl Default for ApiSecurity {
    fn default() -> Self {
        ApiSecurity {
            tls: None,
            insecure_http: false,
            clients: Vec::new(),
            client_file: None,
            public_url: None,
            audience: default_audience(),
            token_lifetime_secs: default_token_lifetime(),
            oidc: None,
            max_body_bytes: default_max_body(),
            max_header_bytes: default_max_header(),
            requests_per_second: default_requests_per_second(),
            burst: default_burst(),
        }
    }
}

impl ApiSecurity {
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
            (Some(_), true) => Err(BalError::config(
                "api.insecure_http",
                "give either a TLS certificate (api.tls) or insecure_http, not both",
            )),
            (None, false) => Err(BalError::config(
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

    /// The embedded issuer's clients: [`clients`](Self::clients) then the client file's.
    pub fn client_specs(&self) -> Result<Vec<ClientSpec>> {
        let mut specs = self
            .clients
            .iter()
            .enumerate()
            .map(|(i, text)| {
                ClientSpec::parse(text)
                    .map_err(|e| BalError::config(format!("api.clients[{i}]"), e))
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(path) = &self.client_file {
            let text = std::fs::read_to_string(path).map_err(|e| BalError::io(path, e))?;
            let more = ClientSpec::parse_file(&text)
                .map_err(|e| BalError::config(format!("{}", path.display()), e))?;
            specs.extend(more);
        }
        let mut seen = std::collections::BTreeSet::new();
        for spec in &specs {
            if !seen.insert(spec.id.as_str()) {
                return Err(BalError::config(
                    "api.clients",
                    format!("the client `{}` is given twice", spec.id),
                ));
            }
            platone_model::ParticipantId::new(&spec.id)
                .map_err(|e| BalError::config(format!("api.clients: `{}`", spec.id), e))?;
        }
        Ok(specs)
    }

    /// Checks the settings agree with each other (files are read when the BAL starts).
    pub fn validate(&self) -> Result<()> {
        if self.tls.is_some() && self.insecure_http {
            self.transport()?;
        }
        if self.max_header_bytes < 8192 {
            return Err(BalError::config(
                "api.max_header_bytes",
                "must be at least 8192",
            ));
        }
        if self.token_lifetime_secs == 0 {
            return Err(BalError::config(
                "api.token_lifetime_secs",
                "must be at least 1",
            ));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(BalError::config(
                "api.public_url",
                format!("`{url}` is not an http:// or https:// URL"),
            ));
        }
        if let Some(oidc) = &self.oidc {
            RolesClaim::parse(&oidc.roles_claim)
                .map_err(|e| BalError::config("api.oidc.roles_claim", e))?;
        }
        Ok(())
    }
}

/// Who may call the API, as [`identify`] sets it up.
pub struct ApiIdentity {
    /// Checks bearer tokens: the OIDC issuer's, the embedded issuer's, then static tokens.
    pub authentication: Authentication,
    /// The embedded issuer, when clients are configured (its routes join the API).
    pub issuer: Option<Arc<EmbeddedIssuer>>,
}

impl std::fmt::Debug for ApiIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiIdentity")
            .field(
                "issuer",
                &self.issuer.as_ref().map(|i| i.issuer().to_owned()),
            )
            .finish_non_exhaustive()
    }
}

/// Sets up the token checks of `config` for an API listening on `address` over `transport`.
/// The OIDC issuer's keys are fetched on the first token, not here, so an issuer that is down
/// delays no start (its tokens are answered 503 until it is back); each fetch reports the
/// issuer in `health` (engine `identity`).
pub fn identify(
    config: &BalConfig,
    address: SocketAddr,
    transport: &Transport,
    health: &Health,
) -> Result<ApiIdentity> {
    let api = &config.api;
    let mut chain = Authenticators::new();
    if let Some(oidc) = &api.oidc {
        let source = OidcDiscovery::new(&oidc.issuer, oidc.ca.as_deref())
            .map_err(|e| BalError::config("api.oidc.issuer", e))?;
        let mut jwt = JwtConfig::new(oidc.issuer.clone(), oidc.audience.clone());
        jwt.roles = RolesClaim::parse(&oidc.roles_claim)
            .map_err(|e| BalError::config("api.oidc.roles_claim", e))?;
        jwt.min_refetch = Duration::from_secs(oidc.key_refetch_secs);
        let health = health.clone();
        let validator =
            JwtValidator::new(jwt, Arc::new(source)).on_fetch(move |fetched| match fetched {
                Ok(_) => health.available(Engine::Identity),
                Err(e) => health.unavailable(Engine::Identity, e),
            });
        chain = chain.with(Arc::new(validator));
    }
    let clients = api.client_specs()?;
    let issuer = if clients.is_empty() {
        None
    } else {
        let public_url = api
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{}://{address}", transport.scheme()));
        let issuer = EmbeddedIssuer::open(IssuerConfig {
            issuer: public_url,
            audience: api.audience.clone(),
            key_file: config.data.join(ISSUER_KEY_FILE),
            clients,
            token_lifetime: Duration::from_secs(api.token_lifetime_secs),
        })
        .map_err(|e| BalError::config("api.clients", e))?;
        chain = chain.with(Arc::new(issuer.validator()));
        Some(Arc::new(issuer))
    };
    let tokens = static_tokens(config)?;
    if !tokens.is_empty() {
        chain = chain.with(Arc::new(tokens));
    }
    Ok(ApiIdentity {
        authentication: Authentication::new(chain),
        issuer,
    })
}

/// The static tokens of a configuration (`[tokens]`: participant → token). The participant
/// `dso` gets the role `dso`.
pub fn static_tokens(config: &BalConfig) -> Result<StaticTokens> {
    let mut tokens = StaticTokens::new();
    for (participant, token) in &config.tokens {
        platone_model::ParticipantId::new(participant)
            .map_err(|e| BalError::config(format!("tokens.{participant}"), e))?;
        let roles = (participant == DSO_PARTICIPANT).then(|| DSO_ROLE.to_owned());
        tokens.insert(token.clone(), Identity::new(participant.clone(), roles));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transport_is_https_or_explicitly_plain() {
        let mut api = ApiSecurity::default();
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
    fn clients_are_participants_given_once() {
        let mut api = ApiSecurity {
            clients: vec!["dso=s1:dso".into(), "cust-1=s2:".into()],
            ..ApiSecurity::default()
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
    fn static_tokens_name_participants_and_the_dso_role() {
        let mut config = BalConfig::default();
        config.add_token("dso=a").unwrap();
        config.add_token("cust-1=b").unwrap();
        let tokens = static_tokens(&config).unwrap();
        assert!(tokens.get("a").unwrap().has_role(DSO_ROLE));
        assert!(!tokens.get("b").unwrap().has_role(DSO_ROLE));
        assert_eq!(tokens.get("b").unwrap().subject, "cust-1");
    }
}
