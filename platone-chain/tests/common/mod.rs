//! Shared set-up: a real anvil, a deployment, keys and certificates.
#![allow(dead_code)]

use platone_certify::{BatchCertificate, BatchPolicy, Batcher, Scheme};
use platone_chain::{
    ChainClient, ChainConfig, Deployment, EthereumLedger, LedgerOptions, parse_private_key,
};
use platone_testkit::{ANVIL_KEYS, Anvil, AnvilOptions};

/// A node and the five contracts deployed by key 0.
pub struct Chain {
    pub node: Anvil,
    pub deployment: Deployment,
}

pub async fn chain_with(options: AnvilOptions) -> Chain {
    let node = Anvil::start_with(options.clone()).expect("anvil (npm ci installs it)");
    let client = client(&node, 0, config(&node, &options)).await;
    let deployment = Deployment::deploy(&client).await.unwrap();
    Chain { node, deployment }
}

/// A client of `chain` signing with anvil key `key`.
pub async fn keyed(chain: &Chain, key: usize, options: &AnvilOptions) -> ChainClient {
    client(&chain.node, key, config(&chain.node, options)).await
}

/// An Ethereum ledger in `dir` for `chain`'s deployment, anchoring with `client`.
pub async fn open_ledger(
    chain: &Chain,
    dir: &std::path::Path,
    client: ChainClient,
) -> EthereumLedger {
    EthereumLedger::open(
        dir,
        client,
        chain.deployment.clone(),
        LedgerOptions::default(),
    )
    .await
    .unwrap()
}

pub fn config(node: &Anvil, options: &AnvilOptions) -> ChainConfig {
    let mut config = ChainConfig::new(node.url());
    config.chain_id = Some(node.chain_id());
    config.poll_interval_ms = 50;
    if options.free_gas {
        config.gas = platone_chain::GasPolicy::Legacy { gas_price: 0 };
    }
    config
}

pub async fn client(_node: &Anvil, key: usize, config: ChainConfig) -> ChainClient {
    let key = parse_private_key(ANVIL_KEYS[key]).unwrap();
    ChainClient::connect(config, Some(key)).await.unwrap()
}

/// `count` certificates of batches of 3 records, from two sources, in chain order.
pub fn certificates(count: usize, tag: &str) -> Vec<BatchCertificate> {
    let mut b = Batcher::new(
        Scheme::Sha256,
        BatchPolicy {
            max_records: 3,
            window: chrono::TimeDelta::minutes(3),
        },
    );
    let now = platone_model::parse_timestamp("2024-01-01T00:00:00Z").unwrap();
    let mut sealed = Vec::new();
    let mut i = 0;
    while sealed.len() < count {
        let source = if i % 2 == 0 { "pmu-a" } else { "meter-b" };
        let record = serde_json::json!({"source": source, "i": i, "tag": tag});
        sealed.extend(b.add(source, &record, now).unwrap());
        i += 1;
    }
    sealed.into_iter().map(|s| s.certificate).collect()
}
