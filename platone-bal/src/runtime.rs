//! Starting and stopping the BAL: the broker connection, the ingest, certifier and forwarder
//! tasks, and the REST API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use platone_bus::{
    Bus, BusError, BusUrl, MqttBus, MqttConfig, QoS, Subscriber, TlsConfig, TopicFilter,
};
use platone_certify::registry::DeviceRegistry;
use platone_certify::{FileLedger, Ledger};
use platone_scd::AnyStore;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::broker::EmbeddedBroker;
use crate::broker_access::{AccessKeeper, DynamicSecurity};
use crate::certifier::{Certifier, Job};
use crate::config::BalConfig;
use crate::context::{BalContext, RecordCertifier};
use crate::decode::PayloadDecoder;
use crate::directory::Directory;
use crate::error::{BalError, Result};
use crate::health::{Health, HealthReport};
use crate::ingest::{Ingest, run_forwarder};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::supervise::{Supervisor, Task};

/// How many deliveries are stored in one SCD transaction at most.
const MAX_GROUP: usize = 512;

/// How long requests in flight may take to finish once the BAL stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The most stored measurements the certifier takes in one go when jobs queue up.
const MAX_JOB_RECORDS: usize = 32_768;

/// Where an MQTT URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttUrl {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS (`mqtts://`).
    pub tls: bool,
    /// User name and password from `mqtt://user:password@host`.
    pub credentials: Option<(String, String)>,
}

impl MqttUrl {
    /// Parses `mqtt://[user[:password]@]host[:port]` or `mqtts://…` (ports 1883 and 8883 by
    /// default) with the bus's URL parser ([`BusUrl::parse`]), so errors name the URL and the
    /// byte offset at fault. A bus URL of another kind (`kafka://`, `memory://`) is refused.
    pub fn parse(url: &str) -> Result<MqttUrl> {
        let parsed = BusUrl::parse(url).map_err(|e| match e {
            BusError::Config { reason, .. } => BalError::config("mqtt", reason),
            other => BalError::config("mqtt", format!("{url:?}: {other}")),
        })?;
        match parsed {
            BusUrl::Mqtt {
                host,
                port,
                tls,
                credentials,
            } => Ok(MqttUrl {
                host,
                port,
                tls,
                credentials,
            }),
            _ => Err(BalError::config(
                "mqtt",
                format!(
                    "{url:?}: not an MQTT URL; expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
                ),
            )),
        }
    }

    /// A client configuration for this broker: host, port, credentials and a clean session
    /// (a client that keeps no state between connections, such as a field device). For an
    /// `mqtts://` URL the caller adds the TLS settings ([`MqttConfig::tls`]).
    pub fn client_config(&self, client_id: impl Into<String>) -> MqttConfig {
        let mut config = MqttConfig::new(self.host.clone(), self.port, client_id);
        config.credentials = self.credentials.clone();
        config.clean_session = true;
        config
    }
}

/// A running BAL.
pub struct Bal {
    context: BalContext,
    http: SocketAddr,
    api_url: String,
    issuer: Option<Arc<platone_service::EmbeddedIssuer>>,
    mqtt_url: String,
    bus: MqttBus,
    stop: watch::Sender<bool>,
    flush: mpsc::Sender<oneshot::Sender<Result<()>>>,
    failures: watch::Receiver<Option<String>>,
    ingest: Task,
    certifier: Task,
    recorder: Task,
    forwarder: Task,
    server: JoinHandle<platone_service::Result<()>>,
    /// How many references to the ledger there are besides the BAL's own tasks (the caller's
    /// and the context's): what remains once everything has stopped.
    ledger_holders: usize,
    access: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Bal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bal")
            .field("http", &self.http)
            .field("mqtt", &self.mqtt_url)
            .finish_non_exhaustive()
    }
}

impl Bal {
    /// Starts the BAL: opens the SCD, the ledger and the device registry under the data
    /// directory, finishes what a previous run left (sealed batches, open batches from the
    /// journal), connects to the broker (starting the embedded one if so configured, and by
    /// default), subscribes to the device topics and serves the REST API.
    ///
    /// Every task runs supervised: one that fails is reported in `/health` and by
    /// [`failed`](Self::failed).
    pub async fn start(config: BalConfig) -> Result<Bal> {
        Self::start_with_engines(config, None, None).await
    }

    /// [`start`](Self::start) with another ledger than the embedded file ledger in the data
    /// directory (an Ethereum ledger, say): certificates are anchored on `ledger`, which must
    /// keep the [`Ledger`] contract.
    pub async fn start_with_ledger(config: BalConfig, ledger: Arc<dyn Ledger>) -> Result<Bal> {
        Self::start_with_engines(config, Some(ledger), None).await
    }

    /// [`start`](Self::start) with the engines given in place of the embedded ones of the
    /// data directory: certificates anchored on `ledger` (which must keep the [`Ledger`]
    /// contract), device signatures checked against `device_registry` (an on-chain registry,
    /// say). With another registry the configuration's device addresses are not registered by
    /// the BAL: the DSO registers keys in that registry itself.
    pub async fn start_with_engines(
        config: BalConfig,
        ledger: Option<Arc<dyn Ledger>>,
        device_registry: Option<Arc<dyn DeviceRegistry>>,
    ) -> Result<Bal> {
        config.validate()?;
        let transport = config.api.transport()?;
        // Read the certificate first, so that a wrong file fails the start before the ledger,
        // the store and the listener are taken (and rather than the listener).
        if let platone_service::Transport::Https(files) = &transport {
            files
                .server_config()
                .map_err(|e| BalError::config("api.tls", e))?;
        }
        std::fs::create_dir_all(&config.data).map_err(|e| BalError::io(&config.data, e))?;
        let ledger: Arc<dyn Ledger> = match ledger {
            Some(ledger) => ledger,
            None => Arc::new(FileLedger::open(config.data.join("ledger"))?),
        };
        // The caller's references and this one (which the context takes).
        let ledger_holders = Arc::strong_count(&ledger);
        let config = Arc::new(config);
        let store = AnyStore::open(&config.store_url()).await?;
        let metrics = Arc::new(Metrics::default());
        let health = Health::new();
        let directory = Directory::open(&config, &store, device_registry).await?;
        let listener = tokio::net::TcpListener::bind(config.http)
            .await
            .map_err(|e| {
                BalError::config("http", format!("cannot listen on {}: {e}", config.http))
            })?;
        let http = listener
            .local_addr()
            .map_err(|e| BalError::config("http", e))?;
        let identity = crate::security::identify(&config, http, &transport, &health)?;
        let context = BalContext {
            config: config.clone(),
            store: store.clone(),
            ledger: ledger.clone(),
            metrics: metrics.clone(),
            authentication: identity.authentication,
            records: Arc::new(RecordCertifier::open(config.scheme, &*ledger).await?),
            health: health.clone(),
            broker_access: broker_access(&config, &metrics, &health)?,
        };
        let (stop, stopped) = watch::channel(false);
        let supervisor = Supervisor::new(health.clone(), stopped.clone());

        let (mqtt, mqtt_url) = mqtt_settings(&config)?;
        let bus = MqttBus::connect(mqtt)?;
        bus.wait_connected(Duration::from_secs(10)).await?;
        let shared: Arc<dyn Bus> = Arc::new(bus.clone());
        // Device rights and the stored subscriptions' grants, then retries of what the broker
        // does not take; it ends with the BAL.
        let access = context
            .broker_access
            .as_ref()
            .map(|keeper| tokio::spawn(keeper.clone().run(store.clone(), stopped.clone())));

        let (mut certifier, recorder) = Certifier::open(
            &config,
            store.clone(),
            ledger.clone(),
            metrics.clone(),
            health.clone(),
            stopped.clone(),
        )
        .await?;
        let recorder_task = supervisor.spawn_thread("recorder", recorder)?;
        let (job_tx, mut job_rx) = mpsc::channel::<Job>(config.queue);
        let (flush_tx, mut flush_rx) = mpsc::channel::<oneshot::Sender<Result<()>>>(4);
        let certifier_task = supervisor.spawn_thread("certifier", async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    job = job_rx.recv() => match job {
                        Some(mut job) => {
                            // Under load, jobs queue up: take them together (one journal sync,
                            // one SCD transaction for the batches they seal).
                            while job.records.len() < MAX_JOB_RECORDS {
                                let Ok(next) = job_rx.try_recv() else { break };
                                job.merge(next);
                            }
                            certifier.take(job).await?
                        }
                        None => break,
                    },
                    Some(reply) = flush_rx.recv() => {
                        // Take what is already queued first, so the flush covers it.
                        while let Ok(job) = job_rx.try_recv() {
                            certifier.take(job).await?;
                        }
                        let _ = reply.send(certifier.flush().await);
                    }
                    _ = tick.tick() => certifier.tick().await?,
                }
            }
            certifier.flush().await
        })?;

        let (forward_tx, forward_rx) = mpsc::channel(config.queue);
        let forwarder = supervisor.spawn(
            "forwarder",
            run_forwarder(shared.clone(), forward_rx, metrics.clone()),
        );

        // One subscription for every device topic: deliveries come in the broker's order and
        // are acknowledged in that order (some brokers, rumqttd among them, drop a client that
        // acknowledges out of order). A topic that names no format is dead-lettered.
        let filter = TopicFilter::new(format!("{}/#", config.topics.devices))
            .map_err(|e| BalError::config("topics.devices", e))?;
        // Deliveries that arrive while a group is being stored form the next group (up to
        // MAX_GROUP): under load, groups grow and each SCD transaction carries more rows.
        let deliveries = bus
            .subscribe(filter, QoS::AtLeastOnce)
            .await?
            .ready_chunks(MAX_GROUP);
        let mut ingest = Ingest {
            bus: shared,
            store,
            directory,
            decoder: PayloadDecoder::with_limits(config.limits),
            metrics,
            config: config.clone(),
            certifier: job_tx,
            forward: forward_tx,
            health,
            stop: stopped.clone(),
        };
        let mut ingest_stop = stopped.clone();
        let ingest_task = supervisor.spawn("ingest", async move {
            let mut deliveries = deliveries;
            loop {
                tokio::select! {
                    biased;
                    _ = ingest_stop.changed() => break,
                    group = next_group(&mut deliveries) => match group {
                        Some(group) => ingest.process(group).await?,
                        None => break,
                    },
                }
            }
            Ok(())
        });

        let mut router = crate::api::router(context.clone());
        if let Some(issuer) = &identity.issuer {
            router = router.merge(issuer.clone().routes());
        }
        let mut server_stop = stop.subscribe();
        let scheme = transport.scheme();
        let options = platone_service::ServeOptions {
            limits: config.api.limits(),
            grace: SHUTDOWN_GRACE,
        };
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = server_stop.changed().await;
            };
            platone_service::serve(listener, router, &transport, &options, shutdown).await
        });
        let api_url = format!("{scheme}://{http}");
        tracing::info!("BAL on {mqtt_url}, REST API on {api_url}");
        Ok(Bal {
            context,
            http,
            api_url,
            issuer: identity.issuer,
            mqtt_url,
            bus,
            stop,
            flush: flush_tx,
            failures: supervisor.failures(),
            ingest: ingest_task,
            certifier: certifier_task,
            recorder: recorder_task,
            forwarder,
            server,
            access,
            ledger_holders,
        })
    }

    /// The REST API's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The REST API's base URL: `https://ADDRESS`, or `http://ADDRESS` when plain HTTP was
    /// asked for.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The embedded token issuer, when clients are configured.
    pub fn issuer(&self) -> Option<&platone_service::EmbeddedIssuer> {
        self.issuer.as_deref()
    }

    /// The broker the BAL takes packets from.
    pub fn mqtt_url(&self) -> &str {
        &self.mqtt_url
    }

    /// The store, ledger, counters and callers the BAL runs with.
    pub fn context(&self) -> &BalContext {
        &self.context
    }

    /// The counters now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.context.metrics.snapshot()
    }

    /// The health of the engines and tasks now (as `/health` reports it).
    pub fn health(&self) -> HealthReport {
        self.context.health.report()
    }

    /// Resolves when one of the BAL's tasks has stopped unexpectedly (an error, a panic, or an
    /// end while the BAL was running), with what happened; never while all run. A process
    /// embedding the BAL waits on this beside its stop signal and exits non-zero when it
    /// resolves, rather than running half-dead.
    pub fn failed(&self) -> impl Future<Output = String> + Send + 'static {
        let mut failures = self.failures.clone();
        async move {
            loop {
                if let Some(why) = failures.borrow_and_update().clone() {
                    return why;
                }
                if failures.changed().await.is_err() {
                    // The supervisor is gone with every task: nothing can fail any more.
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// Stops at once, as a crash would: tasks are aborted, nothing is flushed and packets in
    /// processing stay unacknowledged at the broker. What was acknowledged is in the SCD and
    /// the journal, and the next start recovers it (used to test recovery).
    pub async fn abort(mut self) {
        for task in [
            &mut self.ingest,
            &mut self.certifier,
            &mut self.recorder,
            &mut self.forwarder,
        ] {
            task.abort();
        }
        self.server.abort();
        if let Some(access) = &self.access {
            access.abort();
        }
        let _ = self.ingest.join("ingest").await;
        let _ = self.certifier.join("certifier").await;
        let _ = self.recorder.join("recorder").await;
        let _ = self.forwarder.join("forwarder").await;
        // Wait until the aborted tasks are dropped: the listener's router holds the ledger
        // (and its file lock), which a BAL started right after must be able to take.
        let _ = (&mut self.server).await;
        if let Some(access) = self.access.take() {
            let _ = access.await;
        }
        let _ = self.bus.disconnect().await;
    }

    /// Seals and anchors every open batch now, with the measurements already handed to the
    /// certifier, and records their certification references (batches then start afresh).
    pub async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.flush
            .send(tx)
            .await
            .map_err(|_| BalError::Stopped("certifier"))?;
        rx.await.map_err(|_| BalError::Stopped("certifier"))?
    }

    /// Stops gracefully: no new packets are taken, those taken are stored and journaled, every
    /// open batch is sealed and anchored, forwarded messages are published, and the REST API
    /// and broker connection close. Returns the final counters.
    ///
    /// Should an engine be unavailable meanwhile, the waiting work is left for the next start
    /// (packets unacknowledged at the broker, sealed batches in their files) rather than
    /// waited for.
    pub async fn shutdown(self) -> Result<MetricsSnapshot> {
        let _ = self.stop.send(true);
        let ingest = self.ingest.join("ingest").await;
        // The ingest task owned the senders: the certifier and forwarder now drain and end,
        // and the recorder once the certifier has.
        let certifier = self.certifier.join("certifier").await;
        let recorder = self.recorder.join("recorder").await;
        let _ = self.forwarder.join("forwarder").await;
        let _ = self.server.await;
        if let Some(access) = self.access {
            let _ = access.await;
        }
        // The listener's last connections drop their router (and its ledger) just after it
        // returns; a BAL started next on the same data directory needs the ledger's lock.
        if !platone_service::until_released(
            &self.context.ledger,
            self.ledger_holders,
            SHUTDOWN_GRACE,
        )
        .await
        {
            tracing::warn!("the ledger is still held after the shutdown");
        }
        if let Err(e) = self.bus.disconnect().await {
            tracing::warn!("disconnecting from the broker: {e}");
        }
        ingest?;
        // A recorder that failed stops the certifier too: its own error says why.
        recorder?;
        certifier?;
        Ok(self.context.metrics.snapshot())
    }
}

/// The next group of `groups` (a [`StreamExt::ready_chunks`]): every item waiting, up to the
/// group size. It is taken outside tokio's cooperative budget: processing a group spends the
/// task's budget (a send per forwarded packet), and a receive that finds it spent would end the
/// next group after a few items, however many are waiting.
async fn next_group<S: futures::Stream + Unpin>(groups: &mut S) -> Option<S::Item> {
    tokio::task::unconstrained(groups.next()).await
}

fn mqtt_settings(config: &BalConfig) -> Result<(MqttConfig, String)> {
    let url = match (&config.mqtt, config.embedded_broker) {
        (Some(url), _) => url.clone(),
        (None, Some(addr)) => EmbeddedBroker::start(addr)?.url(),
        (None, None) => EmbeddedBroker::start(SocketAddr::from(([127, 0, 0, 1], 1883)))?.url(),
    };
    let parsed = MqttUrl::parse(&url)?;
    let mut mqtt = parsed.client_config(config.mqtt_client_id.clone());
    // The BAL keeps its subscription and unacknowledged deliveries across reconnections.
    mqtt.clean_session = false;
    mqtt.max_inflight = 100;
    mqtt.tls = tls_settings(config, &parsed)?;
    Ok((mqtt, url))
}

/// The TLS settings of an `mqtts://` broker: its CA and, for mutual TLS, the BAL's client
/// certificate and key.
fn tls_settings(config: &BalConfig, url: &MqttUrl) -> Result<Option<TlsConfig>> {
    if !url.tls {
        return Ok(None);
    }
    let ca = config.mqtt_ca.as_deref().ok_or_else(|| {
        BalError::config("mqtt_ca", "an mqtts:// broker needs its CA certificate")
    })?;
    let client = config.mqtt_cert.as_deref().zip(config.mqtt_key.as_deref());
    Ok(Some(TlsConfig::from_files(ca, client)?))
}

/// The keeper of the broker's access control, when the dynamic-security plugin is configured:
/// a connection of its own to the broker, as the plugin's administrator (client id
/// `{mqtt_client_id}-dynsec`, clean session, the BAL's TLS settings).
fn broker_access(
    config: &Arc<BalConfig>,
    metrics: &Arc<Metrics>,
    health: &Health,
) -> Result<Option<Arc<AccessKeeper>>> {
    let (Some(dynsec), Some(url)) = (&config.dynsec, &config.mqtt) else {
        return Ok(None);
    };
    let parsed = MqttUrl::parse(url)?;
    let mut mqtt = parsed.client_config(format!("{}-dynsec", config.mqtt_client_id));
    mqtt.credentials = Some((dynsec.user.clone(), dynsec.password()?));
    mqtt.tls = tls_settings(config, &parsed)?;
    let access = DynamicSecurity::connect(mqtt, Duration::from_secs(dynsec.timeout_secs))?;
    Ok(Some(Arc::new(AccessKeeper::new(
        Arc::new(access),
        config.clone(),
        metrics.clone(),
        health.clone(),
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_group_takes_everything_waiting_when_the_task_spent_its_budget() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..2 * MAX_GROUP {
            tx.send(i).unwrap();
        }
        let mut groups =
            futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).ready_chunks(MAX_GROUP);
        // Spend all but one unit of the task's budget, as processing a group does.
        for _ in 0..127 {
            tokio::task::consume_budget().await;
        }
        let group = next_group(&mut groups).await.unwrap();
        assert_eq!(group.len(), MAX_GROUP);
        assert_eq!(group.last(), Some(&(MAX_GROUP - 1)));
    }

    #[test]
    fn mqtt_urls() {
        let u = MqttUrl::parse("mqtt://127.0.0.1:18830").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.tls),
            ("127.0.0.1", 18830, false)
        );
        let u = MqttUrl::parse("mqtts://bal:secret@broker.example").unwrap();
        assert_eq!((u.port, u.tls), (8883, true));
        assert_eq!(u.credentials, Some(("bal".into(), "secret".into())));
        let u = MqttUrl::parse("mqtt://[::1]:1884/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1884));
        for bad in ["http://x", "mqtt://", "mqtt://h:port"] {
            assert!(MqttUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mqtt_url_errors_name_the_url_and_the_byte() {
        let e = MqttUrl::parse("mqtt://broker:18x3")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"mqtt://broker:18x3\"") && e.contains("byte 14"),
            "{e}"
        );
        let e = MqttUrl::parse("mqtt://@h").unwrap_err().to_string();
        assert!(e.contains("byte 7"), "{e}");
        for other in ["kafka://k:9092", "memory://"] {
            let e = MqttUrl::parse(other).unwrap_err();
            assert!(matches!(e, BalError::Config { .. }), "{other}: {e:?}");
            let e = e.to_string();
            assert!(e.contains(other) && e.contains("not an MQTT URL"), "{e}");
        }
    }
}
