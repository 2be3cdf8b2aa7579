//! A device's signed envelope (JSON), as the BAL receives it: detected among unsigned
//! packets, parsed, its payload decoded and its signer recovered.
//!
//! Invariants: `detect` finds an envelope only where `from_json` parses one the same way; an
//! accepted envelope written back reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platone_certify::SignedEnvelope;

fuzz_target!(|bytes: &[u8]| {
    let parsed = SignedEnvelope::from_json(bytes);
    if let Some(detected) = SignedEnvelope::detect(bytes) {
        assert_eq!(
            detected.as_ref().ok(),
            parsed.as_ref().ok(),
            "detect and from_json disagree"
        );
    }
    let Ok(envelope) = parsed else {
        return;
    };
    let json = envelope.to_json().expect("an envelope serialises");
    match SignedEnvelope::from_json(json.as_bytes()) {
        Ok(back) => assert_eq!(back, envelope, "{json}"),
        Err(e) => panic!("a written envelope does not read back: {e}\n{json}"),
    }
    let _ = envelope.payload_bytes();
    let _ = envelope.recover_signer(1);
});
