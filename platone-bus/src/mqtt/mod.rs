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
//! * **A broker that lost its state.** A broker that answers a *re*connect of a persistent
//!   session with "no session present" has lost its sessions (restarted without its persistence
//!   file, or one it could not write): the durable subscriptions of its other clients are gone
//!   too, and until those clients subscribe again the broker acknowledges what is published to
//!   it and discards it. The connection logs this as an error, counts it
//!   ([`MqttBus::sessions_lost`]) and, for [`MqttConfig::hold_after_state_loss`], sends nothing
//!   (publishes wait, unconfirmed), so that those clients can come back before a backlog goes
//!   out.
//! * **Reconnects** back off exponentially between [`MqttConfig::reconnect_min`] and
//!   [`MqttConfig::reconnect_max`].
//! * **Shared subscriptions.** [`Subscriber::subscribe_shared`] with `n` > 1 connections opens
//!   `n - 1` more connections with the same settings (client ids `{client_id}-1`, …) and
//!   subscribes all of them to `$share/{group}/{filter}` (group: the filter's own, else the
//!   client id), feeding one [`Subscription`]: the broker keeps `n` in-flight windows, and each
//!   delivery is acknowledged on the connection it came from. The broker picks a connection per
//!   message, so messages of one topic may arrive out of order. The extra connections close
//!   when the subscription is dropped; their persistent sessions stay on the broker, so keep
//!   `n` the same across restarts.
//! * **Nagle's algorithm** stays on by default ([`MqttConfig::tcp_nodelay`] = `false`, rumqttc's
//!   default): on a busy connection the kernel then coalesces small packets such as PUBACKs.
//!   Set it to `true` for the lowest latency of single messages.
//! * **Headers** are not carried (MQTT 3.1.1 has none); neither is the key.
//! * The event loop task never awaits a send to its own request channel (rumqttc #1025): the
//!   resubscriptions it triggers run in a separate task, and acknowledgements it must make
//!   itself use `try_ack` or a separate task.

mod driver;
mod tls;

pub use tls::TlsConfig;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
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
    /// Sets `TCP_NODELAY` on the connection, turning Nagle's algorithm off (default `false`).
    pub tcp_nodelay: bool,
    /// How long to send nothing after the broker turns out to have lost its state (a reconnect
    /// of this persistent session answered with "no session present"; see the module docs).
    /// Default zero. A bridge or forwarder that delivers a backlog to durable subscribers sets
    /// a few seconds: time for them to reconnect and subscribe again before the backlog, which
    /// the broker would otherwise discard, is sent. At most [`MqttConfig::keep_alive`]: the
    /// connection is not polled meanwhile.
    pub hold_after_state_loss: Duration,
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
            tcp_nodelay: false,
            hold_after_state_loss: Duration::ZERO,
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
    config: Arc<MqttConfig>,
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
        let (client, mut eventloop) = AsyncClient::new(options, 256);
        let mut network = eventloop.network_options();
        network.set_tcp_nodelay(config.tcp_nodelay);
        eventloop.set_network_options(network);
        let (shared, task) = driver::spawn(client.clone(), eventloop, &config, describe.clone());
        Ok(MqttBus {
            client,
            shared,
            describe,
            max_packet: config.max_packet_size,
            config: Arc::new(config),
            _task: Arc::new(task),
        })
    }

    /// How many times the broker answered a reconnect of this persistent session with "no
    /// session present": it lost its state, and with it the durable subscriptions of its other
    /// clients (see the module docs). Always zero with [`MqttConfig::clean_session`].
    pub fn sessions_lost(&self) -> u64 {
        self.shared.sessions_lost()
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
                .publish_bytes(message.topic, mqtt_qos(qos), false, message.payload)
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
        self.subscribe_on_broker(&filter, qos).await?;
        Ok(subscription)
    }

    /// Sends SUBSCRIBE and waits for the broker's SUBACK.
    async fn subscribe_on_broker(&self, filter: &TopicFilter, qos: QoS) -> BusResult<()> {
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
            Ok(result) => result,
            Err(_) => Err(BusError::Closed(self.describe.clone())),
        }
    }

    /// A shared subscription read through `connections` connections: this one and
    /// `connections - 1` more opened with the same settings and the client ids
    /// `{client_id}-1`, `{client_id}-2`… (each with its own persistent session; keep the number
    /// the same across restarts so that no session is left holding messages). The share group
    /// is the filter's own if it has one, else one derived from this connection's client id, so
    /// that two clients with different ids never split each other's messages.
    async fn subscribe_shared_inner(
        &self,
        filter: TopicFilter,
        qos: QoS,
        connections: usize,
    ) -> BusResult<Subscription> {
        if connections <= 1 {
            return self.subscribe_inner(filter, qos).await;
        }
        let shared_filter = if filter.share_group().is_some() {
            filter
        } else {
            TopicFilter::new(format!(
                "$share/{}/{}",
                share_group(&self.config.client_id),
                filter.filter()
            ))?
        };
        let mut lanes = Vec::with_capacity(connections - 1);
        for i in 1..connections {
            let mut config = MqttConfig::clone(&self.config);
            config.client_id = format!("{}-{i}", self.config.client_id);
            lanes.push(MqttBus::connect(config)?);
        }
        let lagged = Arc::new(AtomicU64::new(0));
        let (tx, rx) = self.shared.channel(qos);
        let mut guards = Vec::with_capacity(connections);
        for bus in std::iter::once(self).chain(&lanes) {
            guards.push(bus.shared.attach(
                &bus.client,
                shared_filter.clone(),
                qos,
                tx.clone(),
                lagged.clone(),
            ));
        }
        drop(tx);
        for bus in std::iter::once(self).chain(&lanes) {
            bus.subscribe_on_broker(&shared_filter, qos).await?;
        }
        let lanes = SharedLanes {
            _guards: guards,
            _lanes: lanes,
        };
        Ok(Subscription::new(rx, lagged, Some(Box::new(lanes))))
    }
}

/// What keeps a shared subscription's extra connections open.
struct SharedLanes {
    _guards: Vec<driver::RemoveSub>,
    _lanes: Vec<MqttBus>,
}

/// A share group name from a client id (no `/`, `+`, `#` or NUL).
fn share_group(client_id: &str) -> String {
    client_id
        .chars()
        .map(|c| match c {
            '/' | '+' | '#' | '\0' => '_',
            c => c,
        })
        .collect()
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

    fn subscribe_shared(
        &self,
        filter: TopicFilter,
        qos: QoS,
        connections: usize,
    ) -> BoxFuture<'_, BusResult<Subscription>> {
        Box::pin(self.subscribe_shared_inner(filter, qos, connections))
    }
}

impl Bus for MqttBus {
    fn describe(&self) -> String {
        self.describe.clone()
    }
}
