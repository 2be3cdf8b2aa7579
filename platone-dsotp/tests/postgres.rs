//! The time series in a real PostgreSQL server: what the databus carries is stored and read
//! back downsampled; while the database is down the recorder retries with back-pressure and
//! `/health` says `degraded`, and once it is back everything published meanwhile is stored,
//! nothing lost.
#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::time::Duration;

use platone_bus::{Bus, MemoryBus, Message, QoS};
use platone_dsotp::timeseries::SeriesQuery;
use platone_dsotp::{Dsotp, DsotpParts, DsotpTopics};
use platone_scd::{PostgresStore, Principal, Store};
use platone_testkit::{Durability, TempPostgres};

fn meter_message(second: u32) -> Message {
    let body = format!(
        r#"{{"device":"mtr-9","measurements":[{{"source":"mtr-9","timestamp":"2024-03-01T12:{:02}:{:02}Z","kind":"power","unit":"W","value":{second}}}]}}"#,
        second / 60,
        second % 60
    );
    Message::new("platone/dsotp/devices/mtr-9/cim", body)
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_delays_storage_and_loses_nothing() {
    let server = TempPostgres::start(Durability::Fast)
        .unwrap_or_else(|e| panic!("this test needs a PostgreSQL server: {e}"));
    let url = server.create_database("dsotp").unwrap();
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await.unwrap());
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let dsotp = Dsotp::start(DsotpParts {
        bus: bus.clone(),
        store: store.clone(),
        topics: DsotpTopics::default(),
        estimator: None,
        validation: None,
        dispatch: None,
    })
    .await
    .unwrap();

    for s in 0..60 {
        bus.publish(meter_message(s), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    wait_until("the first minute stored", || {
        dsotp.health().stored.inserted == 60
    })
    .await;

    server.stop().unwrap();
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move {
            for s in 60..120 {
                bus.publish(meter_message(s), QoS::AtLeastOnce)
                    .await
                    .unwrap();
            }
        })
    };
    wait_until("degraded while the database is down", || {
        dsotp.health().status == "degraded"
    })
    .await;
    let health = dsotp.health();
    assert!(health.timeseries.retries > 0);
    assert!(
        health
            .timeseries
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("store:")),
        "{health:?}"
    );
    assert_eq!(health.stored.inserted, 60);

    server.restart().unwrap();
    publisher.await.unwrap();
    wait_until("the second minute stored once the database is back", || {
        dsotp.health().stored.inserted == 120
    })
    .await;
    assert_eq!(dsotp.health().status, "ok");

    let query = SeriesQuery {
        device: Some("mtr-9".into()),
        every: Some(60),
        from: Some("2024-03-01T11:00:00Z".into()),
        to: Some("2024-03-01T13:00:00Z".into()),
        ..SeriesQuery::default()
    };
    let answer = serde_json::to_value(
        query
            .run(store.as_ref(), &Principal::Operator)
            .await
            .unwrap(),
    )
    .unwrap();
    let counts: Vec<u64> = answer["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["count"].as_u64().unwrap())
        .collect();
    // (start, end] minutes: 12:00:00 alone, then 60 each, the last 59.
    assert_eq!(counts.iter().sum::<u64>(), 120);
    assert_eq!(counts, [1, 60, 59]);
    dsotp.stop();
}
