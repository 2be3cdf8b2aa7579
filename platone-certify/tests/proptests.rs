//! Property tests: decoders and readers never panic on arbitrary bytes; codecs round-trip;
//! canonical form is stable.

use platone_certify::ledger::FileLedger;
use platone_certify::{
    AnchorStatus, Certifiable, Digest, JsonRecord, Proof, Scheme, SignedEnvelope,
};
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
    fn signed_envelope_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for input in [bytes.clone(), [b"{\"signature\":0,\"payload\":".as_slice(), bytes.as_slice()].concat()] {
            let _ = SignedEnvelope::detect(&input);
            if let Ok(envelope) = SignedEnvelope::from_json(&input) {
                let _ = envelope.payload_bytes();
                let _ = envelope.recover_signer(1);
            }
        }
    }

    #[test]
    fn signed_envelope_fields_never_panic(
        payload in "\\PC{0,40}",
        signature in "(0x)?[0-9a-fA-F]{0,140}",
        signer in "(0x)?[0-9a-fA-F]{0,44}",
        base64 in any::<bool>(),
        eip712 in any::<bool>(),
        timestamp in any::<u64>(),
    ) {
        let mut value = serde_json::json!({
            "payload": payload,
            "signature": signature,
            "signer": signer,
            "scheme": if eip712 { "eip712" } else { "eip191" },
        });
        if base64 {
            value["encoding"] = "base64".into();
        }
        if eip712 {
            value["device"] = "pmu-1".into();
            value["timestamp"] = timestamp.into();
        }
        let text = value.to_string();
        let envelope = SignedEnvelope::from_json(text.as_bytes()).unwrap();
        let _ = envelope.payload_bytes();
        prop_assert!(envelope.recover_signer(1).is_err() || signature.len() >= 130);
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
    fn single_pass_agrees_with_the_tree_on_any_json_text(text in json_text()) {
        let mut fast = b"kept".to_vec();
        let fast_result = platone_certify::canonicalize_json(&text, &mut fast);
        let mut reference = b"kept".to_vec();
        let reference_result =
            platone_certify::canonical::canonicalize_json_reference(&text, &mut reference);
        match (&fast_result, &reference_result) {
            (Ok(()), Ok(())) => prop_assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&reference),
                "{}", text
            ),
            (Err(a), Err(b)) => {
                prop_assert_eq!(a.to_string(), b.to_string());
                prop_assert_eq!(&fast, b"kept", "output left after an error");
            }
            _ => prop_assert!(false, "{text}: {fast_result:?} vs {reference_result:?}"),
        }
    }

    #[test]
    fn single_pass_never_panics_on_damaged_json(text in json_text(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = text.into_bytes();
        let at = cut.index(bytes.len() + 1);
        let mut out = Vec::new();
        let _ = platone_certify::canonicalize_json(&String::from_utf8_lossy(&bytes[..at]), &mut out);
        if at < bytes.len() {
            bytes[at] = byte;
            let _ = platone_certify::canonicalize_json(&String::from_utf8_lossy(&bytes), &mut out);
        }
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

/// Optional JSON whitespace.
fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\n  "), 1 => Just("\t\r\n")]
}

/// A JSON string literal spelt in any of the ways JSON allows (raw, short escapes, `\u`
/// escapes in either case, surrogate pairs), sometimes broken (lone surrogates).
fn string_literal(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec((any::<char>(), 0u8..8), 0..max).prop_map(|chars| {
        let mut text = String::from("\"");
        for (c, how) in chars {
            match (c, how) {
                ('"', _) => text.push_str("\\\""),
                ('\\', _) => text.push_str("\\\\"),
                (c, _) if (c as u32) < 0x20 => text.push_str(&format!("\\u{:04x}", c as u32)),
                ('/', 1) => text.push_str("\\/"),
                (c, 2) => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        text.push_str(&format!("\\u{u:04X}"));
                    }
                }
                (c, 3) => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        text.push_str(&format!("\\u{u:04x}"));
                    }
                }
                (_, 7) if c.is_ascii_digit() => text.push_str("\\ud800"),
                (c, _) => text.push(c),
            }
        }
        text.push('"');
        text
    })
}

/// A number spelt in the many ways JSON allows.
fn number_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        (-99_999i64..99_999).prop_map(|i| i.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:E}")),
        (-1000i32..1000, 0u32..1000, -330i32..330)
            .prop_map(|(m, f, e)| format!("{m}.{f:03}e{e:+}")),
        Just("-0".to_owned()),
        Just("-0.0e-5".to_owned()),
        Just("1e400".to_owned()),
        Just("1e-400".to_owned()),
        Just("9007199254740993".to_owned()),
        Just("123456789012345678901234567890".to_owned()),
    ]
}

/// JSON text with members in any order (sometimes repeated), any spacing and spelling.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        number_literal(),
        string_literal(10),
    ];
    let tree = leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec((ws(), inner.clone(), ws()), 0..6).prop_map(|items| {
                let items: Vec<String> = items
                    .into_iter()
                    .map(|(a, v, b)| format!("{a}{v}{b}"))
                    .collect();
                format!("[{}]", items.join(","))
            }),
            prop::collection::vec(
                (
                    prop_oneof![
                        3 => "[a-e]{1,2}".prop_map(|k| format!("\"{k}\"")),
                        1 => string_literal(4),
                    ],
                    ws(),
                    inner,
                    ws(),
                ),
                0..6,
            )
            .prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, a, v, b)| format!("{a}{k}{b}:{a}{v}{b}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    });
    (ws(), tree, ws()).prop_map(|(a, t, b)| format!("{a}{t}{b}"))
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
