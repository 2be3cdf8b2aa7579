//! `platone demo --platform`: the whole Platone Open Framework on embedded defaults, in
//! accelerated time — the UC-IT-2 flow of the seeds.
//!
//! PMUs at every bus of a 15-bus 20 kV feeder publish to the BAL, which stores and certifies
//! their packets and forwards them; a bridge takes them to the DSOTP's databus, where the power
//! calculation enriches them, the recorder stores them and the state estimator finds the
//! evening peak's voltage below 0.95 p.u. at the feeder's end. The DSO asks the Market Platform
//! for flexibility there; two aggregators offer load reduction at four PoDs with Light Nodes;
//! at gate closure the session is cleared, validated by the DSOTP with an AC power flow on the
//! estimated state, published and registered. The DSOTP dispatches the awards as set points to
//! the Light Nodes, which acknowledge them and serve them to their EMS over HTTP and Modbus;
//! the PMUs then see the relieved feeder, the metered delivery reaches the SCD, and the session
//! is settled in tokens.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use platone_bal::{Bal, BalConfig};
use platone_bus::{
    Bridge, BridgeConfig, Bus, MemoryBus, Message, MqttBus, MqttConfig, Publisher, QoS, Route,
    TopicMap,
};
use platone_certify::FileLedger;
use platone_dsotp::dispatch::{
    Activation, DispatchConfig, LedgerCertifier, PodShare, PowerUnit, SetPointCertifier,
};
use platone_dsotp::estimation::{Estimation, EstimatorConfig};
use platone_dsotp::validation::{AcValidatorConfig, RequestInjection};
use platone_dsotp::{Dsotp, DsotpParts, DsotpTopics};
use platone_grid::{Network, PowerFlowOptions, parse_case, run_ac};
use platone_market_platform::bus::{BusTopics, BusValidation, OutcomeTopics, ValidationFallback};
use platone_market_platform::grid_data::ScdGridData;
use platone_market_platform::schedule::slot_name;
use platone_market_platform::{PlatformConfig, PlatformEngines, PlatformServer};
use platone_model::{DeviceId, PodId};
use platone_scd::Store;
use platone_sim::grid_field::GridPmus;
use platone_sim::lightnode::{LightNode, SetPointBoard, SetPointTopics, serve_http, serve_modbus};
use serde_json::{Value, json};
use tokio_modbus::client::Reader;

use crate::demo::{Api, Check, demo_certificate, print_report, token};
use crate::demo_market::{readings, wait_for};
use crate::error::{CliError, CliResult};

/// The flexible PoDs: their bus, their aggregator.
const FLEXIBLE: [(u64, &str, &str); 4] = [
    (11, "IT001E00000011", "agg-1"),
    (12, "IT001E00000012", "agg-1"),
    (14, "IT001E00000014", "agg-2"),
    (15, "IT001E00000015", "agg-2"),
];
/// What each flexible PoD offers, kW of load reduction.
const OFFER_KW: f64 = 300.0;
/// The evening peak: the feeder's loads times this.
const PEAK: f64 = 1.4;
/// The voltage limit the DSO keeps, p.u.
const VMIN: f64 = 0.95;
/// The consumption of a flexible PoD over the last days at the slot's time, kW.
const HISTORY_KW: [f64; 5] = [640.0, 610.0, 650.0, 620.0, 630.0];

fn input(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::input(format!("{what}: {e}"))
}

/// A 15-bus radial 20 kV feeder (main line 1–12, lateral 6–13–14–15; sections of
/// 0.48 + j0.56 Ω), 0.45 MW + j0.15 Mvar per bus times `scale`, less `relief` MW at some
/// buses; the substation holds 1.03 p.u.
fn feeder_case(scale: f64, relief: &BTreeMap<u64, f64>) -> String {
    let mut text = String::from("mpc.version = '2';\nmpc.baseMVA = 100;\nmpc.bus = [\n");
    for bus in 1..=15u64 {
        let (kind, mut pd, qd) = if bus == 1 {
            (3, 0.0, 0.0)
        } else {
            (1, 0.45 * scale, 0.15 * scale)
        };
        pd -= relief.get(&bus).copied().unwrap_or(0.0);
        text.push_str(&format!(
            "  {bus} {kind} {pd:.6} {qd:.6} 0 0 1 1.0 0 20 1 1.05 {VMIN};\n"
        ));
    }
    text.push_str("];\nmpc.gen = [\n  1 0 0 10 -10 1.03 100 1 20 0;\n];\nmpc.branch = [\n");
    let sections = (1..12u64)
        .map(|b| (b, b + 1))
        .chain([(6, 13), (13, 14), (14, 15)]);
    for (from, to) in sections {
        text.push_str(&format!(
            "  {from} {to} 0.12 0.14 0 8 8 8 0 0 1 -360 360;\n"
        ));
    }
    text.push_str("];\n");
    text
}

fn feeder(scale: f64, relief: &BTreeMap<u64, f64>) -> CliResult<Network> {
    parse_case(&feeder_case(scale, relief)).map_err(|e| input("feeder model", e))
}

/// The lowest estimated voltage: (bus, vm).
fn lowest(estimation: &Estimation) -> (u64, f64) {
    estimation
        .buses
        .iter()
        .map(|b| (b.bus, b.vm))
        .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a })
}

/// One Light Node: its HTTP and Modbus addresses.
struct Node {
    pod: String,
    http: SocketAddr,
    modbus: SocketAddr,
}

async fn start_light_node(
    bus: Arc<dyn Bus>,
    pod: &str,
    stop: tokio::sync::watch::Receiver<bool>,
) -> CliResult<Node> {
    let pod_id = PodId::new(pod).map_err(|e| input("PoD", e))?;
    let board = Arc::new(Mutex::new(SetPointBoard::new(pod_id)));
    let node = LightNode {
        device: DeviceId::new(format!("ln-{pod}")).map_err(|e| input("device", e))?,
        topics: SetPointTopics::default(),
        board: board.clone(),
    };
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let http = tokio::net::TcpListener::bind(loopback)
        .await
        .map_err(|e| input("Light Node HTTP", e))?;
    let modbus = tokio::net::TcpListener::bind(loopback)
        .await
        .map_err(|e| input("Light Node Modbus", e))?;
    let addresses = (
        http.local_addr().map_err(|e| input("Light Node", e))?,
        modbus.local_addr().map_err(|e| input("Light Node", e))?,
    );
    let until = |mut stop: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::spawn(async move {
        let _ = node.run(bus).await;
    });
    tokio::spawn(serve_http(http, board.clone(), until(stop.clone())));
    tokio::spawn(serve_modbus(modbus, board, until(stop)));
    Ok(Node {
        pod: pod.to_owned(),
        http: addresses.0,
        modbus: addresses.1,
    })
}

/// The targets an EMS reads: over HTTP `GET /` (bspP, kW) and over Modbus (register 1000,
/// float32 high word first).
async fn read_back(node: &Node) -> (Option<f64>, Option<f32>) {
    let http = async {
        let body: Value = reqwest::get(format!("http://{}/", node.http))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        body["bspP"].as_f64()
    };
    let modbus = async {
        let mut client = tokio_modbus::client::tcp::connect(node.modbus).await.ok()?;
        let words = client.read_holding_registers(1000, 2).await.ok()?.ok()?;
        let bits = (u32::from(*words.first()?) << 16) | u32::from(*words.get(1)?);
        Some(f32::from_bits(bits))
    };
    (http.await, modbus.await)
}

/// The PMUs of `network`'s state publish one frame at `time` to the BAL's broker.
async fn publish_frame(
    field: &MqttBus,
    network: &Network,
    time: DateTime<Utc>,
    seed: u64,
) -> CliResult<usize> {
    let flow = run_ac(network, &PowerFlowOptions::default()).map_err(|e| input("power flow", e))?;
    let pmus = GridPmus::new(network);
    let messages = pmus.messages(&flow, time.fixed_offset(), 1e-4, seed);
    for m in &messages {
        field
            .publish(
                Message::new(format!("platone/bal/devices/{}/pmu", m.device), m.to_json()),
                QoS::AtLeastOnce,
            )
            .await
            .map_err(|e| input("PMU", e))?;
    }
    Ok(messages.len())
}

/// Publishes frames until the estimator holds every series at `time` or later, then
/// estimates.
async fn estimate_at(
    dsotp: &Dsotp,
    field: &MqttBus,
    network: &Network,
    time: DateTime<Utc>,
    routes: usize,
) -> CliResult<Arc<Estimation>> {
    let estimator = dsotp
        .estimator()
        .ok_or_else(|| input("estimator", "none"))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut frame = 0;
    loop {
        // Ten frames a second of simulated PMU time, each stamped a tenth of a second later.
        let at = time + TimeDelta::milliseconds(100 * frame);
        publish_frame(field, network, at, frame as u64 + 1).await?;
        frame += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let estimation = estimator
            .trigger(None)
            .await
            .map_err(|e| input("estimate", e))?;
        let fresh = estimation
            .measured_at
            .is_some_and(|m| m >= time.fixed_offset());
        if fresh && estimation.converged && estimation.measurement_count == routes {
            return Ok(estimation);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(input(
                "state estimation",
                format!(
                    "no complete estimate in 30 s ({} of {routes} measurements, {:?})",
                    estimation.measurement_count, estimation.error
                ),
            ));
        }
    }
}

struct Platform {
    bal: Bal,
    field: MqttBus,
    bridge: Bridge,
    dsotp: Dsotp,
    market: PlatformServer,
    api: Api,
    tokens: BTreeMap<&'static str, String>,
    nodes: Vec<Node>,
    stop: tokio::sync::watch::Sender<bool>,
    routes: usize,
    market_ledger: Arc<FileLedger>,
}

impl Platform {
    fn token(&self, who: &str) -> &str {
        self.tokens.get(who).map_or("", String::as_str)
    }
}

async fn start(data: &Path, http: SocketAddr) -> CliResult<Platform> {
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
    let market_dir = data.join("market");
    std::fs::create_dir_all(&market_dir).map_err(|e| input("data", e))?;
    let names = ["mo", "dso", "agg-1", "agg-2"];
    let roles = |who: &str| match who {
        "mo" => "market-operator",
        "dso" => "dso",
        _ => "aggregator",
    };
    let secrets: BTreeMap<&str, String> = names.iter().map(|n| (*n, token(n))).collect();
    let mut config = PlatformConfig {
        data: market_dir.clone(),
        http,
        ..PlatformConfig::default()
    };
    config.api.clients = secrets
        .iter()
        .map(|(who, secret)| format!("{who}={secret}:{}", roles(who)))
        .collect();
    let tls = demo_certificate(&market_dir)?;
    let trusted = tls.cert.clone();
    config.api.tls = Some(tls);
    let market_ledger =
        Arc::new(FileLedger::open(market_dir.join("ledger")).map_err(|e| input("ledger", e))?);
    let topics = BusTopics::default();
    let validation = BusValidation::start(
        dsotp_bus.clone(),
        topics.clone(),
        Duration::from_secs(20),
        ValidationFallback::Fail,
    )
    .await
    .map_err(|e| input("validation", e))?;
    let engines = PlatformEngines {
        validator: Arc::new(validation),
        outcomes: Some(OutcomeTopics::new(
            dsotp_bus.clone() as Arc<dyn Publisher>,
            topics.outcomes.clone(),
        )),
        grid_data: Some(Arc::new(ScdGridData::new(Arc::new(
            bal.context().store.clone(),
        )))),
        ..PlatformEngines::on_ledger(market_ledger.clone())
    };
    let market = PlatformServer::start_with(config, engines)
        .await
        .map_err(|e| input("Market Platform", e))?;
    let api = Api::new(market.api_url(), &trusted)?;
    let mut tokens = BTreeMap::new();
    for (who, secret) in &secrets {
        let t = api
            .access_token(who, secret)
            .await
            .map_err(CliError::input)?;
        tokens.insert(*who, t);
    }
    Ok(Platform {
        bal,
        field,
        bridge,
        dsotp,
        market,
        api,
        tokens,
        nodes,
        stop,
        routes,
        market_ledger,
    })
}

/// Runs the whole-framework demo in `data`; exit 0 only if every check held.
pub(crate) async fn run(data: &Path, http: SocketAddr) -> CliResult {
    std::fs::create_dir_all(data).map_err(|e| input(&data.display().to_string(), e))?;
    println!(
        "Platone Open Framework demo (UC-IT-2): PMUs on a 15-bus 20 kV feeder → BAL → bridge → \
         DSOTP; a voltage problem → flexibility market → DSOTP validation → set points to {} \
         Light Nodes → delivery → settlement",
        FLEXIBLE.len()
    );
    let platform = start(data, http).await?;
    let outcome = flow(&platform).await;
    let Platform {
        bal,
        bridge,
        dsotp,
        market,
        stop,
        ..
    } = platform;
    let _ = stop.send(true);
    dsotp.stop();
    let forwarded = bridge.shutdown().await;
    let market_stopped = market.shutdown().await;
    let bal_stopped = bal.shutdown().await;
    let mut checks = outcome?;
    checks.push(Check {
        what: "bridge BAL → DSOTP",
        seen: format!(
            "{} messages forwarded, {} dead-lettered",
            forwarded.forwarded, forwarded.dead_lettered
        ),
        held: forwarded.forwarded > 0 && forwarded.dead_lettered == 0,
    });
    market_stopped.map_err(|e| input("Market Platform shutdown", e))?;
    bal_stopped.map_err(|e| input("BAL shutdown", e))?;
    print_report(&checks)
}

/// The flow, step by step; the checks it made.
async fn flow(p: &Platform) -> CliResult<Vec<Check>> {
    let mut checks = Vec::new();
    let network = feeder(PEAK, &BTreeMap::new())?;

    // 1. The evening peak, seen by the PMUs, estimated by the DSOTP.
    let peak = estimate_at(&p.dsotp, &p.field, &network, Utc::now(), p.routes).await?;
    let (bus, vm) = lowest(&peak);
    println!(
        "state estimation {}: lowest voltage {vm:.4} p.u. at bus {bus}",
        peak.id
    );
    checks.push(Check {
        what: "voltage problem detected by state estimation",
        seen: format!(
            "{} on {} PMU measurements: {vm:.4} p.u. at bus {bus} < {VMIN}",
            peak.id, peak.measurement_count
        ),
        held: vm < VMIN && peak.converged,
    });
    let health = p.dsotp.health();
    checks.push(Check {
        what: "DSOTP power calculation and time series",
        seen: format!(
            "{} PMU messages enriched, {} measurements stored, {} dead letters",
            health.power.handled, health.stored.inserted, health.power.dead_lettered
        ),
        held: health.power.handled > 0 && health.stored.inserted > 0,
    });

    // 2. The DSO's request for the next slot, the aggregators' offers.
    let now = Utc::now();
    let slot_start = now
        .duration_trunc(TimeDelta::minutes(1))
        .map_err(|e| input("time", e))?
        + TimeDelta::minutes(1);
    let slot = slot_name(slot_start);
    let gate = now + TimeDelta::seconds(4);
    let need_kw = OFFER_KW * FLEXIBLE.len() as f64;
    let spec = json!({"id": "rt-demo", "kind": "real-time", "slots": [slot], "slot_minutes": 15,
        "unit": "kW", "location_rule": "any", "gate_closure": gate.to_rfc3339()});
    let (status, body) = p
        .api
        .post("/api/sessions", p.token("mo"), &spec)
        .await
        .map_err(CliError::input)?;
    if status != 201 {
        return Err(input("opening the session", body));
    }
    let request = json!({"id": "dso-volt-12", "location": FLEXIBLE[1].1, "direction": "up",
        "slot": slot, "quantity": need_kw, "price": 0.40});
    let (request_status, _) = p
        .api
        .post("/api/sessions/rt-demo/requests", p.token("dso"), &request)
        .await
        .map_err(CliError::input)?;
    let mut offers_ok = true;
    for (n, (_, pod, aggregator)) in FLEXIBLE.iter().enumerate() {
        let offer = json!({"id": format!("{aggregator}-{pod}"), "location": pod,
            "direction": "up", "slot": slot, "quantity": OFFER_KW,
            "price": 0.10 + 0.02 * n as f64});
        let (status, _) = p
            .api
            .post("/api/sessions/rt-demo/offers", p.token(aggregator), &offer)
            .await
            .map_err(CliError::input)?;
        offers_ok &= status == 201;
    }
    checks.push(Check {
        what: "DSO request and aggregators' offers",
        seen: format!(
            "{need_kw} kW up at {} ({request_status}); {} offers of {OFFER_KW} kW",
            FLEXIBLE[1].1,
            FLEXIBLE.len()
        ),
        held: request_status == 201 && offers_ok,
    });

    // 3. Gate closure: cleared, validated by the DSOTP (AC, on the estimate), published and
    //    registered.
    let published = wait_for(&p.api, "rt-demo", p.token("mo"), "published").await?;
    let (_, result) = p
        .api
        .get("/api/sessions/rt-demo/result", p.token("mo"))
        .await
        .map_err(CliError::input)?;
    let verdicts = result["verdicts"].as_array().cloned().unwrap_or_default();
    let validated = p.dsotp.health().validation.map_or(0, |v| v.answered);
    checks.push(Check {
        what: "cleared and validated by the DSOTP (AC power flow)",
        seen: format!(
            "{published}; {validated} validation(s) answered; lights: {}",
            verdicts
                .iter()
                .map(|v| format!(
                    "{} {}",
                    v["order"].as_str().unwrap_or("?"),
                    v["light"].as_str().unwrap_or("?")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        held: published == "published" && validated > 0 && !verdicts.is_empty(),
    });
    let awards = result["awards"].as_array().cloned().unwrap_or_default();
    let mut verified = 0;
    for award in &awards {
        if let Ok(proof) = serde_json::from_value(award["proof"].clone())
            && let Ok(check) = platone_certify::verify_with_ledger(
                &award["award"],
                &proof,
                p.market_ledger.as_ref(),
            )
            .await
            && check.is_verified()
        {
            verified += 1;
        }
    }
    checks.push(Check {
        what: "results published and registered",
        seen: format!(
            "{verified} / {} awards verified against the ledger",
            awards.len()
        ),
        held: !awards.is_empty() && verified == awards.len(),
    });

    // 4. Activation: each awarded offer dispatched as a set point to its PoD's Light Node.
    let dispatcher = p
        .dsotp
        .dispatcher()
        .ok_or_else(|| input("dispatch", "none"))?;
    let mut relief = BTreeMap::new();
    let mut activations = Vec::new();
    for award in &awards {
        let a = &award["award"];
        if a["kind"] != "offer" {
            continue;
        }
        let pod = a["location"].as_str().unwrap_or("");
        let quantity = a["quantity"].as_f64().unwrap_or(0.0);
        let order = a["order"].as_str().unwrap_or("");
        if let Some((bus, _, _)) = FLEXIBLE.iter().find(|f| f.1 == pod) {
            *relief.entry(*bus).or_insert(0.0) += quantity / 1000.0;
        }
        let activation = Activation {
            id: format!("act-{order}"),
            session: "rt-demo".into(),
            order: order.to_owned(),
            participant: a["participant"].as_str().unwrap_or("").to_owned(),
            direction: platone_market::Direction::Up,
            quantity,
            unit: PowerUnit::Kw,
            valid_from: now.fixed_offset(),
            valid_to: (slot_start + TimeDelta::minutes(15)).fixed_offset(),
            issued_by: platone_model::ParticipantId::new("dso").ok(),
            pods: vec![PodShare {
                pod: PodId::new(pod).map_err(|e| input("PoD", e))?,
                device: DeviceId::new(format!("ln-{pod}")).map_err(|e| input("device", e))?,
                share: Some(1.0),
                quantity: None,
                baseline: None,
            }],
        };
        activations.push(activation.id.clone());
        dispatcher
            .dispatch(activation)
            .await
            .map_err(|e| input("dispatch", e))?;
    }
    let mut accepted = 0;
    let mut certified = 0;
    for id in &activations {
        let status = dispatcher
            .wait(id, Duration::from_secs(20))
            .await
            .map_err(|e| input("dispatch", e))?;
        accepted += status.counts.accepted + status.counts.applied;
        certified += status
            .set_points
            .iter()
            .filter(|s| s.certification.is_some() && s.ack_certification.is_some())
            .count();
    }
    checks.push(Check {
        what: "set points dispatched, acknowledged, stored and certified",
        seen: format!(
            "{} activations: {accepted} accepted, {certified} set points and acknowledgements certified",
            activations.len()
        ),
        held: !activations.is_empty() && accepted == activations.len() && certified == accepted,
    });
    let mut read = Vec::new();
    let mut matched = true;
    for node in &p.nodes {
        let (http, modbus) = read_back(node).await;
        let expected = -OFFER_KW;
        matched &= http.is_some_and(|v| (v - expected).abs() < 1e-6)
            && modbus.is_some_and(|v| (f64::from(v) - expected).abs() < 1e-3);
        read.push(format!(
            "{} HTTP {} / Modbus {}",
            node.pod,
            http.map_or("-".into(), |v| format!("{v} kW")),
            modbus.map_or("-".into(), |v| format!("{v} kW"))
        ));
    }
    checks.push(Check {
        what: "EMS reads the set points back (HTTP GET /, Modbus register 1000)",
        seen: read.join("; "),
        held: matched,
    });

    // 5. The Light Nodes' customers reduce their load: the PMUs see the relieved feeder.
    let relieved = feeder(PEAK, &relief)?;
    let after = estimate_at(&p.dsotp, &p.field, &relieved, Utc::now(), p.routes).await?;
    let (bus, vm) = lowest(&after);
    checks.push(Check {
        what: "voltage restored after activation",
        seen: format!("{}: lowest {vm:.4} p.u. at bus {bus}", after.id),
        held: vm >= VMIN && after.converged,
    });

    // 6. BAL: the PMU packets certified.
    p.bal.flush().await.map_err(|e| input("BAL", e))?;
    let m = p.bal.metrics();
    checks.push(Check {
        what: "BAL: PMU packets stored, certified and forwarded",
        seen: format!(
            "{} measurements stored, {} certified in {} anchored batches, {} messages forwarded",
            m.measurements_stored,
            m.measurements_certified,
            m.batches_anchored,
            m.messages_forwarded
        ),
        held: m.measurements_stored > 0 && m.batches_anchored > 0 && m.messages_forwarded > 0,
    });

    // 7. Metered delivery into the SCD, settlement from it, tokens.
    let store = &p.bal.context().store;
    let mut batch = Vec::new();
    for (_, pod, _) in FLEXIBLE {
        for (day, kw) in HISTORY_KW.iter().enumerate() {
            batch.extend(readings(
                pod,
                slot_start - TimeDelta::days(day as i64 + 1),
                1,
                *kw,
            )?);
        }
        // The middle 4 of 5 days: the highest dropped.
        let baseline = {
            let mut h = HISTORY_KW;
            h.sort_by(f64::total_cmp);
            h[..4].iter().sum::<f64>() / 4.0
        };
        batch.extend(readings(pod, slot_start, 1, baseline - OFFER_KW)?);
    }
    store
        .insert_measurements(&batch)
        .await
        .map_err(|e| input("SCD", e))?;
    let settle = json!({"from_scd": {"baseline": {"method": "x-of-y", "x": 4, "y": 5}},
        "tokens_per_unit": 1.0});
    let (status, body) = p
        .api
        .post("/api/sessions/rt-demo/settle", p.token("mo"), &settle)
        .await
        .map_err(CliError::input)?;
    let settlements = body["settlements"].as_array().cloned().unwrap_or_default();
    let delivered = settlements
        .iter()
        .filter(|s| s["settlement"]["deficiency"].as_f64().unwrap_or(1.0) <= 1e-6)
        .count();
    checks.push(Check {
        what: "metered delivery settled from the SCD",
        seen: format!(
            "{status}: {delivered} of {} offers delivered in full (baseline 4 of 5 days)",
            settlements.len()
        ),
        held: status == 200 && !settlements.is_empty() && delivered == settlements.len(),
    });
    let mut balances = Vec::new();
    let mut minted = true;
    for aggregator in ["agg-1", "agg-2"] {
        let (status, report) = p
            .api
            .get("/api/sessions/rt-demo/settlement", p.token(aggregator))
            .await
            .map_err(CliError::input)?;
        let balance = report["balance"].as_u64().unwrap_or(0);
        minted &= status == 200 && balance > 0;
        balances.push(format!("{aggregator} {:.2} PFT", balance as f64 / 100.0));
    }
    checks.push(Check {
        what: "tokens paid to the aggregators",
        seen: balances.join(", "),
        held: minted,
    });
    Ok(checks)
}
