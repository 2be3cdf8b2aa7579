//! Scenario parsing: invalid scenarios give errors naming the order; arbitrary bytes never
//! panic; generated scenarios round-trip.

use platone_market::generate::{GeneratorConfig, generate};
use platone_market::{MarketError, Scenario};
use proptest::prelude::*;

fn with_orders(requests: &str, offers: &str, network: &str) -> String {
    format!(
        r#"{{"format":"platone-market-scenario/1","unit":"MW","slots":["t1","t2"],"requests":[{requests}],"offers":[{offers}]{network}}}"#
    )
}

const R1: &str = r#"{"id":"r1","participant":"dso-1","location":"n2","direction":"up","slot":"t1","quantity":1.0,"price":50}"#;
const NET: &str = r#","network":{"slack":"n1","buses":["n1","n2"],"branches":[{"id":"l1","from":"n1","to":"n2","x":0.1,"limit":5}]}"#;

fn error(text: &str) -> String {
    Scenario::from_json(text).unwrap_err().to_string()
}

#[test]
fn unknown_slot_names_the_order() {
    let e = error(&with_orders(
        R1,
        r#"{"id":"o7","participant":"a","location":"n2","direction":"up","slot":"t9","quantity":1,"price":1}"#,
        "",
    ));
    assert_eq!(e, r#"offer "o7": unknown slot "t9""#);
}

#[test]
fn unknown_bus_names_the_order() {
    let e = error(&with_orders(&R1.replace("n2", "n5"), "", NET));
    assert_eq!(e, r#"request "r1": unknown bus "n5""#);
}

#[test]
fn negative_quantity_names_the_order() {
    let e = error(&with_orders(
        R1,
        r#"{"id":"o2","participant":"a","location":"n2","direction":"up","slot":"t1","quantity":-0.5,"price":1}"#,
        "",
    ));
    assert_eq!(e, r#"offer "o2": quantity -0.5 must be > 0"#);
}

#[test]
fn duplicate_id_names_the_order() {
    let e = error(&with_orders(
        R1,
        r#"{"id":"r1","participant":"a","location":"n2","direction":"up","slot":"t1","quantity":1,"price":1}"#,
        "",
    ));
    assert_eq!(e, r#"offer "r1": duplicate id"#);
}

#[test]
fn blocks_no_request_can_balance_are_valid_scenarios() {
    // Up and down in the same slot, and a member no request asks for: well-formed, so valid
    // (clearing reports what cannot be accepted as a diagnostic).
    let up_and_down = with_orders(
        &format!(
            r#"{R1},{}"#,
            R1.replace("r1", "r2").replace("\"up\"", "\"down\"")
        ),
        r#"{"id":"o1","participant":"a","location":"n2","direction":"up","slot":"t1","quantity":1,"price":1,"block":"k1"},
           {"id":"o2","participant":"a","location":"n2","direction":"down","slot":"t1","quantity":1,"price":1,"block":"k1"}"#,
        "",
    );
    let unabsorbed = with_orders(
        R1,
        r#"{"id":"o1","participant":"a","location":"n2","direction":"up","slot":"t1","quantity":1,"price":1,"block":"k1"},
           {"id":"o2","participant":"a","location":"n2","direction":"down","slot":"t2","quantity":1,"price":1,"block":"k1"}"#,
        "",
    );
    for text in [up_and_down, unabsorbed] {
        let s = Scenario::from_json(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(s.book.blocks().len(), 1);
    }
    // An empty block id is still malformed.
    let e = error(&with_orders(
        R1,
        r#"{"id":"o1","participant":"a","location":"n2","direction":"up","slot":"t1","quantity":1,"price":1,"block":""}"#,
        "",
    ));
    assert_eq!(e, r#"offer "o1": empty block id"#);
}

#[test]
fn syntax_and_format_errors_say_where() {
    match Scenario::from_json("{\n  \"format\": 3") {
        Err(MarketError::Syntax { line, .. }) => assert_eq!(line, 2),
        other => panic!("{other:?}"),
    }
    let e = error(r#"{"format":"other/2","unit":"MW","slots":[]}"#);
    assert!(e.contains("other/2"), "{e}");
    let e = error(r#"{"format":"platone-market-scenario/1","unit":"MW","slots":[],"bogus":1}"#);
    assert!(e.contains("bogus"), "{e}");
    let e = error(&with_orders(
        R1,
        "",
        &NET.replace("\"limit\":5", "\"limit\":0"),
    ));
    assert!(e.contains("network.branches[0] (\"l1\").limit"), "{e}");
    let e = error(&with_orders(
        R1,
        "",
        r#","network":{"slack":"n1","buses":["n1","n2","n3"],"branches":[{"id":"l1","from":"n1","to":"n2","x":0.1,"limit":5}]}"#,
    ));
    assert!(e.contains("\"n3\" is not connected"), "{e}");
}

#[test]
fn generated_scenarios_round_trip() {
    for network in [None, Some(8)] {
        let s = generate(&GeneratorConfig {
            offers: 40,
            requests: 10,
            slots: 4,
            network,
            seed: 7,
            ..GeneratorConfig::default()
        })
        .unwrap();
        let again = Scenario::from_json(&s.to_json()).unwrap();
        assert_eq!(s.book, again.book);
        assert_eq!(s.network.is_some(), again.network.is_some());
        assert_eq!(again.to_json(), s.to_json());
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Scenario::from_slice(&bytes);
    }

    #[test]
    fn mutated_scenarios_never_panic(cut in 0usize..2000, byte in any::<u8>()) {
        let text = generate(&GeneratorConfig { offers: 6, requests: 3, slots: 2, network: Some(4), seed: 1, ..GeneratorConfig::default() }).unwrap().to_json();
        let mut bytes = text.into_bytes();
        let i = cut % bytes.len();
        bytes[i] = byte;
        let _ = Scenario::from_slice(&bytes);
        bytes.truncate(i);
        let _ = Scenario::from_slice(&bytes);
    }
}
