//! The embedded issuer's HTTP side: `POST /oauth/token`, the discovery document and the JWKS.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::{EmbeddedIssuer, TokenError};

/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/oauth/token";
/// The discovery document's path.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// The key set's path.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

impl EmbeddedIssuer {
    /// The issuer's routes, for any router state: `POST /oauth/token` (client credentials,
    /// as HTTP Basic or form fields — RFC 6749 §2.3.1 — never both), `GET
    /// /.well-known/openid-configuration` and `GET /.well-known/jwks.json`. Token errors are
    /// RFC 6749 §5.2 JSON (`error`, `error_description`), which OAuth clients expect.
    pub fn routes<S>(self: Arc<Self>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let for_token = self.clone();
        let for_discovery = self.clone();
        let for_keys = self;
        Router::new()
            .route(
                TOKEN_PATH,
                post(move |headers: HeaderMap, body: Bytes| async move {
                    token(&for_token, &headers, &body).await
                }),
            )
            .route(
                DISCOVERY_PATH,
                get(move || async move { Json(discovery(&for_discovery)) }),
            )
            .route(JWKS_PATH, get(move || async move { Json(for_keys.jwks()) }))
    }
}

fn discovery(issuer: &EmbeddedIssuer) -> serde_json::Value {
    let base = issuer.issuer();
    json!({
        "issuer": base,
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "jwks_uri": format!("{base}{JWKS_PATH}"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "access_token_signing_alg_values_supported": ["ES256"],
    })
}

async fn token(issuer: &EmbeddedIssuer, headers: &HeaderMap, body: &[u8]) -> Response {
    let basic = headers.get(AUTHORIZATION).is_some();
    match token_request(headers, body) {
        Ok((client, secret)) => match issuer.issue(&client, &secret).await {
            Ok(token) => {
                tracing::debug!(client = %client, "issued an access token");
                let mut response = Json(token).into_response();
                no_store(response.headers_mut());
                response
            }
            Err(e) => {
                tracing::info!(client = %client, "token request refused: {e}");
                token_error(&e, basic)
            }
        },
        Err(e) => token_error(&e, basic),
    }
}

/// The client id and secret of a client-credentials token request.
fn token_request(headers: &HeaderMap, body: &[u8]) -> Result<(String, String), TokenError> {
    let mut grant = None;
    let mut form_id = None;
    let mut form_secret = None;
    for (name, value) in form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "grant_type" => &mut grant,
            "client_id" => &mut form_id,
            "client_secret" => &mut form_secret,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(TokenError::InvalidRequest(format!("`{name}` is repeated")));
        }
    }
    match grant.as_deref() {
        Some("client_credentials") => {}
        Some(other) => return Err(TokenError::UnsupportedGrantType(other.to_owned())),
        None => return Err(TokenError::InvalidRequest("`grant_type` is missing".into())),
    }
    let basic = match headers.get(AUTHORIZATION) {
        Some(value) => Some(basic_credentials(value)?),
        None => None,
    };
    match (basic, form_id, form_secret) {
        (Some(_), _, Some(_)) => Err(TokenError::InvalidRequest(
            "credentials both in the Authorization header and in the body".into(),
        )),
        (Some((id, secret)), form_id, None) => {
            if form_id.as_ref().is_some_and(|f| *f != id) {
                return Err(TokenError::InvalidRequest(
                    "`client_id` differs from the Authorization header's".into(),
                ));
            }
            Ok((id, secret))
        }
        (None, Some(id), Some(secret)) => Ok((id, secret)),
        (None, _, _) => Err(TokenError::InvalidRequest(
            "client credentials are missing (HTTP Basic, or client_id and client_secret)".into(),
        )),
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(value: &HeaderValue) -> Result<(String, String), TokenError> {
    let bad = |why: &str| TokenError::InvalidRequest(format!("Authorization header: {why}"));
    let text = value.to_str().map_err(|_| bad("not text"))?;
    let (scheme, encoded) = text
        .trim()
        .split_once(' ')
        .ok_or_else(|| bad("expected Basic"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad("expected Basic"));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad("not base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad("not UTF-8"))?;
    let (id, secret) = decoded.split_once(':').ok_or_else(|| bad("no `:`"))?;
    Ok((form_decode(id), form_decode(secret)))
}

fn form_decode(text: &str) -> String {
    form_urlencoded::parse(text.as_bytes())
        .next()
        .map(|(decoded, _)| decoded.into_owned())
        .unwrap_or_default()
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

fn token_error(error: &TokenError, basic: bool) -> Response {
    let (status, code) = match error {
        TokenError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        TokenError::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client"),
        TokenError::UnsupportedGrantType(_) => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        TokenError::Server(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    };
    let description = error.to_string();
    let description = description
        .split_once(": ")
        .map_or(description.as_str(), |(_, d)| d);
    let mut response = (
        status,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response();
    let headers = response.headers_mut();
    no_store(headers);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if basic {
            "Basic realm=\"platone\""
        } else {
            "Basic realm=\"platone\", error=\"invalid_client\""
        };
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Result<(String, String), TokenError> {
        token_request(&HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn token_requests_are_read_as_rfc_6749_says() {
        assert_eq!(
            form("grant_type=client_credentials&client_id=a&client_secret=b%3Ac"),
            Ok(("a".into(), "b:c".into()))
        );
        assert!(matches!(
            form("grant_type=password&client_id=a&client_secret=b"),
            Err(TokenError::UnsupportedGrantType(_))
        ));
        assert!(matches!(
            form("client_id=a"),
            Err(TokenError::InvalidRequest(_))
        ));
        assert!(matches!(
            form("grant_type=client_credentials&grant_type=client_credentials"),
            Err(TokenError::InvalidRequest(r)) if r.contains("repeated")
        ));
        let mut headers = HeaderMap::new();
        let basic = STANDARD.encode("bsp%2B1:s+e%3Ac");
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
        );
        assert_eq!(
            token_request(&headers, b"grant_type=client_credentials"),
            Ok(("bsp+1".into(), "s e:c".into()))
        );
        assert!(matches!(
            token_request(&headers, b"grant_type=client_credentials&client_secret=x"),
            Err(TokenError::InvalidRequest(r)) if r.contains("both")
        ));
    }

    proptest::proptest! {
        #[test]
        fn token_request_parsing_never_panics(body in ".*", header in ".*") {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&header) {
                headers.insert(AUTHORIZATION, value);
            }
            let _ = token_request(&headers, body.as_bytes());
        }
    }
}
