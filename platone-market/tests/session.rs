//! A session's life: Open → Closed → Cleared → Validated → Published → Settled, technical
//! validation removing red orders, and a real-time session reusing unmatched offers.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use platone_market::clearing::PayAsBid;
use platone_market::session::{MarketSession, SessionKind, SessionState};
use platone_market::settlement::{MeterReading, PenaltyRule};
use platone_market::validation::{AfterValidation, GridValidator, Light, LineLoadingValidator};
use platone_market::{
    Direction, FlexOffer, FlexRequest, MarketError, QuantityUnit, RequestRole, Scenario,
};

fn at(h: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2021-06-30T00:00:00Z")
        .unwrap()
        .to_utc()
        + Duration::hours(h)
}

fn request(id: &str, slot: usize, q: f64, p: f64) -> FlexRequest {
    FlexRequest {
        id: id.into(),
        participant: "dso-1".into(),
        role: Some(RequestRole::Dso),
        location: "z1".into(),
        direction: Direction::Up,
        slot,
        quantity: q,
        price: Some(p),
        arrival: None,
    }
}

fn offer(id: &str, slot: usize, q: f64, p: f64) -> FlexOffer {
    FlexOffer {
        id: id.into(),
        participant: "agg-1".into(),
        location: "z1".into(),
        direction: Direction::Up,
        slot,
        quantity: q,
        price: p,
        block: None,
        arrival: None,
    }
}

#[test]
fn day_ahead_lifecycle_and_real_time_reuse() {
    let mut s = MarketSession::new(
        "da-1",
        SessionKind::DayAhead,
        at(24),
        60,
        4,
        at(0),
        at(12),
        QuantityUnit::Mw,
        None,
    )
    .unwrap();
    assert_eq!(s.state(), SessionState::Open);
    s.submit_request(request("r1", 0, 2.0, 50.0), at(1))
        .unwrap();
    s.submit_offer(offer("o1", 0, 3.0, 10.0), at(2)).unwrap();
    s.submit_offer(offer("o2", 2, 1.0, 10.0), at(2)).unwrap();
    // Refusals: duplicate id, outside the gate, unknown slot.
    assert!(matches!(
        s.submit_offer(offer("o1", 0, 1.0, 1.0), at(3)),
        Err(MarketError::Gate { .. })
    ));
    assert!(s.submit_offer(offer("o9", 0, 1.0, 1.0), at(13)).is_err());
    assert!(s.submit_offer(offer("o9", 7, 1.0, 1.0), at(3)).is_err());
    // Wrong order of operations.
    assert!(s.clear(&PayAsBid::default()).is_err());
    assert!(s.close(at(11)).is_err());
    s.close(at(12)).unwrap();
    assert!(s.submit_offer(offer("o9", 0, 1.0, 1.0), at(12)).is_err());
    let r = s.clear(&PayAsBid::default()).unwrap();
    assert_eq!(r.offer_quantity("o1"), 2.0);
    assert!(s.publish().is_err());
    let verdicts = s
        .validate(&LineLoadingValidator::default(), &PayAsBid::default(), 3)
        .unwrap();
    assert!(verdicts.iter().all(|v| v.light == Light::Green));
    s.publish().unwrap();
    assert_eq!(s.state(), SessionState::Published);

    // Real time over slots 0..3 reuses the unmatched 1.0 of o1 and all of o2.
    let rt = s.real_time_from("rt-1", 0, 3, at(20), at(23)).unwrap();
    assert_eq!(rt.kind(), SessionKind::RealTime);
    let offers = &rt.scenario().book.offers;
    assert_eq!(offers.len(), 2);
    assert_eq!((offers[0].id.as_str(), offers[0].quantity), ("o1-rt", 1.0));
    assert_eq!((offers[1].id.as_str(), offers[1].slot), ("o2-rt", 2));

    let settled = s
        .settle(
            &[MeterReading {
                order: "o1".into(),
                baseline: 10.0,
                actual: 8.5,
            }],
            PenaltyRule::Fixed(11.0),
        )
        .unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].delivered, 1.5);
    assert_eq!(settled[0].settlement, 1.5 * 10.0 - 0.5 * 11.0);
    assert_eq!(s.state(), SessionState::Settled);
}

#[test]
fn validation_removes_red_orders_and_reclears() {
    let mut s = MarketSession::new(
        "da-2",
        SessionKind::DayAhead,
        at(24),
        60,
        1,
        at(0),
        at(12),
        QuantityUnit::Mw,
        None,
    )
    .unwrap();
    s.submit_request(request("r1", 0, 2.0, 50.0), at(1))
        .unwrap();
    s.submit_offer(offer("o1", 0, 2.0, 10.0), at(1)).unwrap();
    s.submit_offer(
        FlexOffer {
            location: "z2".into(),
            ..offer("o2", 0, 2.0, 20.0)
        },
        at(1),
    )
    .unwrap();
    s.submit_request(
        FlexRequest {
            location: "z2".into(),
            ..request("r2", 0, 1.0, 50.0)
        },
        at(1),
    )
    .unwrap();
    s.close(at(12)).unwrap();
    // Local requests take offers at their own location only.
    let same_bus = PayAsBid {
        config: platone_market::clearing::ClearingConfig {
            location_rule: Some(platone_market::LocationRule::SameBus),
            ..Default::default()
        },
    };
    s.clear(&same_bus).unwrap();
    // The DSO caps accepted flexibility at z1 to 1.5: o1 (2.0) goes red and is removed.
    let validator = LineLoadingValidator {
        area_limits: BTreeMap::from([("z1".to_string(), 1.5)]),
        ..LineLoadingValidator::default()
    };
    let first = validator.validate(s.scenario(), s.result().unwrap());
    assert!(
        first
            .iter()
            .any(|v| v.order == "o1" && v.light == Light::Red && v.reason.contains("area \"z1\""))
    );
    s.validate(&validator, &same_bus, 3).unwrap();
    let r = s.publish().unwrap();
    assert_eq!(r.offer_quantity("o1"), 0.0);
    assert_eq!(r.offer_quantity("o2"), 1.0);
}

#[test]
fn validation_without_reclear_keeps_what_remains() {
    let mut s = MarketSession::new(
        "da-3",
        SessionKind::DayAhead,
        at(24),
        60,
        1,
        at(0),
        at(12),
        QuantityUnit::Mw,
        None,
    )
    .unwrap();
    s.submit_request(request("r1", 0, 2.0, 50.0), at(1))
        .unwrap();
    s.submit_offer(offer("o1", 0, 1.0, 10.0), at(1)).unwrap();
    s.submit_offer(offer("o2", 0, 1.0, 20.0), at(1)).unwrap();
    s.submit_offer(offer("o3", 0, 1.0, 30.0), at(1)).unwrap();
    s.close(at(12)).unwrap();
    s.clear(&PayAsBid::default()).unwrap();
    // z1 may deliver 1.5: every accepted offer there (o1, o2) is red.
    let validator = LineLoadingValidator {
        area_limits: BTreeMap::from([("z1".to_string(), 1.5)]),
        curtail_areas: true,
        ..LineLoadingValidator::default()
    };
    // One round is not enough to check the pruned result: the session stays Cleared.
    assert!(
        s.validate_with(&validator, &PayAsBid::default(), AfterValidation::Keep, 1)
            .is_err()
    );
    assert_eq!(s.state(), SessionState::Cleared);
    assert_eq!(s.result().unwrap().offer_quantity("o1"), 1.0);
    s.validate_with(&validator, &PayAsBid::default(), AfterValidation::Keep, 3)
        .unwrap();
    // Curtailed to 0.75 each, nothing new (o3 stays out); r1 is served 1.5.
    let r = s.publish().unwrap();
    assert_eq!(r.offer_quantity("o1"), 0.75);
    assert_eq!(r.offer_quantity("o2"), 0.75);
    assert_eq!(r.offer_quantity("o3"), 0.0);
    assert_eq!(r.request_quantity("r1"), 1.5);
    assert_eq!(r.welfare, 1.5 * 50.0 - 0.75 * 10.0 - 0.75 * 20.0);
    assert_eq!(s.cuts().len(), 2);
    assert_eq!(s.scenario().book.offers[0].quantity, 0.75);
}

#[test]
fn line_loading_validator_flags_overloads() {
    let text = r#"{"format":"platone-market-scenario/1","unit":"MW","slots":["t1"],
      "requests":[{"id":"r1","participant":"tso-1","role":"tso","location":"n1","direction":"up","slot":"t1","quantity":2,"price":50}],
      "offers":[{"id":"o1","participant":"a","location":"n3","direction":"up","slot":"t1","quantity":2,"price":10}],
      "network":{"slack":"n1","buses":["n1","n2","n3"],
        "branches":[{"id":"l1","from":"n1","to":"n2","x":0.1,"limit":10},{"id":"l2","from":"n2","to":"n3","x":0.1,"limit":1}]}}"#;
    let scenario = Scenario::from_json(text).unwrap();
    // A hand-made result sending 2 over l2 (limit 1): the offer at n3 is red; the request at
    // the slack bus does not move any flow and stays green. 0.95 of the limit is amber.
    let mut result = platone_market::clearing::ClearingResult {
        algorithm: "manual".into(),
        location_rule: None,
        welfare: 80.0,
        volume: 2.0,
        accepted_offers: vec![platone_market::clearing::Accepted {
            id: "o1".into(),
            quantity: 2.0,
        }],
        accepted_requests: vec![platone_market::clearing::Accepted {
            id: "r1".into(),
            quantity: 2.0,
        }],
        matches: vec![],
        prices: BTreeMap::new(),
        diagnostics: Default::default(),
        solve_ms: 0.0,
    };
    let v = LineLoadingValidator::default().validate(&scenario, &result);
    assert_eq!(v.len(), 2);
    assert_eq!(
        (v[0].order.as_str(), v[0].light),
        ("o1", Light::Red),
        "{v:?}"
    );
    assert!(
        v[0].reason.contains("\"l2\"") && v[0].reason.contains("200.0%"),
        "{v:?}"
    );
    assert_eq!((v[1].order.as_str(), v[1].light), ("r1", Light::Green));
    result.accepted_offers[0].quantity = 0.95;
    result.accepted_requests[0].quantity = 0.95;
    let v = LineLoadingValidator::default().validate(&scenario, &result);
    assert_eq!(v[0].light, Light::Amber, "{v:?}");
}
