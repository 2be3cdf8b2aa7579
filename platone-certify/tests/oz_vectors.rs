//! OpenZeppelin `StandardMerkleTree` vectors: our keccak verifier accepts its proofs against
//! its roots, and our keccak tree rebuilds its roots and proofs.

use platone_certify::tree::{oz_process_proof, root_from_path};
use platone_certify::{Digest, MerkleTree, Scheme};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/certify/oz-standard-merkle-tree-vectors.json"
);

fn vectors() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(VECTORS)
        .unwrap_or_else(|e| panic!("the OpenZeppelin vectors are missing at {VECTORS}: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn digest(v: &serde_json::Value) -> Digest {
    Digest::from_hex(v.as_str().unwrap()).unwrap()
}

#[test]
fn openzeppelin_proofs_verify_against_openzeppelin_roots() {
    let vectors = vectors();
    assert!(vectors.len() >= 7);
    let mut proofs_checked = 0;
    for v in &vectors {
        let n = v["leaf_count"].as_u64().unwrap();
        let root = digest(&v["root"]);
        let dump: Vec<Digest> = v["tree_dump"]
            .as_array()
            .unwrap()
            .iter()
            .map(digest)
            .collect();
        assert_eq!(dump.len() as u64, 2 * n - 1);
        // OpenZeppelin sorts the leaf hashes; leaf i sits at array position 2n − 2 − i.
        let mut leaves: Vec<Digest> = v["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| Scheme::keccak_leaf_of_content(digest(x)))
            .collect();
        leaves.sort();
        let tree = MerkleTree::new(Scheme::Keccak, &leaves).unwrap();
        assert_eq!(tree.root(), root, "n={n}");
        for (value, proof) in v["proofs"].as_object().unwrap() {
            let leaf = Scheme::keccak_leaf_of_content(Digest::from_hex(value).unwrap());
            let proof: Vec<Digest> = proof.as_array().unwrap().iter().map(digest).collect();
            assert_eq!(oz_process_proof(leaf, &proof), root);
            let position = dump.iter().position(|d| *d == leaf).unwrap() as u64;
            let index = 2 * n - 2 - position;
            assert_eq!(
                root_from_path(Scheme::Keccak, leaf, index, n, &proof).unwrap(),
                root
            );
            assert_eq!(tree.path(index as usize).unwrap(), proof);
            // Any altered sibling is refused.
            for s in 0..proof.len() {
                let mut bad = proof.clone();
                bad[s].0[7] ^= 0x10;
                assert_ne!(
                    root_from_path(Scheme::Keccak, leaf, index, n, &bad).unwrap(),
                    root
                );
            }
            proofs_checked += 1;
        }
    }
    assert!(
        proofs_checked > 10,
        "only {proofs_checked} proofs in the vectors"
    );
}
