//! SOGNO/LOCO JSON: the device message, the grouped output and the old flat form, and the
//! channel map that names PMU channels.
//!
//! Invariants: an accepted message written back as JSON reads back equal; its grouped and
//! flat forms and its conversion to measurements never panic, and the flat form reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platone_cim::pmu::channel_map::ChannelMap;
use platone_cim::pmu::sogno::{SognoFlat, SognoGrouped, SognoMessage};

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(message) = SognoMessage::from_json(text) {
        let json = message.to_json();
        match SognoMessage::from_json(&json) {
            Ok(back) => assert_eq!(back, message, "{json}"),
            Err(e) => panic!("a written message does not read back: {e}\n{json}"),
        }
        let _ = message.to_measurements();
        let _ = message.grouped();
        let _ = SognoMessage::from_flat(&message.flat());
    }
    if let Ok(grouped) = SognoGrouped::from_json(text) {
        let _ = serde_json::to_string(&grouped);
    }
    if let Ok(flat) = SognoFlat::from_json(text) {
        let _ = SognoMessage::from_flat(std::slice::from_ref(&flat));
    }
    let _ = ChannelMap::from_json(text);
});
