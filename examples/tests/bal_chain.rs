//! The BAL checking device signatures against the on-chain `DeviceRegistry`, against a real
//! anvil: a packet signed by a key the DSO registered on chain is stored, one signed by a
//! key it never registered is dead-lettered.
#![cfg(feature = "chain")]

use std::sync::Arc;
use std::time::Duration;

use platone_bal::{Bal, BalConfig};
use platone_bus::MqttBus;
use platone_chain::{
    ChainClient, ChainConfig, ChainDeviceRegistry, Deployment, DeviceRegistryClient,
    parse_private_key,
};
use platone_sim::{FieldPlan, Signing, SimStats};
use platone_testkit::{ANVIL_KEYS, Anvil};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bal_accepts_only_keys_registered_on_chain() {
    let node = Anvil::start().expect("anvil (npm ci installs it)");
    let mut chain = ChainConfig::new(node.url());
    chain.poll_interval_ms = 50;
    let dso = ChainClient::connect(
        chain.clone(),
        Some(parse_private_key(ANVIL_KEYS[0]).unwrap()),
    )
    .await
    .unwrap();
    let deployment = Deployment::deploy(&dso).await.unwrap();

    // Two PMUs; the DSO registers the key of the first one's PoD only.
    let mut plan = FieldPlan::new(2, 20, 0);
    plan.signing = Signing::Eip191;
    let registered = plan.device_key(&FieldPlan::pmu_id(0)).address();
    DeviceRegistryClient::new(dso, &deployment)
        .register(&FieldPlan::pmu_pod(0), registered, 1)
        .await
        .unwrap();
    let reader = ChainClient::connect(chain, None).await.unwrap();
    let registry = Arc::new(
        ChainDeviceRegistry::open(reader, &deployment)
            .await
            .unwrap(),
    );

    let dir = tempfile::tempdir().unwrap();
    let config = BalConfig {
        embedded_broker: Some("127.0.0.1:0".parse().unwrap()),
        http: "127.0.0.1:0".parse().unwrap(),
        data: dir.path().to_path_buf(),
        pods: plan.bal_pods(),
        // Their addresses are not registered by the BAL: the chain decides.
        devices: plan.bal_devices(),
        require_signatures: true,
        api: platone_bal::ApiSecurity {
            insecure_http: true,
            ..Default::default()
        },
        ..BalConfig::default()
    };
    let bal = Bal::start_with_engines(config, None, Some(registry))
        .await
        .unwrap();
    let url = platone_bal::MqttUrl::parse(bal.mqtt_url()).unwrap();
    let field = MqttBus::connect(url.client_config("chain-field")).unwrap();
    field.wait_connected(Duration::from_secs(10)).await.unwrap();
    let report = platone_sim::run(
        &field,
        &plan,
        Some(Duration::from_secs(1)),
        &SimStats::new(),
    )
    .await
    .unwrap();
    let sent = report.stats.packets;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while {
        let m = bal.metrics();
        m.packets_signed + m.packets_dead_lettered < sent
    } {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            bal.metrics()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let m = bal.metrics();
    bal.shutdown().await.unwrap();
    // Each PMU sent about half; the unregistered one's packets are all refused.
    assert!(m.packets_signed > 0 && m.packets_dead_lettered > 0, "{m:?}");
    assert_eq!(m.packets_signed + m.packets_dead_lettered, sent, "{m:?}");
    assert!(
        m.packets_signed.abs_diff(m.packets_dead_lettered) <= 2,
        "{m:?}"
    );
}
