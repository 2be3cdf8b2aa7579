//! Sessions opened from the schedule, and unmatched day-ahead offers carried over into
//! real-time sessions without being awarded twice.

mod common;

use std::sync::Arc;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use common::{caller, operator};
use platone_certify::FileLedger;
use platone_market::MarketRole;
use platone_market_platform::schedule::{MarketSchedule, slot_name};
use platone_market_platform::{
    LineLoading, MarketPlatform, PlatformError, SessionKind, SessionStatus, SqliteStore,
    carried_offer_id,
};
use serde_json::{Value, json};

fn platform(dir: &std::path::Path) -> MarketPlatform {
    let ledger = Arc::new(FileLedger::open(dir.join("ledger")).unwrap());
    MarketPlatform::open(
        Arc::new(SqliteStore::in_memory().unwrap()),
        ledger,
        Arc::new(LineLoading::default()),
    )
    .unwrap()
}

fn slots(from: DateTime<Utc>, minutes: i64, count: i64) -> Vec<String> {
    (0..count)
        .map(|i| slot_name(from + TimeDelta::minutes(minutes * i)))
        .collect()
}

fn open(platform: &MarketPlatform, id: &str, kind: &str, slots: Vec<String>, minutes: u32) {
    let spec = json!({"id": id, "kind": kind, "slots": slots, "slot_minutes": minutes,
        "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339()});
    platform
        .create_session(&operator(), serde_json::from_value(spec).unwrap())
        .unwrap();
}

fn request(platform: &MarketPlatform, session: &str, id: &str, slot: &str, quantity: f64) {
    platform
        .submit(
            &caller("dso-1", MarketRole::Dso),
            session,
            false,
            vec![
                json!({"id": id, "location": "n1", "direction": "up", "slot": slot,
                "quantity": quantity, "price": 50.0}),
            ],
        )
        .unwrap();
}

fn offered(platform: &MarketPlatform, session: &str) -> Vec<(String, f64)> {
    platform
        .orders(&operator(), session)
        .unwrap()
        .into_iter()
        .filter_map(|o| match serde_json::to_value(&o).unwrap() {
            v if v["kind"] == "offer" => Some((
                v["order"]["id"].as_str().unwrap().to_owned(),
                v["order"]["quantity"].as_f64().unwrap(),
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_time_sessions_take_over_what_day_ahead_left_and_nothing_is_awarded_twice() {
    let dir = tempfile::tempdir().unwrap();
    let p = platform(dir.path());
    let hour = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap() + TimeDelta::hours(2);
    let da_slots = slots(hour, 60, 2);
    open(&p, "da-x", "day-ahead", da_slots.clone(), 60);
    request(&p, "da-x", "r1", &da_slots[0], 1.0);
    let offers: Vec<Value> = vec![
        json!({"id": "o1", "location": "n1", "direction": "up", "slot": da_slots[0],
               "quantity": 3.0, "price": 10.0}),
        json!({"id": "o2", "location": "n1", "direction": "up", "slot": da_slots[1],
               "quantity": 1.0, "price": 5.0, "block": "b"}),
    ];
    p.submit(
        &caller("agg-1", MarketRole::Aggregator),
        "da-x",
        true,
        offers,
    )
    .unwrap();
    // Until day-ahead is published, nothing is carried.
    let rt1_slots = slots(hour, 15, 4);
    open(&p, "rt-1", "real-time", rt1_slots.clone(), 15);
    assert_eq!(p.carry_over(Utc::now()).unwrap(), 0);
    p.close_as(&operator(), "da-x").await.unwrap();
    assert_eq!(p.session("da-x").unwrap().status, SessionStatus::Published);

    // o1 was awarded 1 of 3: 2 carried into each quarter hour of its hour; the block offer o2
    // is not carried.
    assert_eq!(p.carry_over(Utc::now()).unwrap(), 4);
    let carried = offered(&p, "rt-1");
    assert_eq!(carried.len(), 4);
    for (slot, (id, quantity)) in rt1_slots.iter().zip(&carried) {
        assert_eq!(*id, carried_offer_id("da-x", "o1", slot));
        assert_eq!(*quantity, 2.0);
    }
    // The copies are the aggregator's orders.
    assert_eq!(
        p.orders(&caller("agg-1", MarketRole::Aggregator), "rt-1")
            .unwrap()
            .len(),
        4
    );
    let trail = p.audit_trail(&operator(), "rt-1").unwrap();
    let entry = trail.iter().find(|e| e.event == "carried-over").unwrap();
    assert_eq!(entry.detail, "4 unmatched day-ahead offers of da-x");
    assert_eq!(p.carry_over(Utc::now()).unwrap(), 0, "carried once");

    // A second real-time session over the last half hour and the next: the copies of the
    // last half hour wait for rt-1's result; the next hour holds only the block offer.
    let rt2_slots = slots(hour + TimeDelta::minutes(30), 15, 4);
    open(&p, "rt-2", "real-time", rt2_slots.clone(), 15);
    assert_eq!(p.carry_over(Utc::now()).unwrap(), 0);

    // rt-1 awards 0.5 of the copy at :30.
    request(&p, "rt-1", "r2", &rt1_slots[2], 0.5);
    p.close_as(&operator(), "rt-1").await.unwrap();
    let outcome = p.outcome(&operator(), "rt-1").unwrap();
    assert_eq!(
        outcome
            .result
            .offer_quantity(&carried_offer_id("da-x", "o1", &rt1_slots[2])),
        0.5
    );
    // What is left of each copy moves on to rt-2.
    assert_eq!(p.carry_over(Utc::now()).unwrap(), 2);
    let moved = offered(&p, "rt-2");
    assert_eq!(
        moved,
        vec![
            (carried_offer_id("da-x", "o1", &rt2_slots[0]), 1.5),
            (carried_offer_id("da-x", "o1", &rt2_slots[1]), 2.0),
        ]
    );
}

#[test]
fn participants_may_not_use_the_carried_offers_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = platform(dir.path());
    open(
        &p,
        "da-y",
        "day-ahead",
        slots(Utc::now() + TimeDelta::hours(3), 60, 1),
        60,
    );
    let slot = p.session("da-y").unwrap().spec.slots[0].clone();
    let e = p
        .submit(
            &caller("agg-1", MarketRole::Aggregator),
            "da-y",
            true,
            vec![
                json!({"id": "da-x/o1@t", "location": "n1", "direction": "up",
                "slot": slot, "quantity": 1.0, "price": 1.0}),
            ],
        )
        .unwrap_err();
    match e {
        PlatformError::Invalid { at, message } => {
            assert_eq!(at, "orders[0].id");
            assert!(message.contains("carried over"), "{message}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn timed_slots_must_follow_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let p = platform(dir.path());
    let start = Utc::now() + TimeDelta::hours(3);
    let mut names = slots(start, 60, 3);
    names.swap(1, 2);
    let spec = json!({"kind": "day-ahead", "slots": names, "slot_minutes": 60,
        "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339()});
    let e = p
        .create_session(&operator(), serde_json::from_value(spec).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("slots[1]: "), "{e}");
    assert!(
        e.contains("does not follow the previous slot by 60 minutes"),
        "{e}"
    );
}

#[test]
fn the_schedule_opens_its_sessions_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = platform(dir.path());
    let schedule: MarketSchedule = toml::from_str(
        "time_zone = \"Europe/Rome\"\n[day_ahead]\ngate_closure = \"12:00\"\n\
         [real_time]\nevery_minutes = 15\n",
    )
    .unwrap();
    let now = Utc::now();
    let opened = p.open_scheduled(&schedule, None, now).unwrap();
    assert_eq!(opened.len(), 2);
    assert_eq!(opened[0].spec.kind, SessionKind::DayAhead);
    assert!(opened[0].id.starts_with("da-"));
    assert_eq!(opened[0].created_by, "scheduler");
    assert!(opened[0].spec.gate_closure > now);
    assert!((23..=25).contains(&opened[0].spec.slots.len()));
    assert_eq!(opened[1].spec.kind, SessionKind::RealTime);
    assert!(opened[1].spec.gate_closure > now);
    assert!(opened[1].spec.gate_closure <= now + TimeDelta::minutes(15));
    assert_eq!(opened[1].spec.slots.len(), 16);
    assert!(p.open_scheduled(&schedule, None, now).unwrap().is_empty());
    let trail = p.audit_trail(&operator(), &opened[1].id).unwrap();
    assert_eq!(trail[0].actor, "scheduler");
    assert_eq!(trail[0].event, "opened");
}
