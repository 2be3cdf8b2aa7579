//! platone-service: the cost of a bearer-token check — a token seen before (the validator
//! remembers accepted tokens until they expire) and a first sight (header, key, ES256
//! signature, claims) — and of the whole authenticated path through axum in process.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use platone_service::{
    Authentication, Authenticator, ClientSpec, EmbeddedIssuer, Identity, IssuerConfig, JwtConfig,
    JwtValidator, StaticJwks,
};
use tower::ServiceExt;

fn issuer(dir: &std::path::Path) -> EmbeddedIssuer {
    EmbeddedIssuer::open(IssuerConfig {
        issuer: "https://bal.bench".into(),
        audience: "platone-bal".into(),
        key_file: dir.join("key.pem"),
        clients: vec![ClientSpec::parse("agg-1=secret:aggregator").unwrap()],
        token_lifetime: Duration::from_secs(3600),
    })
    .unwrap()
}

fn token_check(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let issuer = issuer(dir.path());
    let token = runtime
        .block_on(issuer.issue("agg-1", "secret"))
        .unwrap()
        .access_token;
    let remembering = issuer.validator();
    let mut config = JwtConfig::new("https://bal.bench", "platone-bal");
    config.remembered_tokens = 0;
    let verifying = JwtValidator::new(config, Arc::new(StaticJwks(issuer.jwks())));

    let mut group = c.benchmark_group("service/jwt");
    group.bench_function("seen_before", |b| {
        b.iter(|| {
            let identity = runtime
                .block_on(remembering.authenticate(black_box(&token)))
                .unwrap();
            black_box(identity)
        })
    });
    group.bench_function("first_sight_es256", |b| {
        b.iter(|| {
            let identity = runtime
                .block_on(verifying.authenticate(black_box(&token)))
                .unwrap();
            black_box(identity)
        })
    });
    group.finish();

    // The whole path in process: routing, the Authorization header, the check, a handler.
    #[derive(Clone)]
    struct State(Authentication);
    impl axum::extract::FromRef<State> for Authentication {
        fn from_ref(state: &State) -> Self {
            state.0.clone()
        }
    }
    let app = Router::new()
        .route(
            "/whoami",
            get(|caller: Identity| async move { caller.subject }),
        )
        .with_state(State(Authentication::new(issuer.validator())));
    let header = format!("Bearer {token}");
    let mut group = c.benchmark_group("service/request");
    group.bench_function("authenticated_in_process", |b| {
        b.iter(|| {
            let request = Request::get("/whoami")
                .header("authorization", &header)
                .body(Body::empty())
                .unwrap();
            let answer = runtime.block_on(app.clone().oneshot(request)).unwrap();
            assert!(answer.status().is_success());
            black_box(answer)
        })
    });
    group.finish();
}

criterion_group!(benches, token_check);
criterion_main!(benches);
