//! The DSOTP's REST API for activations and set points: an activation posted by the DSO is
//! dispatched to a Light Node, followed to `accepted`, and its set point read back from the
//! SCD with the acknowledgement; a bad activation is refused naming the field; routes that need
//! a grid model say so without one.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use platone_bus::{Bus, MemoryBus};
use platone_dsotp::{DsotpConfig, DsotpEngines, DsotpServer};
use platone_model::{DeviceId, PodId};
use platone_service::{Identity, StaticTokens};
use platone_sim::lightnode::{LightNode, SetPointBoard, SetPointTopics};
use serde_json::json;

use common::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activations_are_dispatched_and_followed_over_rest() {
    let dir = tempfile::tempdir().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let board = Arc::new(Mutex::new(SetPointBoard::new(PodId::new("POD-4").unwrap())));
    let node = LightNode {
        device: DeviceId::new("ln-POD-4").unwrap(),
        topics: SetPointTopics::default(),
        board: board.clone(),
    };
    let node_task = node.start(bus.clone()).await.unwrap();

    let mut tokens = StaticTokens::new();
    tokens.insert("dso-token", Identity::new("dso-1", ["dso".to_owned()]));
    let config = DsotpConfig::from_toml(&format!(
        "data = {:?}\nhttp = \"127.0.0.1:0\"\n[api]\ninsecure_http = true\n",
        dir.path()
    ))
    .unwrap();
    let mut engines = DsotpEngines::on_bus(bus);
    engines.static_tokens = tokens;
    let server = DsotpServer::start(config, engines).await.unwrap();
    let dso = Api::new(server.api_url(), "dso-token");

    let now = Utc::now();
    let activation = json!({
        "id": "act-1", "session": "rt-1", "order": "o-7", "participant": "agg-1",
        "direction": "up", "quantity": 12.5, "unit": "kW",
        "valid_from": (now - TimeDelta::minutes(1)).to_rfc3339(),
        "valid_to": (now + TimeDelta::minutes(14)).to_rfc3339(),
        "issued_by": "dso-1",
        "pods": [{"pod": "POD-4", "device": "ln-POD-4", "share": 1.0}]
    });
    assert_eq!(dso.post("/api/activations", &activation).await.0, 202);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        let (_, status) = dso.get("/api/activations/act-1").await;
        if status["counts"]["accepted"] == 1 {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status["set_points"][0]["set_point"]["value"], -12500.0);
    let (_, list) = dso.get("/api/activations").await;
    assert_eq!(list[0]["id"], "act-1");
    let (_, stored) = dso.get("/api/setpoints/POD-4").await;
    assert_eq!(stored[0]["set_point"]["id"], "act-1/POD-4");
    assert_eq!(stored[0]["acks"][0]["outcome"], "accepted");

    let mut bad = activation.clone();
    bad["id"] = json!("act-2");
    bad["quantity"] = json!(-1.0);
    let (status, problem) = dso.post("/api/activations", &bad).await;
    assert_eq!(status, 400);
    assert_eq!(problem["at"], "quantity", "{problem}");

    assert_eq!(dso.get("/api/activations/act-9").await.0, 404);
    for path in ["/api/validations", "/api/estimations", "/api/grid"] {
        assert_eq!(dso.get(path).await.0, 409, "{path}");
    }
    server.shutdown().await.unwrap();
    node_task.abort();
}
