//! Certification for the Platone SDK.
//!
//! This crate makes stored measurements tamper-evident: canonical hashing of records, Merkle
//! batch certificates with self-contained proofs that anyone can verify offline, device
//! signatures (secp256k1, EIP-712 / EIP-191) with a key registry, and the `Ledger` on which
//! certificates are anchored, with an embedded file ledger by default.
//!
//! ```
//! use platone_model::DeviceId;
//! assert!(DeviceId::new("light-node-1").is_ok());
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
