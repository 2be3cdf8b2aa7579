//! Hash digests and the two Merkle schemes.
//!
//! - [`Scheme::Sha256`], RFC 6962 / RFC 9162 style: leaf = SHA-256(0x00 ‖ canonical bytes),
//!   node = SHA-256(0x01 ‖ left ‖ right); a proof binds the leaf index and the tree size.
//! - [`Scheme::Keccak`], OpenZeppelin `StandardMerkleTree` compatible: content =
//!   keccak256(canonical bytes), leaf = keccak256(keccak256(abi.encode(bytes32 content))),
//!   node = keccak256 of the two children in ascending byte order, so that Solidity's
//!   `MerkleProof.verify` accepts our proofs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::error::{CertifyError, Result};

/// A 32-byte hash, written as `0x` and 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses `0x`-prefixed (or bare) hex of exactly 32 bytes.
    pub fn from_hex(text: &str) -> Result<Self> {
        let hex_digits = text.strip_prefix("0x").unwrap_or(text);
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut bytes)
            .map_err(|e| CertifyError::malformed("digest", text, e))?;
        Ok(Digest(bytes))
    }

    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> Self {
        Digest(Sha256::digest(data).into())
    }

    /// keccak256 of `data`.
    #[inline]
    pub fn keccak256(data: &[u8]) -> Self {
        Digest(keccak256(data))
    }
}

/// The Keccak-256 rate in bytes.
#[cfg(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(platone_portable)
))]
const KECCAK_RATE: usize = 136;

/// keccak-256 (Ethereum's, the original padding 0x01 … 0x80) straight on the CRYPTOGAMS
/// Keccak-f[1600] permutation: whole blocks are absorbed in place, the last one padded on the
/// stack, and the digest is read from the first four lanes (on these little-endian targets a
/// lane's bytes are its little-endian encoding). No hasher object, no intermediate buffer.
#[cfg(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(platone_portable)
))]
#[inline]
fn keccak256(data: &[u8]) -> [u8; 32] {
    let mut state = [0u64; 25];
    let whole = data.len() - data.len() % KECCAK_RATE;
    let (blocks, tail) = data.split_at(whole);
    if !blocks.is_empty() {
        sha3_asm::sha3_absorb(&mut state, blocks, KECCAK_RATE);
    }
    let mut last = [0u8; KECCAK_RATE];
    last[..tail.len()].copy_from_slice(tail);
    last[tail.len()] ^= 0x01;
    last[KECCAK_RATE - 1] ^= 0x80;
    sha3_asm::sha3_absorb(&mut state, &last, KECCAK_RATE);
    let mut out = [0u8; 32];
    for (bytes, lane) in out.chunks_exact_mut(8).zip(state) {
        bytes.copy_from_slice(&lane.to_le_bytes());
    }
    out
}

/// keccak-256 through alloy-primitives on targets without the assembly permutation (and under
/// `--cfg platone_portable`).
#[cfg(not(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(platone_portable)
)))]
#[inline]
fn keccak256(data: &[u8]) -> [u8; 32] {
    alloy_primitives::keccak256(data).0
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buffer = [0u8; 64];
        // Encoding into a buffer of exactly twice the length cannot fail.
        if hex::encode_to_slice(self.0, &mut buffer).is_err() {
            return Err(fmt::Error);
        }
        f.write_str("0x")?;
        f.write_str(std::str::from_utf8(&buffer).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = CertifyError;
    fn from_str(s: &str) -> Result<Self> {
        Digest::from_hex(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Digest::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// A Merkle scheme: how leaves and inner nodes are hashed and how a tree is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Scheme {
    /// RFC 6962 / RFC 9162 style SHA-256 tree.
    Sha256,
    /// OpenZeppelin `StandardMerkleTree`-compatible keccak256 tree.
    Keccak,
}

impl Scheme {
    /// The scheme's name as written in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Sha256 => "sha256",
            Scheme::Keccak => "keccak",
        }
    }

    /// The scheme's one-byte code in the binary proof form.
    pub fn code(self) -> u8 {
        match self {
            Scheme::Sha256 => 1,
            Scheme::Keccak => 2,
        }
    }

    /// The scheme with the given binary code.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Scheme::Sha256),
            2 => Some(Scheme::Keccak),
            _ => None,
        }
    }

    /// The leaf hash of a record's canonical bytes.
    pub fn leaf_hash(self, canonical: &[u8]) -> Digest {
        match self {
            Scheme::Sha256 => {
                let mut h = Sha256::new();
                h.update([0u8]);
                h.update(canonical);
                Digest(h.finalize().into())
            }
            Scheme::Keccak => Self::keccak_leaf_of_content(Digest::keccak256(canonical)),
        }
    }

    /// The OpenZeppelin `StandardMerkleTree` leaf of a `bytes32` value:
    /// keccak256(keccak256(abi.encode(value))) (`abi.encode` of a `bytes32` is its 32 bytes).
    pub fn keccak_leaf_of_content(content: Digest) -> Digest {
        Digest::keccak256(&Digest::keccak256(&content.0).0)
    }

    /// The hash of an inner node whose children are `left` and `right`.
    #[inline]
    pub fn node_hash(self, left: &Digest, right: &Digest) -> Digest {
        match self {
            Scheme::Sha256 => {
                let mut h = Sha256::new();
                h.update([1u8]);
                h.update(left.0);
                h.update(right.0);
                Digest(h.finalize().into())
            }
            Scheme::Keccak => {
                let (a, b) = if left.0 <= right.0 {
                    (left, right)
                } else {
                    (right, left)
                };
                let mut buffer = [0u8; 64];
                buffer[..32].copy_from_slice(&a.0);
                buffer[32..].copy_from_slice(&b.0);
                Digest::keccak256(&buffer)
            }
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheme {
    type Err = CertifyError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sha256" => Ok(Scheme::Sha256),
            "keccak" => Ok(Scheme::Keccak),
            other => Err(CertifyError::malformed(
                "scheme",
                other,
                "expected `sha256` or `keccak`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_hex_round_trip() {
        let d = Digest::sha256(b"abc");
        assert_eq!(
            d.to_string(),
            "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::from_hex(&d.to_string()).unwrap(), d);
        assert!(Digest::from_hex("0x12").is_err());
        assert_eq!(
            Digest::keccak256(b"").to_string(),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn keccak_agrees_with_alloy_at_every_length_around_the_block_edges() {
        let data: Vec<u8> = (0..=u8::MAX).cycle().take(700).collect();
        for len in 0..data.len() {
            assert_eq!(
                Digest::keccak256(&data[..len]).0,
                alloy_primitives::keccak256(&data[..len]).0,
                "length {len}"
            );
        }
    }

    #[test]
    fn rfc6962_empty_leaf_and_node() {
        // RFC 6962 test vector: the hash of the empty leaf.
        assert_eq!(
            Scheme::Sha256.leaf_hash(b"").to_string(),
            "0x6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }
}
