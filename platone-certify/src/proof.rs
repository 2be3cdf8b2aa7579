//! Per-record proofs: self-contained JSON and a compact binary form.

use serde::{Deserialize, Serialize};

use crate::certificate::{Anchor, AnchorStatus};
use crate::chain_anchor::ChainAnchor;
use crate::error::{CertifyError, Result};
use crate::scheme::{Digest, Scheme};
use crate::tree::MerkleTree;

/// The format tag every proof carries.
pub const PROOF_FORMAT: &str = "platone-proof/1";

/// The magic bytes that open the binary form.
pub const BINARY_MAGIC: &[u8; 4] = b"PLP1";

/// The most siblings a proof may carry (trees of up to 2^64 leaves).
pub const MAX_SIBLINGS: usize = 64;

/// The proof that one record belongs to one certified batch.
///
/// Everything needed to verify it offline is inside: the leaf hash the record must canonicalise
/// to, its index, the tree size, the sibling hashes, the root, the hash of the certificate it
/// was issued under, and the anchor status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Always `platone-proof/1`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^platone-proof/1$"))]
    pub format: String,
    /// The batch.
    pub batch_id: String,
    /// The Merkle scheme.
    pub scheme: Scheme,
    /// The record's position in the batch, from 0.
    pub leaf_index: u64,
    /// The number of records in the batch.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub leaf_count: u64,
    /// The record's leaf hash.
    pub leaf: Digest,
    /// The sibling hashes from the leaf up to the root.
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub siblings: Vec<Digest>,
    /// The batch's Merkle root.
    pub root: Digest,
    /// The hash of the batch's certificate.
    pub certificate: Digest,
    /// Whether and where the certificate is anchored.
    pub anchor: AnchorStatus,
}

impl Proof {
    /// Attaches the anchor once known (idempotent, see [`AnchorStatus::upgrade`]).
    pub fn upgrade(&mut self, anchor: &Anchor) -> Result<bool> {
        self.anchor.upgrade(&self.batch_id, anchor)
    }

    /// The proof as one line of JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| CertifyError::Serialise(e.to_string()))
    }

    /// Reads a proof from its JSON form.
    pub fn from_json(text: &[u8]) -> Result<Self> {
        let proof: Proof = serde_json::from_slice(text).map_err(|e| {
            CertifyError::malformed(
                "proof JSON",
                format!("{}:{}", e.line(), e.column()),
                e.to_string(),
            )
        })?;
        if proof.format != PROOF_FORMAT {
            return Err(CertifyError::malformed(
                "proof JSON",
                "format",
                format!("expected {PROOF_FORMAT:?}, found {:?}", proof.format),
            ));
        }
        if proof.siblings.len() > MAX_SIBLINGS {
            return Err(CertifyError::malformed(
                "proof JSON",
                "siblings",
                format!("more than {MAX_SIBLINGS} siblings"),
            ));
        }
        Ok(proof)
    }

    /// The compact binary form (see `docs/certification.md`).
    pub fn to_binary(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(160 + 32 * self.siblings.len());
        out.extend_from_slice(BINARY_MAGIC);
        out.push(self.scheme.code());
        out.push(match self.anchor.anchor() {
            None => 0,
            Some(a) if a.chain.is_none() => 1,
            Some(_) => 2,
        });
        out.extend_from_slice(&self.leaf_index.to_le_bytes());
        out.extend_from_slice(&self.leaf_count.to_le_bytes());
        out.extend_from_slice(&self.leaf.0);
        out.extend_from_slice(&self.root.0);
        out.extend_from_slice(&self.certificate.0);
        let count = u8::try_from(self.siblings.len())
            .ok()
            .filter(|c| usize::from(*c) <= MAX_SIBLINGS)
            .ok_or_else(|| CertifyError::malformed("proof", "siblings", "more than 64 siblings"))?;
        out.push(count);
        for s in &self.siblings {
            out.extend_from_slice(&s.0);
        }
        put_text(&mut out, "batch_id", &self.batch_id)?;
        if let Some(a) = self.anchor.anchor() {
            put_text(&mut out, "anchor.ledger", &a.ledger)?;
            put_text(&mut out, "anchor.entry", &a.entry)?;
            out.extend_from_slice(&a.position.to_le_bytes());
            put_text(
                &mut out,
                "anchor.time",
                &platone_model::format_timestamp(&a.time),
            )?;
            if let Some(chain) = &a.chain {
                put_chain(&mut out, chain)?;
            }
        }
        Ok(out)
    }

    /// Reads a proof from its binary form; every byte must be accounted for.
    pub fn from_binary(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4, "magic")? != BINARY_MAGIC {
            return Err(r.error(0, "magic", "not a platone binary proof (expected PLP1)"));
        }
        let code = r.u8("scheme")?;
        let scheme = Scheme::from_code(code)
            .ok_or_else(|| r.error(4, "scheme", format!("unknown scheme code {code}")))?;
        let anchored = r.u8("anchor flag")?;
        if anchored > 2 {
            return Err(r.error(5, "anchor flag", format!("{anchored} is not 0, 1 or 2")));
        }
        let leaf_index = r.u64("leaf_index")?;
        let leaf_count = r.u64("leaf_count")?;
        let leaf = r.digest("leaf")?;
        let root = r.digest("root")?;
        let certificate = r.digest("certificate")?;
        let at = r.at;
        let count = usize::from(r.u8("sibling count")?);
        if count > MAX_SIBLINGS {
            return Err(r.error(at, "sibling count", "more than 64 siblings"));
        }
        let mut siblings = Vec::with_capacity(count);
        for _ in 0..count {
            siblings.push(r.digest("sibling")?);
        }
        let batch_id = r.text("batch_id")?;
        let anchor = if anchored > 0 {
            let ledger = r.text("anchor.ledger")?;
            let entry = r.text("anchor.entry")?;
            let position = r.u64("anchor.position")?;
            let at = r.at;
            let time_text = r.text("anchor.time")?;
            let time = platone_model::parse_timestamp(&time_text)
                .map_err(|e| r.error(at, "anchor.time", e))?;
            let chain = if anchored == 2 {
                Some(Box::new(read_chain(&mut r)?))
            } else {
                None
            };
            AnchorStatus::Anchored(Anchor {
                ledger,
                entry,
                position,
                time,
                chain,
            })
        } else {
            AnchorStatus::Pending
        };
        if r.at != bytes.len() {
            return Err(r.error(r.at, "end", "trailing bytes after the proof"));
        }
        Ok(Proof {
            format: PROOF_FORMAT.to_owned(),
            batch_id,
            scheme,
            leaf_index,
            leaf_count,
            leaf,
            siblings,
            root,
            certificate,
            anchor,
        })
    }
}

/// Appends the JSON line (JSON text and `\n`) of the proof of every leaf of `tree`, in leaf
/// order: for each, the same bytes as [`Proof::to_json`] of the proof whose batch fields
/// (`format`, `batch_id`, `scheme`, `root`, `certificate`, `anchor`) are `template`'s and whose
/// `leaf_index`, `leaf_count`, `leaf` and `siblings` come from the tree. The fields every proof
/// of a batch shares are rendered once, and one path buffer serves every leaf.
///
/// ```
/// use platone_certify::{AnchorStatus, Digest, MerkleTree, PROOF_FORMAT, Proof, Scheme};
/// let leaves: Vec<Digest> = (0..3u8).map(|i| Scheme::Sha256.leaf_hash(&[i])).collect();
/// let tree = MerkleTree::new(Scheme::Sha256, &leaves)?;
/// let template = Proof {
///     format: PROOF_FORMAT.into(),
///     batch_id: "pmu-1:0".into(),
///     scheme: Scheme::Sha256,
///     leaf_index: 0,
///     leaf_count: 3,
///     leaf: Digest::default(),
///     siblings: Vec::new(),
///     root: tree.root(),
///     certificate: Digest::sha256(b"certificate"),
///     anchor: AnchorStatus::Pending,
/// };
/// let mut lines = Vec::new();
/// platone_certify::proof::write_json_lines(&tree, &template, &mut lines)?;
/// let second = Proof::from_json(lines.split(|&b| b == b'\n').nth(1).unwrap_or_default())?;
/// assert_eq!((second.leaf_index, second.leaf), (1, leaves[1]));
/// # Ok::<(), platone_certify::CertifyError>(())
/// ```
pub fn write_json_lines(tree: &MerkleTree, template: &Proof, out: &mut Vec<u8>) -> Result<()> {
    let serialise = |e: serde_json::Error| CertifyError::Serialise(e.to_string());
    let mut head = Vec::with_capacity(128);
    head.extend_from_slice(b"{\"format\":");
    serde_json::to_writer(&mut head, &template.format).map_err(serialise)?;
    head.extend_from_slice(b",\"batch_id\":");
    serde_json::to_writer(&mut head, &template.batch_id).map_err(serialise)?;
    head.extend_from_slice(b",\"scheme\":\"");
    head.extend_from_slice(tree.scheme().name().as_bytes());
    head.extend_from_slice(b"\",\"leaf_index\":");
    let mut tail = Vec::with_capacity(256);
    tail.extend_from_slice(b"],\"root\":");
    write_digest(&mut tail, &template.root);
    tail.extend_from_slice(b",\"certificate\":");
    write_digest(&mut tail, &template.certificate);
    tail.extend_from_slice(b",\"anchor\":");
    serde_json::to_writer(&mut tail, &template.anchor).map_err(serialise)?;
    tail.extend_from_slice(b"}\n");
    let count = tree.leaf_count().to_string();
    let mut path = Vec::with_capacity(MAX_SIBLINGS);
    out.reserve(tree.leaf_count() * (head.len() + tail.len() + 120 + 68 * 10));
    for index in 0..tree.leaf_count() {
        tree.path_into(index, &mut path)?;
        let leaf = tree.leaf(index).unwrap_or_default();
        out.extend_from_slice(&head);
        write_decimal(out, index as u64);
        out.extend_from_slice(b",\"leaf_count\":");
        out.extend_from_slice(count.as_bytes());
        out.extend_from_slice(b",\"leaf\":");
        write_digest(out, &leaf);
        out.extend_from_slice(b",\"siblings\":[");
        for (i, sibling) in path.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_digest(out, sibling);
        }
        out.extend_from_slice(&tail);
    }
    Ok(())
}

/// A digest as its JSON string: `"0x` and 64 lower-case hex digits `"`.
fn write_digest(out: &mut Vec<u8>, digest: &Digest) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\"0x");
    for byte in digest.0 {
        out.extend_from_slice(&[HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0x0f)]]);
    }
    out.push(b'"');
}

fn write_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn put_text(out: &mut Vec<u8>, field: &str, text: &str) -> Result<()> {
    let len = u16::try_from(text.len())
        .map_err(|_| CertifyError::malformed("proof", field, "longer than 65535 bytes"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// An on-chain anchor's fields: chain id, contract, root, certificate hash, transaction,
/// block, the path (count and hashes) and the certificate's JSON.
fn put_chain(out: &mut Vec<u8>, chain: &ChainAnchor) -> Result<()> {
    out.extend_from_slice(&chain.chain_id.to_le_bytes());
    put_text(out, "anchor.contract", &chain.contract)?;
    for digest in [&chain.root, &chain.certificate_hash, &chain.transaction] {
        out.extend_from_slice(&digest.0);
    }
    out.extend_from_slice(&chain.block.to_le_bytes());
    let count = u8::try_from(chain.path.len())
        .ok()
        .filter(|c| usize::from(*c) <= MAX_SIBLINGS)
        .ok_or_else(|| CertifyError::malformed("proof", "anchor.path", "more than 64 hashes"))?;
    out.push(count);
    for step in &chain.path {
        out.extend_from_slice(&step.0);
    }
    let certificate = serde_json::to_string(&chain.certificate)
        .map_err(|e| CertifyError::Serialise(e.to_string()))?;
    put_text(out, "anchor.certificate", &certificate)
}

fn read_chain(r: &mut Reader<'_>) -> Result<ChainAnchor> {
    let chain_id = r.u64("anchor.chain_id")?;
    let at = r.at;
    let contract = r.text("anchor.contract")?;
    ChainAnchor::check_contract(&contract).map_err(|e| r.error(at, "anchor.contract", e))?;
    let root = r.digest("anchor.root")?;
    let certificate_hash = r.digest("anchor.certificate_hash")?;
    let transaction = r.digest("anchor.transaction")?;
    let block = r.u64("anchor.block")?;
    let at = r.at;
    let count = usize::from(r.u8("anchor.path count")?);
    if count > MAX_SIBLINGS {
        return Err(r.error(at, "anchor.path count", "more than 64 hashes"));
    }
    let mut path = Vec::with_capacity(count);
    for _ in 0..count {
        path.push(r.digest("anchor.path")?);
    }
    let at = r.at;
    let text = r.text("anchor.certificate")?;
    let certificate =
        serde_json::from_str(&text).map_err(|e| r.error(at, "anchor.certificate", e))?;
    Ok(ChainAnchor {
        chain_id,
        contract,
        root,
        certificate_hash,
        path,
        transaction,
        block,
        certificate,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, at: usize, field: &str, message: impl ToString) -> CertifyError {
        CertifyError::malformed("binary proof", format!("byte {at} ({field})"), message)
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        match end.and_then(|e| self.bytes.get(self.at..e)) {
            Some(slice) => {
                self.at += n;
                Ok(slice)
            }
            None => Err(self.error(self.at, field, "truncated")),
        }
    }

    fn u8(&mut self, field: &str) -> Result<u8> {
        Ok(self.take(1, field)?.first().copied().unwrap_or_default())
    }

    fn u64(&mut self, field: &str) -> Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8, field)?);
        Ok(u64::from_le_bytes(b))
    }

    fn digest(&mut self, field: &str) -> Result<Digest> {
        let mut b = [0u8; 32];
        b.copy_from_slice(self.take(32, field)?);
        Ok(Digest(b))
    }

    fn text(&mut self, field: &str) -> Result<String> {
        let at = self.at;
        let mut len = [0u8; 2];
        len.copy_from_slice(self.take(2, field)?);
        let bytes = self.take(usize::from(u16::from_le_bytes(len)), field)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| self.error(at, field, e))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(anchored: bool) -> Proof {
        Proof {
            format: PROOF_FORMAT.into(),
            batch_id: "pmu-1:7".into(),
            scheme: Scheme::Sha256,
            leaf_index: 3,
            leaf_count: 5,
            leaf: Digest::sha256(b"leaf"),
            siblings: vec![Digest::sha256(b"a"), Digest::sha256(b"b")],
            root: Digest::sha256(b"root"),
            certificate: Digest::sha256(b"cert"),
            anchor: if anchored {
                AnchorStatus::Anchored(Anchor {
                    ledger: "file:/var/ledger".into(),
                    entry: Digest::sha256(b"e").to_string(),
                    position: 9,
                    time: platone_model::parse_timestamp("2024-05-01T10:00:00.5+02:00").unwrap(),
                    chain: None,
                })
            } else {
                AnchorStatus::Pending
            },
        }
    }

    /// [`sample`] anchored on chain.
    pub(crate) fn sample_on_chain() -> Proof {
        let mut proof = sample(true);
        let certificate = crate::BatchCertificate {
            batch_id: proof.batch_id.clone(),
            source: "pmu-1".into(),
            sequence: 7,
            scheme: proof.scheme,
            root: proof.root,
            leaf_count: proof.leaf_count,
            first_timestamp: None,
            last_timestamp: None,
            created_at: platone_model::parse_timestamp("2024-05-01T09:59:00Z").unwrap(),
            previous: Some(Digest::sha256(b"previous")),
        };
        let transaction = Digest::keccak256(b"tx");
        proof.anchor = AnchorStatus::Anchored(Anchor {
            ledger: "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3".into(),
            entry: transaction.to_string(),
            position: 4,
            time: platone_model::parse_timestamp("2024-05-01T10:00:02Z").unwrap(),
            chain: Some(Box::new(ChainAnchor {
                chain_id: 31337,
                contract: "0x5fbdb2315678afecb367f032d93f642f64180aa3".into(),
                root: Digest::keccak256(b"aggregate"),
                certificate_hash: certificate.hash().unwrap(),
                path: vec![Digest::keccak256(b"p0"), Digest::keccak256(b"p1")],
                transaction,
                block: 812,
                certificate,
            })),
        });
        proof
    }

    #[test]
    fn an_anchor_time_that_is_not_rfc_3339_is_refused() {
        // Found by the `proof` fuzz target: the JSON reader took a time its binary form could
        // not give back.
        let json = sample(true).to_json().unwrap();
        let good = "\"2024-05-01T10:00:00.500+02:00\"";
        assert!(json.contains(good), "{json}");
        for bad in [
            "\"-026-12- 6T20:3:12.2916219009Z\"",
            "\"2024-5-01T10:00:00Z\"",
        ] {
            let e = Proof::from_json(json.replace(good, bad).as_bytes()).unwrap_err();
            assert!(e.to_string().contains("RFC 3339"), "{e}");
        }
        let back = Proof::from_json(json.as_bytes()).unwrap();
        assert_eq!(
            Proof::from_binary(&back.to_binary().unwrap()).unwrap(),
            back
        );
    }

    #[test]
    fn json_and_binary_round_trip() {
        for p in [sample(false), sample(true), sample_on_chain()] {
            let json = p.to_json().unwrap();
            assert_eq!(Proof::from_json(json.as_bytes()).unwrap(), p);
            let bin = p.to_binary().unwrap();
            assert_eq!(Proof::from_binary(&bin).unwrap(), p);
            for cut in 0..bin.len() {
                assert!(Proof::from_binary(&bin[..cut]).is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn json_lines_of_a_batch_are_exactly_each_proofs_json() {
        for scheme in [Scheme::Sha256, Scheme::Keccak] {
            for n in [1usize, 2, 5, 180] {
                let leaves: Vec<Digest> =
                    (0..n).map(|i| scheme.leaf_hash(&i.to_le_bytes())).collect();
                let tree = MerkleTree::new(scheme, &leaves).unwrap();
                for anchored in [false, true] {
                    let mut template = sample(anchored);
                    template.scheme = scheme;
                    template.batch_id = "pmu \"1\"\u{1}:7".into();
                    template.root = tree.root();
                    let mut lines = b"kept".to_vec();
                    write_json_lines(&tree, &template, &mut lines).unwrap();
                    let mut expected = b"kept".to_vec();
                    for (i, leaf) in leaves.iter().enumerate() {
                        let proof = Proof {
                            leaf_index: i as u64,
                            leaf_count: n as u64,
                            leaf: *leaf,
                            siblings: tree.path(i).unwrap(),
                            ..template.clone()
                        };
                        expected.extend_from_slice(proof.to_json().unwrap().as_bytes());
                        expected.push(b'\n');
                    }
                    assert_eq!(
                        String::from_utf8(lines).unwrap(),
                        String::from_utf8(expected).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn errors_name_the_place() {
        let mut bin = sample(false).to_binary().unwrap();
        bin[4] = 9;
        let err = Proof::from_binary(&bin).unwrap_err().to_string();
        assert!(err.contains("byte 4 (scheme)"), "{err}");
        let err = Proof::from_json(b"{\"format\":1}").unwrap_err().to_string();
        assert!(err.contains("1:"), "{err}");
    }
}
