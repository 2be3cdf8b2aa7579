//! `platone bridge`: forward topics between two buses, remapping names like a mosquitto bridge.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use platone_bus::{
    Bridge, BridgeConfig, Bus, BusUrl, MemoryBus, MqttBus, MqttConfig, Route, TlsConfig, TopicMap,
};
use serde::Deserialize;

use crate::error::{CliError, CliResult};

/// Options of `platone bridge`.
#[derive(Debug, Args)]
pub struct BridgeArgs {
    /// The local side: `mqtt://host:port`, `mqtts://host:port`, `kafka://host:port,host:port`
    /// or `memory://`.
    #[arg(long)]
    source: Option<String>,
    /// The remote side (same URL forms).
    #[arg(long)]
    sink: Option<String>,
    /// A route in mosquitto bridge syntax: 'PATTERN DIRECTION QOS LOCAL-PREFIX REMOTE-PREFIX'
    /// (`out` = source → sink, `in` = sink → source, `both`; `""` for an empty prefix).
    /// Repeatable; added to the routes of `--config`.
    #[arg(long = "topic", value_name = "LINE")]
    topics: Vec<String>,
    /// TOML file with `[source]`, `[sink]` (url, ca, cert, key, username, password, client_id,
    /// group), `[bridge]` settings and `[[route]]` tables (`topic = "LINE"`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// CA certificate (PEM) for `mqtts://` ends without their own TLS settings.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS (with `--key`).
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS (with `--cert`).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Seconds between counter log lines.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    stats_interval: u64,
    /// Publish SAREF JSON-LD (docs/saref.md) instead of the source payloads, which are in FORM;
    /// a payload that does not decode goes to the dead-letter topic `…/untransformable`.
    /// Only for `out` routes.
    #[arg(long = "to-jsonld", value_enum, value_name = "FORM")]
    to_jsonld: Option<crate::bridge_jsonld::PayloadForm>,
    /// The base IRI of the IRIs minted by `--to-jsonld` (ends with `/` or `#`).
    #[arg(long, value_name = "IRI", requires = "to_jsonld")]
    saref_base: Option<String>,
}

/// One end in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndConfig {
    pub(crate) url: Option<String>,
    pub(crate) ca: Option<PathBuf>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) client_id: Option<String>,
    /// Kafka consumer group.
    pub(crate) group: Option<String>,
    /// How many MQTT topic levels name a Kafka topic (default 2).
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    pub(crate) kafka_levels: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BridgeSection {
    name: Option<String>,
    max_in_flight: Option<usize>,
    dead_letter_topic: Option<String>,
    stats_interval: Option<u64>,
    drain_timeout: Option<u64>,
    hold_after_state_loss: Option<u64>,
}

/// Seconds a bridge connection sends nothing after finding that its broker lost its state,
/// unless `hold_after_state_loss` in `[bridge]` says otherwise: time for the broker's durable
/// subscribers to reconnect and subscribe again before the backlog goes out.
const HOLD_AFTER_STATE_LOSS_SECS: u64 = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteConfig {
    topic: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    source: EndConfig,
    #[serde(default)]
    sink: EndConfig,
    #[serde(default)]
    bridge: BridgeSection,
    #[serde(default)]
    route: Vec<RouteConfig>,
}

fn read_config(path: &Path) -> CliResult<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::input(format!("{}: cannot read: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

/// Runs `platone bridge` until SIGINT or SIGTERM.
pub fn run(args: BridgeArgs) -> CliResult {
    let file = match &args.config {
        Some(p) => read_config(p)?,
        None => FileConfig::default(),
    };
    let mut source = file.source;
    let mut sink = file.sink;
    if args.source.is_some() {
        source.url = args.source.clone();
    }
    if args.sink.is_some() {
        sink.url = args.sink.clone();
    }
    for end in [&mut source, &mut sink] {
        if end.ca.is_none() {
            end.ca = args.ca.clone();
        }
        if end.cert.is_none() && end.key.is_none() {
            end.cert = args.cert.clone();
            end.key = args.key.clone();
        }
    }
    let source_url = source.url.clone().ok_or_else(|| {
        CliError::usage("--source (or `url` under [source] in --config) is required")
    })?;
    let sink_url = sink
        .url
        .clone()
        .ok_or_else(|| CliError::usage("--sink (or `url` under [sink] in --config) is required"))?;
    let mut maps = Vec::new();
    for line in file.route.iter().map(|r| &r.topic).chain(&args.topics) {
        maps.push(TopicMap::parse(line).map_err(CliError::input)?);
    }
    if maps.is_empty() {
        return Err(CliError::usage(
            "no route: give --topic 'PATTERN DIRECTION QOS LOCAL-PREFIX REMOTE-PREFIX' or [[route]] in --config",
        ));
    }
    let mut config = BridgeConfig::default();
    if let Some(form) = args.to_jsonld {
        if let Some(map) = maps.iter().find(|m| m.direction().inbound()) {
            return Err(CliError::usage(format!(
                "--to-jsonld: route `{map}` also forwards sink → source; give `out` routes only"
            )));
        }
        let mut options = platone_saref::MappingOptions::default();
        if let Some(base) = &args.saref_base {
            options.base = platone_saref::Base::new(base.as_str())
                .map_err(|e| CliError::usage(format!("--saref-base: {e}")))?;
        }
        config.transform = Some(Arc::new(crate::bridge_jsonld::SarefJsonLd::new(
            form, options,
        )));
    }
    if let Some(n) = file.bridge.name {
        config.name = n;
    }
    if let Some(n) = file.bridge.max_in_flight {
        config.max_in_flight = n;
    }
    if let Some(t) = file.bridge.dead_letter_topic {
        config.dead_letter_topic = t;
    }
    if let Some(s) = file.bridge.drain_timeout {
        config.drain_timeout = Duration::from_secs(s);
    }
    let interval = Duration::from_secs(
        file.bridge
            .stats_interval
            .unwrap_or(args.stats_interval)
            .max(1),
    );
    let hold = Duration::from_secs(
        file.bridge
            .hold_after_state_loss
            .unwrap_or(HOLD_AFTER_STATE_LOSS_SECS),
    );
    // A stable identity per (source, sink) pair keeps the broker sessions across restarts.
    let identity = platone_bus::bridge_identity(&source_url, &sink_url);

    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let source_bus = open_bus(
            "source",
            &source_url,
            &source,
            &format!("{identity}-source"),
            hold,
        )?;
        let sink_bus = if sink_url == source_url && source_url == "memory://" {
            source_bus.clone()
        } else {
            open_bus("sink", &sink_url, &sink, &format!("{identity}-sink"), hold)?
        };
        let routes: Vec<Route> = maps
            .into_iter()
            .map(|map| Route {
                source: source_bus.clone(),
                sink: sink_bus.clone(),
                map,
            })
            .collect();
        let n = routes.len();
        let bridge = tokio::select! {
            b = Bridge::start(config, routes) => b.map_err(CliError::input)?,
            _ = crate::signal::stop_signal() => return Ok(()),
        };
        eprintln!(
            "bridge: running {} -> {} with {n} route(s)",
            source_bus.describe(),
            sink_bus.describe()
        );
        let counters = bridge.counters();
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        let stop = crate::signal::stop_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tick.tick() => eprintln!("bridge: {}", counters.snapshot()),
            }
        }
        eprintln!("bridge: stopping, draining in-flight messages");
        let last = bridge.shutdown().await;
        eprintln!("bridge: stopped {last}");
        Ok(())
    })
}

fn read_file(what: &str, path: &Path) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| CliError::input(format!("{what} {}: {e}", path.display())))
}

/// Connects to the bus at `url` (`mqtt://`, `mqtts://`, `kafka://`, `memory://`) with the TLS
/// files and credentials of `end`; errors name the option `--{side}`.
pub(crate) fn open_bus(
    side: &str,
    url: &str,
    end: &EndConfig,
    client_id: &str,
    hold_after_state_loss: Duration,
) -> CliResult<Arc<dyn Bus>> {
    let parsed = BusUrl::parse(url).map_err(|e| CliError::input(format!("--{side}: {e}")))?;
    let client_id = end
        .client_id
        .clone()
        .unwrap_or_else(|| client_id.to_owned());
    match parsed {
        BusUrl::Memory => Ok(Arc::new(MemoryBus::new())),
        BusUrl::Mqtt {
            host,
            port,
            tls,
            credentials,
        } => {
            let mut c = MqttConfig::new(host, port, client_id);
            c.hold_after_state_loss = hold_after_state_loss;
            if tls {
                let ca = end.ca.as_deref().ok_or_else(|| {
                    CliError::usage(format!(
                        "--{side} {url}: mqtts needs --ca (or `ca` in --config)"
                    ))
                })?;
                let client = match (&end.cert, &end.key) {
                    (Some(c), Some(k)) => Some((read_file("cert", c)?, read_file("key", k)?)),
                    (None, None) => None,
                    _ => {
                        return Err(CliError::usage(format!(
                            "--{side}: give both cert and key, or neither"
                        )));
                    }
                };
                c.tls = Some(TlsConfig {
                    ca_pem: read_file("ca", ca)?,
                    client_pem: client,
                });
            }
            c.credentials = credentials;
            if let Some(u) = &end.username {
                c.credentials = Some((u.clone(), end.password.clone().unwrap_or_default()));
            }
            Ok(Arc::new(MqttBus::connect(c).map_err(CliError::input)?))
        }
        BusUrl::Kafka { servers } => open_kafka(side, url, &servers, end, &client_id),
        other => Err(CliError::input(format!(
            "--{side} {url}: {other:?} is not supported by this command"
        ))),
    }
}

#[cfg(feature = "kafka")]
fn open_kafka(
    _side: &str,
    _url: &str,
    servers: &[String],
    end: &EndConfig,
    client_id: &str,
) -> CliResult<Arc<dyn Bus>> {
    use platone_bus::{KafkaBus, KafkaConfig, KafkaSasl};
    let group = end.group.clone().unwrap_or_else(|| client_id.to_owned());
    let mut c = KafkaConfig::new(servers.join(","), group);
    if let Some(levels) = end.kafka_levels {
        c.naming = platone_bus::KafkaNaming::new(levels);
    }
    let text = |what, p: &Path| {
        read_file(what, p).and_then(|b| {
            String::from_utf8(b)
                .map_err(|_| CliError::input(format!("{what} {}: not PEM text", p.display())))
        })
    };
    if let Some(ca) = &end.ca {
        c.ca_pem = Some(text("ca", ca)?);
    }
    if let (Some(cert), Some(key)) = (&end.cert, &end.key) {
        c.client_pem = Some((text("cert", cert)?, text("key", key)?));
    }
    if let Some(u) = &end.username {
        c.sasl = Some(KafkaSasl {
            mechanism: "SCRAM-SHA-512".into(),
            username: u.clone(),
            password: end.password.clone().unwrap_or_default(),
        });
    }
    Ok(Arc::new(KafkaBus::connect(c).map_err(CliError::input)?))
}

#[cfg(not(feature = "kafka"))]
fn open_kafka(
    side: &str,
    url: &str,
    _servers: &[String],
    end: &EndConfig,
    _client_id: &str,
) -> CliResult<Arc<dyn Bus>> {
    let _consumer_group = end.group.as_deref();
    Err(CliError::usage(format!(
        "--{side} {url}: this build has no Kafka support (build with the `kafka` feature)"
    )))
}
