//! Signed packets: the envelope a field device wraps around what it publishes,
//! `{payload, signature, signer, scheme}`, and its verification against the device registry.
//!
//! - `eip191`: `signature` is the EIP-191 `personal_sign` of the payload bytes.
//! - `eip712`: `signature` is the EIP-712 signature of the [`DevicePacket`](crate::DevicePacket)
//!   `(device, keccak256(payload bytes), timestamp)` in the Platone domain; the envelope then
//!   also carries `device` and `timestamp` (Unix seconds).
//!
//! The payload is text (`"encoding": "utf8"`, the default: JSON or XML as sent) or base64 of
//! binary bytes (`"encoding": "base64"`, e.g. IEEE C37.118 frames). The signed bytes are the
//! payload bytes exactly as decoded, so nothing needs canonicalising before the check.
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
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::{CertifyError, Result};
use crate::registry::DeviceRegistry;
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
    /// `timestamp` (Unix seconds) on chain `chain_id`.
    pub fn sign_eip712(
        key: &DeviceKey,
        device: &str,
        payload: &[u8],
        timestamp: u64,
        chain_id: u64,
    ) -> Result<SignedEnvelope> {
        let packet = device_packet(device, payload, timestamp);
        let (text, encoding) = encode_payload(payload);
        Ok(SignedEnvelope {
            payload: text,
            encoding,
            signature: format_signature(&key.sign_packet(&packet, chain_id)?),
            signer: key.address().to_checksum(None),
            scheme: SignatureScheme::Eip712,
            device: Some(device.to_owned()),
            timestamp: Some(timestamp),
        })
    }

    /// Recovers the address that made the signature and checks it is the claimed `signer`.
    pub fn recover_signer(&self, chain_id: u64) -> Result<Address> {
        let signature = parse_signature(&self.signature)?;
        let payload = self.payload_bytes()?;
        let recovered = match self.scheme {
            SignatureScheme::Eip191 => recover_personal(&payload, &signature)?,
            SignatureScheme::Eip712 => {
                let device = self.device.as_deref().ok_or_else(|| {
                    envelope_error("device", "an eip712 envelope names its device")
                })?;
                let timestamp = self.timestamp.ok_or_else(|| {
                    envelope_error("timestamp", "an eip712 envelope carries its timestamp")
                })?;
                let packet = device_packet(device, &payload, timestamp);
                recover_typed(&packet, &platone_domain(chain_id), &signature)?
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

    /// Verifies the envelope for the registry entry `key` (a PoD, meter or device) at `at`
    /// (Unix seconds; for EIP-712 envelopes the signed timestamp is used): the signature must
    /// be valid and made by the key the registry holds for `key` at that time.
    pub fn verify<R: DeviceRegistry + ?Sized>(
        &self,
        registry: &R,
        key: &str,
        at: u64,
        chain_id: u64,
    ) -> Result<Address> {
        let signer = self.recover_signer(chain_id)?;
        let at = self.timestamp.unwrap_or(at);
        match registry.address_at(key, at) {
            Some(registered) if registered == signer => Ok(signer),
            Some(registered) => Err(CertifyError::Signature(format!(
                "packet for {key} signed by {signer}, the registered key at {at} is {registered}"
            ))),
            None => Err(CertifyError::Signature(format!(
                "{key} has no registered key at {at}"
            ))),
        }
    }
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

    #[test]
    fn registry_decides_who_may_sign_for_a_pod_and_when() {
        let dso = DeviceKey::generate().unwrap();
        let device = DeviceKey::generate().unwrap();
        let domain = platone_domain(1);
        let mut registry = InMemoryRegistry::new(dso.address(), domain.clone());
        let change = SignedKeyChange::sign(
            &dso,
            &domain,
            "POD-1",
            KeyAction::Register,
            Some(device.address()),
            1_000,
            0,
        )
        .unwrap();
        registry.apply(&change).unwrap();
        let envelope = SignedEnvelope::sign_eip191(&device, b"data").unwrap();
        assert_eq!(
            envelope.verify(&registry, "POD-1", 2_000, 1).unwrap(),
            device.address()
        );
        let before = envelope.verify(&registry, "POD-1", 999, 1).unwrap_err();
        assert!(before.to_string().contains("no registered key"), "{before}");
        let elsewhere = envelope.verify(&registry, "POD-2", 2_000, 1).unwrap_err();
        assert!(elsewhere.to_string().contains("POD-2"), "{elsewhere}");
        let impostor = SignedEnvelope::sign_eip191(&dso, b"data").unwrap();
        let err = impostor.verify(&registry, "POD-1", 2_000, 1).unwrap_err();
        assert!(err.to_string().contains("registered key"), "{err}");
    }
}
