//! The Ethereum ledger against a real anvil: aggregate anchoring, proofs checked offline and
//! by the contract, restarts of the node and of the ledger, confirmations, free-gas legacy
//! transactions, a node that is down.

mod common;

use std::time::Duration;

use platone_certify::{
    AnchorStatus, BatchPolicy, Batcher, Certifiable, ChainAnchor, Digest, Ledger, Proof, Scheme,
    Verification,
};
use platone_chain::{ChainClient, ChainError, ChainVerifier, Progress};
use platone_testkit::AnvilOptions;

use common::{certificates, chain_with, client, config, keyed, open_ledger};

const FLUSH: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_batches_are_anchored_in_one_transaction_and_prove_on_chain_and_offline() {
    let chain = chain_with(AnvilOptions::default()).await;
    let options = AnvilOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let c = keyed(&chain, 0, &options).await;
    let ledger = open_ledger(&chain, dir.path(), c.clone()).await;
    let certs = certificates(40, "one");
    let statuses = ledger.anchor_all(&certs).await.unwrap();
    assert!(statuses.iter().all(|s| *s == AnchorStatus::Pending));
    assert_eq!(
        ledger.status(&certs[0].batch_id).await.unwrap(),
        Some(AnchorStatus::Pending)
    );
    assert_eq!(
        ledger.get(&certs[0].batch_id).await.unwrap(),
        None,
        "get returns durable entries only"
    );
    // Idempotent: anchoring again queues nothing twice.
    ledger.anchor_all(&certs[..5]).await.unwrap();
    assert_eq!(ledger.pending_batches(), 40);

    ledger.flush(FLUSH).await.unwrap();
    let aggregates = ledger.aggregates();
    assert_eq!(aggregates.len(), 1, "one transaction for the 40 batches");
    assert_eq!(aggregates[0].batches.len(), 40);
    assert_eq!(aggregates[0].position, Some(0));
    let mut verifier = ChainVerifier::new(c.clone(), chain.deployment.clone());
    for cert in &certs {
        let status = ledger.status(&cert.batch_id).await.unwrap().unwrap();
        let AnchorStatus::Anchored(anchor) = status else {
            panic!("{status:?}")
        };
        assert_eq!(anchor.ledger, ledger.name());
        assert_eq!(anchor.position, 0, "the anchor's position in the contract");
        let on_chain = *anchor.chain.unwrap();
        assert_eq!(on_chain.certificate_hash, cert.hash().unwrap());
        assert_eq!(&on_chain.certificate, cert);
        assert_eq!(anchor.entry, on_chain.transaction.to_string());
        assert!(on_chain.path_reaches_root());
        assert_eq!(verifier.check_on_chain(0, &on_chain).await.unwrap(), Ok(()));
        assert_eq!(
            ledger.chain_anchor(&cert.batch_id).await.unwrap(),
            Some(on_chain)
        );
    }
    // A tampered path, certificate hash or root fails offline and on chain alike; a position
    // never anchored is named.
    let good = ledger
        .chain_anchor(&certs[7].batch_id)
        .await
        .unwrap()
        .unwrap();
    let mut bad_path = good.clone();
    bad_path.path[0].0[0] ^= 1;
    let mut bad_hash = good.clone();
    bad_hash.certificate_hash = Digest([9; 32]);
    let mut bad_root = good.clone();
    bad_root.root = Digest([7; 32]);
    for bad in [&bad_path, &bad_hash, &bad_root] {
        assert!(!bad.path_reaches_root());
        assert!(verifier.check_on_chain(0, bad).await.unwrap().is_err());
    }
    let unknown = verifier
        .check_on_chain(5, &good)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        unknown.to_string().contains("no anchor at position 5"),
        "{unknown}"
    );

    // Later certificates go in the next anchor, chained to this one.
    let more = certificates(46, "one");
    ledger.anchor_all(&more[40..]).await.unwrap();
    ledger.flush(FLUSH).await.unwrap();
    let aggregates = ledger.aggregates();
    assert_eq!(aggregates.len(), 2);
    assert_eq!(
        (aggregates[1].position, aggregates[1].batches.len()),
        (Some(1), 6)
    );
    let report = ledger.check_consistency().await.unwrap();
    assert!(report.is_consistent(), "{:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restart_and_a_ledger_restart_lose_and_duplicate_nothing() {
    // One block a second: the anchor transaction waits in the pool when the node stops.
    let options = AnvilOptions {
        block_time: Some(1),
        ..AnvilOptions::default()
    };
    let mut chain = chain_with(options.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let certs = certificates(30, "restart");
    {
        let c = keyed(&chain, 0, &options).await;
        let ledger = open_ledger(&chain, dir.path(), c).await;
        ledger.anchor_all(&certs[..20]).await.unwrap();
        assert_eq!(ledger.step().await.unwrap(), Progress::Submitted(20));
        // The node stops before (or just after) mining it; the ledger process "crashes".
        chain.node.restart().unwrap();
    }
    let c = keyed(&chain, 0, &options).await;
    let ledger = open_ledger(&chain, dir.path(), c.clone()).await;
    assert_eq!(
        ledger.pending_batches(),
        20,
        "the anchor in flight is resumed"
    );
    ledger.anchor_all(&certs).await.unwrap();
    ledger.flush(FLUSH).await.unwrap();
    let aggregates = ledger.aggregates();
    let anchored: usize = aggregates.iter().map(|a| a.batches.len()).sum();
    assert_eq!(anchored, 30, "every batch once: {aggregates:?}");
    assert!(aggregates.iter().all(|a| a.is_confirmed()));
    // The contract holds exactly the journal's anchors, in order.
    let contract = platone_chain::contracts::CertificationAnchor::new(
        chain.deployment.contracts.CertificationAnchor,
        c.provider().clone(),
    );
    assert_eq!(
        contract.count().call().await.unwrap(),
        aggregates.len() as u64
    );
    for (i, a) in aggregates.iter().enumerate() {
        assert_eq!(a.position, Some(i as u64));
        let at = contract.anchorAt(i as u64).call().await.unwrap();
        assert_eq!(at.root.0, a.root.0);
    }
    let mut verifier = ChainVerifier::new(c, chain.deployment.clone());
    for cert in &certs {
        let Some(AnchorStatus::Anchored(anchor)) = ledger.status(&cert.batch_id).await.unwrap()
        else {
            panic!("{} is not anchored", cert.batch_id)
        };
        let on_chain = anchor.chain.unwrap();
        assert_eq!(
            verifier
                .check_on_chain(anchor.position, &on_chain)
                .await
                .unwrap(),
            Ok(())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anchor_waits_for_its_confirmations() {
    let options = AnvilOptions {
        block_time: Some(1),
        ..AnvilOptions::default()
    };
    let chain = chain_with(options.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&chain.node, &options);
    cfg.confirmations = 3;
    let c = client(&chain.node, 0, cfg).await;
    let ledger = open_ledger(&chain, dir.path(), c.clone()).await;
    let certs = certificates(4, "depth");
    ledger.anchor_all(&certs).await.unwrap();
    assert!(matches!(
        ledger.step().await.unwrap(),
        Progress::Submitted(4)
    ));
    let mut mined_in = None;
    loop {
        match ledger.step().await.unwrap() {
            Progress::Confirmed(0) => break,
            Progress::Waiting => {
                if mined_in.is_none() {
                    let tx = ledger.aggregates()[0].transaction.unwrap();
                    mined_in = c.receipt(tx).await.unwrap().and_then(|r| r.block_number);
                }
                if let Some(block) = mined_in {
                    let latest = c.latest_block().await.unwrap();
                    assert!(
                        latest < block + 2,
                        "confirmed late: mined in {block}, now {latest}"
                    );
                }
                assert_eq!(
                    ledger.status(&certs[0].batch_id).await.unwrap(),
                    Some(AnchorStatus::Pending)
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("{other:?}"),
        }
    }
    let block = ledger.aggregates()[0].block.unwrap();
    assert!(
        c.latest_block().await.unwrap() >= block + 2,
        "three blocks deep"
    );
    assert!(matches!(
        ledger.status(&certs[0].batch_id).await.unwrap(),
        Some(AnchorStatus::Anchored(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_gas_network_takes_legacy_transactions_at_gas_price_zero() {
    let options = AnvilOptions {
        free_gas: true,
        ..AnvilOptions::default()
    };
    let chain = chain_with(options.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let c = keyed(&chain, 0, &options).await;
    let ledger = open_ledger(&chain, dir.path(), c.clone()).await;
    let certs = certificates(3, "free");
    ledger.anchor_all(&certs).await.unwrap();
    ledger.flush(FLUSH).await.unwrap();
    let tx = ledger.aggregates()[0].anchored_by.unwrap();
    let receipt = c.receipt(tx).await.unwrap().unwrap();
    assert_eq!(receipt.effective_gas_price, 0);
    assert_eq!(receipt.transaction_type(), alloy::consensus::TxType::Legacy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_is_down_is_a_retryable_error_and_certificates_wait() {
    let options = AnvilOptions::default();
    let mut chain = chain_with(options.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let c = keyed(&chain, 0, &options).await;
    let ledger = open_ledger(&chain, dir.path(), c).await;
    chain.node.stop();
    let certs = certificates(6, "down");
    let statuses = ledger.anchor_all(&certs).await.unwrap();
    assert!(statuses.iter().all(|s| *s == AnchorStatus::Pending));
    let e = ledger.step().await.unwrap_err();
    assert!(
        matches!(e, ChainError::Unavailable { .. }) && e.is_retryable(),
        "{e}"
    );
    chain.node.restart().unwrap();
    ledger.flush(FLUSH).await.unwrap();
    for cert in &certs {
        assert!(matches!(
            ledger.status(&cert.batch_id).await.unwrap(),
            Some(AnchorStatus::Anchored(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_the_anchorer_role_is_refused() {
    let options = AnvilOptions::default();
    let chain = chain_with(options.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let stranger = keyed(&chain, 1, &options).await;
    let ledger = open_ledger(&chain, dir.path(), stranger).await;
    ledger
        .anchor_all(&certificates(2, "stranger"))
        .await
        .unwrap();
    let e = ledger.step().await.unwrap_err();
    assert!(
        e.to_string().contains("AccessControlUnauthorizedAccount"),
        "{e}"
    );
    assert!(!e.is_retryable());
    assert_eq!(ledger.pending_batches(), 2, "nothing is lost");

    // Once granted the role, the same ledger anchors: the refused transaction left no nonce
    // gap behind it.
    let admin = keyed(&chain, 0, &options).await;
    let address = ledger.client().sender().unwrap();
    chain
        .deployment
        .grant(&admin, platone_chain::Role::Anchorer, address)
        .await
        .unwrap();
    ledger.flush(FLUSH).await.unwrap();
    assert_eq!(ledger.pending_batches(), 0);
    assert_eq!(ledger.aggregates().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_loop_anchors_what_arrives_until_shutdown() {
    let options = AnvilOptions::default();
    let chain = chain_with(options.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = std::sync::Arc::new(
        open_ledger(&chain, dir.path(), keyed(&chain, 0, &options).await).await,
    );
    let (stop, runner) = background_loop(&ledger);
    let certs = certificates(12, "loop");
    for part in certs.chunks(4) {
        ledger.anchor_all(part).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ledger.pending_batches() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not anchored in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), runner)
        .await
        .expect("the loop stops on shutdown")
        .unwrap();
    let anchored: usize = ledger.aggregates().iter().map(|a| a.batches.len()).sum();
    assert_eq!(anchored, 12);
    for cert in &certs {
        assert!(matches!(
            ledger.status(&cert.batch_id).await.unwrap(),
            Some(AnchorStatus::Anchored(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_verify_from_the_chain_alone_and_every_tampering_is_named() {
    let options = AnvilOptions::default();
    let mut chain = chain_with(options.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_ledger(&chain, dir.path(), keyed(&chain, 0, &options).await).await;
    let now = platone_model::parse_timestamp("2024-01-01T00:00:00Z").unwrap();
    let mut batcher = Batcher::new(
        Scheme::Keccak,
        BatchPolicy {
            max_records: 4,
            window: chrono::TimeDelta::minutes(3),
        },
    );
    let records: Vec<serde_json::Value> = (0..10)
        .map(|i| serde_json::json!({"source": "pmu-v", "i": i, "v": 230.5}))
        .collect();
    let mut sealed = Vec::new();
    for r in &records {
        sealed.extend(batcher.add("pmu-v", r, now).unwrap());
    }
    sealed.extend(batcher.flush(now).unwrap());
    let certs: Vec<_> = sealed.iter().map(|s| s.certificate.clone()).collect();
    ledger.anchor_all(&certs).await.unwrap();
    ledger.flush(FLUSH).await.unwrap();
    let mut proofs = Vec::new();
    for batch in &sealed {
        let Some(AnchorStatus::Anchored(anchor)) =
            ledger.status(&batch.certificate.batch_id).await.unwrap()
        else {
            panic!("{} is not anchored", batch.certificate.batch_id)
        };
        for proof in &batch.proofs {
            let mut proof = proof.clone();
            proof.upgrade(&anchor).unwrap();
            // What a third party reads: the proof's JSON line.
            proofs.push(Proof::from_json(proof.to_json().unwrap().as_bytes()).unwrap());
        }
    }
    // No key, no local ledger: a read-only client and the deployment.
    let reader = ChainClient::connect(config(&chain.node, &options), None)
        .await
        .unwrap();
    let mut verifier = ChainVerifier::new(reader.clone(), chain.deployment.clone());
    for (record, proof) in records.iter().zip(&proofs) {
        let canonical = record.canonical_bytes().unwrap();
        assert_eq!(
            verifier.verify_canonical(&canonical, proof).await.unwrap(),
            Verification::Verified
        );
    }

    let canonical = records[5].canonical_bytes().unwrap();
    let mut verdict = async |proof: &Proof, canonical: &[u8]| match verifier
        .verify_canonical(canonical, proof)
        .await
        .unwrap()
    {
        Verification::Mismatch { reason } => reason,
        Verification::Verified => panic!("a tampered input verified"),
    };
    // The record.
    let altered = serde_json::json!({"source": "pmu-v", "i": 5, "v": 230.6});
    let reason = verdict(&proofs[5], &altered.canonical_bytes().unwrap()).await;
    assert_eq!(reason.kind(), "content", "{reason}");
    // The record's path.
    let mut proof = proofs[5].clone();
    proof.siblings[0].0[0] ^= 1;
    assert_eq!(verdict(&proof, &canonical).await.kind(), "path");
    // The anchor's path.
    let mut proof = proofs[5].clone();
    chain_of(&mut proof).path[0].0[0] ^= 1;
    let reason = verdict(&proof, &canonical).await;
    assert!(reason.message().contains("anchor path"), "{reason}");
    // The position: a position never anchored.
    let mut proof = proofs[5].clone();
    if let AnchorStatus::Anchored(anchor) = &mut proof.anchor {
        anchor.position = 3;
    }
    let reason = verdict(&proof, &canonical).await;
    assert!(
        reason.message().contains("no anchor at position 3"),
        "{reason}"
    );
    // The root: a forged aggregate, consistent offline, that only the chain refutes.
    let mut proof = proofs[5].clone();
    let forged = chain_of(&mut proof);
    forged.path = vec![Digest([5; 32])];
    forged.root = platone_certify::tree::oz_process_proof(forged.leaf(), &forged.path);
    assert!(forged.path_reaches_root());
    let reason = verdict(&proof, &canonical).await;
    assert!(
        reason.message().contains("the contract holds root"),
        "{reason}"
    );
    // The certificate the anchor carries.
    let mut proof = proofs[5].clone();
    chain_of(&mut proof).certificate.created_at = now;
    chain_of(&mut proof).certificate.leaf_count += 1;
    assert_eq!(verdict(&proof, &canonical).await.kind(), "anchor");
    // A proof not yet anchored.
    let mut proof = proofs[5].clone();
    proof.anchor = AnchorStatus::Pending;
    let reason = verdict(&proof, &canonical).await;
    assert!(reason.message().contains("not anchored yet"), "{reason}");

    // A node that cannot be reached is an error, not a verdict.
    chain.node.stop();
    let mut cold = ChainVerifier::new(reader, chain.deployment.clone());
    let err = cold
        .verify_canonical(&canonical, &proofs[5])
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

/// The on-chain anchor inside an anchored proof.
fn chain_of(proof: &mut Proof) -> &mut ChainAnchor {
    let AnchorStatus::Anchored(anchor) = &mut proof.anchor else {
        panic!("the proof is not anchored")
    };
    anchor.chain.as_deref_mut().expect("an on-chain anchor")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_beside_the_background_loop_anchors_each_batch_once() {
    // One block a second: anchors stay in flight while both the loop and flush step.
    let options = AnvilOptions {
        block_time: Some(1),
        ..AnvilOptions::default()
    };
    let chain = chain_with(options.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let c = keyed(&chain, 0, &options).await;
    let ledger = std::sync::Arc::new(open_ledger(&chain, dir.path(), c.clone()).await);
    let (stop, runner) = background_loop(&ledger);
    let certs = certificates(24, "beside");
    for part in certs.chunks(6) {
        ledger.anchor_all(part).await.unwrap();
        ledger.flush(FLUSH).await.unwrap();
    }
    stop.send(()).unwrap();
    runner.await.unwrap();
    let aggregates = ledger.aggregates();
    let mut ids: Vec<&str> = aggregates
        .iter()
        .flat_map(|a| a.batches.iter().map(|b| b.batch_id.as_str()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let anchored: usize = aggregates.iter().map(|a| a.batches.len()).sum();
    assert_eq!(
        (anchored, ids.len()),
        (24, 24),
        "each batch once: {aggregates:?}"
    );
    let contract = platone_chain::contracts::CertificationAnchor::new(
        chain.deployment.contracts.CertificationAnchor,
        c.provider().clone(),
    );
    assert_eq!(
        contract.count().call().await.unwrap(),
        aggregates.len() as u64,
        "one transaction per recorded anchor"
    );
}

/// `ledger.run` in a task of its own, with the sender that stops it.
fn background_loop(
    ledger: &std::sync::Arc<platone_chain::EthereumLedger>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let ledger = ledger.clone();
    let runner = tokio::spawn(async move {
        ledger
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, runner)
}
