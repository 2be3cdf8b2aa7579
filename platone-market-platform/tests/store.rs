//! The platform's stores: SQLite and a real PostgreSQL server (platone-testkit's throwaway
//! server, feature `postgres`) keep the same contract — conflicts, all-or-none orders,
//! order of sessions, orders and audit entries, everything read back by a platform reopened
//! on the database; a database that goes down makes calls fail as unavailable (503) and the
//! platform goes on once it is back; orders a failed call kept after all are not lost.

mod common;

use std::sync::{Arc, Mutex};

use chrono::{TimeDelta, Utc};
use common::{caller, operator};
use platone_market::MarketRole;
use platone_market_platform::outcome::Outcome;
use platone_market_platform::session::AuditEntry;
use platone_market_platform::{
    LineLoading, MarketPlatform, PlatformError, PlatformStore, Session, SqliteStore, StoredOrder,
};
use serde_json::{Value, json};

fn ledger() -> (Arc<platone_certify::FileLedger>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = platone_certify::FileLedger::open(dir.path().join("ledger")).unwrap();
    (Arc::new(ledger), dir)
}

fn open(
    store: Arc<dyn PlatformStore>,
    ledger: &Arc<platone_certify::FileLedger>,
) -> MarketPlatform {
    MarketPlatform::open(store, ledger.clone(), Arc::new(LineLoading::default())).unwrap()
}

fn spec(id: &str) -> platone_market_platform::SessionSpec {
    serde_json::from_value(json!({
        "id": id, "kind": "day-ahead", "slots": ["t1"],
        "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339(),
    }))
    .unwrap()
}

fn order(id: &str, quantity: f64, price: f64) -> Value {
    json!({"id": id, "location": "n5", "direction": "up", "slot": "t1",
           "quantity": quantity, "price": price})
}

fn aggregator() -> platone_market_platform::Caller {
    caller("agg-1", MarketRole::Aggregator)
}

fn events(trail: &[AuditEntry]) -> Vec<&str> {
    trail.iter().map(|e| e.event.as_str()).collect()
}

/// The contract of `PlatformStore`, on `store`.
async fn keeps_the_contract(store: Arc<dyn PlatformStore>) {
    let (ledger, _dir) = ledger();
    let platform = open(store.clone(), &ledger);
    let first = platform.create_session(&operator(), spec("da-1")).unwrap();
    platform.create_session(&operator(), spec("da-2")).unwrap();
    assert!(
        matches!(
            store.create_session(&first),
            Err(PlatformError::Conflict { .. })
        ),
        "the same session twice"
    );
    let ids: Vec<String> = store
        .sessions()
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["da-1", "da-2"], "sessions in creation order");

    platform
        .submit(
            &caller("dso-1", MarketRole::Dso),
            "da-1",
            false,
            vec![order("r1", 2.0, 50.0)],
        )
        .unwrap();
    platform
        .submit(
            &aggregator(),
            "da-1",
            true,
            vec![order("o1", 1.5, 20.0), order("o2", 1.0, 30.0)],
        )
        .unwrap();
    let stored = store.orders("da-1").unwrap();
    let sequences: Vec<u64> = stored.iter().map(|o| o.sequence).collect();
    assert_eq!(sequences, [0, 1, 2]);
    assert!(store.orders("da-2").unwrap().is_empty());

    // All or none: a batch with one order at a taken sequence stores nothing.
    let mut fresh = stored[2].clone();
    fresh.sequence = 3;
    let taken = stored[0].clone();
    assert!(store.add_orders("da-1", &[fresh, taken]).is_err());
    assert_eq!(
        store.orders("da-1").unwrap(),
        stored,
        "nothing of the batch"
    );

    assert_eq!(store.outcome("da-1").unwrap(), None);
    platform.close_as(&operator(), "da-1").await.unwrap();
    let outcome: Outcome = store.outcome("da-1").unwrap().unwrap();
    assert_eq!(outcome.result.volume, 1.5 + 0.5);
    assert_eq!(store.outcome("da-2").unwrap(), None);
    assert_eq!(
        events(&store.audit_trail("da-1").unwrap()),
        [
            "opened",
            "closed",
            "cleared",
            "validated",
            "registered",
            "published"
        ]
    );
    assert_eq!(events(&store.audit_trail("da-2").unwrap()), ["opened"]);

    // A platform reopened on the store finds everything.
    let reopened = open(store.clone(), &ledger);
    assert_eq!(reopened.sessions().unwrap(), platform.sessions().unwrap());
    assert_eq!(
        reopened.award(&aggregator(), "da-1", "o1").unwrap(),
        platform.award(&aggregator(), "da-1", "o1").unwrap()
    );
    let sessions: Vec<Session> = store.sessions().unwrap();
    assert_eq!(
        sessions[0].status,
        platone_market_platform::SessionStatus::Published
    );
    store.check().unwrap();
}

/// Intakes from many threads at once (each offering the same ids): every id is taken once,
/// every order answered is stored, and the clearing has them all.
async fn takes_concurrent_intakes(store: Arc<dyn PlatformStore>) {
    let (ledger, _dir) = ledger();
    let platform = open(store.clone(), &ledger);
    platform.create_session(&operator(), spec("da-1")).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let platform = platform.clone();
            std::thread::spawn(move || {
                let mut taken = Vec::new();
                for i in 0..50 {
                    let id = format!("o{i}");
                    match platform.submit(
                        &aggregator(),
                        "da-1",
                        true,
                        vec![order(&id, 0.1, 20.0 + f64::from(t))],
                    ) {
                        Ok(stored) => taken.push(stored[0].clone()),
                        Err(e) => assert!(e.to_string().contains("duplicate id"), "{e}"),
                    }
                }
                taken
            })
        })
        .collect();
    let mut taken: Vec<StoredOrder> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    taken.sort_by_key(|o| o.sequence);
    assert_eq!(taken.len(), 50, "each id once");
    assert_eq!(
        store.orders("da-1").unwrap(),
        taken,
        "every answered order stored"
    );
    let sequences: Vec<u64> = taken.iter().map(|o| o.sequence).collect();
    assert_eq!(sequences, (0..50).collect::<Vec<u64>>());
    platform
        .submit(
            &caller("dso-1", MarketRole::Dso),
            "da-1",
            false,
            vec![order("r1", 100.0, 500.0)],
        )
        .unwrap();
    platform.close_as(&operator(), "da-1").await.unwrap();
    let award = platform
        .award(&caller("dso-1", MarketRole::Dso), "da-1", "r1")
        .unwrap();
    assert!(
        (award.award.quantity - 5.0).abs() < 1e-9,
        "all 50 offers of 0.1 cleared: {award:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_takes_concurrent_intakes() {
    let dir = tempfile::tempdir().unwrap();
    takes_concurrent_intakes(Arc::new(
        SqliteStore::open(&dir.path().join("market.db")).unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_the_contract() {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    assert_eq!(store.name(), "sqlite::memory:");
    keeps_the_contract(store).await;
}

/// A store that keeps the first orders it is given and reports a failure all the same, as
/// when the connection drops during the commit.
struct LostAcknowledgement {
    inner: SqliteStore,
    failed: Mutex<bool>,
}

impl PlatformStore for LostAcknowledgement {
    fn name(&self) -> String {
        "lost-acknowledgement".into()
    }
    fn create_session(&self, session: &Session) -> platone_market_platform::Result<()> {
        self.inner.create_session(session)
    }
    fn update_session(&self, session: &Session) -> platone_market_platform::Result<()> {
        self.inner.update_session(session)
    }
    fn sessions(&self) -> platone_market_platform::Result<Vec<Session>> {
        self.inner.sessions()
    }
    fn add_orders(
        &self,
        session: &str,
        orders: &[StoredOrder],
    ) -> platone_market_platform::Result<()> {
        self.inner.add_orders(session, orders)?;
        let mut failed = self.failed.lock().unwrap();
        if *failed {
            return Ok(());
        }
        *failed = true;
        Err(PlatformError::StoreUnavailable(
            "the connection dropped during the commit".into(),
        ))
    }
    fn orders(&self, session: &str) -> platone_market_platform::Result<Vec<StoredOrder>> {
        self.inner.orders(session)
    }
    fn put_outcome(&self, session: &str, outcome: &Outcome) -> platone_market_platform::Result<()> {
        self.inner.put_outcome(session, outcome)
    }
    fn outcome(&self, session: &str) -> platone_market_platform::Result<Option<Outcome>> {
        self.inner.outcome(session)
    }
    fn audit(&self, entry: &AuditEntry) -> platone_market_platform::Result<()> {
        self.inner.audit(entry)
    }
    fn audit_trail(&self, session: &str) -> platone_market_platform::Result<Vec<AuditEntry>> {
        self.inner.audit_trail(session)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_a_failed_call_kept_after_all_are_read_back_not_lost() {
    let (ledger, _dir) = ledger();
    let store = Arc::new(LostAcknowledgement {
        inner: SqliteStore::in_memory().unwrap(),
        failed: Mutex::new(false),
    });
    let platform = open(store.clone(), &ledger);
    platform.create_session(&operator(), spec("da-1")).unwrap();
    let dso = caller("dso-1", MarketRole::Dso);
    let failure = platform
        .submit(&dso, "da-1", false, vec![order("r1", 2.0, 50.0)])
        .unwrap_err();
    assert_eq!(failure.problem().status, 503, "{failure}");
    // The request was kept: the same id again is a duplicate, the next order follows it.
    let again = platform
        .submit(&dso, "da-1", false, vec![order("r1", 2.0, 50.0)])
        .unwrap_err();
    assert!(again.to_string().contains("duplicate id"), "{again}");
    let next = platform
        .submit(&aggregator(), "da-1", true, vec![order("o1", 1.5, 20.0)])
        .unwrap();
    assert_eq!(next[0].sequence, 1);
    // And it is cleared at gate closure.
    platform.close_as(&operator(), "da-1").await.unwrap();
    let award = platform.award(&dso, "da-1", "r1").unwrap();
    assert_eq!(award.award.quantity, 1.5);
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::time::{Duration, Instant};

    use platone_market_platform::PostgresStore;
    use platone_testkit::{Durability, TempPostgres};

    use super::*;

    /// A throwaway PostgreSQL server and a database on it; the error names the Debian
    /// package when the server binaries are missing.
    fn database(name: &str) -> (TempPostgres, String) {
        let server = TempPostgres::start(Durability::Fast)
            .unwrap_or_else(|e| panic!("these tests need a PostgreSQL server: {e}"));
        let url = server.create_database(name).unwrap();
        (server, url)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgresql_keeps_the_contract() {
        let (server, url) = database("market");
        let store = Arc::new(PostgresStore::connect(&url).unwrap());
        assert_eq!(
            store.name(),
            format!("postgres://127.0.0.1:{}/market", server.port())
        );
        keeps_the_contract(store).await;
        // A second platform on the same database: the tables are there, and so is all.
        let again = platone_market_platform::open_store(&url).unwrap();
        assert_eq!(again.sessions().unwrap().len(), 2);
        assert_eq!(again.orders("da-1").unwrap().len(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgresql_takes_concurrent_intakes() {
        let (_server, url) = database("market");
        takes_concurrent_intakes(Arc::new(PostgresStore::connect(&url).unwrap())).await;
    }

    #[test]
    fn a_database_down_is_unavailable_and_the_platform_goes_on_once_it_is_back() {
        let (server, url) = database("market");
        let (ledger, _dir) = ledger();
        let store: Arc<dyn PlatformStore> = Arc::new(PostgresStore::connect(&url).unwrap());
        let platform = open(store.clone(), &ledger);
        platform.create_session(&operator(), spec("da-1")).unwrap();
        platform
            .submit(&aggregator(), "da-1", true, vec![order("o1", 1.0, 20.0)])
            .unwrap();

        server.stop().unwrap();
        let failure = platform
            .submit(&aggregator(), "da-1", true, vec![order("o2", 1.0, 21.0)])
            .unwrap_err();
        assert!(
            matches!(failure, PlatformError::StoreUnavailable(_)),
            "{failure}"
        );
        assert_eq!(failure.problem().status, 503);
        assert!(store.check().is_err(), "the check sees it down");

        server.restart().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let stored = loop {
            match platform.submit(&aggregator(), "da-1", true, vec![order("o2", 1.0, 21.0)]) {
                Ok(stored) => break stored,
                Err(e) => {
                    assert!(Instant::now() < deadline, "not back: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
        assert_eq!(stored[0].sequence, 1);
        store.check().unwrap();
        let reopened = open(Arc::new(PostgresStore::connect(&url).unwrap()), &ledger);
        let orders = reopened.orders(&operator(), "da-1").unwrap();
        let ids: Vec<&str> = orders.iter().map(|o| o.order.id()).collect();
        assert_eq!(ids, ["o1", "o2"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_api_answers_503_and_health_degraded_while_the_database_is_down() {
        let (db, url) = database("market");
        let dir = tempfile::tempdir().unwrap();
        let mut config = platone_market_platform::PlatformConfig {
            data: dir.path().join("data"),
            http: "127.0.0.1:0".parse().unwrap(),
            database: Some(url),
            ..Default::default()
        };
        config.api.clients = vec!["mo=mo-secret:market-operator".into()];
        config.api.requests_per_second = 0;
        // Plain HTTP on loopback: the store is what this test is about.
        config.api.insecure_http = true;
        let server = platone_market_platform::PlatformServer::start(config)
            .await
            .unwrap();
        let client = platone_service::ServiceClient::new(server.api_url(), None).unwrap();
        let token = client
            .access_token("mo", "mo-secret")
            .await
            .unwrap()
            .access_token;
        let health = || async { client.get("/health", None).await.unwrap().1 };
        assert_eq!(health().await["status"], "ok");
        let session = |id: &str| {
            json!({"id": id, "kind": "day-ahead", "slots": ["t1"],
                   "gate_closure": (Utc::now() + TimeDelta::hours(1)).to_rfc3339()})
        };

        db.stop().unwrap();
        let down = health().await;
        assert_eq!(down["status"], "degraded", "{down}");
        assert!(
            down["store_status"]
                .as_str()
                .unwrap()
                .starts_with("store unavailable"),
            "{down}"
        );
        let (status, problem) = client
            .post("/api/sessions", Some(&token), &session("da-1"))
            .await
            .unwrap();
        assert_eq!(
            (status.as_u16(), &problem["at"]),
            (503, &json!("store")),
            "{problem}"
        );

        db.restart().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while health().await["status"] != "ok" {
            assert!(Instant::now() < deadline, "{}", health().await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (status, created) = client
            .post("/api/sessions", Some(&token), &session("da-1"))
            .await
            .unwrap();
        assert_eq!(status.as_u16(), 201, "{created}");
        server.shutdown().await.unwrap();
    }

    #[test]
    fn a_database_that_is_not_there_is_a_clear_error() {
        let failure = PostgresStore::connect("postgres://nobody@127.0.0.1:1/market").unwrap_err();
        assert!(
            matches!(failure, PlatformError::StoreUnavailable(_)),
            "{failure}"
        );
        let failure = PostgresStore::connect("postgres://[").unwrap_err();
        assert!(
            matches!(&failure, PlatformError::Invalid { at, .. } if at == "database"),
            "{failure}"
        );
    }
}
