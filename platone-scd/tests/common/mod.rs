//! Helpers shared by the integration tests: stores on both backends and test data.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use platone_model::{
    Accumulation, DeviceId, FlowDirection, Measurement, MeasurementKind, MeasuringPeriod, MeterId,
    PodId, Timestamp, Unit, parse_timestamp,
};
#[cfg(feature = "postgres")]
use platone_scd::PostgresStore;
use platone_scd::SqliteStore;
use platone_testkit::{Durability, TempPostgres};

/// One PostgreSQL server per test binary, stopped when the binary exits.
pub fn server() -> &'static TempPostgres {
    static SERVER: OnceLock<TempPostgres> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = TempPostgres::start(Durability::Fast)
            .unwrap_or_else(|e| panic!("cannot start the test PostgreSQL server: {e}"));
        server.stop_when_process_exits().unwrap();
        server
    })
}

/// A fresh database on the shared server; returns its URL.
pub fn pg_database(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    server().create_database(&format!("t{n}_{name}")).unwrap()
}

#[cfg(feature = "postgres")]
pub async fn postgres(name: &str) -> (PostgresStore, String) {
    let url = pg_database(name);
    (PostgresStore::connect(&url).await.unwrap(), url)
}

pub async fn sqlite() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("scd.db")).await.unwrap();
    (store, dir)
}

pub fn t(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

/// `n` quarter-hour energy readings of one meter at one PoD, from `start`, values 1, 2, 3, …
pub fn quarter_hours(
    pod: &str,
    meter: &str,
    device: &str,
    start: &str,
    n: usize,
) -> Vec<Measurement> {
    let start = t(start);
    (0..n)
        .map(|i| {
            Measurement::new(
                DeviceId::new(device).unwrap(),
                start + chrono::Duration::minutes(15 * (i as i64 + 1)),
                MeasurementKind::Energy,
                Unit::WattHour,
                (i + 1) as f64,
            )
            .unwrap()
            .with_meter(MeterId::new(meter).unwrap())
            .with_pod(PodId::new(pod).unwrap())
            .with_direction(FlowDirection::Forward)
            .with_accumulation(Accumulation::Delta, Some(MeasuringPeriod::FIFTEEN_MINUTES))
        })
        .collect()
}

/// `n` distinct readings numbered from `first` (one device, one-second spacing).
pub fn numbered(device: &str, first: usize, n: usize) -> Vec<Measurement> {
    let start = t("2021-03-01T00:00:00Z");
    (first..first + n)
        .map(|i| {
            Measurement::new(
                DeviceId::new(device).unwrap(),
                start + chrono::Duration::seconds(i as i64),
                MeasurementKind::Power,
                Unit::Watt,
                i as f64,
            )
            .unwrap()
            .with_pod(PodId::new("pod-bulk").unwrap())
        })
        .collect()
}
