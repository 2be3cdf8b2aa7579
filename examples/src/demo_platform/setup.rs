//! The three platforms started on embedded defaults, wired as the field trials wired them.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use platone_bal::{Bal, BalConfig};
use platone_bus::{Bridge, BridgeConfig, Bus, MemoryBus, MqttBus, MqttConfig, Route, TopicMap};
use platone_certify::FileLedger;
use platone_dsotp::dispatch::{DispatchConfig, LedgerCertifier, SetPointCertifier};
use platone_dsotp::estimation::EstimatorConfig;
use platone_dsotp::validation::{AcValidatorConfig, RequestInjection};
use platone_dsotp::{Dsotp, DsotpParts, DsotpTopics};
use platone_market_platform::PlatformServer;
use platone_market_platform::grid_data::ScdGridData;
use platone_sim::grid_field::GridPmus;

use crate::demo::Api;
use crate::demo_market::start_market;
use crate::error::CliResult;

use super::field::{Node, feeder, start_light_node};
use super::{FLEXIBLE, PEAK, input};

/// The running platforms, the demo's field and the participants' tokens.
pub(crate) struct Platform {
    pub(crate) bal: Bal,
    pub(crate) field: MqttBus,
    pub(crate) bridge: Bridge,
    pub(crate) dsotp: Dsotp,
    pub(crate) market: PlatformServer,
    pub(crate) api: Api,
    pub(crate) tokens: BTreeMap<&'static str, String>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) stop: tokio::sync::watch::Sender<bool>,
    pub(crate) routes: usize,
    pub(crate) market_ledger: Arc<FileLedger>,
}

impl Platform {
    pub(crate) fn token(&self, who: &str) -> &str {
        self.tokens.get(who).map_or("", String::as_str)
    }
}

/// Starts the BAL, the bridge, the DSOTP, the Light Nodes and the Market Platform, and takes
/// the participants' tokens from the market's embedded issuer.
pub(crate) async fn start(data: &Path, http: SocketAddr) -> CliResult<Platform> {
    // The BAL: embedded broker, SQLite, file ledger; the flexible PoDs registered for the DSO
    // with their aggregators and meters.
    let mut config = BalConfig {
        embedded_broker: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        http: SocketAddr::from(([127, 0, 0, 1], 0)),
        data: data.join("bal"),
        pods: FLEXIBLE
            .iter()
            .map(|(_, pod, aggregator)| platone_bal::config::PodConfig {
                id: (*pod).to_owned(),
                customer: Some(format!("cust-{pod}")),
                aggregator: Some((*aggregator).to_owned()),
                meters: vec![format!("meter-{pod}")],
                devices: Vec::new(),
            })
            .collect(),
        ..BalConfig::default()
    };
    config.api.insecure_http = true;
    let bal = Bal::start(config).await.map_err(|e| input("BAL", e))?;
    let url = bal.mqtt_url().trim_start_matches("mqtt://").to_owned();
    let (host, port) = url
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| input("BAL broker", &url))?;
    let field = MqttBus::connect(MqttConfig::new(host.clone(), port, "demo-field"))
        .map_err(|e| input("PMUs", e))?;
    field
        .wait_connected(Duration::from_secs(10))
        .await
        .map_err(|e| input("PMUs", e))?;

    // The DSOTP's databus, fed from the BAL's broker by a bridge.
    let dsotp_bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let mut bridge_client = MqttConfig::new(host, port, "demo-dsotp-bridge");
    bridge_client.clean_session = false;
    let bal_side: Arc<dyn Bus> =
        Arc::new(MqttBus::connect(bridge_client).map_err(|e| input("bridge", e))?);
    let bridge = Bridge::start(
        BridgeConfig::default(),
        vec![Route {
            source: bal_side,
            sink: dsotp_bus.clone(),
            map: TopicMap::parse("# out 1 platone/dsotp/ platone/dsotp/")
                .map_err(|e| input("bridge", e))?,
        }],
    )
    .await
    .map_err(|e| input("bridge", e))?;

    // The DSOTP: the feeder model (peak loads), PMU routes, AC validation at the PoDs' buses,
    // dispatch certified on its own ledger.
    let network = feeder(PEAK, &BTreeMap::new())?;
    let pmus = GridPmus::new(&network);
    let mut estimator = EstimatorConfig::new(network);
    estimator.map = pmus.measurement_map(0.001, 0.01);
    estimator.max_age = Duration::from_secs(2);
    let routes = estimator.map.routes.len();
    let dsotp_dir = data.join("dsotp");
    std::fs::create_dir_all(&dsotp_dir).map_err(|e| input("data", e))?;
    let store = platone_scd::SqliteStore::open(dsotp_dir.join("dsotp.db"))
        .await
        .map_err(|e| input("DSOTP store", e))?;
    let validation = AcValidatorConfig {
        locations: FLEXIBLE
            .iter()
            .map(|(bus, pod, _)| ((*pod).to_owned(), *bus))
            .collect(),
        requests: RequestInjection::Ignore,
        ..AcValidatorConfig::default()
    };
    let certifier: Arc<dyn SetPointCertifier> =
        Arc::new(LedgerCertifier::open(&dsotp_dir).map_err(|e| input("DSOTP ledger", e))?);
    let dispatch = DispatchConfig {
        ack_timeout_ms: 1_000,
        ..DispatchConfig::default()
    };
    let dsotp = Dsotp::start(DsotpParts {
        bus: dsotp_bus.clone(),
        store: Arc::new(store),
        topics: DsotpTopics::default(),
        estimator: Some(estimator),
        validation: Some(validation),
        dispatch: Some((dispatch, certifier)),
    })
    .await
    .map_err(|e| input("DSOTP", e))?;

    // The Light Nodes at the flexible PoDs, on the DSOTP's databus.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut nodes = Vec::new();
    for (_, pod, _) in FLEXIBLE {
        nodes.push(start_light_node(dsotp_bus.clone(), pod, stopped.clone()).await?);
    }

    // The Market Platform: validation over the DSOTP's databus, PoDs and metered data from the
    // BAL's SCD, tokens from its embedded issuer.
    let participants = [
        ("mo", "market-operator"),
        ("dso", "dso"),
        ("agg-1", "aggregator"),
        ("agg-2", "aggregator"),
    ];
    let market = start_market(
        &data.join("market"),
        http,
        &participants,
        dsotp_bus,
        Arc::new(ScdGridData::new(Arc::new(bal.context().store.clone()))),
    )
    .await?;
    Ok(Platform {
        bal,
        field,
        bridge,
        dsotp,
        market: market.server,
        api: market.api,
        tokens: market.tokens,
        nodes,
        stop,
        routes,
        market_ledger: market.ledger,
    })
}
