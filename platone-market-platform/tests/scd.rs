//! The platform with a Shared Customer Database: orders' PoDs checked against its registry,
//! and a session settled from its metered data with an X-of-Y baseline computed from the
//! PoD's history.

mod common;

use std::sync::Arc;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use common::{caller, operator};
use platone_certify::FileLedger;
use platone_market::MarketRole;
use platone_market_platform::grid_data::{GridData, ScdGridData};
use platone_market_platform::schedule::slot_name;
use platone_market_platform::settlement::{BaselineSpec, ScdSettlement, SettlementInput};
use platone_market_platform::{LineLoading, MarketPlatform, PlatformError, SqliteStore};
use platone_model::{
    Accumulation, DeviceId, FlowDirection, Measurement, MeasurementKind, MeasuringPeriod,
    ParticipantId, PodId, Unit,
};
use platone_scd::{Backend, PodLink, PodRecord, Store};
use serde_json::json;

const POD: &str = "IT001E00000001";

/// 15-minute energy readings (Wh, import) of the PoD: `kw` kW from `from` for `quarters`.
fn readings(from: DateTime<Utc>, quarters: i64, kw: f64) -> Vec<Measurement> {
    (1..=quarters)
        .map(|i| {
            let end = from + TimeDelta::minutes(15 * i);
            Measurement::new(
                DeviceId::new("meter-1").unwrap(),
                end.fixed_offset(),
                MeasurementKind::Energy,
                Unit::WattHour,
                kw * 1000.0 / 4.0,
            )
            .unwrap()
            .with_pod(PodId::new(POD).unwrap())
            .with_direction(FlowDirection::Forward)
            .with_accumulation(Accumulation::Delta, Some(MeasuringPeriod::FIFTEEN_MINUTES))
        })
        .collect()
}

async fn scd(dir: &std::path::Path, slot: DateTime<Utc>) -> Arc<dyn Backend> {
    let store = platone_scd::SqliteStore::open(dir.join("scd.db"))
        .await
        .unwrap();
    store
        .register_pod(&PodRecord {
            pod: PodId::new(POD).unwrap(),
            dso: ParticipantId::new("dso-1").unwrap(),
            customer: None,
        })
        .await
        .unwrap();
    store
        .add_pod_link(&PodLink {
            pod: PodId::new(POD).unwrap(),
            meter: None,
            device: None,
            aggregator: Some(ParticipantId::new("agg-1").unwrap()),
            valid_from: (slot - TimeDelta::days(30)).fixed_offset(),
            valid_to: None,
        })
        .await
        .unwrap();
    // Five days of history at 10 kW around the slot's hour, then 8.5 kW during the slot.
    for day in 1..=5 {
        let from = slot - TimeDelta::days(day) - TimeDelta::hours(1);
        store
            .insert_measurements(&readings(from, 12, 10.0))
            .await
            .unwrap();
    }
    store
        .insert_measurements(&readings(slot, 4, 8.5))
        .await
        .unwrap();
    Arc::new(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_checked_and_a_session_settles_from_metered_data() {
    let dir = tempfile::tempdir().unwrap();
    // A delivery hour yesterday (the metered data is in); the gate closes in an hour.
    let slot = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap() - TimeDelta::days(1);
    let grid = ScdGridData::new(scd(dir.path(), slot).await);
    let ledger = Arc::new(FileLedger::open(dir.path().join("ledger")).unwrap());
    let platform = MarketPlatform::open(
        Arc::new(SqliteStore::in_memory().unwrap()),
        ledger,
        Arc::new(LineLoading::default()),
    )
    .unwrap()
    .with_grid_data(Arc::new(grid.clone()));
    let spec = json!({"id": "da-1", "kind": "day-ahead", "slots": [slot_name(slot)],
        "slot_minutes": 60, "unit": "kW",
        "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339()});
    platform
        .create_session(&operator(), serde_json::from_value(spec).unwrap())
        .unwrap();
    let order = |id: &str, location: &str, quantity: f64, price: f64| {
        vec![json!({"id": id, "location": location, "direction": "up",
            "slot": slot_name(slot), "quantity": quantity, "price": price})]
    };
    let refused = |e: PlatformError| match e {
        PlatformError::Invalid { at, message } => {
            assert_eq!(at, "orders[0].location");
            message
        }
        other => panic!("{other}"),
    };

    // The registry's checks, each naming the order.
    let m = refused(
        platform
            .submit_orders(
                &caller("dso-2", MarketRole::Dso),
                "da-1",
                false,
                order("r0", POD, 2.0, 50.0),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(
        m,
        format!("PoD {POD:?} is on the grid of dso-1, not of dso-2")
    );
    let m = refused(
        platform
            .submit_orders(
                &caller("agg-2", MarketRole::Aggregator),
                "da-1",
                true,
                order("o0", POD, 2.0, 20.0),
            )
            .await
            .unwrap_err(),
    );
    assert!(
        m.starts_with(&format!("agg-2 does not serve PoD {POD:?} at ")),
        "{m}"
    );
    let m = refused(
        platform
            .submit_orders(
                &caller("agg-1", MarketRole::Aggregator),
                "da-1",
                true,
                order("o0", "IT999", 2.0, 20.0),
            )
            .await
            .unwrap_err(),
    );
    assert!(m.contains("nor a PoD registered in the SCD"), "{m}");
    // A TSO may ask at any registered PoD.
    platform
        .submit_orders(
            &caller("tso-1", MarketRole::Tso),
            "da-1",
            false,
            order("r-tso", POD, 0.5, 40.0),
        )
        .await
        .unwrap();
    platform
        .submit_orders(
            &caller("dso-1", MarketRole::Dso),
            "da-1",
            false,
            order("r1", POD, 2.0, 50.0),
        )
        .await
        .unwrap();
    platform
        .submit_orders(
            &caller("agg-1", MarketRole::Aggregator),
            "da-1",
            true,
            order("o1", POD, 2.0, 20.0),
        )
        .await
        .unwrap();
    platform.close_as(&operator(), "da-1").await.unwrap();
    let outcome = platform.outcome(&operator(), "da-1").unwrap();
    assert_eq!(outcome.result.offer_quantity("o1"), 2.0);

    // The metered value is the slot's mean: 8.5 kW.
    let mean = grid.net_consumption(POD, slot, 60, 1).await.unwrap();
    assert_eq!(mean, vec![Some(8500.0)]);

    // Without a declared baseline nor a method, the offer is named.
    let input = || SettlementInput {
        metered: Vec::new(),
        from_scd: None,
        penalty: Default::default(),
        tokens_per_unit: 1.0,
    };
    let e = platform
        .settle_from_scd(&operator(), "da-1", &ScdSettlement::default(), input())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "from_scd.o1: no baseline declared and no baseline method given"
    );

    // 4 of 5 days at 10 kW: baseline 10, metered 8.5 → 1.5 of 2 delivered, 0.5 short.
    let settings = ScdSettlement {
        baseline: Some(BaselineSpec::XOfY {
            x: 4,
            y: 5,
            adjustment_intervals: None,
            adjustment_cap: None,
        }),
    };
    platform
        .settle_from_scd(&operator(), "da-1", &settings, input())
        .await
        .unwrap();
    let report = platform
        .settlement(&caller("agg-1", MarketRole::Aggregator), "da-1")
        .unwrap();
    let settled = &report.settlements[0];
    assert_eq!(settled.settlement.baseline, 10.0);
    assert_eq!(settled.settlement.actual, 8.5);
    assert_eq!(settled.settlement.delivered, 1.5);
    assert_eq!(settled.settlement.deficiency, 0.5);
    assert_eq!(settled.tokens, 150);
    assert_eq!(report.balance, 150);
}
