//! JWT bearer tokens checked against an issuer's keys.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::BoxFuture;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{AuthError, Authenticator, Identity, JwksSource, RolesClaim};

/// What a [`JwtValidator`] accepts.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The `iss` every token must carry, exactly.
    pub issuer: String,
    /// The audiences this service answers to: a token's `aud` must name one.
    pub audiences: Vec<String>,
    /// Where the roles are.
    pub roles: RolesClaim,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// The least time between two fetches of the key set caused by tokens naming an unknown
    /// key (`kid`), so that a flood of forged key ids cannot make the service hammer the
    /// issuer.
    pub min_refetch: Duration,
    /// How many accepted tokens are remembered (each still checked for expiry on reuse).
    pub remembered_tokens: usize,
}

impl JwtConfig {
    /// Tokens of `issuer` for `audience`, with the default roles claim, 30 s of leeway, key
    /// refetches at most every 30 s and 10,000 remembered tokens.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        JwtConfig {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            audiences: vec![audience.into()],
            roles: RolesClaim::default(),
            leeway: Duration::from_secs(30),
            min_refetch: Duration::from_secs(30),
            remembered_tokens: 10_000,
        }
    }
}

/// What [`JwtValidator::on_fetch`] calls.
/// What a [`JwtValidator`] tells after each fetch of the issuer's keys: how many usable keys,
/// or why none could be fetched.
pub type FetchObserver =
    Arc<dyn Fn(std::result::Result<usize, &crate::ServiceError>) + Send + Sync>;

/// A verification key of the issuer and the algorithms it may be used with.
struct VerificationKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

struct KeyRing {
    keys: Vec<VerificationKey>,
    fetched: Option<Instant>,
}

/// Checks JWT bearer tokens (RFC 9068 access tokens, or any JWT with `iss`, `aud`, `sub` and
/// `exp`) against the keys of one issuer.
///
/// - Only asymmetric algorithms are accepted (RS256/384/512, PS256/384/512, ES256, ES384,
///   EdDSA): `alg: none` is refused, and so is any HMAC algorithm, so a token "signed" with the
///   issuer's public key as an HMAC secret never passes.
/// - The key is the one the header's `kid` names (a token without `kid` is accepted only when
///   the issuer has exactly one key), and it must be meant for the header's algorithm.
/// - `iss` must equal the configured issuer, `aud` name a configured audience, `exp` lie in
///   the future and `nbf` (when present) in the past, both within the leeway; `sub` must be
///   present.
/// - A `kid` not in the cached key set makes the validator fetch the set again (key
///   rotation), at most once per [`JwtConfig::min_refetch`].
/// - Accepted tokens are remembered until they expire, so a client reusing its token costs a
///   map lookup, not a signature verification.
pub struct JwtValidator {
    config: JwtConfig,
    source: Arc<dyn JwksSource>,
    on_fetch: Option<FetchObserver>,
    ring: RwLock<Arc<KeyRing>>,
    fetching: Mutex<()>,
    accepted: RwLock<HashMap<String, Identity>>,
}

impl JwtValidator {
    /// A validator with its keys from `source`, fetched on the first token.
    pub fn new(config: JwtConfig, source: Arc<dyn JwksSource>) -> Self {
        JwtValidator {
            config,
            source,
            on_fetch: None,
            ring: RwLock::new(Arc::new(KeyRing {
                keys: Vec::new(),
                fetched: None,
            })),
            fetching: Mutex::new(()),
            accepted: RwLock::new(HashMap::new()),
        }
    }

    /// Calls `observer` after every fetch of the issuer's keys with the number of usable keys,
    /// or why they could not be fetched (for a service's health report).
    pub fn on_fetch(
        mut self,
        observer: impl Fn(std::result::Result<usize, &crate::ServiceError>) + Send + Sync + 'static,
    ) -> Self {
        self.on_fetch = Some(Arc::new(observer));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// Fetches the key set now (at start-up, to fail early when the issuer is unreachable).
    pub async fn refresh(&self) -> crate::Result<usize> {
        let _guard = self.fetching.lock().await;
        self.fetch_keys().await
    }

    async fn fetch_keys(&self) -> crate::Result<usize> {
        let keys = self.source.fetch().await.map(|set| verification_keys(&set));
        if let Some(observer) = &self.on_fetch {
            observer(keys.as_ref().map(Vec::len));
        }
        let keys = keys?;
        let count = keys.len();
        let ring = Arc::new(KeyRing {
            keys,
            fetched: Some(Instant::now()),
        });
        if let Ok(mut slot) = self.ring.write() {
            *slot = ring;
        }
        // Keys may have been withdrawn: forget what they signed.
        if let Ok(mut accepted) = self.accepted.write() {
            accepted.clear();
        }
        tracing::debug!(issuer = %self.config.issuer, keys = count, "fetched the issuer's keys");
        Ok(count)
    }

    fn current_ring(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(ring) => ring.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The key for `kid`, fetching the key set again when it is unknown and the last fetch is
    /// old enough.
    async fn key_for(&self, kid: Option<&str>) -> Result<Arc<KeyRing>, AuthError> {
        let ring = self.current_ring();
        if find_key(&ring, kid).is_ok() {
            return Ok(ring);
        }
        let _guard = self.fetching.lock().await;
        // Another task may have fetched while this one waited.
        let ring = self.current_ring();
        if find_key(&ring, kid).is_ok() {
            return Ok(ring);
        }
        let due = ring
            .fetched
            .is_none_or(|at| at.elapsed() >= self.config.min_refetch);
        if due {
            self.fetch_keys()
                .await
                .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        }
        Ok(self.current_ring())
    }

    fn remembered(&self, token: &str) -> Option<Identity> {
        let accepted = self.accepted.read().ok()?;
        let identity = accepted.get(token)?;
        let now = unix_now();
        let leeway = self.config.leeway.as_secs() as i64;
        identity
            .expires_at
            .is_some_and(|exp| now <= exp.saturating_add(leeway))
            .then(|| identity.clone())
    }

    fn remember(&self, token: &str, identity: &Identity) {
        if self.config.remembered_tokens == 0 {
            return;
        }
        if let Ok(mut accepted) = self.accepted.write() {
            if accepted.len() >= self.config.remembered_tokens {
                let now = unix_now();
                accepted.retain(|_, i| i.expires_at.is_some_and(|exp| exp > now));
                if accepted.len() >= self.config.remembered_tokens {
                    accepted.clear();
                }
            }
            accepted.insert(token.to_owned(), identity.clone());
        }
    }

    async fn validate(&self, token: &str) -> Result<Identity, AuthError> {
        if let Some(identity) = self.remembered(token) {
            return Ok(identity);
        }
        let header = TokenHeader::parse(token)?;
        let ring = self.key_for(header.kid.as_deref()).await?;
        let key = find_key(&ring, header.kid.as_deref())?;
        if !key.algorithms.contains(&header.alg) {
            return Err(AuthError::Invalid(format!(
                "the key {} is not for algorithm {:?}",
                key.kid.as_deref().unwrap_or("(without kid)"),
                header.alg
            )));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&self.config.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(token, &key.key, &validation)
            .map_err(|e| self.refusal(e.kind()))?;
        let claims = data.claims;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AuthError::Invalid("the claim `sub` is not a text".into()))?;
        let identity = Identity {
            subject: subject.to_owned(),
            roles: self.config.roles.roles(&claims),
            issuer: Some(self.config.issuer.clone()),
            expires_at: claims.get("exp").and_then(Value::as_i64),
        };
        self.remember(token, &identity);
        Ok(identity)
    }

    fn refusal(&self, kind: &ErrorKind) -> AuthError {
        let reason = match kind {
            ErrorKind::ExpiredSignature => "the token has expired (exp)".to_owned(),
            ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".to_owned(),
            ErrorKind::InvalidAudience => format!(
                "wrong audience (aud): this service is {}",
                self.config.audiences.join(", ")
            ),
            ErrorKind::InvalidIssuer => {
                format!("wrong issuer (iss): expected {}", self.config.issuer)
            }
            ErrorKind::InvalidSignature => "the signature does not verify".to_owned(),
            ErrorKind::MissingRequiredClaim(claim) => format!("the claim `{claim}` is missing"),
            ErrorKind::InvalidAlgorithm => "the algorithm does not match the key".to_owned(),
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => return AuthError::Malformed(format!("{kind:?}")),
            other => format!("{other:?}"),
        };
        AuthError::Invalid(reason)
    }
}

impl std::fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtValidator")
            .field("config", &self.config)
            .finish()
    }
}

impl Authenticator for JwtValidator {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Identity, AuthError>> {
        Box::pin(self.validate(token))
    }
}

fn find_key<'r>(ring: &'r KeyRing, kid: Option<&str>) -> Result<&'r VerificationKey, AuthError> {
    match kid {
        Some(kid) => ring
            .keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(kid))
            .ok_or_else(|| AuthError::Invalid(format!("the issuer has no key `{kid}` (kid)"))),
        None => match ring.keys.as_slice() {
            [only] => Ok(only),
            _ => Err(AuthError::Invalid(
                "the token names no key (kid) and the issuer has several".into(),
            )),
        },
    }
}

/// The header members the validator decides on, read before any key is chosen.
struct TokenHeader {
    alg: Algorithm,
    kid: Option<String>,
}

impl TokenHeader {
    fn parse(token: &str) -> Result<Self, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed(
                "a JWT has three dot-separated parts".into(),
            ));
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|e| AuthError::Malformed(format!("header: {e}")))?;
        let header: Value = serde_json::from_slice(&bytes)
            .map_err(|e| AuthError::Malformed(format!("header: {e}")))?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| AuthError::Malformed("header: no `alg`".into()))?;
        if alg.eq_ignore_ascii_case("none") {
            return Err(AuthError::Invalid(
                "alg `none` is refused: tokens must be signed".into(),
            ));
        }
        if alg.starts_with("HS") {
            return Err(AuthError::Invalid(format!(
                "alg `{alg}` is refused: only the issuer's asymmetric signatures are accepted"
            )));
        }
        let alg = Algorithm::from_str(alg)
            .map_err(|_| AuthError::Invalid(format!("alg `{alg}` is not supported")))?;
        let kid = match header.get("kid") {
            None | Some(Value::Null) => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(AuthError::Malformed("header: `kid` is not a text".into())),
        };
        Ok(TokenHeader { alg, kid })
    }
}

/// The usable verification keys of a JWKS: asymmetric keys meant for signatures, each with the
/// algorithms it may verify. Symmetric (`oct`) keys and keys for encryption are left out.
fn verification_keys(set: &JwkSet) -> Vec<VerificationKey> {
    set.keys
        .iter()
        .filter_map(|jwk| {
            let algorithms = algorithms_of(jwk)?;
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some(VerificationKey {
                kid: jwk.common.key_id.clone(),
                algorithms,
                key,
            })
        })
        .collect()
}

fn algorithms_of(jwk: &Jwk) -> Option<Vec<Algorithm>> {
    use jsonwebtoken::jwk::PublicKeyUse;
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let by_type: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
            _ => return None,
        },
        AlgorithmParameters::OctetKey(_) => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(declared) => {
            let declared = Algorithm::from_str(&format!("{declared:?}")).ok()?;
            by_type.contains(&declared).then(|| vec![declared])
        }
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_header(json: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(json))
    }

    #[test]
    fn headers_naming_none_or_hmac_are_refused_before_any_key_is_chosen() {
        let none = TokenHeader::parse(&encode_header(r#"{"alg":"none"}"#)).err();
        assert!(matches!(none, Some(AuthError::Invalid(r)) if r.contains("none")));
        let hmac = TokenHeader::parse(&encode_header(r#"{"alg":"HS256","kid":"k"}"#)).err();
        assert!(matches!(hmac, Some(AuthError::Invalid(r)) if r.contains("HS256")));
        let ok = TokenHeader::parse(&encode_header(r#"{"alg":"ES256","kid":"k"}"#)).ok();
        assert!(ok.is_some_and(|h| h.alg == Algorithm::ES256 && h.kid.as_deref() == Some("k")));
        assert!(matches!(
            TokenHeader::parse("a.b"),
            Err(AuthError::Malformed(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn header_parsing_never_panics(token in ".*") {
            let _ = TokenHeader::parse(&token);
        }

        #[test]
        fn encoded_headers_never_panic(header in ".*") {
            let _ = TokenHeader::parse(&encode_header(&header));
        }
    }
}
