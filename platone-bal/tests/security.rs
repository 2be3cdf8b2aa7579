//! The BAL's REST API secured: HTTPS (rustls) with and without client certificates, OAuth 2.0
//! client-credentials tokens from the embedded issuer, the `dso` role, refused tokens, and
//! plain HTTP only when asked for. The client is curl (Debian package `curl`).

use std::path::{Path, PathBuf};
use std::process::Command;

use platone_bal::security::{OidcSettings, TlsSettings};
use platone_bal::{Bal, BalConfig};
use platone_testkit::{CertificateFiles, OidcClient, OidcProvider, TestCa};
use serde_json::Value;

fn config(data: &Path) -> BalConfig {
    let text = format!(
        "embedded_broker = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\ndata = {data:?}\n\
         [api]\nclients = [\"dso=dso-secret:dso\", \"cust-1=c1-secret:\", \
         \"grid-op=g-secret:dso\"]\n\
         [[pods]]\nid = \"POD-1\"\ncustomer = \"cust-1\"\ndevices = [\"pmu-1\"]\n\
         [[pods]]\nid = \"POD-2\"\ncustomer = \"cust-2\"\ndevices = [\"pmu-2\"]\n"
    );
    BalConfig::from_toml(&text).unwrap()
}

/// A client of the API: curl, trusting `ca` and presenting `identity` when given.
struct Curl {
    ca: Option<PathBuf>,
    identity: Option<CertificateFiles>,
}

/// What a request got: the status, the body as JSON (`null` when not JSON), the headers in
/// lower case.
struct Answer {
    status: u16,
    body: Value,
    headers: String,
}

impl Curl {
    fn new(ca: &Path, identity: Option<&CertificateFiles>) -> Curl {
        Curl {
            ca: Some(ca.to_path_buf()),
            identity: identity.cloned(),
        }
    }

    fn plain() -> Curl {
        Curl {
            ca: None,
            identity: None,
        }
    }

    /// Runs curl with `args` (off the runtime's threads); `Err` with its message when no
    /// HTTP answer came (connection or TLS handshake refused).
    async fn call(&self, args: Vec<String>) -> Result<Answer, String> {
        let mut command = Command::new("curl");
        command.args(["-sS", "-i", "--max-time", "10"]);
        if let Some(ca) = &self.ca {
            command.arg("--cacert").arg(ca);
        }
        if let Some(identity) = &self.identity {
            command.arg("--cert").arg(&identity.cert);
            command.arg("--key").arg(&identity.key);
        }
        command.args(args);
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .expect("curl runs (Debian package curl)");
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = headers
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(Answer {
            status,
            body: serde_json::from_str(body).unwrap_or(Value::Null),
            headers: headers.to_ascii_lowercase(),
        })
    }

    async fn get(&self, url: &str, token: Option<&str>) -> Result<Answer, String> {
        let mut args = vec![url.to_owned()];
        if let Some(token) = token {
            args.extend(["-H".to_owned(), format!("Authorization: Bearer {token}")]);
        }
        self.call(args).await
    }

    /// `GET url` with a bearer token; the status.
    async fn status(&self, url: &str, token: &str) -> u16 {
        self.get(url, Some(token)).await.unwrap().status
    }

    /// `POST /oauth/token` with the client-credentials grant, the client in Basic
    /// authentication.
    async fn token(&self, base: &str, id: &str, secret: &str) -> Answer {
        self.token_at(&format!("{base}/oauth/token"), id, secret)
            .await
    }

    /// A client-credentials token request to `endpoint`.
    async fn token_at(&self, endpoint: &str, id: &str, secret: &str) -> Answer {
        self.call(vec![
            endpoint.to_owned(),
            "-u".into(),
            format!("{id}:{secret}"),
            "-d".into(),
            "grant_type=client_credentials".into(),
        ])
        .await
        .unwrap()
    }

    async fn access_token(&self, base: &str, id: &str, secret: &str) -> String {
        let answer = self.token(base, id, secret).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "Bearer");
        answer.body["access_token"].as_str().unwrap().to_owned()
    }
}

/// Asserts a refused token: 401, a problem document whose detail says `why`, and the Bearer
/// challenge with `invalid_token`.
fn assert_refused(answer: &Answer, what: &str, why: &str) {
    assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    assert!(
        answer
            .headers
            .contains("content-type: application/problem+json"),
        "{what}: {}",
        answer.headers
    );
    let detail = answer.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(why), "{what}: {detail}");
    assert!(
        answer
            .headers
            .contains("www-authenticate: bearer realm=\"platone\", error=\"invalid_token\""),
        "{what}: {}",
        answer.headers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_embedded_issuer_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "BAL test CA").unwrap();
    let server = ca.server_certificate("bal").unwrap();
    let mut settings = config(&dir.path().join("data"));
    settings.api.tls = Some(TlsSettings {
        cert: server.cert.clone(),
        key: server.key.clone(),
        client_ca: None,
    });
    let bal = Bal::start(settings).await.unwrap();
    let base = bal.api_url().to_owned();
    assert!(base.starts_with("https://"), "{base}");
    let https = Curl::new(&ca.ca_file(), None);

    // The issuer publishes itself as an OpenID Connect issuer at the API's URL.
    let discovery = https
        .get(&format!("{base}/.well-known/openid-configuration"), None)
        .await
        .unwrap()
        .body;
    assert_eq!(discovery["issuer"], base.as_str());
    assert_eq!(discovery["token_endpoint"], format!("{base}/oauth/token"));
    let keys = https
        .get(discovery["jwks_uri"].as_str().unwrap(), None)
        .await
        .unwrap()
        .body;
    assert_eq!(keys["keys"][0]["kty"], "EC");

    // Client credentials: right secrets get tokens, a wrong one `invalid_client`.
    let dso = https.access_token(&base, "dso", "dso-secret").await;
    let customer = https.access_token(&base, "cust-1", "c1-secret").await;
    let grid_op = https.access_token(&base, "grid-op", "g-secret").await;
    let refused = https.token(&base, "cust-1", "guess").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.body["error"], "invalid_client");

    // The DSO (by name or by role) reads any PoD; the customer its own only.
    let other_pod = format!("{base}/api/measurements?pod=POD-2");
    assert_eq!(https.status(&other_pod, &dso).await, 200);
    assert_eq!(https.status(&other_pod, &grid_op).await, 200);
    let denied = https.get(&other_pod, Some(&customer)).await.unwrap();
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert_eq!(denied.body["status"], 403);
    assert!(
        denied
            .headers
            .contains("content-type: application/problem+json")
    );
    let own_pod = format!("{base}/api/measurements?pod=POD-1");
    assert_eq!(https.status(&own_pod, &customer).await, 200);

    // A token altered in its payload fails its signature: 401 with a Bearer challenge.
    let mut parts: Vec<String> = customer.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replacen('e', "f", 1);
    let tampered = parts.join(".");
    let refused = https.get(&own_pod, Some(&tampered)).await.unwrap();
    assert_refused(&refused, "tampered", "signature");

    // Another service trusts this BAL's embedded issuer as an OpenID Connect issuer: it
    // fetches the discovery document and keys over HTTPS (rustls, the test CA) and accepts the
    // tokens, roles included.
    let dir_2 = tempfile::tempdir().unwrap();
    let mut config_2 = config(dir_2.path());
    config_2.api.insecure_http = true;
    config_2.api.clients.clear();
    config_2.api.oidc = Some(OidcSettings {
        ca: Some(ca.ca_file()),
        ..OidcSettings::new(base.clone())
    });
    let relying = Bal::start(config_2).await.unwrap();
    let relying_pod = format!("{}/api/measurements?pod=POD-2", relying.api_url());
    assert_eq!(https.status(&relying_pod, &grid_op).await, 200);
    assert_eq!(https.status(&relying_pod, &customer).await, 403);
    relying.shutdown().await.unwrap();

    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = Curl::plain()
        .get(&format!("http://{}/health", bal.http_addr()), None)
        .await;
    assert!(
        plain.is_err() || plain.is_ok_and(|a| a.status != 200),
        "plain HTTP was served on the HTTPS listener"
    );
    bal.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_when_a_client_ca_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "BAL test CA").unwrap();
    let server = ca.server_certificate("bal").unwrap();
    let clients_dir = dir.path().join("clients");
    std::fs::create_dir_all(&clients_dir).unwrap();
    let clients_ca = TestCa::new(&clients_dir, "clients CA").unwrap();
    let aggregator = clients_ca.client_certificate("agg-1").unwrap();
    let stranger_dir = dir.path().join("stranger");
    std::fs::create_dir_all(&stranger_dir).unwrap();
    let stranger = TestCa::new(&stranger_dir, "stranger CA")
        .unwrap()
        .client_certificate("stranger")
        .unwrap();
    let mut config = config(&dir.path().join("data"));
    config.api.tls = Some(TlsSettings {
        cert: server.cert.clone(),
        key: server.key.clone(),
        client_ca: Some(clients_ca.ca_file()),
    });
    let bal = Bal::start(config).await.unwrap();
    let health = format!("{}/health", bal.api_url());

    let with = Curl::new(&ca.ca_file(), Some(&aggregator));
    assert_eq!(with.get(&health, None).await.unwrap().status, 200);
    let without = Curl::new(&ca.ca_file(), None).get(&health, None).await;
    assert!(without.is_err(), "served without a client certificate");
    let foreign = Curl::new(&ca.ca_file(), Some(&stranger))
        .get(&health, None)
        .await;
    assert!(foreign.is_err(), "served to a certificate of another CA");
    bal.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_only_when_asked_for_and_the_key_outlives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir.path().join("data"));
    let e = Bal::start(config.clone()).await.err().unwrap().to_string();
    assert!(e.contains("--insecure-http"), "{e}");
    // A certificate that cannot be read fails the start, naming it.
    let mut unreadable = config.clone();
    unreadable.api.tls = Some(TlsSettings {
        cert: dir.path().join("missing.pem"),
        key: dir.path().join("missing.key"),
        client_ca: None,
    });
    let e = Bal::start(unreadable).await.err().unwrap().to_string();
    assert!(e.contains("api.tls") && e.contains("missing.pem"), "{e}");

    let mut config = config;
    config.api.insecure_http = true;
    // Tokens name the public URL as their issuer, so they outlive a new port.
    config.api.public_url = Some("http://bal.test".into());
    let bal = Bal::start(config.clone()).await.unwrap();
    assert!(bal.api_url().starts_with("http://"));
    let plain = Curl::plain();
    let token = plain.access_token(bal.api_url(), "dso", "dso-secret").await;
    // The signing key stays in the data directory, readable by its owner only.
    let key = dir
        .path()
        .join("data")
        .join(platone_bal::security::ISSUER_KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    bal.shutdown().await.unwrap();

    // A restart keeps the key: tokens issued before still pass.
    let bal = Bal::start(config).await.unwrap();
    let url = format!("{}/api/measurements?pod=POD-2", bal.api_url());
    assert_eq!(plain.status(&url, &token).await, 200);
    bal.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_an_openid_connect_provider_through_key_rotation_and_outage() {
    let mut provider = match OidcProvider::start(
        "platone-bal",
        &[
            OidcClient::new("agg-1", "agg-secret", &["aggregator"]),
            OidcClient::new("grid-op", "grid-secret", &["dso"]),
            OidcClient::new("cust-1", "cust-secret", &[]),
        ],
    ) {
        Ok(provider) => provider,
        Err(e) => panic!("{e} (scripts/test installs oidc-provider with npm ci)"),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir.path().join("data"));
    config.api.insecure_http = true;
    config.api.oidc = Some(OidcSettings {
        key_refetch_secs: 1,
        ..OidcSettings::new(provider.issuer())
    });
    let bal = Bal::start(config).await.unwrap();
    let curl = Curl::plain();
    let token = |id: &'static str, secret: &'static str, endpoint: String| {
        let curl = Curl::plain();
        async move {
            let answer = curl.token_at(&endpoint, id, secret).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let pod_1 = format!("{}/api/measurements?pod=POD-1", bal.api_url());
    let pod_2 = format!("{}/api/measurements?pod=POD-2", bal.api_url());

    // Roles come from Keycloak's claim: `dso` reads all, a customer its own PoD.
    let grid_op = token("grid-op", "grid-secret", provider.token_endpoint()).await;
    let customer = token("cust-1", "cust-secret", provider.token_endpoint()).await;
    assert_eq!(curl.status(&pod_2, &grid_op).await, 200);
    assert_eq!(curl.status(&pod_1, &customer).await, 200);
    assert_eq!(curl.status(&pod_2, &customer).await, 403);
    // The embedded issuer's clients still work beside the provider's.
    let embedded = curl.access_token(bal.api_url(), "dso", "dso-secret").await;
    assert_eq!(curl.status(&pod_2, &embedded).await, 200);

    // The provider rotates its key: its new tokens pass once the BAL refetched its keys;
    // tokens of the withdrawn key no longer do.
    provider.restart().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let rotated = token("grid-op", "grid-secret", provider.token_endpoint()).await;
    assert_eq!(curl.status(&pod_2, &rotated).await, 200);
    let withdrawn = curl.get(&pod_2, Some(&grid_op)).await.unwrap();
    assert_eq!(withdrawn.status, 401, "{}", withdrawn.body);

    // A token of a key the BAL cannot fetch while the provider is down: 503, retry later.
    provider.restart().unwrap();
    let unseen = token("agg-1", "agg-secret", provider.token_endpoint()).await;
    provider.stop();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let down = curl.get(&pod_1, Some(&unseen)).await.unwrap();
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.headers.contains("retry-after:"), "{}", down.headers);
    // /health shows the issuer as an unavailable engine (tokens already known still pass).
    let health = curl
        .get(&format!("{}/health", bal.api_url()), None)
        .await
        .unwrap();
    assert_eq!(health.body["status"], "degraded", "{}", health.body);
    assert_eq!(
        health.body["engines"]["identity"]["status"], "unavailable",
        "{}",
        health.body
    );
    assert_eq!(curl.status(&pod_2, &rotated).await, 200);
    bal.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_address_is_held_to_its_rate_and_answers_carry_request_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir.path().join("data"));
    config.api.insecure_http = true;
    config.api.requests_per_second = 1;
    config.api.burst = 2;
    config.api.max_body_bytes = 1024;
    let bal = Bal::start(config).await.unwrap();
    let curl = Curl::plain();
    let health = format!("{}/health", bal.api_url());
    let first = curl.get(&health, None).await.unwrap();
    assert_eq!(first.status, 200);
    assert!(
        first.headers.contains("x-request-id: "),
        "{}",
        first.headers
    );
    let given = curl
        .call(vec![
            health.clone(),
            "-H".into(),
            "x-request-id: trace-42".into(),
        ])
        .await
        .unwrap();
    assert!(
        given.headers.contains("x-request-id: trace-42"),
        "{}",
        given.headers
    );
    let refused = curl.get(&health, None).await.unwrap();
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.headers.contains("retry-after: "),
        "{}",
        refused.headers
    );
    assert_eq!(refused.body["status"], 429);
    // After a second, one more request is allowed.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    // Bodies beyond the bound are refused before any handler reads them.
    let large = curl
        .call(vec![
            format!("{}/api/verify", bal.api_url()),
            "-H".into(),
            "content-type: application/json".into(),
            "-d".into(),
            "x".repeat(2048),
        ])
        .await
        .unwrap();
    assert_eq!(large.status, 413);
    bal.shutdown().await.unwrap();
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_signed_by_the_providers_own_key_are_refused_saying_why() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    let provider = OidcProvider::start(
        "platone-bal",
        &[OidcClient::new("grid-op", "grid-secret", &["dso"])],
    )
    .unwrap_or_else(|e| panic!("{e} (scripts/test installs oidc-provider with npm ci)"));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir.path().join("data"));
    config.api.insecure_http = true;
    config.api.oidc = Some(OidcSettings::new(provider.issuer()));
    let bal = Bal::start(config).await.unwrap();
    let curl = Curl::plain();
    let pod_2 = format!("{}/api/measurements?pod=POD-2", bal.api_url());

    // A genuine token first (the BAL fetches the provider's keys).
    let genuine = curl
        .token_at(&provider.token_endpoint(), "grid-op", "grid-secret")
        .await;
    let genuine = genuine.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(curl.status(&pod_2, &genuine).await, 200);

    let key = provider.signing_key().unwrap();
    let encoding = EncodingKey::from_rsa_der(&key.private_pkcs1_der);
    let claims = |change: &dyn Fn(&mut Value)| {
        let mut claims = serde_json::json!({
            "iss": provider.issuer(), "aud": "platone-bal", "sub": "grid-op",
            "iat": now(), "exp": now() + 300, "realm_access": {"roles": ["dso"]},
        });
        change(&mut claims);
        claims
    };
    let sign = |claims: &Value| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &encoding).unwrap()
    };
    // The forgery itself is right: the same claims, unchanged, pass.
    assert_eq!(curl.status(&pod_2, &sign(&claims(&|_| {}))).await, 200);

    let unsigned = {
        let header = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": key.kid}).to_string(),
        );
        let payload = URL_SAFE_NO_PAD.encode(claims(&|_| {}).to_string());
        format!("{header}.{payload}.")
    };
    let hmac = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(
            &header,
            &claims(&|_| {}),
            &EncodingKey::from_secret(key.public_pem.as_bytes()),
        )
        .unwrap()
    };
    let tampered = {
        let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
        let mut payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["sub"] = "dso".into();
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        parts.join(".")
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            sign(&claims(&|c| c["exp"] = (now() - 120).into())),
            "expired",
        ),
        (
            "not yet valid",
            sign(&claims(&|c| c["nbf"] = (now() + 120).into())),
            "not valid yet",
        ),
        (
            "wrong audience",
            sign(&claims(&|c| c["aud"] = "platone-market".into())),
            "audience",
        ),
        (
            "wrong issuer",
            sign(&claims(&|c| c["iss"] = "http://evil.test".into())),
            "issuer",
        ),
        ("alg none", unsigned, "none"),
        ("HS256 with the public key", hmac, "HS256"),
        ("tampered", tampered, "signature"),
    ];
    for (what, token, why) in cases {
        let answer = curl.get(&pod_2, Some(&token)).await.unwrap();
        assert_refused(&answer, what, why);
    }
    bal.shutdown().await.unwrap();
}
