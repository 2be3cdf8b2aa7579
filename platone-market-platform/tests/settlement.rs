//! Settlement through the platform on the USEF worked example
//! (`../shared/reference/market/usef_settlement_example.csv`: baseline 10 MW, 2 MW ordered at
//! 7 EUR/MW, penalty 11 EUR/MW, allocations 7 to 11 MW): five aggregators' offers of 2 MW at
//! 7 EUR/MW, all accepted, each metered at one of the example's allocations, give the
//! example's delivered flexibility, deficiency, payment and settlement; tokens are minted for
//! what was delivered, and a restart keeps the balances. And the gate-closure pipeline runs
//! once when the clock and the operator close a session at the same time.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use platone_market::MarketRole;
use platone_market_platform::settlement::{
    BaselineDeclaration, DeclaredBaseline, MeteredValue, Penalty, SettlementInput,
};
use platone_market_platform::{Caller, LineLoading, MarketPlatform, SessionStatus, SqliteStore};
use serde_json::json;

fn caller(who: &str, role: MarketRole) -> Caller {
    Caller {
        participant: who.into(),
        roles: vec![role],
    }
}

fn open(dir: &std::path::Path) -> MarketPlatform {
    let ledger = Arc::new(platone_certify::FileLedger::open(dir.join("ledger")).unwrap());
    MarketPlatform::open(
        Arc::new(SqliteStore::open(&dir.join("market.db")).unwrap()),
        ledger,
        Arc::new(LineLoading::default()),
    )
    .unwrap()
}

#[tokio::test]
async fn the_usef_worked_example_settles_through_the_platform() {
    let Some(reference) = platone_testkit::reference_dir("the_usef_worked_example_settles") else {
        return;
    };
    let text =
        std::fs::read_to_string(reference.join("market/usef_settlement_example.csv")).unwrap();
    // allocation, realised, delivered, paid, deviation, deficiency, penalty, settlement
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("allocation"))
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 5);

    let dir = tempfile::tempdir().unwrap();
    let platform = open(dir.path());
    let operator = caller("mo", MarketRole::MarketOperator);
    let spec = serde_json::from_value(json!({
        "id": "da-usef", "kind": "day-ahead", "slots": ["t1"], "algorithm": "pay-as-bid",
        "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339(),
    }))
    .unwrap();
    platform.create_session(&operator, spec).unwrap();
    let dso = caller("dso-1", MarketRole::Dso);
    let request = json!({"id": "r1", "location": "n1", "direction": "up", "slot": "t1",
                         "quantity": 10.0, "price": 50.0});
    platform
        .submit(&dso, "da-usef", false, vec![request])
        .unwrap();
    for i in 0..rows.len() {
        let aggregator = caller(&format!("agg-{i}"), MarketRole::Aggregator);
        let offer = json!({"id": format!("o{i}"), "location": "n1", "direction": "up",
                           "slot": "t1", "quantity": 2.0, "price": 7.0});
        platform
            .submit(&aggregator, "da-usef", true, vec![offer])
            .unwrap();
    }
    platform.close_as(&operator, "da-usef").await.unwrap();

    // Settling before every baseline is known is refused, naming the offer.
    let metered: Vec<MeteredValue> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| MeteredValue {
            order: format!("o{i}"),
            actual: row[0],
            baseline: None,
        })
        .collect();
    let input = SettlementInput {
        metered: metered.clone(),
        from_scd: None,
        penalty: Penalty::Fixed(11.0),
        tokens_per_unit: 1.0,
    };
    let e = platform
        .settle(&operator, "da-usef", input.clone())
        .unwrap_err();
    assert!(e.to_string().contains("metered[0].baseline"), "{e}");
    // Each aggregator declares its own baseline, and only its own.
    let declare = |order: &str| BaselineDeclaration {
        baselines: vec![DeclaredBaseline {
            order: order.into(),
            baseline: 10.0,
        }],
    };
    let other = platform.declare_baselines(
        &caller("agg-0", MarketRole::Aggregator),
        "da-usef",
        declare("o1"),
    );
    assert!(other.is_err(), "another aggregator's offer");
    for i in 0..rows.len() {
        let aggregator = caller(&format!("agg-{i}"), MarketRole::Aggregator);
        platform
            .declare_baselines(&aggregator, "da-usef", declare(&format!("o{i}")))
            .unwrap();
    }
    assert!(
        platform.settle(&dso, "da-usef", input.clone()).is_err(),
        "only the operator settles"
    );
    platform.settle(&operator, "da-usef", input).unwrap();
    assert_eq!(
        platform.session("da-usef").unwrap().status,
        SessionStatus::Settled
    );

    let report = platform.settlement(&dso, "da-usef").unwrap();
    assert_eq!(report.settlements.len(), 5);
    for (i, row) in rows.iter().enumerate() {
        let s = &report.settlements[i].settlement;
        assert_eq!(s.order, format!("o{i}"));
        let got = [
            s.actual,
            s.flex_realized,
            s.delivered,
            s.flex_paid,
            s.baseline_deviation,
            s.deficiency,
            s.penalty,
            s.settlement,
        ];
        for (g, want) in got.iter().zip(row) {
            assert!((g - want).abs() < 1e-9, "row {i}: {got:?} != {row:?}");
        }
        // One token (100 base units) per MW delivered.
        assert_eq!(report.settlements[i].tokens, (row[2] * 100.0) as u64);
    }
    // An aggregator sees its own settlement and balance.
    let own = platform
        .settlement(&caller("agg-1", MarketRole::Aggregator), "da-usef")
        .unwrap();
    assert_eq!(own.settlements.len(), 1);
    assert_eq!(own.balance, 200);

    // The balances outlive a restart.
    drop(platform);
    let platform = open(dir.path());
    let again = platform
        .settlement(&caller("agg-2", MarketRole::Aggregator), "da-usef")
        .unwrap();
    assert_eq!(again.balance, 100, "1 MW delivered");
    let audit = platform.audit_trail(&operator, "da-usef").unwrap();
    let events: Vec<&str> = audit.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events.last(), Some(&"settled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_and_the_operator_closing_at_once_run_one_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let platform = open(dir.path());
    let operator = caller("mo", MarketRole::MarketOperator);
    let spec = serde_json::from_value(json!({
        "id": "race", "kind": "day-ahead", "slots": ["t1"],
        "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339(),
    }))
    .unwrap();
    platform.create_session(&operator, spec).unwrap();
    let offers: Vec<_> = (0..2000)
        .map(|i| {
            json!({"id": format!("o{i}"), "location": "n1", "direction": "up",
                        "slot": "t1", "quantity": 1.0, "price": 7.0})
        })
        .collect();
    platform
        .submit(
            &caller("agg-1", MarketRole::Aggregator),
            "race",
            true,
            offers,
        )
        .unwrap();
    let (a, b) = tokio::join!(
        platform.close_as(&operator, "race"),
        platform.close("scheduler", "race")
    );
    // One of them ran the pipeline; the other was told it is running (or found it done).
    let published = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert!(published >= 1, "{a:?} {b:?}");
    for e in [&a, &b].into_iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            e.to_string().contains("running") || e.to_string().contains("published"),
            "{e}"
        );
    }
    let audit = platform.audit_trail(&operator, "race").unwrap();
    let registered = audit.iter().filter(|e| e.event == "registered").count();
    assert_eq!(registered, 1, "{audit:?}");
}
