//! A flexibility-market scenario file (orders, slots, optional DC network), parsed and
//! validated.
//!
//! Invariant: an accepted scenario written back reads back with the same order book and the
//! same JSON text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platone_market::Scenario;

fuzz_target!(|bytes: &[u8]| {
    let Ok(scenario) = Scenario::from_slice(bytes) else {
        return;
    };
    let json = scenario.to_json();
    match Scenario::from_json(&json) {
        Ok(back) => {
            assert_eq!(back.book, scenario.book, "{json}");
            assert_eq!(back.network.is_some(), scenario.network.is_some());
            assert_eq!(back.to_json(), json);
        }
        Err(e) => panic!("a written scenario does not read back: {e}\n{json}"),
    }
});
