//! The tokio client's reconnect policy, without a PMU to talk to (the client against a
//! simulated PMU is tested in `platone-sim`).
#![cfg(feature = "pmu-client")]

use std::time::Duration;

use platone_cim::pmu::client::{ClientEvent, ClientOptions, spawn};

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
