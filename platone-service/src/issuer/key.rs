//! The embedded issuer's ES256 signing key: made once, kept in the data directory.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::Jwk;
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use sha2::{Digest, Sha256};

use crate::{Result, ServiceError};

/// A P-256 key pair, its JWK (with the RFC 7638 thumbprint as `kid`) and its encoding key.
pub(crate) struct IssuerKey {
    pub(crate) kid: String,
    pub(crate) jwk: Jwk,
    pub(crate) encoding: EncodingKey,
}

impl IssuerKey {
    /// The key in `path` (PKCS#8 PEM), made and written there (readable by the owner only)
    /// when the file does not exist.
    pub(crate) fn load_or_create(path: &Path) -> Result<Self> {
        let signing = match std::fs::read_to_string(path) {
            Ok(pem) => SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| ServiceError::key(path.display().to_string(), e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = generate()?;
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| ServiceError::key("issuer key", e))?;
                write_private(path, pem.as_bytes())?;
                tracing::info!(path = %path.display(), "made the embedded issuer's signing key");
                key
            }
            Err(e) => return Err(ServiceError::io(path, e)),
        };
        Self::from_signing_key(&signing)
    }

    pub(crate) fn from_signing_key(signing: &SigningKey) -> Result<Self> {
        let point = signing.verifying_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(ServiceError::key("issuer key", "no affine coordinates"));
        };
        let x = URL_SAFE_NO_PAD.encode(x);
        let y = URL_SAFE_NO_PAD.encode(y);
        // RFC 7638 §3.2: the required members in lexicographic order, no white space.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "use": "sig", "alg": "ES256", "kid": kid,
        }))
        .map_err(|e| ServiceError::key("issuer key", e))?;
        let der = signing
            .to_pkcs8_der()
            .map_err(|e| ServiceError::key("issuer key", e))?;
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        Ok(IssuerKey { kid, jwk, encoding })
    }
}

fn generate() -> Result<SigningKey> {
    // A random 32-byte string is a valid scalar but with negligible probability; try again.
    for _ in 0..16 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| ServiceError::key("issuer key", e))?;
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
    Err(ServiceError::key("issuer key", "no valid scalar drawn"))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ServiceError::io(dir, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| ServiceError::io(path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| ServiceError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_read_back_with_the_same_thumbprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/issuer.pem");
        let made = IssuerKey::load_or_create(&path).unwrap();
        let read = IssuerKey::load_or_create(&path).unwrap();
        assert_eq!(made.kid, read.kid);
        assert_eq!(made.kid.len(), 43);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_thumbprint_follows_rfc_7638() {
        // RFC 7638 §3.1 gives an RSA example; for EC keys the same rule applies. Check against
        // a thumbprint computed independently for a fixed key.
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let issuer = IssuerKey::from_signing_key(&key).unwrap();
        let jwk = serde_json::to_value(&issuer.jwk).unwrap();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        assert_eq!(
            issuer.kid,
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!(jwk["kid"], issuer.kid.as_str());
    }
}
