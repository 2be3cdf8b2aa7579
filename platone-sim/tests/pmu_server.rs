//! The simulated PMU/PDC over loopback TCP, read by the tokio client of `platone-cim`:
//! handshake, streaming the field simulator's values, CFG-3 fragments, and the client
//! reconnecting with backoff when the server closes.

use std::time::Duration;

use platone_cim::pmu::c37118::{ConfigUpdate, FrameKind};
use platone_cim::pmu::client::{ClientEvent, ClientOptions, spawn};
use platone_sim::pmu::pmu_values;
use platone_sim::pmu_server::{PmuServer, PmuServerOptions};

async fn next(rx: &mut tokio::sync::mpsc::Receiver<ClientEvent>) -> ClientEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no client event within 10 s")
        .expect("client stopped")
}

#[tokio::test]
async fn client_streams_from_the_simulated_pmu_and_reconnects() {
    let sim = PmuServer::bind(
        "127.0.0.1:0",
        PmuServerOptions {
            idcode: 42,
            rate: 100,
            pmus: 2,
            cfg3_fragment_size: 200,
            frames_per_connection: Some(20),
            seed: 7,
        },
    )
    .await
    .unwrap();
    let addr = sim.local_addr().unwrap().to_string();
    let server = tokio::spawn(sim.run());

    let mut options = ClientOptions::new(42);
    options.request_cfg3 = true;
    options.backoff_initial = Duration::from_millis(20);
    let (mut rx, client) = spawn(addr.clone(), options);

    assert!(matches!(next(&mut rx).await, ClientEvent::Connected { .. }));
    let mut kinds = Vec::new();
    let mut data = 0;
    let mut disconnected = false;
    while data < 30 {
        match next(&mut rx).await {
            ClientEvent::Config(cfg, update) => {
                kinds.push((cfg.kind(), update));
                assert_eq!(cfg.pmus.len(), 2);
            }
            ClientEvent::Data(frame, cfg) => {
                data += 1;
                assert_eq!(frame.pmus.len(), 2);
                let p = &frame.pmus[1];
                let f = p.frequency.unwrap();
                assert!((49.9..50.1).contains(&f), "{f}");
                let va = p.phasors[0].unwrap().magnitude();
                assert!((220.0..240.0).contains(&va), "{va}");
                assert_eq!(cfg.pmus[1].station, "SIM PMU 2");
            }
            ClientEvent::Disconnected { retry_in, .. } => {
                assert!(retry_in.is_some());
                disconnected = true;
            }
            ClientEvent::Connected { .. } => assert!(disconnected),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        disconnected,
        "the simulator closes after 20 frames; the client must reconnect"
    );
    assert_eq!(kinds[0], (FrameKind::Cfg2, ConfigUpdate::New));
    assert!(
        kinds.contains(&(FrameKind::Cfg3, ConfigUpdate::Same)),
        "{kinds:?}"
    );
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), client)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    server.abort();
}

#[test]
fn blocks_carry_the_field_simulators_values() {
    let options = PmuServerOptions {
        pmus: 3,
        seed: 9,
        ..PmuServerOptions::default()
    };
    let t = 1_767_225_600.5;
    let blocks = platone_sim::pmu_server::server_values(&options, 25, t);
    assert_eq!(blocks.len(), 3);
    for (k, block) in blocks.iter().enumerate() {
        assert_eq!(block, &pmu_values(9, k, 25, t));
    }
    let config = platone_sim::pmu_server::server_config(&options, 1_767_225_600);
    let names: Vec<&str> = config.pmus[0]
        .phasors
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["VA", "VB", "VC", "IA", "IB", "IC"]);
}
