//! Signed packets: the envelope a field device wraps around what it publishes,
//! `{payload, signature, signer, scheme}`, and its verification against the device registry.
//!
//! - `eip191`: `signature` is the EIP-191 `personal_sign` of the payload bytes.
//! - `eip712`: `signature` is the EIP-712 signature of the [`DevicePacket`](crate::DevicePacket)
//!   `(device, keccak256(payload bytes), timestamp)` in the deployment's domain
//!   ([`deployment_domain`](crate::signature::deployment_domain)); the envelope then also
//!   carries `device` and `timestamp` (Unix seconds).
//!
//! The payload is text (`"encoding": "utf8"`, the default: JSON or XML as sent) or base64 of
//! binary bytes (`"encoding": "base64"`, e.g. IEEE C37.118 frames). The signed bytes are the
//! payload bytes exactly as carried (the text's UTF-8, or the base64-decoded bytes), so nothing
//! is parsed or canonicalised before the check: [`verify_envelope`] checks the signature and
//! the signer's key at the receipt time before the payload is handed out for decoding.
//!
//! ```
//! use platone_certify::envelope::{SignedEnvelope, SignatureScheme};
//! use platone_certify::DeviceKey;
//!
//! let key = DeviceKey::generate()?;
//! let payload = br#"{"device":"pmu-1","timestamp":"2024-03-01T12:00:00Z","readings":[]}"#;
//! let envelope = SignedEnvelope::sign_eip712(&key, "pmu-1", payload, 1_709_294_400, 1)?;
//! let json = envelope.to_json()?;
//!
//! let received = SignedEnvelope::detect(json.as_bytes()).expect("an envelope")?;
//! assert_eq!(received.scheme, SignatureScheme::Eip712);
//! assert_eq!(&*received.payload_bytes()?, &payload[..]);
//! assert_eq!(received.recover_signer(1)?, key.address());
//! # Ok::<(), platone_certify::CertifyError>(())
//! ```

use std::borrow::Cow;

use alloy_primitives::Address;
use alloy_sol_types::Eip712Domain;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::{CertifyError, Result};
use crate::registry::{DeviceRegistry, Receipt};
use crate::signature::{
    DeviceKey, device_packet, format_signature, parse_address, parse_signature, platone_domain,
    recover_personal, recover_typed,
};

/// How the envelope's signature was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SignatureScheme {
    /// EIP-191 `personal_sign` of the payload bytes.
    Eip191,
    /// EIP-712 typed data [`DevicePacket`](crate::DevicePacket) of the payload's keccak256.
    Eip712,
}

impl SignatureScheme {
    /// The scheme's name as it appears in the envelope.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureScheme::Eip191 => "eip191",
            SignatureScheme::Eip712 => "eip712",
        }
    }
}

/// How the payload text carries the payload bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadEncoding {
    /// The payload is the text itself (UTF-8).
    #[default]
    Utf8,
    /// The payload is base64 (standard alphabet, padded) of binary bytes.
    Base64,
}

/// A device's signed packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEnvelope {
    /// The packet as the device would have sent it unsigned (text, or base64 of bytes).
    pub payload: String,
    /// How `payload` carries the bytes.
    #[serde(default, skip_serializing_if = "is_utf8")]
    pub encoding: PayloadEncoding,
    /// The 65-byte signature, `0x` ‖ r ‖ s ‖ v.
    pub signature: String,
    /// The address the device claims signed it.
    pub signer: String,
    /// How the signature was made.
    pub scheme: SignatureScheme,
    /// The device (EIP-712 only: part of the signed data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The packet's time in Unix seconds (EIP-712 only: part of the signed data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
}

fn is_utf8(encoding: &PayloadEncoding) -> bool {
    *encoding == PayloadEncoding::Utf8
}

fn envelope_error(at: impl ToString, message: impl ToString) -> CertifyError {
    CertifyError::malformed("signed envelope", at, message)
}

impl SignedEnvelope {
    /// Whether `bytes` look like a signed envelope (a JSON object with `signature` and
    /// `payload` members) and, if so, the parsed envelope. `None` means "not an envelope: an
    /// unsigned packet"; `Some(Err(..))` an envelope that is malformed.
    pub fn detect(bytes: &[u8]) -> Option<Result<SignedEnvelope>> {
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
        if bytes.get(start) != Some(&b'{') {
            return None;
        }
        let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        if !(has(b"\"signature\"") && has(b"\"payload\"")) {
            return None;
        }
        Some(Self::from_json(bytes))
    }

    /// Parses an envelope from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<SignedEnvelope> {
        serde_json::from_slice(bytes)
            .map_err(|e| envelope_error(format!("line {} column {}", e.line(), e.column()), e))
    }

    /// The envelope as one line of JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| CertifyError::Serialise(e.to_string()))
    }

    /// The payload bytes (the text itself, or decoded base64).
    pub fn payload_bytes(&self) -> Result<Cow<'_, [u8]>> {
        match self.encoding {
            PayloadEncoding::Utf8 => Ok(Cow::Borrowed(self.payload.as_bytes())),
            PayloadEncoding::Base64 => STANDARD
                .decode(self.payload.as_bytes())
                .map(Cow::Owned)
                .map_err(|e| envelope_error("payload", format!("not base64: {e}"))),
        }
    }

    /// Signs `payload` with EIP-191 `personal_sign`.
    pub fn sign_eip191(key: &DeviceKey, payload: &[u8]) -> Result<SignedEnvelope> {
        let (text, encoding) = encode_payload(payload);
        Ok(SignedEnvelope {
            payload: text,
            encoding,
            signature: format_signature(&key.sign_personal(payload)?),
            signer: key.address().to_checksum(None),
            scheme: SignatureScheme::Eip191,
            device: None,
            timestamp: None,
        })
    }

    /// Signs `payload` as the EIP-712 [`DevicePacket`](crate::DevicePacket) of `device` at
    /// `timestamp` (Unix seconds) on chain `chain_id`, in the domain without a verifying
    /// contract.
    pub fn sign_eip712(
        key: &DeviceKey,
        device: &str,
        payload: &[u8],
        timestamp: u64,
        chain_id: u64,
    ) -> Result<SignedEnvelope> {
        Self::sign_eip712_in(key, device, payload, timestamp, &platone_domain(chain_id))
    }

    /// Signs `payload` as the EIP-712 [`DevicePacket`](crate::DevicePacket) of `device` at
    /// `timestamp` (Unix seconds) in `domain` (see
    /// [`deployment_domain`](crate::signature::deployment_domain)).
    pub fn sign_eip712_in(
        key: &DeviceKey,
        device: &str,
        payload: &[u8],
        timestamp: u64,
        domain: &Eip712Domain,
    ) -> Result<SignedEnvelope> {
        let packet = device_packet(device, payload, timestamp);
        let (text, encoding) = encode_payload(payload);
        Ok(SignedEnvelope {
            payload: text,
            encoding,
            signature: format_signature(&key.sign_typed(&packet, domain)?),
            signer: key.address().to_checksum(None),
            scheme: SignatureScheme::Eip712,
            device: Some(device.to_owned()),
            timestamp: Some(timestamp),
        })
    }

    /// Recovers the address that made the signature (EIP-712 in the domain of `chain_id`
    /// without a verifying contract) and checks it is the claimed `signer`.
    pub fn recover_signer(&self, chain_id: u64) -> Result<Address> {
        self.recover_signer_in(&platone_domain(chain_id))
    }

    /// Recovers the address that made the signature (EIP-712 in `domain`) and checks it is the
    /// claimed `signer`.
    pub fn recover_signer_in(&self, domain: &Eip712Domain) -> Result<Address> {
        let payload = self.payload_bytes()?;
        self.recover_with(&payload, domain)
    }

    fn recover_with(&self, payload: &[u8], domain: &Eip712Domain) -> Result<Address> {
        let signature = parse_signature(&self.signature)?;
        let recovered = match self.scheme {
            SignatureScheme::Eip191 => recover_personal(payload, &signature)?,
            SignatureScheme::Eip712 => {
                let device = self.device.as_deref().ok_or_else(|| {
                    envelope_error("device", "an eip712 envelope names its device")
                })?;
                let timestamp = self.timestamp.ok_or_else(|| {
                    envelope_error("timestamp", "an eip712 envelope carries its timestamp")
                })?;
                let packet = device_packet(device, payload, timestamp);
                recover_typed(&packet, domain, &signature)?
            }
        };
        let claimed = parse_address(&self.signer)?;
        if recovered != claimed {
            return Err(CertifyError::Signature(format!(
                "the signature was made by {recovered}, the envelope claims {claimed}"
            )));
        }
        Ok(recovered)
    }

    /// Verifies the envelope as received per `receipt` for the registry entry `key` (a PoD,
    /// meter or device): the signature (EIP-712 in `domain`) must be valid and made by the key
    /// the registry holds for `key` at the receipt time; the time an EIP-712 envelope claims
    /// must be within the receipt's skew ([`DeviceRegistry::check_signer`]). Returns the
    /// signer and the verified payload bytes. Nothing of the payload is decoded but its
    /// base64 transport encoding.
    pub fn verify<R: DeviceRegistry + ?Sized>(
        &self,
        registry: &R,
        key: &str,
        domain: &Eip712Domain,
        receipt: &Receipt,
    ) -> Result<VerifiedPacket> {
        let payload = self.payload_bytes()?.into_owned();
        let signer = self.recover_with(&payload, domain)?;
        registry.check_signer(key, signer, self.timestamp, receipt)?;
        Ok(VerifiedPacket {
            signer,
            scheme: self.scheme,
            device: self.device.clone(),
            claimed_at: self.timestamp,
            payload,
        })
    }
}

/// A signed envelope whose signature and signer were checked: what the receiver may decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPacket {
    /// The address that signed it (registered for the key it was checked against).
    pub signer: Address,
    /// How it was signed.
    pub scheme: SignatureScheme,
    /// The device the envelope names (EIP-712: signed; check it against the topic's device).
    pub device: Option<String>,
    /// The time the device claims (EIP-712: signed, within the allowed skew).
    pub claimed_at: Option<u64>,
    /// The payload bytes the signature covers.
    pub payload: Vec<u8>,
}

/// Verifies a received signed envelope, signature first: parses the envelope JSON `bytes`,
/// recovers the signer over the payload bytes exactly as carried, and checks with `registry`
/// that the key registered for `key` at the receipt time made it, the claimed time being
/// within the receipt's skew. Only then is the payload returned, for decoding.
///
/// This is the one call a receiver (the BAL) makes per signed packet; it still has to check
/// the returned [`VerifiedPacket::device`] against the device the packet was addressed as.
///
/// ```
/// use platone_certify::envelope::{SignedEnvelope, verify_envelope};
/// use platone_certify::registry::{DeviceRegistry, InMemoryRegistry, KeyAction, Receipt, SignedKeyChange};
/// use platone_certify::signature::deployment_domain;
/// use platone_certify::DeviceKey;
///
/// let (dso, device) = (DeviceKey::generate()?, DeviceKey::generate()?);
/// let domain = deployment_domain(1337, None);
/// let mut registry = InMemoryRegistry::new(dso.address(), domain.clone());
/// registry.apply(&SignedKeyChange::sign(
///     &dso, &domain, "POD-1", KeyAction::Register, Some(device.address()), 1_000, 0,
/// )?)?;
/// let envelope = SignedEnvelope::sign_eip712_in(&device, "ln-1", b"{\"v\":1}", 5_000, &domain)?;
/// let registry: &dyn DeviceRegistry = &registry;
/// let packet = verify_envelope(
///     envelope.to_json()?.as_bytes(), registry, "POD-1", &domain, &Receipt::new(5_010, 300),
/// )?;
/// assert_eq!(packet.signer, device.address());
/// assert_eq!(packet.payload, b"{\"v\":1}");
/// # Ok::<(), platone_certify::CertifyError>(())
/// ```
pub fn verify_envelope<R: DeviceRegistry + ?Sized>(
    bytes: &[u8],
    registry: &R,
    key: &str,
    domain: &Eip712Domain,
    receipt: &Receipt,
) -> Result<VerifiedPacket> {
    SignedEnvelope::from_json(bytes)?.verify(registry, key, domain, receipt)
}

fn encode_payload(payload: &[u8]) -> (String, PayloadEncoding) {
    match std::str::from_utf8(payload) {
        Ok(text) => (text.to_owned(), PayloadEncoding::Utf8),
        Err(_) => (STANDARD.encode(payload), PayloadEncoding::Base64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{InMemoryRegistry, KeyAction, SignedKeyChange};
    use crate::signature::platone_domain;

    #[test]
    fn both_schemes_round_trip_and_binary_payloads_use_base64() {
        let key = DeviceKey::generate().unwrap();
        let frame = [0xaa_u8, 0x01, 0x00, 0x10, 0xff, 0xfe];
        for envelope in [
            SignedEnvelope::sign_eip191(&key, &frame).unwrap(),
            SignedEnvelope::sign_eip712(&key, "pmu-1", &frame, 1_700_000_000, 7).unwrap(),
        ] {
            assert_eq!(envelope.encoding, PayloadEncoding::Base64);
            let json = envelope.to_json().unwrap();
            let back = SignedEnvelope::detect(json.as_bytes()).unwrap().unwrap();
            assert_eq!(back, envelope);
            assert_eq!(&*back.payload_bytes().unwrap(), &frame);
            assert_eq!(back.recover_signer(7).unwrap(), key.address());
        }
    }

    #[test]
    fn unsigned_packets_are_not_envelopes() {
        assert!(SignedEnvelope::detect(b"<MeterReadings/>").is_none());
        assert!(SignedEnvelope::detect(br#"{"device":"x","readings":[]}"#).is_none());
        assert!(SignedEnvelope::detect(b"").is_none());
        let bad = SignedEnvelope::detect(br#"{"payload": 1, "signature": "0x"}"#).unwrap();
        assert!(bad.unwrap_err().to_string().contains("signed envelope"));
    }

    #[test]
    fn altered_payload_or_claimed_signer_is_refused() {
        let key = DeviceKey::generate().unwrap();
        let other = DeviceKey::generate().unwrap();
        let mut envelope = SignedEnvelope::sign_eip191(&key, b"{\"v\":1}").unwrap();
        envelope.payload = "{\"v\":2}".into();
        assert!(envelope.recover_signer(1).is_err());
        let mut envelope = SignedEnvelope::sign_eip712(&key, "d", b"x", 5, 1).unwrap();
        envelope.signer = other.address().to_checksum(None);
        let err = envelope.recover_signer(1).unwrap_err().to_string();
        assert!(err.contains("claims"), "{err}");
        let mut envelope = SignedEnvelope::sign_eip712(&key, "d", b"x", 5, 1).unwrap();
        envelope.timestamp = Some(6);
        assert!(envelope.recover_signer(1).is_err());
    }

    /// A registry with POD-1's key `first` registered at 1 000, rotated to `second` at
    /// 10 000, and POD-2's key `first` registered at 1 000 and revoked at 10 000.
    fn rotated_and_revoked() -> (
        DeviceKey,
        DeviceKey,
        DeviceKey,
        InMemoryRegistry,
        Eip712Domain,
    ) {
        let dso = DeviceKey::generate().unwrap();
        let first = DeviceKey::generate().unwrap();
        let second = DeviceKey::generate().unwrap();
        let domain = platone_domain(1);
        let mut registry = InMemoryRegistry::new(dso.address(), domain.clone());
        let changes = [
            ("POD-1", KeyAction::Register, Some(first.address()), 1_000),
            ("POD-2", KeyAction::Register, Some(first.address()), 1_000),
            ("POD-1", KeyAction::Rotate, Some(second.address()), 10_000),
            ("POD-2", KeyAction::Revoke, None, 10_000),
        ];
        for (pod, action, device, at) in changes {
            let change =
                SignedKeyChange::sign(&dso, &domain, pod, action, device, at, registry.nonce())
                    .unwrap();
            registry.apply(&change).unwrap();
        }
        (dso, first, second, registry, domain)
    }

    #[test]
    fn registry_decides_who_may_sign_for_a_pod_at_receipt() {
        let (dso, first, second, registry, domain) = rotated_and_revoked();
        let skew = 300;
        // A valid one passes: the current key, claimed time within the skew of the receipt.
        let envelope =
            SignedEnvelope::sign_eip712_in(&second, "ln-1", b"data", 20_000, &domain).unwrap();
        let packet = envelope
            .verify(&registry, "POD-1", &domain, &Receipt::new(20_100, skew))
            .unwrap();
        assert_eq!(packet.signer, second.address());
        assert_eq!(packet.payload, b"data");
        assert_eq!(packet.device.as_deref(), Some("ln-1"));
        assert_eq!(packet.claimed_at, Some(20_000));

        // A rotated-out key signing with a backdated claim is refused, whatever it claims.
        let backdated =
            SignedEnvelope::sign_eip712_in(&first, "ln-1", b"data", 5_000, &domain).unwrap();
        let err = backdated
            .verify(&registry, "POD-1", &domain, &Receipt::new(20_000, skew))
            .unwrap_err()
            .to_string();
        assert!(err.contains("claims time 5000"), "{err}");
        // Even with a skew wide enough to cover the claim, the key is judged at receipt.
        let err = backdated
            .verify(
                &registry,
                "POD-1",
                &domain,
                &Receipt::new(20_000, 1_000_000),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("registered at its receipt"), "{err}");
        // EIP-191 claims no time: judged at receipt alone.
        let personal = SignedEnvelope::sign_eip191(&first, b"data").unwrap();
        assert!(
            personal
                .verify(&registry, "POD-1", &domain, &Receipt::new(20_000, skew))
                .is_err()
        );
        assert!(
            personal
                .verify(&registry, "POD-1", &domain, &Receipt::new(5_000, skew))
                .is_ok()
        );

        // A revoked key verifies nothing received after its revocation.
        let revoked =
            SignedEnvelope::sign_eip712_in(&first, "ln-2", b"data", 10_050, &domain).unwrap();
        let err = revoked
            .verify(&registry, "POD-2", &domain, &Receipt::new(10_060, skew))
            .unwrap_err()
            .to_string();
        assert!(err.contains("withdrawn at 10000"), "{err}");
        // …while what it sent before is still accepted when received before.
        let earlier =
            SignedEnvelope::sign_eip712_in(&first, "ln-2", b"data", 9_990, &domain).unwrap();
        assert!(
            earlier
                .verify(&registry, "POD-2", &domain, &Receipt::new(9_995, skew))
                .is_ok()
        );

        // A claim outside the skew is refused, in the future as in the past.
        for claimed in [20_000 - skew - 1, 20_000 + skew + 1] {
            let envelope =
                SignedEnvelope::sign_eip712_in(&second, "ln-1", b"data", claimed, &domain).unwrap();
            let err = envelope
                .verify(&registry, "POD-1", &domain, &Receipt::new(20_000, skew))
                .unwrap_err()
                .to_string();
            assert!(err.contains("at most 300 s"), "{err}");
        }
        // At the skew's edge it passes.
        let edge =
            SignedEnvelope::sign_eip712_in(&second, "ln-1", b"data", 20_300, &domain).unwrap();
        assert!(
            edge.verify(&registry, "POD-1", &domain, &Receipt::new(20_000, skew))
                .is_ok()
        );

        // Not registered yet, another PoD, an impostor: refused.
        assert!(
            envelope
                .verify(&registry, "POD-1", &domain, &Receipt::new(999, 1_000_000))
                .is_err()
        );
        let elsewhere = envelope
            .verify(&registry, "POD-3", &domain, &Receipt::new(20_100, skew))
            .unwrap_err();
        assert!(elsewhere.to_string().contains("POD-3"), "{elsewhere}");
        let impostor = SignedEnvelope::sign_eip191(&dso, b"data").unwrap();
        assert!(
            impostor
                .verify(&registry, "POD-1", &domain, &Receipt::new(20_100, skew))
                .is_err()
        );
    }

    #[test]
    fn the_domain_binds_the_deployment() {
        let (_, _, second, registry, domain) = rotated_and_revoked();
        let contract = Address::repeat_byte(0x42);
        let other = crate::signature::deployment_domain(1, Some(contract));
        let envelope =
            SignedEnvelope::sign_eip712_in(&second, "ln-1", b"data", 20_000, &other).unwrap();
        // Signed for the deployment with a registry contract: refused by the one without.
        assert!(
            envelope
                .verify(&registry, "POD-1", &domain, &Receipt::new(20_000, 300))
                .is_err()
        );
        assert_eq!(
            envelope.recover_signer_in(&other).unwrap(),
            second.address()
        );
    }

    #[test]
    fn registries_are_object_safe() {
        let (_, _, second, registry, domain) = rotated_and_revoked();
        let registry: &dyn DeviceRegistry = &registry;
        let envelope =
            SignedEnvelope::sign_eip712_in(&second, "ln-1", b"x", 20_000, &domain).unwrap();
        let packet = verify_envelope(
            envelope.to_json().unwrap().as_bytes(),
            registry,
            "POD-1",
            &domain,
            &Receipt::new(20_000, 0),
        )
        .unwrap();
        assert_eq!(packet.signer, second.address());
        let boxed: std::sync::Arc<dyn DeviceRegistry> =
            std::sync::Arc::new(InMemoryRegistry::new(second.address(), domain.clone()));
        assert_eq!(boxed.dso(), second.address());
    }
}
