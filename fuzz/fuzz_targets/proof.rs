//! A record's proof, in its JSON and its binary form (the same bytes are tried as both), and
//! its path checked against a certificate made from its own fields.
//!
//! Invariants: an accepted proof converts to the other form and back unchanged, and its
//! binary form is exactly the bytes read when those were binary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platone_certify::{BatchCertificate, Proof, verify_leaf};

fn check(proof: &Proof) {
    let json = proof.to_json().expect("a proof serialises");
    match Proof::from_json(json.as_bytes()) {
        Ok(back) => assert_eq!(&back, proof, "{json}"),
        Err(e) => panic!("a written JSON proof does not read back: {e}\n{json}"),
    }
    if let Ok(binary) = proof.to_binary() {
        match Proof::from_binary(&binary) {
            Ok(back) => assert_eq!(&back, proof),
            Err(e) => panic!("a written binary proof does not read back: {e}"),
        }
    }
    let certificate = BatchCertificate {
        batch_id: proof.batch_id.clone(),
        source: proof
            .batch_id
            .rsplit_once(':')
            .map_or(proof.batch_id.as_str(), |(s, _)| s)
            .to_owned(),
        sequence: 0,
        scheme: proof.scheme,
        root: proof.root,
        leaf_count: proof.leaf_count,
        first_timestamp: None,
        last_timestamp: None,
        created_at: platone_model::parse_timestamp("2024-03-01T12:00:00Z")
            .expect("a fixed timestamp parses"),
        previous: None,
    };
    let _ = verify_leaf(proof, &certificate);
}

fuzz_target!(|bytes: &[u8]| {
    if let Ok(proof) = Proof::from_binary(bytes) {
        check(&proof);
    }
    if let Ok(proof) = Proof::from_json(bytes) {
        check(&proof);
    }
});
