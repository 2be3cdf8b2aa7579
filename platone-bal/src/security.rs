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
//! The settings and the token checks are the shared ones of [`platone_service`]
//! ([`ApiSecurity`] is its `ServiceSecurity`); the BAL adds its audience (`platone-bal`), the
//! participant ids of the clients, its static tokens and the `identity` engine of `/health`.
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
use std::sync::Arc;

use platone_service::{Identity, IdentitySetup, StaticTokens, Transport};

pub use platone_service::{
    ISSUER_KEY_FILE, OidcSettings, ServiceIdentity as ApiIdentity, TlsSettings,
};

use crate::config::{BalConfig, DSO_PARTICIPANT};
use crate::error::{BalError, Result};
use crate::health::{Engine, Health};

/// The role that reads everything, like the participant `dso`.
pub const DSO_ROLE: &str = "dso";

/// The audience of the BAL's tokens unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "platone-bal";

/// The REST API's listener and token issuers (`[api]`): the settings every Platone server
/// shares ([`platone_service::ServiceSecurity`]).
pub type ApiSecurity = platone_service::ServiceSecurity;

/// Sets up the token checks of `config` for an API listening on `address` over `transport`:
/// [`platone_service::ServiceSecurity::identify`] with the BAL's audience, its data directory,
/// its static tokens, and each fetch of the OIDC issuer's keys reported in `health` (engine
/// `identity`). Every embedded-issuer client must be a valid participant id.
pub fn identify(
    config: &BalConfig,
    address: SocketAddr,
    transport: &Transport,
    health: &Health,
) -> Result<ApiIdentity> {
    for spec in config.api.client_specs()? {
        platone_model::ParticipantId::new(&spec.id)
            .map_err(|e| BalError::config(format!("api.clients: `{}`", spec.id), e))?;
    }
    let health = health.clone();
    Ok(config.api.identify(IdentitySetup {
        default_audience: DEFAULT_AUDIENCE,
        data_dir: &config.data,
        address,
        transport,
        static_tokens: static_tokens(config)?,
        on_fetch: Some(Arc::new(move |fetched| match fetched {
            Ok(_) => health.available(Engine::Identity),
            Err(e) => health.unavailable(Engine::Identity, e),
        })),
    })?)
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
    fn clients_must_be_participants() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BalConfig {
            data: dir.path().to_owned(),
            ..BalConfig::default()
        };
        config.api.insecure_http = true;
        config.api.clients = vec!["not a participant =s1:dso".into()];
        let transport = config.api.transport().unwrap();
        let address = "127.0.0.1:8082".parse().unwrap();
        let e = identify(&config, address, &transport, &Health::new()).unwrap_err();
        assert!(e.to_string().contains("api.clients"), "{e}");
        config.api.clients = vec!["cust-1=s1:".into()];
        let identity = identify(&config, address, &transport, &Health::new()).unwrap();
        assert_eq!(identity.issuer.unwrap().audience(), DEFAULT_AUDIENCE);
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
