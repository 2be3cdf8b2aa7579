//! Activation and set-point dispatch (D2.2 UC-IT-2 activation, D3.2 §3.1): an activation of
//! an award is split per PoD and sent as set points to each PoD's Light Node, whose
//! acknowledgements are stored and certified; unanswered set points are retried, then
//! reported undelivered.
//!
//! - [`Activation`] — the award to activate (session, order, participant, direction,
//!   quantity and unit, window) and the PoDs that deliver it with their shares or quantities;
//!   [`Activation::split`] gives one [`SetPoint`](platone_model::SetPoint) per PoD, id
//!   `{activation}/{pod}`, in W with net import positive (`up` is negative).
//! - [`Dispatcher`] — stores each set point in the SCD (`put_set_point`), certifies it,
//!   publishes it on `{setpoints}/{pod}` (QoS 1, many at once) and follows it:
//!   `pending` → `sent` → `accepted` / `applied` / `rejected`, or `undelivered` after
//!   [`DispatchConfig::max_attempts`] publications with growing waits. One subscription to
//!   `{setpoints}/+/ack` takes every Light Node's acknowledgement
//!   ([`platone_scd::SetPointAck`]), stores it (`acknowledge_set_point`) and certifies it; an
//!   unreadable one goes to `{dead_letters}/dispatch`. [`Dispatcher::status`] gives an
//!   [`ActivationStatus`] per activation (`GET /api/activations/{id}`), published on
//!   `{reports}/{id}` once the activation is settled.
//! - [`SetPointCertifier`] — certification of set points and acknowledgements, with the
//!   embedded [`LedgerCertifier`] (platone-certify's Merkle batches on a ledger, the file
//!   ledger by default); see [`certify`] for what is certified and how to
//!   verify it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use platone_dsotp::DsotpTopics;
//! use platone_dsotp::dispatch::{Activation, DispatchConfig, Dispatcher, LedgerCertifier};
//!
//! # async fn run(bus: Arc<dyn platone_bus::Bus>, store: Arc<dyn platone_scd::Store>,
//! #     json: &[u8]) -> platone_dsotp::Result<()> {
//! let certifier = Arc::new(LedgerCertifier::open("data/dsotp")?);
//! let dispatcher = Dispatcher::start(bus, store, certifier, DsotpTopics::default(),
//!     DispatchConfig::default()).await?;
//! let activation = Activation::from_json(json)?;
//! let id = activation.id.clone();
//! dispatcher.dispatch(activation).await?; // every set point published
//! let status = dispatcher.wait(&id, Duration::from_secs(60)).await?;
//! println!("{} accepted, undelivered at {:?}", status.counts.accepted, status.undelivered());
//! # Ok(()) }
//! ```

mod activation;
pub mod certify;
mod certifying;
mod config;
mod dispatcher;
mod listener;
mod state;
mod status;

pub use activation::{Activation, MAX_ACTIVATION_ID_LEN, PodShare, PowerUnit, SHARE_TOLERANCE};
pub use certify::{DispatchRecord, LedgerCertifier, SetPointCertifier};
pub use config::DispatchConfig;
pub use dispatcher::{AckListenerStatus, Dispatcher};
pub use status::{
    ActivationStatus, ActivationSummary, DeliveryStatus, SetPointStatus, StatusCounts,
};

#[cfg(test)]
mod tests;
