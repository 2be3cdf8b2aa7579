//! Deterministic device keys: the same (seed, device) always gives the same secp256k1 key, so
//! the BAL's configuration (which holds only addresses) and the simulator (which signs) agree
//! without exchanging secrets.

use platone_certify::{DeviceKey, Digest};

/// The signing key of `device` in a field simulated with `seed`: the secret is
/// keccak256(seed as 8 big-endian bytes ‖ device id bytes); in the rare case that this is not
/// a valid secp256k1 scalar (zero or ≥ the group order) it is hashed again until it is.
pub fn device_key(seed: u64, device: &str) -> DeviceKey {
    let mut input = Vec::with_capacity(8 + device.len());
    input.extend_from_slice(&seed.to_be_bytes());
    input.extend_from_slice(device.as_bytes());
    let mut secret = Digest::keccak256(&input).0;
    loop {
        if let Ok(key) = DeviceKey::from_bytes(&secret) {
            return key;
        }
        // Probability about 2^-128 per draw: the loop ends on the next hash in practice.
        secret = Digest::keccak256(&secret).0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_seed_and_device_only() {
        let a = device_key(7, "pmu-1");
        assert_eq!(a.address(), device_key(7, "pmu-1").address());
        assert_ne!(a.address(), device_key(8, "pmu-1").address());
        assert_ne!(a.address(), device_key(7, "pmu-2").address());
    }

    #[test]
    fn the_secret_is_the_documented_hash() {
        let mut input = 42u64.to_be_bytes().to_vec();
        input.extend_from_slice(b"dso-ds-1");
        let expected = DeviceKey::from_bytes(&Digest::keccak256(&input).0).unwrap();
        assert_eq!(device_key(42, "dso-ds-1").to_hex(), expected.to_hex());
    }
}
