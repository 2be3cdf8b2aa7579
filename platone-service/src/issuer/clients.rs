//! The embedded issuer's clients: id, argon2 hash of the secret, roles.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::{Result, ServiceError};

/// A client of the embedded issuer, as configured: `ID=SECRET:ROLE[,ROLE…]`, where `SECRET`
/// is the secret itself or, in a client file, its argon2 PHC string (`$argon2id$…`), so that
/// files need not hold secrets in clear.
///
/// ```
/// use platone_service::ClientSpec;
///
/// let client = ClientSpec::parse("cust-1=s3cret:reader,consumer")?;
/// assert_eq!(client.id, "cust-1");
/// assert_eq!(client.roles, ["reader", "consumer"]);
/// assert!(client.secret_hash.starts_with("$argon2id$"));
/// assert!(client.verify("s3cret"));
/// assert!(!client.verify("guess"));
/// // The stored form re-reads as the same client.
/// let again = ClientSpec::parse(&client.to_string())?;
/// assert!(again.verify("s3cret"));
/// # Ok::<(), platone_service::ServiceError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSpec {
    /// The client id: the token's subject (in Platone, the participant id).
    pub id: String,
    /// The argon2id PHC string of the secret.
    pub secret_hash: String,
    /// The roles its tokens carry.
    pub roles: Vec<String>,
}

impl ClientSpec {
    /// Reads `ID=SECRET:ROLE[,ROLE…]` (roles may be empty: `ID=SECRET:`), hashing a secret
    /// given in clear.
    pub fn parse(text: &str) -> Result<Self> {
        let at = || format!("client `{}`", text.split('=').next().unwrap_or_default());
        let (id, rest) = text
            .trim()
            .split_once('=')
            .ok_or_else(|| ServiceError::config(at(), "expected ID=SECRET:ROLE[,ROLE…]"))?;
        let (secret, roles) = rest
            .rsplit_once(':')
            .ok_or_else(|| ServiceError::config(at(), "expected ID=SECRET:ROLE[,ROLE…]"))?;
        let id = id.trim();
        if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ServiceError::config(
                at(),
                "the id is empty or has white space",
            ));
        }
        if secret.is_empty() {
            return Err(ServiceError::config(at(), "the secret is empty"));
        }
        let secret_hash = if secret.starts_with("$argon2") {
            PasswordHash::new(secret)
                .map_err(|e| ServiceError::config(at(), format!("secret hash: {e}")))?;
            secret.to_owned()
        } else {
            hash_secret(secret)?
        };
        let roles = roles
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(ClientSpec {
            id: id.to_owned(),
            secret_hash,
            roles,
        })
    }

    /// Reads a client file: one client per line, blank lines and `#` comments skipped.
    pub fn parse_file(text: &str) -> Result<Vec<Self>> {
        text.lines()
            .enumerate()
            .map(|(n, line)| (n + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
            .map(|(n, line)| {
                Self::parse(line).map_err(|e| ServiceError::config(format!("line {n}"), e))
            })
            .collect()
    }

    /// Whether `secret` is this client's.
    pub fn verify(&self, secret: &str) -> bool {
        verify_secret(&self.secret_hash, secret)
    }
}

/// The line a client file holds for this client (the secret hashed).
impl std::fmt::Display for ClientSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}={}:{}",
            self.id,
            self.secret_hash,
            self.roles.join(",")
        )
    }
}

impl std::fmt::Debug for ClientSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSpec")
            .field("id", &self.id)
            .field("roles", &self.roles)
            .finish()
    }
}

/// The argon2id PHC string of `secret`, with a random salt.
pub fn hash_secret(secret: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| ServiceError::key("salt", e))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServiceError::key("salt", e))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ServiceError::key("secret hash", e))
}

pub(crate) fn verify_secret(phc: &str, secret: &str) -> bool {
    PasswordHash::new(phc)
        .and_then(|hash| Argon2::default().verify_password(secret.as_bytes(), &hash))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_specs_name_the_client_and_the_problem() {
        for (text, wanted) in [
            ("nosecret", "expected ID=SECRET"),
            ("a=secret", "expected ID=SECRET"),
            ("=s:r", "id is empty"),
            ("a=:r", "secret is empty"),
            ("a=$argon2id$bad:r", "secret hash"),
        ] {
            let e = ClientSpec::parse(text).unwrap_err().to_string();
            assert!(e.contains(wanted), "{text}: {e}");
        }
        let e = ClientSpec::parse_file("# clients\n\na=s:r\nb\n").unwrap_err();
        assert!(e.to_string().contains("line 4"), "{e}");
    }

    #[test]
    fn a_secret_with_colons_and_equals_signs_is_kept_whole() {
        let client = ClientSpec::parse("bsp-7=a:b=c:aggregator").unwrap();
        assert!(client.verify("a:b=c"));
        assert_eq!(client.roles, ["aggregator"]);
    }
}
