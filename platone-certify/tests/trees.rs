//! Proofs for every leaf of every tree size from 1 to 257 in both schemes, tampering, and the
//! rs_merkle multiproof forgery.

use platone_certify::tree::{expected_path_len, root_from_path};
use platone_certify::{
    BatchCertificate, Certifiable, MerkleTree, MismatchReason, Proof, Scheme, Verification,
    certify_leaves, verify_canonical, verify_leaf, verify_leaf_with_hash,
};
use sha2::Digest as _;

fn record(n: usize, i: usize) -> serde_json::Value {
    serde_json::json!({
        "source": "pmu-1",
        "timestamp": format!("2024-01-01T00:{:02}:{:02}Z", (i / 60) % 60, i % 60),
        "value": 230.0 + i as f64 / 7.0,
        "batch": n,
        "index": i,
    })
}

fn now() -> platone_model::Timestamp {
    platone_model::parse_timestamp("2024-01-01T01:00:00Z").unwrap()
}

fn reason(v: Verification) -> &'static str {
    match v {
        Verification::Verified => "verified",
        Verification::Mismatch { reason } => reason.kind(),
    }
}

#[test]
fn every_leaf_of_every_size_verifies_and_every_tamper_is_caught() {
    for scheme in [Scheme::Sha256, Scheme::Keccak] {
        for n in 1..=257usize {
            let records: Vec<Vec<u8>> = (0..n)
                .map(|i| record(n, i).canonical_bytes().unwrap())
                .collect();
            let leaves: Vec<_> = records.iter().map(|r| scheme.leaf_hash(r)).collect();
            let batch =
                certify_leaves(scheme, "pmu-1", 0, None, &leaves, None, None, now()).unwrap();
            let cert = &batch.certificate;
            let hash = batch.certificate_hash;
            let verify_leaf = |p: &Proof, c: &BatchCertificate| {
                if std::ptr::eq(c, cert) {
                    verify_leaf_with_hash(p, c, &hash)
                } else {
                    verify_leaf(p, c)
                }
            };
            for (i, proof) in batch.proofs.iter().enumerate() {
                assert_eq!(
                    verify_canonical(&records[i], proof, cert),
                    Verification::Verified,
                    "{scheme} n={n} i={i}"
                );
                // Every tamper on every leaf for small and boundary sizes; on both ends and
                // the middle of the others (keeps the debug-build test quick).
                let full = n <= 64 || [127, 128, 129, 180, 255, 256, 257].contains(&n);
                if !full && ![0, 1, n / 2, n - 2, n - 1].contains(&i) {
                    continue;
                }
                // Another record's content at this position.
                if n > 1 {
                    let other = &records[(i + 1) % n];
                    assert_eq!(reason(verify_canonical(other, proof, cert)), "content");
                }
                // Every sibling, one bit flipped.
                for s in 0..proof.siblings.len() {
                    let mut p = proof.clone();
                    p.siblings[s].0[s % 32] ^= 0x01;
                    assert_eq!(
                        reason(verify_leaf(&p, cert)),
                        "path",
                        "{scheme} n={n} i={i} s={s}"
                    );
                }
                // A sibling dropped or added.
                let mut p = proof.clone();
                if p.siblings.pop().is_some() {
                    assert_eq!(reason(verify_leaf(&p, cert)), "path");
                }
                let mut p = proof.clone();
                p.siblings.push(p.leaf);
                assert_eq!(reason(verify_leaf(&p, cert)), "path");
                // Other indices: the neighbours, both ends, and a spread in between.
                let mut others: Vec<usize> = vec![i ^ 1, i + 1, i.wrapping_sub(1), 0, n - 1, n / 2];
                others.extend((0..n).step_by(1 + n / 8));
                others.sort_unstable();
                others.dedup();
                for j in others {
                    if j == i || j >= n {
                        continue;
                    }
                    let mut p = proof.clone();
                    p.leaf_index = j as u64;
                    let outcome = verify_leaf(&p, cert);
                    match scheme {
                        Scheme::Sha256 => {
                            assert_ne!(outcome, Verification::Verified, "n={n} i={i} j={j}")
                        }
                        // Sorted-pair hashing (OpenZeppelin) does not bind the position: the
                        // index is checked against the path length only. The proof then still
                        // proves this same leaf is in this same batch.
                        Scheme::Keccak => {
                            let same_depth = expected_path_len(scheme, j as u64, n as u64)
                                == expected_path_len(scheme, i as u64, n as u64);
                            assert_eq!(outcome.is_verified(), same_depth, "n={n} i={i} j={j}");
                        }
                        other => panic!("no expectation for the scheme {other:?}"),
                    }
                }
                let mut p = proof.clone();
                p.leaf_index = n as u64;
                assert_eq!(reason(verify_leaf(&p, cert)), "path");
                // Every other size (bound by the certificate even where the hashes agree).
                for m in [1, n.saturating_sub(1), n + 1, 2 * n, u64::MAX as usize] {
                    if m == n || m == 0 {
                        continue;
                    }
                    let mut p = proof.clone();
                    p.leaf_count = m as u64;
                    assert_ne!(
                        verify_leaf(&p, cert),
                        Verification::Verified,
                        "n={n} i={i} m={m}"
                    );
                }
                // The proof's root, and the certificate's.
                let mut p = proof.clone();
                p.root.0[0] ^= 0x80;
                assert_eq!(reason(verify_leaf(&p, cert)), "root");
                let mut c = cert.clone();
                c.root.0[31] ^= 0x01;
                assert_eq!(reason(verify_leaf(proof, &c)), "root");
            }
        }
    }
}

#[test]
fn every_field_of_a_record_is_covered() {
    for scheme in [Scheme::Sha256, Scheme::Keccak] {
        let records: Vec<serde_json::Value> = (0..9).map(|i| record(9, i)).collect();
        let bytes: Vec<Vec<u8>> = records
            .iter()
            .map(|r| r.canonical_bytes().unwrap())
            .collect();
        let leaves: Vec<_> = bytes.iter().map(|b| scheme.leaf_hash(b)).collect();
        let batch = certify_leaves(scheme, "pmu-1", 0, None, &leaves, None, None, now()).unwrap();
        for (i, r) in records.iter().enumerate() {
            let proof = &batch.proofs[i];
            for field in r.as_object().unwrap().keys() {
                let mut altered = r.clone();
                let v = &mut altered[field];
                *v = match v {
                    serde_json::Value::String(s) => format!("{s}x").into(),
                    serde_json::Value::Number(n) => (n.as_f64().unwrap() + 1e-9).into(),
                    _ => unreachable!(),
                };
                let out = platone_certify::verify_record(&altered, proof, &batch.certificate);
                assert!(
                    matches!(
                        out,
                        Verification::Mismatch {
                            reason: MismatchReason::Content(_)
                        }
                    ),
                    "{field}"
                );
                let mut removed = r.clone();
                removed.as_object_mut().unwrap().remove(field);
                assert!(
                    !platone_certify::verify_record(&removed, proof, &batch.certificate)
                        .is_verified()
                );
            }
            // Key order and whitespace do not matter: the canonical form is the same.
            let text = serde_json::to_string_pretty(r).unwrap();
            let reparsed = platone_certify::JsonRecord::parse(&text).unwrap();
            assert!(
                platone_certify::verify_record(&reparsed, proof, &batch.certificate).is_verified()
            );
        }
    }
}

/// rs_merkle with the RFC 6962 node hash (the leaves are given already hashed).
#[derive(Clone)]
struct Rfc6962;

impl rs_merkle::Hasher for Rfc6962 {
    type Hash = [u8; 32];
    fn hash(data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }
    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(r) => {
                let mut h = sha2::Sha256::new();
                h.update([1u8]);
                h.update(left);
                h.update(r);
                h.finalize().into()
            }
            None => *left,
        }
    }
}

#[test]
fn sha256_trees_match_rs_merkle() {
    for n in 1..=257usize {
        let leaves: Vec<_> = (0..n)
            .map(|i| Scheme::Sha256.leaf_hash(&i.to_le_bytes()))
            .collect();
        let ours = MerkleTree::new(Scheme::Sha256, &leaves).unwrap();
        let raw: Vec<[u8; 32]> = leaves.iter().map(|l| l.0).collect();
        let theirs = rs_merkle::MerkleTree::<Rfc6962>::from_leaves(&raw);
        assert_eq!(Some(ours.root().0), theirs.root(), "n={n}");
    }
}

#[test]
fn rs_merkle_repeated_index_forgery_is_rejected_by_our_verifier() {
    // rs_merkle 1.5's multiproof verification with a repeated index (its open PR #52).
    let leaves: Vec<_> = (0..4u8).map(|i| Scheme::Sha256.leaf_hash(&[i])).collect();
    let raw: Vec<[u8; 32]> = leaves.iter().map(|l| l.0).collect();
    let tree = rs_merkle::MerkleTree::<Rfc6962>::from_leaves(&raw);
    let root = tree.root().unwrap();
    let fake = Scheme::Sha256.leaf_hash(b"FAKE");
    let multiproof = tree.proof(&[0, 1]);
    assert!(
        multiproof.verify(root, &[0, 1, 1], &[raw[0], raw[1], fake.0], raw.len()),
        "rs_merkle no longer accepts the forgery: the reproduction needs updating"
    );

    // Ours: strict single-leaf. The fake leaf at index 1 with the genuine path fails, and so
    // does every path rs_merkle's proof could offer.
    let batch = certify_leaves(Scheme::Sha256, "s", 0, None, &leaves, None, None, now()).unwrap();
    let mut forged: Proof = batch.proofs[1].clone();
    forged.leaf = fake;
    assert_eq!(reason(verify_leaf(&forged, &batch.certificate)), "path");
    let hashes: Vec<_> = multiproof
        .proof_hashes()
        .iter()
        .map(|h| platone_certify::Digest(*h))
        .collect();
    for index in 0..4u64 {
        let path_len = expected_path_len(Scheme::Sha256, index, 4).unwrap();
        for start in 0..=hashes.len().saturating_sub(path_len) {
            if let Some(path) = hashes.get(start..start + path_len) {
                let r = root_from_path(Scheme::Sha256, fake, index, 4, path);
                assert_ne!(r.ok().map(|d| d.0), Some(root));
            }
        }
    }
    assert!(verify_leaf(&batch.proofs[1], &batch.certificate).is_verified());
}

#[test]
fn certificate_json_round_trip_keeps_its_hash() {
    let leaves = vec![Scheme::Keccak.leaf_hash(b"x")];
    let batch = certify_leaves(
        Scheme::Keccak,
        "m",
        0,
        None,
        &leaves,
        Some(now()),
        Some(now()),
        now(),
    )
    .unwrap();
    let text = serde_json::to_string(&batch.certificate).unwrap();
    assert!(text.contains("\"root\":\"0x"));
    let back: BatchCertificate = serde_json::from_str(&text).unwrap();
    assert_eq!(back.hash().unwrap(), batch.certificate_hash);
}
