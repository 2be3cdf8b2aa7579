//! The tokio client against the simulator over loopback TCP: handshake, streaming, CFG-3
//! fragments, and reconnecting with backoff.
#![cfg(feature = "pmu-client")]

use std::time::Duration;

use platone_cim::pmu::c37118::{ConfigUpdate, FrameKind};
use platone_cim::pmu::client::{ClientEvent, ClientOptions, spawn};
use platone_cim::pmu::simulator::{Simulator, SimulatorOptions};

async fn next(rx: &mut tokio::sync::mpsc::Receiver<ClientEvent>) -> ClientEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no client event within 10 s")
        .expect("client stopped")
}

#[tokio::test]
async fn client_streams_from_the_simulator_and_reconnects() {
    let sim = Simulator::bind(
        "127.0.0.1:0",
        SimulatorOptions {
            idcode: 42,
            rate: 100,
            pmus: 2,
            cfg3_fragment_size: 200,
            frames_per_connection: Some(20),
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

#[tokio::test]
async fn client_gives_up_after_max_attempts() {
    // A port nobody listens on: bind, read the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut options = ClientOptions::new(1);
    options.backoff_initial = Duration::from_millis(5);
    options.max_attempts = Some(3);
    let (mut rx, client) = spawn(format!("127.0.0.1:{port}"), options);
    let mut retries = Vec::new();
    while let Some(ev) = rx.recv().await {
        if let ClientEvent::Disconnected { retry_in, .. } = ev {
            retries.push(retry_in);
        }
    }
    assert_eq!(
        retries,
        [
            Some(Duration::from_millis(5)),
            Some(Duration::from_millis(10)),
            None
        ]
    );
    let err = client.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("gave up after 3"), "{err}");
}
