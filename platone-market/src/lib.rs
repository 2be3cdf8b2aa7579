//! The flexibility market of the Platone SDK.
//!
//! DSOs and TSOs post flexibility requests, aggregators post offers; market sessions clear them
//! with a pluggable clearing algorithm, a grid validator checks the result, and settlement
//! compares metered data with a baseline.
//!
//! ```
//! use platone_model::ParticipantId;
//! assert!(ParticipantId::new("dso-1").is_ok());
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
