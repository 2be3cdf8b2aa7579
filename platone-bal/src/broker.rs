//! The embedded MQTT broker (rumqttd) for the one-machine default.
//!
//! It accepts MQTT 3.1.1 clients on one address, without authentication: meant for a BAL and
//! its devices on one machine or a trusted network. Deployments use an external broker
//! (Mosquitto with per-device ACLs) through `--mqtt`.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use crate::error::{BalError, Result};

/// The largest packet the embedded broker accepts (CIM documents of a whole feeder).
pub const EMBEDDED_MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// A running embedded broker. It runs on its own threads until the process ends (rumqttd has
/// no way to stop a broker).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts a broker listening on `addr` (port 0 picks a free port) and waits until it
    /// accepts connections.
    pub fn start(addr: SocketAddr) -> Result<EmbeddedBroker> {
        let addr = if addr.port() == 0 {
            let probe = TcpListener::bind(addr)
                .map_err(|e| BalError::Broker(format!("no free port on {addr}: {e}")))?;
            probe
                .local_addr()
                .map_err(|e| BalError::Broker(format!("no free port on {addr}: {e}")))?
        } else {
            // Fail clearly when the port is taken, instead of inside the broker's thread.
            TcpListener::bind(addr)
                .map_err(|e| BalError::Broker(format!("cannot listen on {addr}: {e}")))?;
            addr
        };
        let connections = ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: EMBEDDED_MAX_PAYLOAD,
            max_inflight_count: 1000,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        };
        let server = ServerSettings {
            name: "platone-bal".into(),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 1,
            connections,
        };
        let config = Config {
            id: 0,
            router: RouterConfig {
                max_connections: 10_010,
                max_outgoing_packet_count: 1000,
                max_segment_size: 104_857_600,
                max_segment_count: 10,
                ..RouterConfig::default()
            },
            v4: Some(HashMap::from([("platone".to_owned(), server)])),
            ..Config::default()
        };
        std::thread::Builder::new()
            .name("embedded-mqtt-broker".into())
            .spawn(move || {
                let mut broker = Broker::new(config);
                if let Err(e) = broker.start() {
                    tracing::error!("embedded broker stopped: {e}");
                }
            })
            .map_err(|e| BalError::Broker(format!("cannot start its thread: {e}")))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(BalError::Broker(format!(
                    "not accepting connections on {addr} after 10 s"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(EmbeddedBroker { addr })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The broker's URL, `mqtt://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}
