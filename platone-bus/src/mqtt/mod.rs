//! The MQTT adapter (MQTT 3.1.1 over TCP or TLS, with rumqttc).
//!
//! * **Publishing.** `publish` hands the message to the connection and, for QoS 1 and 2, waits
//!   for the broker's PUBACK / PUBCOMP. Messages not yet acknowledged when the connection drops
//!   are sent again after the reconnect (same packet id, persistent session). If the broker
//!   reports that it lost the session, those publishes fail with
//!   [`BusError::NotConfirmed`](crate::BusError::NotConfirmed) so the caller can retry.
//! * **In-flight window.** At most [`MqttConfig::max_inflight`] QoS 1/2 messages are
//!   unacknowledged at a time (default 20, mosquitto's own `max_inflight_messages`). Mosquitto
//!   2.0 silently drops QoS 2 messages that arrive beyond its limit, while rumqttc would send up
//!   to 100: keep this at or below the broker's limit — then QoS 2 is safe.
//! * **Receiving.** Acknowledgements are manual: a QoS 1/2 message is acknowledged to the broker
//!   only when every local subscription it was delivered to has called
//!   [`Delivery::ack`](crate::Delivery::ack); the broker's in-flight window bounds how many such
//!   messages are outstanding. Messages that arrive before any matching local subscription
//!   exists (queued in a persistent session) are held, unacknowledged, until one appears.
//!   A subscription at QoS 0 has a bounded queue; when it is full further QoS 0 messages for it
//!   are discarded, counted in [`Subscription::lagged`](crate::Subscription::lagged) and logged.
//! * **Sessions.** `clean_session = false` by default; when the broker answers a (re)connect
//!   with "no session present", every subscription is made again.
//! * **Reconnects** back off exponentially between [`MqttConfig::reconnect_min`] and
//!   [`MqttConfig::reconnect_max`].
//! * **Headers** are not carried (MQTT 3.1.1 has none); neither is the key.
//! * The event loop task never awaits a send to its own request channel (rumqttc #1025): the
//!   resubscriptions it triggers run in a separate task, and acknowledgements it must make
//!   itself use `try_ack` or a separate task.

mod driver;
mod tls;

pub use tls::TlsConfig;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rumqttc::{AsyncClient, MqttOptions, TlsConfiguration, Transport};
use tokio::sync::{oneshot, watch};

use crate::bus::{Bus, Publisher, Subscriber, Subscription};
use crate::error::{BusError, BusResult};
use crate::message::{Message, QoS};
use crate::topic::{TopicFilter, validate_topic};

use driver::Shared;

/// Default largest packet, both ways: 16 MiB (rumqttc's own default is 10 KiB, too small for CIM
/// documents; mosquitto accepts up to 256 MiB).
pub const DEFAULT_MAX_PACKET: usize = 16 * 1024 * 1024;

/// Connection settings of an [`MqttBus`].
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// MQTT client id (identifies the persistent session).
    pub client_id: String,
    /// TLS settings (`None`: plain TCP).
    pub tls: Option<TlsConfig>,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    /// Start a clean session each connect (default `false`: persistent session).
    pub clean_session: bool,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Largest QoS 1/2 window (keep it ≤ the broker's `max_inflight_messages`).
    pub max_inflight: u16,
    /// Largest packet, incoming and outgoing.
    pub max_packet_size: usize,
    /// First reconnect delay.
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// Queue length of a QoS 0 subscription.
    pub qos0_queue: usize,
}

impl MqttConfig {
    /// Defaults for `host:port` with the given client id.
    pub fn new(host: impl Into<String>, port: u16, client_id: impl Into<String>) -> Self {
        MqttConfig {
            host: host.into(),
            port,
            client_id: client_id.into(),
            tls: None,
            credentials: None,
            clean_session: false,
            keep_alive: Duration::from_secs(15),
            max_inflight: 20,
            max_packet_size: DEFAULT_MAX_PACKET,
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(5),
            qos0_queue: 4096,
        }
    }

    fn options(&self) -> BusResult<MqttOptions> {
        if self.client_id.is_empty() {
            return Err(BusError::Config {
                field: "client_id".into(),
                reason: "a persistent session needs a client id".into(),
            });
        }
        if self.max_inflight == 0 {
            return Err(BusError::Config {
                field: "max_inflight".into(),
                reason: "must be at least 1".into(),
            });
        }
        let mut o = MqttOptions::new(self.client_id.clone(), self.host.clone(), self.port);
        o.set_keep_alive(self.keep_alive.max(Duration::from_secs(1)));
        o.set_clean_session(self.clean_session);
        o.set_inflight(self.max_inflight);
        o.set_manual_acks(true);
        o.set_max_packet_size(self.max_packet_size, self.max_packet_size);
        if let Some((u, p)) = &self.credentials {
            o.set_credentials(u.clone(), p.clone());
        }
        if let Some(tls) = &self.tls {
            let config = tls.client_config()?;
            o.set_transport(Transport::Tls(TlsConfiguration::Rustls(config)));
        }
        Ok(o)
    }
}

/// A bus on an MQTT broker. Cloning shares the connection.
#[derive(Clone)]
pub struct MqttBus {
    client: AsyncClient,
    shared: Arc<Shared>,
    describe: String,
    max_packet: usize,
    _task: Arc<driver::TaskGuard>,
}

impl std::fmt::Debug for MqttBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttBus")
            .field("broker", &self.describe)
            .finish()
    }
}

impl MqttBus {
    /// Starts the connection (in the background: it connects and reconnects by itself).
    /// Must be called within a tokio runtime.
    pub fn connect(config: MqttConfig) -> BusResult<MqttBus> {
        let options = config.options()?;
        let scheme = if config.tls.is_some() {
            "mqtts"
        } else {
            "mqtt"
        };
        let describe = format!("{scheme}://{}:{}", config.host, config.port);
        let (client, eventloop) = AsyncClient::new(options, 256);
        let (shared, task) = driver::spawn(client.clone(), eventloop, &config, describe.clone());
        Ok(MqttBus {
            client,
            shared,
            describe,
            max_packet: config.max_packet_size,
            _task: Arc::new(task),
        })
    }

    /// Waits until the broker has accepted the connection, for at most `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> BusResult<()> {
        let mut rx: watch::Receiver<bool> = self.shared.connected.subscribe();
        let wait = rx.wait_for(|c| *c);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(BusError::Connection {
                broker: self.describe.clone(),
                reason: format!("not connected within {timeout:?}"),
            }),
        }
    }

    /// Disconnects cleanly (the persistent session stays on the broker).
    pub async fn disconnect(&self) -> BusResult<()> {
        self.client
            .disconnect()
            .await
            .map_err(|e| self.closed(e.to_string()))
    }

    fn closed(&self, reason: String) -> BusError {
        BusError::Connection {
            broker: self.describe.clone(),
            reason,
        }
    }

    async fn publish_inner(&self, message: Message, qos: QoS) -> BusResult<()> {
        validate_topic(&message.topic)?;
        // Fixed header (≤5) + topic length prefix and topic + packet id.
        let size = message.payload.len() + message.topic.len() + 9;
        if size > self.max_packet {
            return Err(BusError::TooLarge {
                topic: message.topic,
                size: message.payload.len(),
                limit: self.max_packet,
            });
        }
        let (tx, rx) = oneshot::channel();
        {
            let _order = self.shared.publish_order.lock().await;
            self.shared.push_publish(driver::Waiter {
                topic: message.topic.clone(),
                tx,
            });
            if let Err(e) = self
                .client
                .publish_bytes(message.topic.clone(), mqtt_qos(qos), false, message.payload)
                .await
            {
                self.shared.pop_last_publish();
                return Err(self.closed(e.to_string()));
            }
        }
        rx.await
            .map_err(|_| BusError::Closed(self.describe.clone()))?
    }

    async fn subscribe_inner(&self, filter: TopicFilter, qos: QoS) -> BusResult<Subscription> {
        let subscription = self
            .shared
            .add_subscription(&self.client, filter.clone(), qos);
        let (tx, rx) = oneshot::channel();
        {
            let _order = self.shared.subscribe_order.lock().await;
            self.shared
                .push_subscribe(filter.as_str().to_owned(), qos, Some(tx));
            if let Err(e) = self.client.subscribe(filter.as_str(), mqtt_qos(qos)).await {
                self.shared.pop_last_subscribe();
                return Err(self.closed(e.to_string()));
            }
        }
        match rx.await {
            Ok(Ok(())) => Ok(subscription),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(BusError::Closed(self.describe.clone())),
        }
    }
}

pub(crate) fn mqtt_qos(qos: QoS) -> rumqttc::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

impl Publisher for MqttBus {
    fn publish(&self, message: Message, qos: QoS) -> BoxFuture<'_, BusResult<()>> {
        Box::pin(self.publish_inner(message, qos))
    }
}

impl Subscriber for MqttBus {
    fn subscribe(&self, filter: TopicFilter, qos: QoS) -> BoxFuture<'_, BusResult<Subscription>> {
        Box::pin(self.subscribe_inner(filter, qos))
    }
}

impl Bus for MqttBus {
    fn describe(&self) -> String {
        self.describe.clone()
    }
}
