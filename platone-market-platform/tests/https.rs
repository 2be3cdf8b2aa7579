//! The Market Platform end to end over HTTPS with tokens of its embedded issuer: roles
//! enforced on every route, orders after gate closure refused, a restart between intake and
//! gate closure loses nothing, the clock clears at gate closure, and every award verifies
//! against the ledger alone.

use std::path::Path;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use platone_market_platform::{PlatformConfig, PlatformServer};
use platone_service::ServiceClient;
use platone_testkit::TestCa;
use serde_json::{Value, json};

const CLIENTS: &[&str] = &[
    "mo=mo-secret:market-operator",
    "dso-1=dso-secret:dso",
    "tso-1=tso-secret:tso",
    "agg-1=agg1-secret:aggregator",
    "agg-2=agg2-secret:aggregator",
];

fn config(dir: &Path, ca: &TestCa, http: &str, database: Option<&str>) -> PlatformConfig {
    let cert = ca.server_certificate("market").unwrap();
    let mut config = PlatformConfig {
        data: dir.join("data"),
        http: http.parse().unwrap(),
        database: database.map(str::to_owned),
        ..PlatformConfig::default()
    };
    config.api.clients = CLIENTS.iter().map(|c| (*c).to_owned()).collect();
    config.api.requests_per_second = 0;
    config.api.tls = Some(platone_service::TlsSettings {
        cert: cert.cert,
        key: cert.key,
        client_ca: None,
    });
    config
}

struct Participants {
    client: ServiceClient,
    tokens: std::collections::HashMap<&'static str, String>,
}

impl Participants {
    async fn of(server: &PlatformServer, ca: &TestCa) -> Participants {
        let client = ServiceClient::new(server.api_url(), Some(&ca.ca_file())).unwrap();
        let mut tokens = std::collections::HashMap::new();
        for (id, secret) in [
            ("mo", "mo-secret"),
            ("dso-1", "dso-secret"),
            ("tso-1", "tso-secret"),
            ("agg-1", "agg1-secret"),
            ("agg-2", "agg2-secret"),
        ] {
            let token = client.access_token(id, secret).await.unwrap().access_token;
            tokens.insert(id, token);
        }
        Participants { client, tokens }
    }

    async fn post(&self, who: &str, target: &str, body: Value) -> (u16, Value) {
        let (status, answer) = self
            .client
            .post(target, Some(&self.tokens[who]), &body)
            .await
            .unwrap();
        (status.as_u16(), answer)
    }

    async fn status(&self, who: &str, target: &str, body: Value) -> u16 {
        self.post(who, target, body).await.0
    }

    async fn get(&self, who: &str, target: &str) -> (u16, Value) {
        let (status, answer) = self
            .client
            .get(target, Some(&self.tokens[who]))
            .await
            .unwrap();
        (status.as_u16(), answer)
    }
}

fn request(id: &str, quantity: f64, price: f64) -> Value {
    json!({"id": id, "location": "n2", "direction": "up", "slot": "t1",
           "quantity": quantity, "price": price})
}

fn offer(id: &str, location: &str, quantity: f64, price: f64) -> Value {
    json!({"id": id, "location": location, "direction": "up", "slot": "t1",
           "quantity": quantity, "price": price})
}

fn network() -> Value {
    json!({"slack": "n1", "buses": ["n1", "n2", "n3"],
           "branches": [{"id": "l12", "from": "n1", "to": "n2", "x": 0.1, "limit": 50.0},
                        {"id": "l23", "from": "n2", "to": "n3", "x": 0.1, "limit": 50.0}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_from_intake_to_verified_awards_over_https() {
    from_intake_to_verified_awards(None).await;
}

/// The same with the platform's tables in a real PostgreSQL server (the restart included).
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_from_intake_to_verified_awards_on_postgresql() {
    let server = platone_testkit::TempPostgres::start(platone_testkit::Durability::Fast)
        .unwrap_or_else(|e| panic!("this test needs a PostgreSQL server: {e}"));
    let url = server.create_database("market").unwrap();
    from_intake_to_verified_awards(Some(&url)).await;
}

async fn from_intake_to_verified_awards(database: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "test-ca").unwrap();
    let server = PlatformServer::start(config(dir.path(), &ca, "127.0.0.1:0", database))
        .await
        .unwrap();
    let (_, health) = Participants::of(&server, &ca)
        .await
        .get("mo", "/health")
        .await;
    assert_eq!(health["store_status"], "ok", "{health}");
    assert_eq!(
        health["store"].as_str().unwrap().starts_with("postgres://"),
        database.is_some(),
        "{health}"
    );
    let p = Participants::of(&server, &ca).await;
    let gate = Utc::now() + TimeDelta::hours(1);
    let spec = json!({"id": "da-1", "kind": "day-ahead", "slots": ["t1", "t2"],
                      "gate_closure": gate.to_rfc3339(), "network": network()});

    // Only the operator opens sessions.
    let (status, problem) = p.post("dso-1", "/api/sessions", spec.clone()).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["status"], 403);
    let (status, session) = p.post("mo", "/api/sessions", spec.clone()).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["status"], "open");
    assert_eq!(session["algorithm"], "dso-first");
    assert_eq!(
        p.status("mo", "/api/sessions", spec).await,
        409,
        "the same id twice"
    );

    // Requests from DSOs and TSOs only, offers from aggregators only.
    assert_eq!(
        p.status(
            "agg-1",
            "/api/sessions/da-1/requests",
            request("r0", 1.0, 9.0)
        )
        .await,
        403
    );
    assert_eq!(
        p.status(
            "dso-1",
            "/api/sessions/da-1/offers",
            offer("o0", "n2", 1.0, 1.0)
        )
        .await,
        403
    );
    let (status, stored) = p
        .post(
            "dso-1",
            "/api/sessions/da-1/requests",
            request("r1", 3.0, 50.0),
        )
        .await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["orders"][0]["order"]["participant"], "dso-1");
    assert_eq!(stored["orders"][0]["order"]["role"], "dso");
    let bulk = json!({"orders": [offer("o1", "n2", 2.0, 20.0), offer("o2", "n3", 2.0, 25.0)]});
    let (status, stored) = p.post("agg-1", "/api/sessions/da-1/offers", bulk).await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["orders"].as_array().unwrap().len(), 2);
    // A bad order in a bulk: refused naming it, and nothing of the bulk is stored.
    let bad = json!({"orders": [offer("o3", "n3", 1.0, 30.0), offer("o4", "n9", 1.0, 30.0)]});
    let (status, problem) = p.post("agg-2", "/api/sessions/da-1/offers", bad).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["at"], "orders[1]");
    assert!(
        problem["detail"].as_str().unwrap().contains("unknown bus"),
        "{problem}"
    );
    let (status, problem) = p
        .post(
            "agg-2",
            "/api/sessions/da-1/offers",
            offer("o1", "n3", 1.0, 30.0),
        )
        .await;
    assert_eq!(
        (status, problem["detail"].as_str().unwrap()),
        (400, "offer \"o1\": duplicate id")
    );
    let posing = json!({"id": "o5", "participant": "agg-1", "location": "n3",
                        "direction": "up", "slot": "t1", "quantity": 1.0, "price": 1.0});
    let (status, problem) = p.post("agg-2", "/api/sessions/da-1/offers", posing).await;
    assert_eq!(
        (status, problem["at"].as_str().unwrap()),
        (400, "orders[0].participant")
    );
    let (status, stored) = p
        .post(
            "agg-2",
            "/api/sessions/da-1/offers",
            offer("o6", "n2", 1.0, 22.0),
        )
        .await;
    assert_eq!(status, 201, "{stored}");

    // Each sees its own orders; the operator all.
    let (_, mine) = p.get("agg-2", "/api/sessions/da-1/orders").await;
    assert_eq!(mine["orders"].as_array().unwrap().len(), 1);
    let (_, all) = p.get("mo", "/api/sessions/da-1/orders").await;
    assert_eq!(all["orders"].as_array().unwrap().len(), 4);

    // A restart between intake and gate closure loses nothing.
    let address = server.address();
    server.shutdown().await.unwrap();
    let server = PlatformServer::start(config(dir.path(), &ca, &address.to_string(), database))
        .await
        .unwrap();
    let p = Participants::of(&server, &ca).await;
    let (_, all) = p.get("mo", "/api/sessions/da-1/orders").await;
    assert_eq!(all["orders"].as_array().unwrap().len(), 4, "{all}");
    assert_eq!(
        p.status(
            "agg-2",
            "/api/sessions/da-1/offers",
            offer("o6", "n2", 1.0, 22.0)
        )
        .await,
        400,
        "ids are still known after the restart"
    );

    // Closing is the operator's; then the result is registered.
    assert_eq!(
        p.status("dso-1", "/api/sessions/da-1/close", json!({}))
            .await,
        403
    );
    let (status, closed) = p.post("mo", "/api/sessions/da-1/close", json!({})).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["status"], "published");
    let (status, problem) = p
        .post(
            "agg-1",
            "/api/sessions/da-1/offers",
            offer("o7", "n2", 1.0, 1.0),
        )
        .await;
    assert_eq!(status, 409, "{problem}");

    let (status, outcome) = p.get("dso-1", "/api/sessions/da-1/result").await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["result"]["algorithm"], "dso-first");
    // dso-first on a network: the DSO's request takes offers at its own bus (n2) only.
    assert_eq!(outcome["result"]["volume"], 3.0);
    assert_eq!(
        outcome["awards"].as_array().unwrap().len(),
        3,
        "o1, o6 and r1"
    );
    let registration = &outcome["registration"];
    assert_eq!(registration["batch_id"], "market-da-1:0");
    assert_eq!(registration["anchor"]["status"], "anchored");
    // An aggregator sees its own awards only.
    let (_, own) = p.get("agg-2", "/api/sessions/da-1/result").await;
    let awards = own["awards"].as_array().unwrap();
    assert!(
        awards.iter().all(|a| a["award"]["participant"] == "agg-2"),
        "{own}"
    );
    assert_eq!(own["registration"], *registration);

    let (status, award) = p.get("agg-1", "/api/sessions/da-1/awards/o1").await;
    assert_eq!(status, 200, "{award}");
    assert_eq!(award["award"]["quantity"], 2.0);
    let (status, _) = p.get("agg-2", "/api/sessions/da-1/awards/o1").await;
    assert_eq!(status, 404, "another aggregator's award");

    // The audit trail: every step, with its actor.
    let (status, _) = p.get("agg-1", "/api/sessions/da-1/audit").await;
    assert_eq!(status, 403);
    let (_, audit) = p.get("mo", "/api/sessions/da-1/audit").await;
    let events: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "opened",
            "closed",
            "cleared",
            "validated",
            "registered",
            "published"
        ]
    );
    assert!(
        audit.as_array().unwrap()[1..]
            .iter()
            .all(|e| e["actor"] == "mo")
    );

    // Without a token: 401 with a problem document.
    let (status, problem) = p.client.get("/api/sessions", None).await.unwrap();
    assert_eq!(status.as_u16(), 401);
    assert_eq!(problem["status"], 401);
    server.shutdown().await.unwrap();

    // Every award verifies against the ledger alone (its file, the platform stopped).
    let ledger = platone_certify::FileLedger::open(dir.path().join("data/ledger")).unwrap();
    for award in outcome["awards"].as_array().unwrap() {
        let proof =
            platone_certify::Proof::from_json(award["proof"].to_string().as_bytes()).unwrap();
        let check = platone_certify::verify_with_ledger(&award["award"], &proof, &ledger)
            .await
            .unwrap();
        assert!(check.is_verified(), "{award}: {check:?}");
        assert_eq!(
            proof.root.to_string(),
            registration["awards_root"].as_str().unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_clears_a_session_at_gate_closure() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "test-ca").unwrap();
    let server = PlatformServer::start(config(dir.path(), &ca, "127.0.0.1:0", None))
        .await
        .unwrap();
    let p = Participants::of(&server, &ca).await;
    let gate = Utc::now() + TimeDelta::seconds(3);
    let spec = json!({"id": "rt-1", "kind": "real-time", "slots": ["t1"],
                      "gate_closure": gate.to_rfc3339(), "algorithm": "pay-as-bid"});
    assert_eq!(p.status("mo", "/api/sessions", spec).await, 201);
    assert_eq!(
        p.status(
            "tso-1",
            "/api/sessions/rt-1/requests",
            request("r1", 1.0, 40.0)
        )
        .await,
        201
    );
    assert_eq!(
        p.status(
            "agg-1",
            "/api/sessions/rt-1/offers",
            offer("o1", "n2", 1.0, 10.0)
        )
        .await,
        201
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, session) = p.get("agg-1", "/api/sessions/rt-1").await;
        if session["status"] == "published" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{session}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, problem) = p
        .post(
            "agg-2",
            "/api/sessions/rt-1/offers",
            offer("o2", "n2", 1.0, 5.0),
        )
        .await;
    assert_eq!(status, 409, "after gate closure: {problem}");
    let (_, audit) = p.get("mo", "/api/sessions/rt-1/audit").await;
    assert!(
        audit.as_array().unwrap()[1..]
            .iter()
            .all(|e| e["actor"] == "scheduler"),
        "{audit}"
    );
    let (_, award) = p.get("agg-1", "/api/sessions/rt-1/awards/o1").await;
    assert_eq!(award["award"]["quantity"], 1.0, "{award}");
    server.shutdown().await.unwrap();
}
