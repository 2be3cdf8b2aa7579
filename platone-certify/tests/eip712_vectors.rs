//! The EIP-712 device-signature test vectors of `docs/certification.md` (section 7), checked
//! against the implementation: content hash, domain separator, typed-data hash, signature, and
//! that the signed envelope of each verifies.

use alloy_sol_types::SolStruct;
use base64::Engine;
use platone_certify::envelope::SignedEnvelope;
use platone_certify::signature::{
    DevicePacket, deployment_domain, device_packet, format_signature, parse_address,
};
use platone_certify::{DeviceKey, Digest};

/// One vector as the document states it.
#[derive(Debug, Default)]
struct Vector {
    fields: Vec<(String, String)>,
}

impl Vector {
    fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("vector lacks `{name}`: {self:?}"))
    }
}

fn documented_vectors() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/certification.md");
    let doc = std::fs::read_to_string(path).expect("docs/certification.md");
    let start = doc
        .find("<!-- eip712-vectors -->")
        .expect("the vectors' marker in docs/certification.md");
    let block = &doc[start..];
    let body_start = block.find("```text\n").expect("a ```text block") + 8;
    let body = &block[body_start..];
    let body = &body[..body.find("```").expect("the block's end")];
    let mut vectors: Vec<Vector> = Vec::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line.split_once(':').expect("`name: value` lines");
        let (key, value) = (key.trim().to_owned(), value.trim().to_owned());
        if key == "vector" {
            vectors.push(Vector::default());
        }
        vectors
            .last_mut()
            .expect("a block starts with `vector:`")
            .fields
            .push((key, value));
    }
    vectors
}

struct Computed {
    lines: Vec<(&'static str, String)>,
}

fn compute(v: &Vector) -> Computed {
    let key = DeviceKey::from_hex(v.get("private key")).unwrap();
    let payload: Vec<u8> = match v.fields.iter().find(|(k, _)| k.starts_with("payload")) {
        Some((k, text)) if k == "payload (utf8)" => text.as_bytes().to_vec(),
        Some((k, text)) if k == "payload (base64)" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
        other => panic!("payload line: {other:?}"),
    };
    let contract = match v.get("verifyingContract") {
        "(none)" => None,
        text => Some(parse_address(text).unwrap()),
    };
    let chain_id: u64 = v.get("chainId").parse().unwrap();
    let timestamp: u64 = v.get("timestamp").parse().unwrap();
    let domain = deployment_domain(chain_id, contract);
    let packet: DevicePacket = device_packet(v.get("device"), &payload, timestamp);
    let signature = key.sign_typed(&packet, &domain).unwrap();
    Computed {
        lines: vec![
            ("address", key.address().to_checksum(None)),
            ("contentHash", Digest::keccak256(&payload).to_string()),
            ("domainSeparator", domain.separator().to_string()),
            (
                "typed-data hash",
                packet.eip712_signing_hash(&domain).to_string(),
            ),
            ("signature", format_signature(&signature)),
        ],
    }
}

#[test]
fn documented_vectors_match_the_implementation() {
    let vectors = documented_vectors();
    assert!(vectors.len() >= 3, "expected the documented vectors");
    let mut wrong = Vec::new();
    for v in &vectors {
        let computed = compute(v);
        for (name, value) in &computed.lines {
            if v.get(name) != value {
                wrong.push(format!("{}: {name} is {value}", v.get("vector")));
            }
        }
        // The envelope a device makes from the vector verifies and carries that signature.
        let key = DeviceKey::from_hex(v.get("private key")).unwrap();
        let contract = match v.get("verifyingContract") {
            "(none)" => None,
            text => Some(parse_address(text).unwrap()),
        };
        let domain = deployment_domain(v.get("chainId").parse().unwrap(), contract);
        let payload = match v.fields.iter().find(|(k, _)| k.starts_with("payload")) {
            Some((k, text)) if k == "payload (utf8)" => text.as_bytes().to_vec(),
            Some((_, text)) => base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap(),
            None => unreachable!(),
        };
        let envelope = SignedEnvelope::sign_eip712_in(
            &key,
            v.get("device"),
            &payload,
            v.get("timestamp").parse().unwrap(),
            &domain,
        )
        .unwrap();
        if envelope.signature != v.get("signature") {
            wrong.push(format!(
                "{}: the envelope's signature differs",
                v.get("vector")
            ));
        }
        assert_eq!(envelope.recover_signer_in(&domain).unwrap(), key.address());
    }
    assert!(
        wrong.is_empty(),
        "documented vectors disagree:\n{}",
        wrong.join("\n")
    );
}
