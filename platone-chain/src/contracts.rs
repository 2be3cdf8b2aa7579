//! Rust bindings of the five contracts, generated at compile time from the committed
//! artifacts (`artifacts/*.json`: ABI, creation and runtime bytecode, compiled by
//! `contracts/build.mjs`).
//!
//! Each module holds the contract's `…Instance` (calls, transactions, event filters) and
//! `deploy` (creation bytecode + the constructor's `admin`).
#![allow(missing_docs, clippy::too_many_arguments)]

alloy::sol!(
    #[sol(rpc, all_derives)]
    CertificationAnchor,
    "artifacts/CertificationAnchor.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    DeviceRegistry,
    "artifacts/DeviceRegistry.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    SubscriptionRegistry,
    "artifacts/SubscriptionRegistry.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    MarketRegistry,
    "artifacts/MarketRegistry.json"
);
alloy::sol!(
    #[sol(rpc, all_derives)]
    FlexToken,
    "artifacts/FlexToken.json"
);
