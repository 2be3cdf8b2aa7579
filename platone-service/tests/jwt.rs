//! The JWT validator against forged tokens: every claim check, `alg: none`, HMAC with the
//! public key, tampering, key rotation with rate-limited refetches, an unreachable issuer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::BoxFuture;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platone_service::{
    AuthError, Authenticator, ClientSpec, EmbeddedIssuer, IssuerConfig, JwksSource, JwtConfig,
    JwtValidator, ServiceError,
};
use serde_json::{Value, json};

const ISSUER: &str = "https://issuer.test/realms/platone";
const AUDIENCE: &str = "platone-bal";

/// A signing key with its JWK: an embedded issuer's, read back from its key file.
struct SigningKey {
    kid: String,
    jwks: JwkSet,
    encoding: EncodingKey,
    pem: Vec<u8>,
    _dir: tempfile::TempDir,
}

fn signing_key() -> SigningKey {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.pem");
    let issuer = EmbeddedIssuer::open(IssuerConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        key_file: key_file.clone(),
        clients: vec![ClientSpec::parse("x=y:").unwrap()],
        token_lifetime: Duration::from_secs(60),
    })
    .unwrap();
    let jwks = issuer.jwks();
    let kid = jwks.keys[0].common.key_id.clone().unwrap();
    let pem = std::fs::read(&key_file).unwrap();
    let der = {
        use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        p256::SecretKey::from_pkcs8_pem(std::str::from_utf8(&pem).unwrap())
            .unwrap()
            .to_pkcs8_der()
            .unwrap()
    };
    SigningKey {
        kid,
        jwks,
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
        pem,
        _dir: dir,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "agg-1",
        "iat": now(), "nbf": now() - 5, "exp": now() + 300,
        "realm_access": {"roles": ["aggregator"]},
    })
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// A key source whose keys the test swaps, counting fetches, failing when told to.
struct Rotating {
    keys: Mutex<JwkSet>,
    fetches: AtomicUsize,
    down: Mutex<bool>,
}

impl Rotating {
    fn new(keys: JwkSet) -> Arc<Self> {
        Arc::new(Rotating {
            keys: Mutex::new(keys),
            fetches: AtomicUsize::new(0),
            down: Mutex::new(false),
        })
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl JwksSource for Rotating {
    fn fetch(&self) -> BoxFuture<'_, platone_service::Result<JwkSet>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let answer = if *self.down.lock().unwrap() {
            Err(ServiceError::Provider {
                issuer: ISSUER.into(),
                reason: "connection refused".into(),
            })
        } else {
            Ok(self.keys.lock().unwrap().clone())
        };
        Box::pin(std::future::ready(answer))
    }
}

fn validator(source: Arc<Rotating>, min_refetch: Duration) -> JwtValidator {
    let mut config = JwtConfig::new(ISSUER, AUDIENCE);
    config.min_refetch = min_refetch;
    config.leeway = Duration::from_secs(5);
    JwtValidator::new(config, source)
}

fn refused(answer: Result<platone_service::Identity, AuthError>) -> String {
    match answer {
        Ok(identity) => panic!("accepted: {identity:?}"),
        Err(AuthError::Invalid(reason)) | Err(AuthError::Malformed(reason)) => reason,
        Err(other) => panic!("refused as {other:?}"),
    }
}

#[tokio::test]
async fn a_good_token_names_its_subject_and_roles() {
    let key = signing_key();
    let validator = validator(Rotating::new(key.jwks.clone()), Duration::from_secs(30));
    let identity = validator
        .authenticate(&sign(&key, &claims()))
        .await
        .unwrap();
    assert_eq!(identity.subject, "agg-1");
    assert!(identity.has_role("aggregator"));
    assert_eq!(identity.issuer.as_deref(), Some(ISSUER));
}

#[tokio::test]
async fn each_claim_is_checked() {
    let key = signing_key();
    let validator = validator(Rotating::new(key.jwks.clone()), Duration::from_secs(30));
    let cases: [(&str, Value, &str); 7] = [
        ("exp", json!(now() - 60), "expired"),
        ("nbf", json!(now() + 60), "not valid yet"),
        ("aud", json!("another-service"), "audience"),
        ("iss", json!("https://evil.test"), "issuer"),
        ("sub", Value::Null, "sub"),
        ("exp", Value::Null, "exp"),
        ("aud", Value::Null, "aud"),
    ];
    for (claim, value, expected) in cases {
        let mut claims = claims();
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(claim);
        } else {
            claims[claim] = value;
        }
        let reason = refused(validator.authenticate(&sign(&key, &claims)).await);
        assert!(reason.contains(expected), "{claim}: {reason}");
    }
    // Within the leeway, a token just expired still passes.
    let mut claims = claims();
    claims["exp"] = json!(now() - 1);
    validator.authenticate(&sign(&key, &claims)).await.unwrap();
}

#[tokio::test]
async fn unsigned_hmac_and_tampered_tokens_are_refused() {
    let key = signing_key();
    let validator = validator(Rotating::new(key.jwks.clone()), Duration::from_secs(30));
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());

    // alg none, with or without a signature part.
    for alg in ["none", "None", "NONE"] {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": key.kid}).to_string());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            let reason = refused(validator.authenticate(&token).await);
            assert!(
                reason.contains("none") || reason.contains("three"),
                "{reason}"
            );
        }
    }

    // HS256 "signed" with the issuer's public key as the secret (key confusion).
    let public_pem = {
        use p256::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
        let secret =
            p256::SecretKey::from_pkcs8_pem(std::str::from_utf8(&key.pem).unwrap()).unwrap();
        secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    let confused = jsonwebtoken::encode(
        &header,
        &claims(),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    let reason = refused(validator.authenticate(&confused).await);
    assert!(reason.contains("HS256"), "{reason}");

    // A payload changed after signing.
    let good = sign(&key, &claims());
    let mut parts: Vec<&str> = good.split('.').collect();
    let mut forged = claims();
    forged["sub"] = json!("dso");
    forged["realm_access"]["roles"] = json!(["dso"]);
    let forged_payload = URL_SAFE_NO_PAD.encode(forged.to_string());
    parts[1] = &forged_payload;
    let reason = refused(validator.authenticate(&parts.join(".")).await);
    assert!(reason.contains("signature"), "{reason}");

    // Garbage never panics and is refused.
    for junk in ["", ".", "..", "a.b.c", "a.b.c.d", "\u{0}.\u{0}.\u{0}"] {
        assert!(validator.authenticate(junk).await.is_err(), "{junk:?}");
    }
}

#[tokio::test]
async fn a_token_of_another_key_is_refused_even_with_a_known_kid() {
    let key = signing_key();
    let other = signing_key();
    let validator = validator(Rotating::new(key.jwks.clone()), Duration::from_secs(30));
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims(), &other.encoding).unwrap();
    let reason = refused(validator.authenticate(&token).await);
    assert!(reason.contains("signature"), "{reason}");
}

#[tokio::test]
async fn rotation_refetches_keys_at_most_once_per_interval() {
    let old = signing_key();
    let new = signing_key();
    let source = Rotating::new(old.jwks.clone());
    let validator = validator(source.clone(), Duration::from_secs(2));
    let old_token = sign(&old, &claims());
    validator.authenticate(&old_token).await.unwrap();
    assert_eq!(source.fetches(), 1);
    // Reuse costs no fetch.
    validator.authenticate(&old_token).await.unwrap();
    assert_eq!(source.fetches(), 1);

    // The issuer rotates: a token of the new key makes the validator fetch again, once the
    // interval has passed since the last fetch.
    *source.keys.lock().unwrap() = new.jwks.clone();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let new_token = sign(&new, &claims());
    validator.authenticate(&new_token).await.unwrap();
    assert_eq!(source.fetches(), 2);
    // The old key is gone: its tokens, even remembered ones, no longer pass.
    let reason = refused(validator.authenticate(&old_token).await);
    assert!(reason.contains(&old.kid), "{reason}");

    // A flood of unknown key ids within the interval fetches nothing more (signatures made
    // beforehand, so that the flood is quick).
    let mut flood = Vec::new();
    for i in 0..50 {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(format!("forged-{i}"));
        flood.push(jsonwebtoken::encode(&header, &claims(), &new.encoding).unwrap());
    }
    let fetched = source.fetches();
    for token in &flood {
        assert!(validator.authenticate(token).await.is_err());
    }
    assert!(
        source.fetches() <= fetched + 1,
        "{} fetches for the flood",
        source.fetches() - fetched
    );
}

#[tokio::test]
async fn an_unreachable_issuer_makes_tokens_uncheckable_not_invalid() {
    let key = signing_key();
    let source = Rotating::new(key.jwks.clone());
    *source.down.lock().unwrap() = true;
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let seen = outcomes.clone();
    let validator = validator(source.clone(), Duration::from_secs(30)).on_fetch(move |fetched| {
        seen.lock()
            .unwrap()
            .push(fetched.map_err(|e| e.to_string()));
    });
    let answer = validator.authenticate(&sign(&key, &claims())).await;
    assert!(
        matches!(answer, Err(AuthError::Unavailable(_))),
        "{answer:?}"
    );
    assert_eq!(answer.unwrap_err().problem().status.as_u16(), 503);
    *source.down.lock().unwrap() = false;
    validator.refresh().await.unwrap();
    validator
        .authenticate(&sign(&key, &claims()))
        .await
        .unwrap();
    // Each fetch was reported: the failure with its reason, then the key found.
    let outcomes = outcomes.lock().unwrap();
    assert!(
        matches!(&outcomes[0], Err(e) if e.contains("connection refused")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes.last(), Some(&Ok(1)));
}
