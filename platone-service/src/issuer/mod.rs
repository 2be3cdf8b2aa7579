//! The embedded OAuth 2.0 issuer: client-credentials tokens for the one-machine default.

mod clients;
mod key;
pub(crate) mod routes;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;

pub use clients::{ClientSpec, hash_secret};
use key::IssuerKey;

use crate::identity::{JwtConfig, JwtValidator, StaticJwks};
use crate::{Result, ServiceError};

/// How the embedded issuer is set up.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// The issuer's URL (`iss`): the service's public base URL, e.g. `https://bal.example:8443`.
    pub issuer: String,
    /// The audience (`aud`) of the tokens: the service they are for.
    pub audience: String,
    /// Where the signing key is kept (PKCS#8 PEM, made on first start).
    pub key_file: PathBuf,
    /// The clients.
    pub clients: Vec<ClientSpec>,
    /// How long a token is valid.
    pub token_lifetime: Duration,
}

/// An access token answer (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessToken {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Why a token request is refused: the `error` codes of RFC 6749 §5.2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// A parameter is missing, repeated or malformed.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// Unknown client or wrong secret.
    #[error("invalid_client: unknown client or wrong secret")]
    InvalidClient,
    /// A grant other than `client_credentials`.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// The token could not be made.
    #[error("server_error: {0}")]
    Server(String),
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    roles: &'a [String],
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

/// Issues ES256 JWT access tokens to configured clients (OAuth 2.0 client-credentials grant,
/// RFC 6749 §4.4; token format RFC 9068) and publishes its key as an OpenID Connect issuer
/// does, so that the same [`JwtValidator`] checks its tokens and an external provider's.
///
/// ```
/// use std::time::Duration;
/// use platone_service::{Authenticator, ClientSpec, EmbeddedIssuer, IssuerConfig};
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let dir = tempfile::tempdir()?;
/// let issuer = EmbeddedIssuer::open(IssuerConfig {
///     issuer: "https://bal.example".into(),
///     audience: "platone-bal".into(),
///     key_file: dir.path().join("issuer-key.pem"),
///     clients: vec![ClientSpec::parse("dso=s3cret:dso")?],
///     token_lifetime: Duration::from_secs(300),
/// })?;
/// let token = issuer.issue("dso", "s3cret").await?;
/// let identity = issuer.validator().authenticate(&token.access_token).await?;
/// assert_eq!(identity.subject, "dso");
/// assert!(identity.has_role("dso"));
/// assert!(issuer.issue("dso", "guess").await.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EmbeddedIssuer {
    config: IssuerConfig,
    key: IssuerKey,
    clients: HashMap<String, ClientSpec>,
    /// Checked for unknown clients too, so an answer's timing does not tell which ids exist.
    decoy_hash: String,
}

impl EmbeddedIssuer {
    /// The issuer with its key from `config.key_file` (made there on first start).
    pub fn open(config: IssuerConfig) -> Result<Self> {
        let mut clients = HashMap::new();
        for client in &config.clients {
            if clients.insert(client.id.clone(), client.clone()).is_some() {
                return Err(ServiceError::config(
                    format!("client `{}`", client.id),
                    "configured twice",
                ));
            }
        }
        if config.token_lifetime.is_zero() {
            return Err(ServiceError::config("token lifetime", "must be positive"));
        }
        let key = IssuerKey::load_or_create(&config.key_file)?;
        Ok(EmbeddedIssuer {
            key,
            clients,
            decoy_hash: hash_secret("decoy")?,
            config: IssuerConfig {
                issuer: config.issuer.trim_end_matches('/').to_owned(),
                ..config
            },
        })
    }

    /// The issuer URL (`iss`).
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The audience of its tokens.
    pub fn audience(&self) -> &str {
        &self.config.audience
    }

    /// The public key set (`/.well-known/jwks.json`).
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.key.jwk.clone()],
        }
    }

    /// A validator of this issuer's tokens, with its key known in advance.
    pub fn validator(&self) -> JwtValidator {
        let config = JwtConfig::new(self.config.issuer.clone(), self.config.audience.clone());
        JwtValidator::new(config, Arc::new(StaticJwks(self.jwks())))
    }

    /// Checks a client's secret (argon2, off the async threads) and issues its token.
    pub async fn issue(&self, client_id: &str, secret: &str) -> Result<AccessToken, TokenError> {
        let client = self.clients.get(client_id);
        let hash = client.map_or(self.decoy_hash.clone(), |c| c.secret_hash.clone());
        let secret = secret.to_owned();
        let verified = tokio::task::spawn_blocking(move || clients::verify_secret(&hash, &secret))
            .await
            .map_err(|e| TokenError::Server(e.to_string()))?;
        match client {
            Some(client) if verified => self.sign(client),
            _ => Err(TokenError::InvalidClient),
        }
    }

    fn sign(&self, client: &ClientSpec) -> Result<AccessToken, TokenError> {
        let now = crate::identity::unix_now();
        let lifetime = self.config.token_lifetime.as_secs().max(1);
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).map_err(|e| TokenError::Server(e.to_string()))?;
        let claims = Claims {
            iss: &self.config.issuer,
            sub: &client.id,
            aud: &self.config.audience,
            client_id: &client.id,
            roles: &client.roles,
            iat: now,
            nbf: now,
            exp: now.saturating_add(lifetime as i64),
            jti: hex::encode(jti),
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key.kid.clone());
        header.typ = Some("at+jwt".to_owned());
        let access_token = jsonwebtoken::encode(&header, &claims, &self.key.encoding)
            .map_err(|e| TokenError::Server(e.to_string()))?;
        Ok(AccessToken {
            access_token,
            token_type: "Bearer",
            expires_in: lifetime,
        })
    }
}

impl std::fmt::Debug for EmbeddedIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIssuer")
            .field("issuer", &self.config.issuer)
            .field("audience", &self.config.audience)
            .field("kid", &self.key.kid)
            .field("clients", &self.clients.len())
            .finish()
    }
}
