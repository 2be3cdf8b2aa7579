//! The Light Node, as the field's PGUI specification defines it: set points for its PoD taken
//! from the DSOTP's bus and acknowledged, the EMS interface that the customer's energy
//! management system reads them from, and the BAL side — the PoD's meter read, signed,
//! buffered on disk through outages and delivered to the BAL oldest first ([`BalSide`],
//! [`Outbox`]).
//!
//! - **Set points** arrive on `platone/dsotp/setpoints/{pod}` as the JSON form of
//!   [`platone_model::SetPoint`] (power, in W for `bspP` or VAr for `bspQ`, with a
//!   multiplier); the Light Node answers each on `platone/dsotp/setpoints/{pod}/ack` with a
//!   [`platone_scd::SetPointAck`] (`{set_point, device, at, outcome, reason?}`, outcome
//!   `accepted` or `rejected`), which the DSOTP stores as the SCD does. Messages that are not
//!   set points go to `platone/dsotp/dead-letters/lightnode/{pod}`. Prefixes are configurable
//!   ([`SetPointTopics`]).
//! - **HTTP** (port 8000 by default): `GET /` → 200 `{"bspP": kW, "bspQ": kvar}` while a set
//!   point is active (`null` for a quantity without one), 404 when none is.
//! - **Modbus TCP** (port 8502 by default): holding registers 1000 (bspP now), 1100 (bspP
//!   next), 2000 (bspQ now), 2100 (bspQ next), each an IEEE 754 float in kW or kvar over two
//!   registers, high word first, NaN without a set point ([`registers`]).
//! - **Measurements** go to the BAL on `platone/bal/devices/{device}/cim`: a signed
//!   MeterReadings document per reading (every second by default), whose power follows the
//!   active set point, kept in a bounded disk buffer until the broker acknowledged it
//!   ([`bal`](BalSide) and [`buffer`](Outbox) say how).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use platone_bus::{Bus, MemoryBus, Message, QoS, Publisher, Subscriber, TopicFilter};
//! use platone_model::{DeviceId, MeasurementKind, PodId, SetPoint, Unit};
//! use platone_sim::lightnode::{LightNode, SetPointBoard, SetPointTopics};
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let bus = Arc::new(MemoryBus::new());
//! let pod = PodId::new("POD-1")?;
//! let node = LightNode {
//!     device: DeviceId::new("ln-1")?,
//!     topics: SetPointTopics::default(),
//!     board: Arc::new(Mutex::new(SetPointBoard::new(pod.clone()))),
//! };
//! let mut acks = bus.subscribe(TopicFilter::new("platone/dsotp/setpoints/POD-1/ack")?, QoS::AtLeastOnce).await?;
//! let running = { let (node, bus) = (node.clone(), bus.clone()); tokio::spawn(async move { node.run(bus).await }) };
//! # tokio::time::sleep(std::time::Duration::from_millis(50)).await;
//! let now = chrono::Utc::now().fixed_offset();
//! let mut sp = SetPoint::new("sp-1", DeviceId::new("ln-1")?, MeasurementKind::Power, Unit::Watt,
//!     -2500.0, now - chrono::TimeDelta::minutes(1), now + chrono::TimeDelta::minutes(14))?;
//! sp.pod = Some(pod);
//! bus.publish(Message::new("platone/dsotp/setpoints/POD-1", serde_json::to_vec(&sp)?), QoS::AtLeastOnce).await?;
//! let ack: serde_json::Value = serde_json::from_slice(&acks.next_delivery().await.unwrap().message.payload)?;
//! assert_eq!((ack["set_point"].as_str(), ack["outcome"].as_str()), (Some("sp-1"), Some("accepted")));
//! let targets = node.board.lock().unwrap().ems(&chrono::Utc::now().fixed_offset()).unwrap();
//! assert_eq!(targets.bsp_p, Some(-2.5));
//! # running.abort();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bal;
mod board;
pub mod buffer;
mod ems;
mod node;

pub use bal::{BAL_DEVICE_PREFIX, BalSide, DEFAULT_INTERVAL, OUTAGE, SharedOutbox};
pub use board::{BspQuantity, EmsTargets, RegisterRefusal, SetPointBoard, registers};
pub use buffer::{Outbox, OutboxConfig, OutboxRecord, OutboxStats};
pub use ems::{ModbusEms, SharedBoard, http_router, serve_http, serve_modbus};
pub use node::{DEAD_LETTER_PREFIX, LightNode, SET_POINT_PREFIX, SetPointTopics};

/// The EMS interface's HTTP port in the PGUI specification.
pub const DEFAULT_HTTP_PORT: u16 = 8000;
/// The EMS interface's Modbus TCP port in the PGUI specification.
pub const DEFAULT_MODBUS_PORT: u16 = 8502;
