//! Device keys and signatures: secp256k1 Ethereum keys, EIP-712 typed data and EIP-191
//! `personal_sign`, verified by recovering the signer's address.
//!
//! The EIP-712 [`DevicePacket`] a device signs binds its identifier, the packet's time and
//! `contentHash = keccak256(payload bytes exactly as carried)`: the UTF-8 text for a text
//! payload (JSON, XML), the raw bytes for a binary one (an IEEE C37.118 frame, carried as
//! base64 in the envelope). Nothing is parsed or canonicalised before hashing, so a device can
//! compute it for any format and a receiver checks it before decoding anything. The domain is
//! the deployment's: name `Platone`, version `1`, `chainId` from configuration and
//! `verifyingContract` when a registry contract exists ([`deployment_domain`]).

use alloy_primitives::{Address, B256, Signature};
pub use alloy_sol_types::Eip712Domain;
use alloy_sol_types::{SolStruct, eip712_domain, sol};
use k256::ecdsa::SigningKey;

use crate::error::{CertifyError, Result};
use crate::scheme::Digest;

sol! {
    /// The typed data a Light Node signs for one packet (EIP-712 type
    /// `DevicePacket(string device,bytes32 contentHash,uint64 timestamp)`).
    #[derive(Debug, PartialEq, Eq)]
    struct DevicePacket {
        /// The device (Light Node) identifier.
        string device;
        /// keccak256 of the payload bytes exactly as carried (the text's UTF-8 bytes, or the
        /// binary payload's bytes); see [`device_packet`].
        bytes32 contentHash;
        /// The packet's time, in seconds since the Unix epoch.
        uint64 timestamp;
    }
}

/// The EIP-712 domain of Platone device signatures on chain `chain_id`, without a verifying
/// contract: name `Platone`, version `1`. Same as [`deployment_domain`]`(chain_id, None)`.
pub fn platone_domain(chain_id: u64) -> Eip712Domain {
    deployment_domain(chain_id, None)
}

/// The EIP-712 domain of a deployment: name `Platone`, version `1`, `chainId` from its
/// configuration and, when the deployment has a registry contract, `verifyingContract` its
/// address. A signature made for one deployment does not verify in another.
///
/// ```
/// use platone_certify::signature::{deployment_domain, platone_domain};
/// let contract = "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC".parse()?;
/// let with = deployment_domain(5, Some(contract));
/// assert_eq!(with.verifying_contract, Some(contract));
/// assert_ne!(with.separator(), platone_domain(5).separator());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn deployment_domain(chain_id: u64, verifying_contract: Option<Address>) -> Eip712Domain {
    match verifying_contract {
        Some(contract) => eip712_domain! {
            name: "Platone",
            version: "1",
            chain_id: chain_id,
            verifying_contract: contract,
        },
        None => eip712_domain! {
            name: "Platone",
            version: "1",
            chain_id: chain_id,
        },
    }
}

/// A device's secp256k1 signing key.
///
/// ```
/// use platone_certify::DeviceKey;
/// let key = DeviceKey::generate()?;
/// let signature = key.sign_personal(b"hello")?;
/// assert_eq!(platone_certify::signature::recover_personal(b"hello", &signature)?, key.address());
/// # Ok::<(), platone_certify::CertifyError>(())
/// ```
#[derive(Clone)]
pub struct DeviceKey(SigningKey);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey({})", self.address())
    }
}

impl DeviceKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Result<Self> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes)
                .map_err(|e| CertifyError::Signature(format!("no random numbers: {e}")))?;
            // The rare out-of-range scalar is simply drawn again.
            if let Ok(key) = Self::from_bytes(&bytes) {
                return Ok(key);
            }
        }
    }

    /// The key with the given 32-byte secret.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self> {
        SigningKey::from_bytes(bytes.into())
            .map(DeviceKey)
            .map_err(|_| CertifyError::Signature("secret is not a valid secp256k1 scalar".into()))
    }

    /// The key from `0x`-prefixed (or bare) hex of 32 bytes.
    pub fn from_hex(text: &str) -> Result<Self> {
        let digits = text.trim();
        let digits = digits.strip_prefix("0x").unwrap_or(digits);
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes)
            .map_err(|e| CertifyError::Signature(format!("private key: {e}")))?;
        Self::from_bytes(&bytes)
    }

    /// The secret as `0x`-prefixed hex.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0.to_bytes()))
    }

    /// The Ethereum address of the key.
    pub fn address(&self) -> Address {
        Address::from_private_key(&self.0)
    }

    /// Signs a 32-byte hash as it is (no prefix).
    pub fn sign_hash(&self, hash: &B256) -> Result<Signature> {
        let (signature, recovery) = self
            .0
            .sign_prehash_recoverable(hash.as_slice())
            .map_err(|e| CertifyError::Signature(e.to_string()))?;
        Ok(Signature::from((signature, recovery)))
    }

    /// EIP-191 `personal_sign` of `message`.
    pub fn sign_personal(&self, message: &[u8]) -> Result<Signature> {
        self.sign_hash(&alloy_primitives::eip191_hash_message(message))
    }

    /// EIP-712 signature of typed data `value` in `domain`.
    pub fn sign_typed<T: SolStruct>(&self, value: &T, domain: &Eip712Domain) -> Result<Signature> {
        self.sign_hash(&value.eip712_signing_hash(domain))
    }

    /// Signs a device packet: the EIP-712 [`DevicePacket`] in the domain of `chain_id`
    /// without a verifying contract ([`platone_domain`]).
    pub fn sign_packet(&self, packet: &DevicePacket, chain_id: u64) -> Result<Signature> {
        self.sign_typed(packet, &platone_domain(chain_id))
    }

    /// Reads a key file: the secret as hex (surrounding white space ignored).
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| CertifyError::io(path, e))?;
        Self::from_hex(text.trim())
            .map_err(|e| CertifyError::Signature(format!("{}: {e}", path.display())))
    }

    /// Writes the secret (hex and a newline) to a new file readable and writable by its owner
    /// only (mode 0600 on Unix, set when the file is created, so it is never readable by
    /// others), fsync'd with its directory. Refuses to overwrite an existing file.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        crate::journal::write_secret(path.as_ref(), format!("{}\n", self.to_hex()).as_bytes())
    }
}

/// The [`DevicePacket`] a device signs for `payload` (the payload bytes exactly as carried:
/// the text's UTF-8 bytes or the binary bytes, no canonicalisation), its identifier and the
/// packet's time (Unix seconds): `contentHash = keccak256(payload)`.
pub fn device_packet(device: &str, payload: &[u8], timestamp: u64) -> DevicePacket {
    DevicePacket {
        device: device.to_owned(),
        contentHash: B256::from(Digest::keccak256(payload).0),
        timestamp,
    }
}

/// The address that made an EIP-191 `personal_sign` signature of `message`.
pub fn recover_personal(message: &[u8], signature: &Signature) -> Result<Address> {
    signature
        .recover_address_from_msg(message)
        .map_err(|e| CertifyError::Signature(e.to_string()))
}

/// The address that made an EIP-712 signature of `value` in `domain`.
pub fn recover_typed<T: SolStruct>(
    value: &T,
    domain: &Eip712Domain,
    signature: &Signature,
) -> Result<Address> {
    signature
        .recover_address_from_prehash(&value.eip712_signing_hash(domain))
        .map_err(|e| CertifyError::Signature(e.to_string()))
}

/// Reads a 65-byte `r ‖ s ‖ v` signature from hex (`v` 27/28 or 0/1).
pub fn parse_signature(text: &str) -> Result<Signature> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0x").unwrap_or(digits);
    let mut bytes = [0u8; 65];
    hex::decode_to_slice(digits, &mut bytes)
        .map_err(|e| CertifyError::Signature(format!("signature must be 65 bytes of hex: {e}")))?;
    Signature::from_raw_array(&bytes).map_err(|e| CertifyError::Signature(e.to_string()))
}

/// Writes a signature as `0x` ‖ r ‖ s ‖ v with `v` 27 or 28, as Ethereum tools do.
pub fn format_signature(signature: &Signature) -> String {
    format!("0x{}", hex::encode(signature.as_bytes()))
}

/// Reads an address from hex (checksummed or not).
pub fn parse_address(text: &str) -> Result<Address> {
    text.trim()
        .parse::<Address>()
        .map_err(|e| CertifyError::Signature(format!("address {text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256, keccak256};

    sol! {
        struct Person {
            string name;
            address wallet;
        }
        struct Mail {
            Person from;
            Person to;
            string contents;
        }
    }

    #[test]
    fn eip712_mail_example() {
        // The example of EIP-712 itself (assets/eip-712/Example.js).
        let domain = eip712_domain! {
            name: "Ether Mail",
            version: "1",
            chain_id: 1,
            verifying_contract: address!("0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"),
        };
        let mail = Mail {
            from: Person {
                name: "Cow".into(),
                wallet: address!("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"),
            },
            to: Person {
                name: "Bob".into(),
                wallet: address!("0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"),
            },
            contents: "Hello, Bob!".into(),
        };
        assert_eq!(
            mail.eip712_signing_hash(&domain),
            b256!("0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
        );
        let cow = DeviceKey::from_bytes(&keccak256("cow").0).unwrap();
        assert_eq!(cow.address(), mail.from.wallet);
        let sig = cow.sign_typed(&mail, &domain).unwrap();
        assert_eq!(
            format_signature(&sig),
            "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d\
             07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b915621c"
        );
        assert_eq!(
            recover_typed(&mail, &domain, &sig).unwrap(),
            mail.from.wallet
        );
    }

    #[test]
    fn eip191_personal_sign_vector() {
        // web3.js `eth.accounts.sign('Some data', key)` documentation example.
        let key = DeviceKey::from_hex(
            "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        )
        .unwrap();
        assert_eq!(
            key.address(),
            address!("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
        );
        assert_eq!(
            alloy_primitives::eip191_hash_message(b"Some data"),
            b256!("0x1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655")
        );
        let sig = key.sign_personal(b"Some data").unwrap();
        let expected = "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd\
                        6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c";
        assert_eq!(format_signature(&sig), expected);
        let parsed = parse_signature(expected).unwrap();
        assert_eq!(
            recover_personal(b"Some data", &parsed).unwrap(),
            key.address()
        );
        assert_ne!(
            recover_personal(b"Some datb", &parsed).unwrap(),
            key.address()
        );
    }

    #[test]
    fn saved_keys_are_private_and_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        let key = DeviceKey::generate().unwrap();
        key.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        }
        assert_eq!(DeviceKey::load(&path).unwrap().address(), key.address());
        // An existing file is never overwritten.
        assert!(DeviceKey::generate().unwrap().save(&path).is_err());
        assert_eq!(DeviceKey::load(&path).unwrap().address(), key.address());
    }

    #[test]
    fn packets_sign_and_recover() {
        let key = DeviceKey::generate().unwrap();
        let packet = device_packet("light-node-1", br#"{"v":1}"#, 1_700_000_000);
        let sig = key.sign_packet(&packet, 1337).unwrap();
        assert_eq!(
            recover_typed(&packet, &platone_domain(1337), &sig).unwrap(),
            key.address()
        );
        // Another chain id is another domain: the signature no longer recovers the key.
        assert_ne!(
            recover_typed(&packet, &platone_domain(1), &sig).unwrap(),
            key.address()
        );
        assert!(parse_signature("0x1234").is_err());
        assert!(DeviceKey::from_hex("0x00").is_err());
        assert_eq!(
            DeviceKey::from_hex(&key.to_hex()).unwrap().address(),
            key.address()
        );
    }
}
