//! Property tests: decoders and readers never panic on arbitrary bytes; codecs round-trip;
//! canonical form is stable.

use platone_certify::ledger::FileLedger;
use platone_certify::{AnchorStatus, Certifiable, Digest, JsonRecord, Proof, Scheme};
use proptest::prelude::*;

fn digest() -> impl Strategy<Value = Digest> {
    any::<[u8; 32]>().prop_map(Digest)
}

fn proof() -> impl Strategy<Value = Proof> {
    (
        any::<bool>(),
        "[a-z0-9:-]{0,20}",
        any::<u64>(),
        any::<u64>(),
        digest(),
        prop::collection::vec(digest(), 0..20),
        digest(),
        digest(),
    )
        .prop_map(
            |(keccak, batch_id, index, count, leaf, siblings, root, cert)| Proof {
                format: platone_certify::PROOF_FORMAT.into(),
                batch_id,
                scheme: if keccak {
                    Scheme::Keccak
                } else {
                    Scheme::Sha256
                },
                leaf_index: index,
                leaf_count: count,
                leaf,
                siblings,
                root,
                certificate: cert,
                anchor: AnchorStatus::Pending,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn binary_proof_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Proof::from_binary(&bytes);
        let mut with_magic = b"PLP1".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = Proof::from_binary(&with_magic);
    }

    #[test]
    fn json_proof_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Proof::from_json(&bytes);
    }

    #[test]
    fn proofs_round_trip(p in proof()) {
        prop_assert_eq!(Proof::from_binary(&p.to_binary().unwrap()).unwrap(), p.clone());
        prop_assert_eq!(Proof::from_json(p.to_json().unwrap().as_bytes()).unwrap(), p);
    }

    #[test]
    fn canonicaliser_never_panics(text in "\\PC{0,200}") {
        let mut out = Vec::new();
        let _ = platone_certify::canonicalize_json(&text, &mut out);
    }

    #[test]
    fn canonical_form_is_a_fixed_point(value in arbitrary_json()) {
        let text = serde_json::to_string_pretty(&value).unwrap();
        let once = JsonRecord::parse(&text).unwrap().canonical_bytes().unwrap();
        let twice = JsonRecord::parse(std::str::from_utf8(&once).unwrap())
            .unwrap()
            .canonical_bytes()
            .unwrap();
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(once, value.canonical_bytes().unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ledger_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..800)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FileLedger::FILE_NAME), &bytes).unwrap();
        let _ = FileLedger::open_read_only(dir.path()).map(|l| l.problems());
        let _ = FileLedger::open(dir.path());
    }
}

fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(|i| i.into()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.into()),
        "\\PC{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
