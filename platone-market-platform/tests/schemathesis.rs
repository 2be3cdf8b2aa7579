//! schemathesis (PyPI, pinned in scripts/requirements-test.txt) against the Market Platform's
//! generated OpenAPI document, with the operator's, a DSO's and an aggregator's token and with
//! none: no 5xx, and every answer's status, content type, headers and body as documented.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use platone_market_platform::{Caller, PlatformConfig, PlatformEngines, PlatformServer};
use platone_service::{Identity, StaticTokens};
use platone_testkit::run_schemathesis_with_tokens;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_platform_matches_its_openapi_document() {
    let Some(python) =
        platone_testkit::python("every_answer_of_the_platform_matches_its_openapi_document")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = PlatformConfig {
        data: dir.path().join("data"),
        http: "127.0.0.1:0".parse().unwrap(),
        ..PlatformConfig::default()
    };
    config.api.insecure_http = true;
    config.api.requests_per_second = 0;
    let mut tokens = StaticTokens::new();
    for (token, who, role) in [
        ("mo-token", "mo", "market-operator"),
        ("dso-token", "dso-1", "dso"),
        ("agg-token", "agg-1", "aggregator"),
    ] {
        tokens.insert(token, Identity::new(who, [role.to_owned()]));
    }
    let ledger = Arc::new(platone_certify::FileLedger::open(dir.path().join("ledger")).unwrap());
    let server = PlatformServer::start_with(
        config,
        PlatformEngines {
            static_tokens: tokens,
            ..PlatformEngines::on_ledger(ledger)
        },
    )
    .await
    .unwrap();
    // One open session and one published, so that generated requests meet both.
    let operator = Caller {
        participant: "mo".into(),
        roles: vec![platone_market::MarketRole::MarketOperator],
    };
    for id in ["open-1", "done-1"] {
        let spec = serde_json::from_value(serde_json::json!({
            "id": id, "kind": "day-ahead", "slots": ["t1"],
            "gate_closure": (Utc::now() + TimeDelta::hours(2)).to_rfc3339(),
        }))
        .unwrap();
        server.platform().create_session(&operator, spec).unwrap();
    }
    server
        .platform()
        .close_as(&operator, "done-1")
        .await
        .unwrap();
    let document = format!("{}/api/openapi.json", server.api_url());
    run_schemathesis_with_tokens(
        python,
        dir.path(),
        document,
        &["mo-token", "dso-token", "agg-token"],
    )
    .await;
    server.shutdown().await.unwrap();
}
