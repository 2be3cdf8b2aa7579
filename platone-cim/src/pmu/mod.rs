//! PMU data: IEEE C37.118.2 frames and SOGNO/LOCO JSON.
//!
//! - [`c37118`]: every C37.118.2 frame type (data, header, CFG-1, CFG-2, CFG-3 with fragments,
//!   command) in SYNC versions 1 to 3, decoded and encoded, CHK checked and produced; a
//!   configuration registry keyed by stream IDCODE; data frames decoded without allocation
//!   into a reusable [`c37118::DataFrame`].
//! - [`framer`]: cuts a TCP byte stream into frames, resynchronising after garbage or a bad CHK.
//! - [`pcap`]: frames out of classic pcap captures (TCP reassembled per flow, UDP whole).
//! - [`sogno`]: the SOGNO/LOCO JSON formats (device message, grouped output, old flat form).
//! - [`convert`] and [`channel_map`]: frames to [`platone_model::Measurement`]s and SOGNO JSON.
//! - [`json`]: the JSON view of decoded frames the `platone pmu` command prints.
//! - [`power`]: per-phase, three-phase and positive-sequence power from phasors.
//! - `client` (feature `pmu-client`, off by default: this crate reads and writes formats and
//!   opens no socket unless asked): a tokio client for real PMUs and PDCs over TCP. A simulated
//!   PMU/PDC to point it at is in the crate `platone-sim` (`pmu_server`).
//!
//! ```
//! use platone_cim::pmu::c37118::{Decoder, Decoded};
//! use platone_cim::pmu::framer::{Framer, FramerEvent};
//!
//! // The IEEE C37.118.2 Annex D configuration and data frames, as one byte stream.
//! let cfg2 = "aa3101c61e36448527f056071098000f4240000153746174696f6e2041202020202020201e36000400040003000156412020202020202020202020202020564220202020202020202020202020205643202020202020202020202020202049312020202020202020202020202020414e414c4f4731202020202020202020414e414c4f4732202020202020202020414e414c4f4733202020202020202020425245414b4552203120535441545553425245414b4552203220535441545553425245414b4552203320535441545553425245414b4552203420535441545553425245414b4552203520535441545553425245414b4552203620535441545553425245414b4552203720535441545553425245414b4552203820535441545553425245414b4552203920535441545553425245414b4552204120535441545553425245414b4552204220535441545553425245414b4552204320535441545553425245414b4552204420535441545553425245414b4552204520535441545553425245414b4552204620535441545553425245414b4552204720535441545553000df847000df847000df8470100b2d00000000101000001020000010000ffff00000016001ed5d1";
//! let data = "aa0100341e3644853600000041b10000392b0000e36ace7ce36a31830444000009c4000042c80000447a0000461c40003c12d43f";
//! let mut stream = Vec::new();
//! for hex in [cfg2, data] {
//!     for i in (0..hex.len()).step_by(2) {
//!         stream.push(u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
//!     }
//! }
//!
//! let mut framer = Framer::new();
//! framer.push(&stream);
//! let mut decoder = Decoder::new();
//! while let Some(event) = framer.next_event() {
//!     let FramerEvent::Frame { bytes, .. } = event else { unreachable!() };
//!     if let Decoded::Data(frame, config) = decoder.decode(&bytes)? {
//!         let pmu = &frame.pmus[0];
//!         assert_eq!(config.pmus[0].station, "Station A");
//!         assert!((pmu.frequency.unwrap() - 62.5).abs() < 1e-9); // 60 Hz + 2500 mHz
//!         let va = pmu.phasors[0].unwrap();
//!         assert!((va.magnitude() - 133_987.4).abs() < 1.0);
//!     }
//! }
//! # Ok::<(), platone_cim::pmu::PmuError>(())
//! ```

pub mod c37118;
pub mod channel_map;
#[cfg(feature = "pmu-client")]
pub mod client;
pub mod convert;
mod error;
pub mod framer;
pub mod json;
pub mod pcap;
pub mod power;
pub mod sogno;

pub use error::PmuError;
