//! Every contract function and role check against a real anvil, through the typed clients.

mod common;

use alloy::primitives::{Address, B256, U256};
use platone_certify::{Digest, MerkleTree, Scheme};
use platone_chain::{
    ChainError, DeviceRegistryClient, MarketClient, Role, SubscriptionClient, SubscriptionStatus,
};
use platone_testkit::AnvilOptions;

use common::{chain_with, keyed};

fn reverted_with(result: Result<impl std::fmt::Debug, ChainError>, name: &str) {
    match result {
        Err(ChainError::Reverted { reason, .. }) if reason.contains(name) => {}
        other => panic!("expected a revert with {name}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_registry_keeps_history_and_only_the_dso_writes() {
    let options = AnvilOptions::default();
    let chain = chain_with(options.clone()).await;
    let dso = DeviceRegistryClient::new(keyed(&chain, 0, &options).await, &chain.deployment);
    let stranger = DeviceRegistryClient::new(keyed(&chain, 1, &options).await, &chain.deployment);
    let (a, b) = (Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));

    reverted_with(
        stranger.register("pod-1", a, 100).await,
        "AccessControlUnauthorizedAccount",
    );
    dso.register("pod-1", a, 100).await.unwrap();
    reverted_with(dso.register("pod-1", b, 150).await, "AlreadyRegistered");
    reverted_with(dso.rotate("pod-1", b, 50).await, "TimeBeforeCurrent");
    reverted_with(
        stranger.rotate("pod-1", b, 200).await,
        "AccessControlUnauthorizedAccount",
    );
    dso.rotate("pod-1", b, 200).await.unwrap();
    reverted_with(
        stranger.revoke("pod-1", 300).await,
        "AccessControlUnauthorizedAccount",
    );
    dso.revoke("pod-1", 300).await.unwrap();
    reverted_with(dso.revoke("pod-1", 400).await, "NoOpenEntry");
    reverted_with(dso.register("pod-2", Address::ZERO, 1).await, "ZeroDevice");

    assert_eq!(dso.device_at("pod-1", 99).await.unwrap(), None);
    assert_eq!(dso.device_at("pod-1", 100).await.unwrap(), Some(a));
    assert_eq!(dso.device_at("pod-1", 199).await.unwrap(), Some(a));
    assert_eq!(dso.device_at("pod-1", 200).await.unwrap(), Some(b));
    assert_eq!(
        dso.device_at("pod-1", 300).await.unwrap(),
        None,
        "revoked from 300"
    );
    assert_eq!(
        stranger.device_at("pod-1", 250).await.unwrap(),
        Some(b),
        "anyone reads"
    );
    let history = dso.history("pod-1").await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (
            history[0].device,
            history[0].valid_from,
            history[0].valid_until
        ),
        (a, 100, Some(200))
    );
    assert_eq!(
        (
            history[1].device,
            history[1].valid_until,
            history[1].revoked
        ),
        (b, Some(300), true)
    );

    // A granted DSO writes.
    let admin = keyed(&chain, 0, &options).await;
    let stranger_address = stranger_address(&chain, &options).await;
    chain
        .deployment
        .grant(&admin, Role::Dso, stranger_address)
        .await
        .unwrap();
    stranger.register("pod-3", a, 10).await.unwrap();
    assert_eq!(dso.device_at("pod-3", 10).await.unwrap(), Some(a));
}

async fn stranger_address(chain: &common::Chain, options: &AnvilOptions) -> Address {
    keyed(chain, 1, options).await.sender().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_requested_by_consumers_and_decided_only_by_their_provider() {
    let options = AnvilOptions::default();
    let chain = chain_with(options.clone()).await;
    let provider_client = keyed(&chain, 0, &options).await;
    let provider = SubscriptionClient::new(provider_client.clone(), &chain.deployment);
    let consumer = SubscriptionClient::new(keyed(&chain, 1, &options).await, &chain.deployment);
    let third = SubscriptionClient::new(keyed(&chain, 2, &options).await, &chain.deployment);
    let provider_address = provider_client.sender().unwrap();

    let first = consumer
        .request(provider_address, "platone/bal/pod-1")
        .await
        .unwrap();
    let second = consumer
        .request(provider_address, "platone/bal/pod-1")
        .await
        .unwrap();
    let other = consumer
        .request(provider_address, "platone/bal/pod-2")
        .await
        .unwrap();
    assert_eq!((first, second, other), (0, 1, 2));
    reverted_with(third.accept(first).await, "NotProvider");
    reverted_with(consumer.accept(first).await, "NotProvider");
    provider.accept(first).await.unwrap();
    provider.decline(second).await.unwrap();
    reverted_with(provider.accept(second).await, "NotRequested");
    reverted_with(provider.accept(99).await, "UnknownSubscription");
    reverted_with(consumer.request(Address::ZERO, "t").await, "ZeroProvider");

    let of_pod_1 = third.subscriptions_of("platone/bal/pod-1").await.unwrap();
    assert_eq!(of_pod_1.len(), 2);
    assert_eq!(of_pod_1[0].status, SubscriptionStatus::Accepted);
    assert_eq!(of_pod_1[1].status, SubscriptionStatus::Declined);
    assert_eq!(
        of_pod_1[0].consumer,
        stranger_address(&chain, &options).await
    );
    assert!(of_pod_1[0].timestamp > 0);
    let pending = third.subscription(other).await.unwrap();
    assert_eq!(
        (pending.status, pending.topic.as_str()),
        (SubscriptionStatus::Requested, "platone/bal/pod-2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_register_once_awards_prove_and_tokens_mint_once_per_settlement() {
    let options = AnvilOptions::default();
    let chain = chain_with(options.clone()).await;
    let operator = MarketClient::new(keyed(&chain, 0, &options).await, &chain.deployment);
    let stranger = MarketClient::new(keyed(&chain, 1, &options).await, &chain.deployment);
    let session = B256::repeat_byte(7);
    let awards: Vec<Digest> = (0..5u8).map(|i| Digest([i + 1; 32])).collect();
    let leaves: Vec<Digest> = awards
        .iter()
        .map(|a| Scheme::keccak_leaf_of_content(*a))
        .collect();
    let tree = MerkleTree::new(Scheme::Keccak, &leaves).unwrap();
    let result_hash = Digest([0x42; 32]);

    assert_eq!(operator.result_of(session).await.unwrap(), None);
    reverted_with(
        stranger
            .register_result(session, result_hash, tree.root())
            .await,
        "AccessControlUnauthorizedAccount",
    );
    operator
        .register_result(session, result_hash, tree.root())
        .await
        .unwrap();
    reverted_with(
        operator
            .register_result(session, Digest([1; 32]), tree.root())
            .await,
        "AlreadyRegistered",
    );
    reverted_with(
        operator
            .register_result(B256::repeat_byte(8), Digest::default(), tree.root())
            .await,
        "ZeroResultHash",
    );
    let registered = stranger.result_of(session).await.unwrap().unwrap();
    assert_eq!(
        (registered.result_hash, registered.awards_root),
        (result_hash, tree.root())
    );
    assert!(registered.registered_at > 0);
    for (i, award) in awards.iter().enumerate() {
        let path = tree.path(i).unwrap();
        assert!(stranger.verify_award(session, *award, &path).await.unwrap());
        assert!(
            !stranger
                .verify_award(session, Digest([0xee; 32]), &path)
                .await
                .unwrap()
        );
    }

    let to = Address::repeat_byte(0x55);
    let settlement = B256::repeat_byte(9);
    reverted_with(
        stranger
            .mint_for_delivery(to, U256::from(10), settlement)
            .await,
        "AccessControlUnauthorizedAccount",
    );
    operator
        .mint_for_delivery(to, U256::from(1_500), settlement)
        .await
        .unwrap();
    reverted_with(
        operator
            .mint_for_delivery(to, U256::from(1), settlement)
            .await,
        "AlreadySettled",
    );
    reverted_with(
        operator
            .mint_for_delivery(to, U256::ZERO, B256::repeat_byte(10))
            .await,
        "ZeroAmount",
    );
    assert_eq!(stranger.balance_of(to).await.unwrap(), U256::from(1_500));
    assert!(stranger.settled(settlement).await.unwrap());
    assert!(!stranger.settled(B256::repeat_byte(10)).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_on_another_chain_or_without_code_is_refused() {
    let options = AnvilOptions::default();
    let chain = chain_with(options.clone()).await;
    let c = keyed(&chain, 0, &options).await;
    chain.deployment.check(&c).await.unwrap();
    let mut wrong_chain = chain.deployment.clone();
    wrong_chain.chain_id = 1;
    assert!(
        wrong_chain
            .check(&c)
            .await
            .unwrap_err()
            .to_string()
            .contains("chain 1")
    );
    let mut no_code = chain.deployment.clone();
    no_code.contracts.FlexToken = Address::repeat_byte(0x77);
    let e = no_code.check(&c).await.unwrap_err().to_string();
    assert!(e.contains("no contract FlexToken"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_registry_seen_as_a_device_registry_follows_the_chain() {
    use platone_certify::registry::{DeviceRegistry, KeyAction, Receipt, SignedKeyChange};
    let options = AnvilOptions::default();
    let chain = chain_with(options.clone()).await;
    let dso = DeviceRegistryClient::new(keyed(&chain, 0, &options).await, &chain.deployment);
    let (a, b) = (Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
    dso.register("pod-1", a, 100).await.unwrap();

    // A reader with no key.
    let reader = platone_chain::ChainClient::connect(common::config(&chain.node, &options), None)
        .await
        .unwrap();
    let mut registry = platone_chain::ChainDeviceRegistry::open(reader, &chain.deployment)
        .await
        .unwrap();
    let at = |t| Receipt::new(t, 60);
    assert_eq!(registry.address_at("pod-1", 150), Some(a));
    registry.check_signer("pod-1", a, None, &at(150)).unwrap();
    assert!(registry.check_signer("pod-1", b, None, &at(150)).is_err());
    assert!(registry.check_signer("pod-2", a, None, &at(150)).is_err());
    assert_eq!(registry.nonce(), 1);

    // A rotation and a revocation on chain are seen at the next sync; history stays.
    dso.rotate("pod-1", b, 200).await.unwrap();
    dso.register("pod-2", a, 100).await.unwrap();
    assert_eq!(registry.sync().await.unwrap(), 2);
    let err = registry
        .check_signer("pod-1", a, None, &at(250))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&b.to_string()), "{err}");
    registry.check_signer("pod-1", b, None, &at(250)).unwrap();
    registry.check_signer("pod-1", a, None, &at(150)).unwrap();
    registry.check_signer("pod-2", a, None, &at(150)).unwrap();
    dso.revoke("pod-1", 300).await.unwrap();
    assert_eq!(registry.sync().await.unwrap(), 1);
    assert_eq!(registry.sync().await.unwrap(), 0, "nothing new");
    assert!(registry.check_signer("pod-1", b, None, &at(301)).is_err());
    assert_eq!(registry.history("pod-1").len(), 2);
    assert_eq!(registry.nonce(), 4);

    // Changes signed off chain are refused: only DSO transactions change it.
    let key = platone_certify::DeviceKey::generate().unwrap();
    let domain = platone_certify::signature::deployment_domain(31337, None);
    let change =
        SignedKeyChange::sign(&key, &domain, "pod-1", KeyAction::Register, Some(a), 400, 4)
            .unwrap();
    assert!(registry.apply(&change).is_err());
    assert_eq!(registry.history("pod-1").len(), 2);
}
