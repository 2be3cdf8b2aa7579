//! `platone market serve --ledger eth:DEPLOYMENT.json`: results registered in the deployment's
//! MarketRegistry and settlement tokens minted by its FlexToken, on a real anvil.
#![cfg(feature = "chain")]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::{platone, text};
use platone_chain::{ChainClient, ChainConfig, Deployment, MarketClient, U256, parse_private_key};
use platone_testkit::{ANVIL_KEYS, Anvil};
use serde_json::{Value, json};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_serve_registers_and_mints_on_chain() {
    let node = Anvil::start().expect("anvil (npm ci installs it)");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("operator.key");
    std::fs::write(&key, ANVIL_KEYS[0]).unwrap();
    let deployment = dir.path().join("deployment.json");
    let out = platone(
        &[
            "chain",
            "deploy",
            "--rpc",
            &node.url(),
            "--key",
            key.to_str().unwrap(),
            "--out",
            deployment.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let wallet = parse_private_key(ANVIL_KEYS[1]).unwrap().address();

    let port = free_port();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_platone"))
            .args([
                "market",
                "serve",
                "--insecure-http",
                "--http",
                &format!("127.0.0.1:{port}"),
                "--data",
                dir.path().join("data").to_str().unwrap(),
                "--client",
                "mo=s0:market-operator",
                "--client",
                "dso-1=s1:dso",
                "--client",
                "agg-1=s2:aggregator",
                "--ledger",
                &format!("eth:{}", deployment.display()),
                "--chain-key",
                key.to_str().unwrap(),
                "--wallet",
                &format!("agg-1={wallet:#x}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status().is_success()
        {
            let health: Value = r.json().await.unwrap();
            assert_eq!(health["market_chain"], "ok", "{health}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the platform did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = |who: &'static str, secret: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let answer: Value = http
                .post(format!("{base}/oauth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=client_credentials&client_id={who}&client_secret={secret}"
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["access_token"].as_str().unwrap().to_owned()
        }
    };
    let (mo, dso, agg) = (
        token("mo", "s0").await,
        token("dso-1", "s1").await,
        token("agg-1", "s2").await,
    );
    let post = |path: &str, token: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let spec = json!({"id": "da-e", "kind": "day-ahead", "slots": ["t1"],
        "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339()});
    assert_eq!(
        post("/api/sessions", &mo, spec).await.unwrap().status(),
        201
    );
    let order = |id: &str, price: f64| {
        json!({"id": id, "location": "n1", "direction": "up", "slot": "t1", "quantity": 2.0,
            "price": price})
    };
    assert_eq!(
        post("/api/sessions/da-e/requests", &dso, order("r1", 50.0))
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        post("/api/sessions/da-e/offers", &agg, order("o1", 20.0))
            .await
            .unwrap()
            .status(),
        201
    );
    let closed = post("/api/sessions/da-e/close", &mo, json!({}))
        .await
        .unwrap();
    assert_eq!(closed.status(), 200, "{}", closed.text().await.unwrap());
    let result: Value = http
        .get(format!("{base}/api/sessions/da-e/result"))
        .bearer_auth(&mo)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let registration = &result["registration"];
    assert!(
        registration["on_chain"]["transaction"].is_string(),
        "{registration}"
    );

    let mut config = ChainConfig::new(node.url());
    config.poll_interval_ms = 50;
    let reader = ChainClient::connect(config, None).await.unwrap();
    let contracts = Deployment::load(&deployment).unwrap();
    let market = MarketClient::new(reader, &contracts);
    let session = platone_market_platform::chain::OnChainMarket::chain_id_of("da-e");
    let held = market.result_of(session).await.unwrap().unwrap();
    assert_eq!(
        format!("{}", held.awards_root),
        registration["awards_root"].as_str().unwrap()
    );

    let baselines = json!({"baselines": [{"order": "o1", "baseline": 10.0}]});
    assert_eq!(
        post("/api/sessions/da-e/baselines", &agg, baselines)
            .await
            .unwrap()
            .status(),
        200
    );
    let settle = json!({"metered": [{"order": "o1", "actual": 8.0}]});
    let settled = post("/api/sessions/da-e/settle", &mo, settle)
        .await
        .unwrap();
    assert_eq!(settled.status(), 200, "{}", settled.text().await.unwrap());
    // 2 delivered → 200 base units → 2 × 10^18 on chain.
    let expected = U256::from(2u64) * U256::from(10u64).pow(U256::from(18u64));
    assert_eq!(market.balance_of(wallet).await.unwrap(), expected);
    drop(server);
}
