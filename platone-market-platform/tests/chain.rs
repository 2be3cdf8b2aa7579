//! Results registered in `MarketRegistry` and settlement tokens minted by `FlexToken`, on a
//! real anvil: a participant proves its award with the contract's `verifyAward`, registering
//! and minting again changes nothing, a tampered award is refused on chain.
#![cfg(feature = "chain")]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use common::caller;
use platone_certify::{Certifiable, Digest, FileLedger};
use platone_chain::{ChainClient, ChainConfig, Deployment, MarketClient, U256, parse_private_key};
use platone_market::MarketRole;
use platone_market_platform::chain::OnChainMarket;
use platone_market_platform::market_chain::MarketChain;
use platone_market_platform::settlement::{
    BaselineDeclaration, DeclaredBaseline, MeteredValue, SettlementInput,
};
use platone_market_platform::{LineLoading, MarketPlatform, SqliteStore};
use platone_testkit::{ANVIL_KEYS, Anvil};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_registered_and_tokens_minted_on_chain() {
    let node = Anvil::start().expect("anvil (npm ci installs it)");
    let mut config = ChainConfig::new(node.url());
    config.poll_interval_ms = 50;
    let operator_key = parse_private_key(ANVIL_KEYS[0]).unwrap();
    let client = ChainClient::connect(config.clone(), Some(operator_key))
        .await
        .unwrap();
    let deployment = Deployment::deploy(&client).await.unwrap();
    let wallet = parse_private_key(ANVIL_KEYS[1]).unwrap().address();
    let market = MarketClient::new(client, &deployment);
    let chain = Arc::new(OnChainMarket::new(
        market.clone(),
        deployment.contracts.MarketRegistry,
        deployment.contracts.FlexToken,
        BTreeMap::from([("agg-1".to_owned(), wallet)]),
    ));

    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(FileLedger::open(dir.path().join("ledger")).unwrap());
    let platform = MarketPlatform::open(
        Arc::new(SqliteStore::in_memory().unwrap()),
        ledger,
        Arc::new(LineLoading::default()),
    )
    .unwrap()
    .with_market_chain(chain.clone());
    let operator = caller("mo", MarketRole::MarketOperator);
    let spec = json!({"id": "da-c", "kind": "day-ahead", "slots": ["t1"],
        "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339()});
    platform
        .create_session(&operator, serde_json::from_value(spec).unwrap())
        .unwrap();
    let order = |id: &str, quantity: f64, price: f64| {
        vec![
            json!({"id": id, "location": "n1", "direction": "up", "slot": "t1",
            "quantity": quantity, "price": price}),
        ]
    };
    platform
        .submit(
            &caller("dso-1", MarketRole::Dso),
            "da-c",
            false,
            order("r1", 2.0, 50.0),
        )
        .unwrap();
    let aggregator = caller("agg-1", MarketRole::Aggregator);
    platform
        .submit(&aggregator, "da-c", true, order("o1", 2.0, 20.0))
        .unwrap();
    platform.close_as(&operator, "da-c").await.unwrap();

    // The registration went to the contract, and the contract holds what the platform says.
    let outcome = platform.outcome(&operator, "da-c").unwrap();
    let registration = outcome.registration.unwrap();
    let receipt = registration.on_chain.clone().expect("registered on chain");
    assert!(receipt.transaction.is_some(), "{receipt:?}");
    let session = OnChainMarket::chain_id_of("da-c");
    let held = market.result_of(session).await.unwrap().unwrap();
    assert_eq!(held.result_hash, registration.result_hash);
    assert_eq!(held.awards_root, registration.awards_root);

    // The aggregator proves its award on chain: keccak-256 of the award's canonical JSON and
    // the proof's siblings; a tampered award is refused.
    let award = platform.award(&aggregator, "da-c", "o1").unwrap();
    let mut record = serde_json::to_value(&award.award).unwrap();
    let hash = |v: &serde_json::Value| Digest::keccak256(&v.canonical_bytes().unwrap());
    assert!(
        market
            .verify_award(session, hash(&record), &award.proof.siblings)
            .await
            .unwrap()
    );
    record["quantity"] = json!(20.0);
    assert!(
        !market
            .verify_award(session, hash(&record), &award.proof.siblings)
            .await
            .unwrap()
    );

    // Registering again (a restart in the pipeline) is a no-op; another result is refused.
    let again = chain
        .register_result("da-c", registration.result_hash, registration.awards_root)
        .await
        .unwrap();
    assert_eq!(again.transaction, None);
    let e = chain
        .register_result("da-c", registration.awards_root, registration.awards_root)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("is registered on chain with result"), "{e}");

    // Settlement: 1.5 of 2 delivered → 150 base units, minted once as 1.5 × 10^18.
    platform
        .declare_baselines(
            &aggregator,
            "da-c",
            BaselineDeclaration {
                baselines: vec![DeclaredBaseline {
                    order: "o1".into(),
                    baseline: 10.0,
                }],
            },
        )
        .unwrap();
    platform
        .settle(
            &operator,
            "da-c",
            SettlementInput {
                metered: vec![MeteredValue {
                    order: "o1".into(),
                    actual: 8.5,
                    baseline: None,
                }],
                from_scd: None,
                penalty: Default::default(),
                tokens_per_unit: 1.0,
            },
        )
        .unwrap();
    assert_eq!(platform.mint_settlements().await.unwrap(), 1);
    let expected = U256::from(150u64) * U256::from(10u64).pow(U256::from(16u64));
    assert_eq!(market.balance_of(wallet).await.unwrap(), expected);
    assert_eq!(platform.mint_settlements().await.unwrap(), 0, "minted once");
    assert_eq!(market.balance_of(wallet).await.unwrap(), expected);
    let trail = platform.audit_trail(&operator, "da-c").unwrap();
    let minted = trail.iter().find(|e| e.event == "minted").unwrap();
    assert!(
        minted
            .detail
            .starts_with("da-c/o1 150 units to agg-1: FlexToken 0x"),
        "{}",
        minted.detail
    );
    // The chain itself refuses a second mint of the same settlement: the adapter answers
    // without minting.
    let repeat = chain.mint("agg-1", 150, "da-c/o1").await.unwrap();
    assert_eq!(repeat.transaction, None);
    assert_eq!(market.balance_of(wallet).await.unwrap(), expected);
    let e = chain.mint("nobody", 1, "x").await.unwrap_err().to_string();
    assert!(e.contains("no wallet is configured for nobody"), "{e}");
    assert_eq!(platform.chain_failure(), None);
}
