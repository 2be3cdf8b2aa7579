//! `platone demo --market`: a whole day-ahead session of the Market Platform on embedded
//! defaults, in accelerated time — DSO and TSO requests from a congestion forecast, three
//! aggregators' offers on PoDs registered in the SCD, gate closure, `dso-first` clearing, the
//! DSO's validation over the (in-memory) bus, publication, registration with proofs, each
//! participant's outcome on the bus, simulated delivery metered into the SCD, settlement with
//! an X-of-Y baseline computed from the metered history, and tokens.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use platone_bus::{Bus, MemoryBus, Publisher, QoS, TopicFilter};
use platone_certify::FileLedger;
use platone_market::validation::LineLoadingValidator;
use platone_market_platform::bus::{
    BusTopics, BusValidation, OutcomeTopics, ValidationFallback, answer_validations,
};
use platone_market_platform::grid_data::ScdGridData;
use platone_market_platform::schedule::slot_name;
use platone_market_platform::{PlatformConfig, PlatformEngines, PlatformServer};
use platone_model::{
    Accumulation, DeviceId, FlowDirection, Measurement, MeasurementKind, MeasuringPeriod,
    ParticipantId, PodId, Unit,
};
use platone_scd::{PodLink, PodRecord, Store};
use serde_json::{Value, json};

use crate::demo::{Api, Check, demo_certificate, print_report, token};
use crate::error::{CliError, CliResult};

/// The aggregators, each with the PoDs it serves and what share of its awards it delivers.
const AGGREGATORS: [(&str, [&str; 2], f64); 3] = [
    ("agg-1", ["IT001E00000001", "IT001E00000002"], 1.0),
    ("agg-2", ["IT001E00000003", "IT001E00000004"], 1.0),
    ("agg-3", ["IT001E00000005", "IT001E00000006"], 0.8),
];

/// The PoD whose hosting capacity the DSO's validator enforces (kW of accepted offers).
const LIMITED_POD: (&str, f64) = ("IT001E00000005", 12.0);

/// Each PoD's consumption on the five days before delivery (kW): the X-of-Y baseline keeps
/// the middle four.
const HISTORY_KW: [f64; 5] = [100.0, 96.0, 104.0, 98.0, 102.0];

/// The feeder's forecast load at local hour `h` (kW) and its limit: the evening peak
/// congests it.
fn forecast_kw(hour: i64) -> f64 {
    let h = hour as f64;
    420.0 + 230.0 * (-((h - 19.0) * (h - 19.0)) / 6.0).exp()
}
const FEEDER_LIMIT_KW: f64 = 560.0;

/// The gate closes this long after the session opens (accelerated time).
const GATE_IN: TimeDelta = TimeDelta::seconds(4);

fn input(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::input(format!("{what}: {e}"))
}

/// 15-minute energy readings (Wh, import) of `pod` from `start` for `quarters`, at `kw`.
pub(crate) fn readings(
    pod: &str,
    start: DateTime<Utc>,
    quarters: i64,
    kw: f64,
) -> CliResult<Vec<Measurement>> {
    let pod = PodId::new(pod).map_err(|e| input("PoD", e))?;
    // Each PoD's own meter (a series is a device's: two PoDs never share one).
    let meter = DeviceId::new(format!("meter-{pod}")).map_err(|e| input("device", e))?;
    (1..=quarters)
        .map(|i| {
            Measurement::new(
                meter.clone(),
                (start + TimeDelta::minutes(15 * i)).fixed_offset(),
                MeasurementKind::Energy,
                Unit::WattHour,
                kw * 250.0,
            )
            .map(|m| {
                m.with_pod(pod.clone())
                    .with_direction(FlowDirection::Forward)
                    .with_accumulation(Accumulation::Delta, Some(MeasuringPeriod::FIFTEEN_MINUTES))
            })
            .map_err(|e| input("measurement", e))
        })
        .collect()
}

/// The SCD with the PoDs registered (DSO `dso-1`) and linked to their aggregators.
async fn open_scd(dir: &Path) -> CliResult<platone_scd::SqliteStore> {
    let store = platone_scd::SqliteStore::open(dir.join("scd.db"))
        .await
        .map_err(|e| input("SCD", e))?;
    let id = |p: &str| ParticipantId::new(p).map_err(|e| input("participant", e));
    for (aggregator, pods, _) in AGGREGATORS {
        for pod in pods {
            let pod = PodId::new(pod).map_err(|e| input("PoD", e))?;
            let record = PodRecord {
                pod: pod.clone(),
                dso: id("dso-1")?,
                customer: None,
            };
            store
                .register_pod(&record)
                .await
                .map_err(|e| input("SCD", e))?;
            let link = PodLink {
                pod,
                meter: None,
                device: None,
                aggregator: Some(id(aggregator)?),
                valid_from: (Utc::now() - TimeDelta::days(60)).fixed_offset(),
                valid_to: None,
            };
            store
                .add_pod_link(&link)
                .await
                .map_err(|e| input("SCD", e))?;
        }
    }
    Ok(store)
}

struct Participants {
    tokens: BTreeMap<&'static str, String>,
}

impl Participants {
    fn token(&self, who: &str) -> &str {
        self.tokens.get(who).map_or("", String::as_str)
    }
}

/// A Market Platform started for a demo, with its participants' tokens.
pub(crate) struct DemoMarket {
    /// The platform.
    pub(crate) server: PlatformServer,
    /// Its API, trusting its demo certificate.
    pub(crate) api: Api,
    /// Each participant's access token.
    pub(crate) tokens: BTreeMap<&'static str, String>,
    /// The ledger results are registered on.
    pub(crate) ledger: Arc<FileLedger>,
}

/// Starts a Market Platform in `dir` over HTTPS with a demo certificate, its participants
/// (`(id, role)`) clients of its embedded issuer, validation and outcomes over `bus`, PoDs and
/// metered data from `grid_data`; returns it with each participant's token.
pub(crate) async fn start_market(
    dir: &Path,
    http: std::net::SocketAddr,
    participants: &[(&'static str, &str)],
    bus: Arc<dyn Bus>,
    grid_data: Arc<dyn platone_market_platform::grid_data::GridData>,
) -> CliResult<DemoMarket> {
    std::fs::create_dir_all(dir).map_err(|e| input("data", e))?;
    let secrets: BTreeMap<&'static str, String> =
        participants.iter().map(|(n, _)| (*n, token(n))).collect();
    let mut config = PlatformConfig {
        data: dir.to_path_buf(),
        http,
        ..PlatformConfig::default()
    };
    config.api.clients = participants
        .iter()
        .map(|(who, role)| format!("{who}={}:{role}", secrets[who]))
        .collect();
    let tls = demo_certificate(dir)?;
    let trusted = tls.cert.clone();
    config.api.tls = Some(tls);
    let ledger = Arc::new(FileLedger::open(dir.join("ledger")).map_err(|e| input("ledger", e))?);
    let topics = BusTopics::default();
    let validation = BusValidation::start(
        bus.clone(),
        topics.clone(),
        Duration::from_secs(20),
        ValidationFallback::Fail,
    )
    .await
    .map_err(|e| input("validation", e))?;
    let engines = PlatformEngines {
        validator: Arc::new(validation),
        outcomes: Some(OutcomeTopics::new(
            bus as Arc<dyn Publisher>,
            topics.outcomes.clone(),
        )),
        grid_data: Some(grid_data),
        ..PlatformEngines::on_ledger(ledger.clone())
    };
    let server = PlatformServer::start_with(config, engines)
        .await
        .map_err(|e| input("Market Platform", e))?;
    let api = Api::new(server.api_url(), &trusted)?;
    let mut tokens = BTreeMap::new();
    for (who, secret) in &secrets {
        let t = api
            .access_token(who, secret)
            .await
            .map_err(CliError::input)?;
        tokens.insert(*who, t);
    }
    Ok(DemoMarket {
        server,
        api,
        tokens,
        ledger,
    })
}

/// Runs the market demo in `data`; exit 0 only if every check held.
pub(crate) async fn run(data: &Path, http: std::net::SocketAddr) -> CliResult {
    std::fs::create_dir_all(data).map_err(|e| input(&data.display().to_string(), e))?;
    println!(
        "Platone Market Platform demo: a day-ahead session for tomorrow, DSO and TSO requests \
         from a congestion forecast, {} aggregators on {} PoDs, gate closure in {} s",
        AGGREGATORS.len(),
        AGGREGATORS.len() * 2,
        GATE_IN.num_seconds()
    );
    let scd = Arc::new(open_scd(data).await?);
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let topics = BusTopics::default();
    // The DSO's technical validation, answering on the bus: the hosting capacity of one PoD.
    let validator = LineLoadingValidator {
        area_limits: BTreeMap::from([(LIMITED_POD.0.to_owned(), LIMITED_POD.1)]),
        curtail_areas: true,
        ..LineLoadingValidator::default()
    };
    let dso_validator = answer_validations(
        bus.clone(),
        topics.clone(),
        Arc::new(validator),
        "dso-1".into(),
    )
    .await
    .map_err(|e| input("validator", e))?;
    let mut delivered = bus
        .subscribe(
            TopicFilter::new(format!("{}/+", topics.outcomes)).map_err(|e| input("bus", e))?,
            QoS::AtLeastOnce,
        )
        .await
        .map_err(|e| input("bus", e))?;

    let mut names = vec![
        ("mo", "market-operator"),
        ("dso-1", "dso"),
        ("tso-1", "tso"),
    ];
    names.extend(AGGREGATORS.iter().map(|a| (a.0, "aggregator")));
    let market = start_market(
        &data.join("market"),
        http,
        &names,
        bus.clone(),
        Arc::new(ScdGridData::new(scd.clone())),
    )
    .await?;
    println!(
        "Market Platform on {} (tokens from its embedded issuer)",
        market.server.api_url()
    );
    let DemoMarket {
        server,
        api,
        tokens,
        ledger,
    } = market;
    let people = Participants { tokens };
    let outcome = session(&api, &people, &ledger, scd.as_ref()).await;
    // The outcomes delivered on the bus: once at publication, once at settlement.
    let mut messages = 0;
    while let Ok(Some(_)) =
        tokio::time::timeout(Duration::from_secs(2), delivered.next_delivery()).await
    {
        messages += 1;
    }
    dso_validator.abort();
    let shutdown = server.shutdown().await;
    let mut checks = outcome?;
    checks.push(Check {
        what: "outcomes delivered on the bus",
        seen: format!(
            "{messages} messages (one per participant, at publication and at settlement)"
        ),
        held: messages == 2 * names.len().saturating_sub(1),
    });
    shutdown.map_err(|e| input("shutdown", e))?;
    print_report(&checks)
}

/// The session, from opening to settlement; the checks it made.
async fn session(
    api: &Api,
    people: &Participants,
    ledger: &FileLedger,
    scd: &platone_scd::SqliteStore,
) -> CliResult<Vec<Check>> {
    let mut checks = Vec::new();
    let tomorrow = Utc::now()
        .duration_trunc(TimeDelta::days(1))
        .map_err(|e| input("time", e))?
        + TimeDelta::days(1);
    let slots: Vec<String> = (0..24)
        .map(|h| slot_name(tomorrow + TimeDelta::hours(h)))
        .collect();
    let spec = json!({"id": "da-demo", "kind": "day-ahead", "slots": slots, "slot_minutes": 60,
        "unit": "kW", "location_rule": "any",
        "gate_closure": (Utc::now() + GATE_IN).to_rfc3339()});
    let (status, body) = api
        .post("/api/sessions", people.token("mo"), &spec)
        .await
        .map_err(CliError::input)?;
    if status != 201 {
        return Err(input("opening the session", body));
    }

    // The DSO's requests: the forecast above the feeder's limit, hour by hour, at the PoD
    // downstream of the congestion; the TSO's: a balancing need in the morning.
    let mut requests = Vec::new();
    for (h, slot) in slots.iter().enumerate() {
        let excess = forecast_kw(h as i64) - FEEDER_LIMIT_KW;
        if excess > 0.0 {
            requests.push(
                json!({"id": format!("dso-r{h:02}"), "location": "IT001E00000003",
                "direction": "up", "slot": slot, "quantity": (excess * 10.0).round() / 10.0,
                "price": 0.40}),
            );
        }
    }
    let congested = requests.len();
    let (status, body) = api
        .post(
            "/api/sessions/da-demo/requests",
            people.token("dso-1"),
            &json!({"orders": requests}),
        )
        .await
        .map_err(CliError::input)?;
    let dso_ok = status == 201;
    if !dso_ok {
        println!("the DSO's requests were refused: {body}");
    }
    let tso = json!({"orders": [{"id": "tso-r08", "location": "IT001E00000001",
        "direction": "up", "slot": slots[8], "quantity": 25.0, "price": 0.35}]});
    let (tso_status, _) = api
        .post(
            "/api/sessions/da-demo/requests",
            people.token("tso-1"),
            &tso,
        )
        .await
        .map_err(CliError::input)?;
    checks.push(Check {
        what: "requests from the congestion forecast",
        seen: format!("DSO: {congested} congested hours ({status}); TSO: 1 ({tso_status})"),
        held: dso_ok && tso_status == 201 && congested > 0,
    });

    // Each aggregator offers on its PoDs for the evening peak and the morning.
    let mut offered = 0;
    let mut refused = true;
    for (n, (aggregator, pods, _)) in AGGREGATORS.iter().enumerate() {
        let mut orders = Vec::new();
        for (k, pod) in pods.iter().enumerate() {
            for h in [8usize, 16, 17, 18, 19, 20, 21, 22] {
                orders.push(
                    json!({"id": format!("{aggregator}-{pod}-{h:02}"), "location": pod,
                    "direction": "up", "slot": slots[h],
                    "quantity": 15.0 + 5.0 * k as f64 + 2.0 * n as f64,
                    "price": 0.10 + 0.04 * n as f64 + 0.01 * k as f64}),
                );
            }
        }
        offered += orders.len();
        let (status, body) = api
            .post(
                "/api/sessions/da-demo/offers",
                people.token(aggregator),
                &json!({"orders": orders}),
            )
            .await
            .map_err(CliError::input)?;
        if status != 201 {
            return Err(input(&format!("{aggregator}'s offers"), body));
        }
        // An offer on another aggregator's PoD is refused by the SCD's registry.
        let other = AGGREGATORS[(n + 1) % AGGREGATORS.len()].1[0];
        let stray = json!({"id": format!("{aggregator}-stray"), "location": other,
            "direction": "up", "slot": slots[19], "quantity": 5.0, "price": 0.01});
        let (status, _) = api
            .post(
                "/api/sessions/da-demo/offers",
                people.token(aggregator),
                &stray,
            )
            .await
            .map_err(CliError::input)?;
        refused &= status == 400;
    }
    checks.push(Check {
        what: "offers taken / offers on a PoD not served refused",
        seen: format!("{offered} taken; the stray ones refused: {refused}"),
        held: refused,
    });

    // Gate closure by the platform's clock: clear, validate over the bus, publish, register.
    let published = wait_for(api, "da-demo", people.token("mo"), "published").await?;
    let (_, result) = api
        .get("/api/sessions/da-demo/result", people.token("mo"))
        .await
        .map_err(CliError::input)?;
    let (_, trail) = api
        .get("/api/sessions/da-demo/audit", people.token("mo"))
        .await
        .map_err(CliError::input)?;
    let event = |name: &str| {
        trail
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["event"] == name)
            .map(|e| e["detail"].as_str().unwrap_or("").to_owned())
    };
    let cleared = event("cleared").unwrap_or_default();
    let validated = event("validated").unwrap_or_default();
    checks.push(Check {
        what: "gate closure: cleared (dso-first)",
        seen: format!("{published}; {cleared}"),
        held: published == "published" && cleared.starts_with("dso-first"),
    });
    checks.push(Check {
        what: "DSO validation round trip over the bus",
        seen: format!(
            "{validated} (hosting capacity of {} kW at {})",
            LIMITED_POD.1, LIMITED_POD.0
        ),
        held: !validated.is_empty() && !validated.starts_with("1 rounds"),
    });

    // Every award verified against the ledger alone.
    let awards = result["awards"].as_array().cloned().unwrap_or_default();
    let mut verified = 0;
    for award in &awards {
        let proof = serde_json::from_value(award["proof"].clone());
        if let Ok(proof) = proof
            && let Ok(check) =
                platone_certify::verify_with_ledger(&award["award"], &proof, ledger).await
            && check.is_verified()
        {
            verified += 1;
        }
    }
    checks.push(Check {
        what: "awards registered and verified against the ledger",
        seen: format!(
            "{verified} / {} (result hash {})",
            awards.len(),
            result["registration"]["result_hash"]
                .as_str()
                .unwrap_or("?")
        ),
        held: !awards.is_empty() && verified == awards.len(),
    });

    // Delivery, simulated: each PoD's history and its metered consumption during the awarded
    // hours, into the SCD; agg-3 delivers 80 % of its awards.
    let mut awarded: BTreeMap<(String, String), f64> = BTreeMap::new();
    for award in &awards {
        let a = &award["award"];
        if a["kind"] == "offer" {
            let key = (
                a["location"].as_str().unwrap_or("").to_owned(),
                a["slot"].as_str().unwrap_or("").to_owned(),
            );
            *awarded.entry(key).or_default() += a["quantity"].as_f64().unwrap_or(0.0);
        }
    }
    let mut written = 0;
    for ((pod, slot), quantity) in &awarded {
        let start: DateTime<Utc> = slot.parse().map_err(|e| input("slot", e))?;
        let share = AGGREGATORS
            .iter()
            .find(|a| a.1.contains(&pod.as_str()))
            .map_or(1.0, |a| a.2);
        let mut batch = Vec::new();
        for (day, kw) in HISTORY_KW.iter().enumerate() {
            batch.extend(readings(
                pod,
                start - TimeDelta::days(day as i64 + 1),
                4,
                *kw,
            )?);
        }
        batch.extend(readings(pod, start, 4, 99.0 - quantity * share)?);
        written += batch.len();
        scd.insert_measurements(&batch)
            .await
            .map_err(|e| input("SCD", e))?;
    }
    println!(
        "delivery simulated: {written} metered readings of {} awarded PoD-hours written to the SCD",
        awarded.len()
    );

    let settle = json!({"from_scd": {"baseline": {"method": "x-of-y", "x": 4, "y": 5}},
        "tokens_per_unit": 1.0});
    let (status, body) = api
        .post("/api/sessions/da-demo/settle", people.token("mo"), &settle)
        .await
        .map_err(CliError::input)?;
    if status != 200 {
        println!("settlement refused: {body}");
    }
    let settlements = body["settlements"].as_array().cloned().unwrap_or_default();
    let short: Vec<&Value> = settlements
        .iter()
        .filter(|s| s["settlement"]["deficiency"].as_f64().unwrap_or(0.0) > 1e-9)
        .collect();
    let all_short_are_agg3 = short.iter().all(|s| s["participant"] == "agg-3");
    checks.push(Check {
        what: "settled from the SCD (baseline 4 of 5 days)",
        seen: format!(
            "{status}: {} offers, baseline {} kW, {} short of their order (all agg-3's: {all_short_are_agg3})",
            settlements.len(),
            settlements.first().and_then(|s| s["settlement"]["baseline"].as_f64()).unwrap_or(f64::NAN),
            short.len()
        ),
        held: status == 200 && !settlements.is_empty() && !short.is_empty() && all_short_are_agg3,
    });
    let mut balances = Vec::new();
    let mut minted = true;
    for (aggregator, _, _) in AGGREGATORS {
        let (status, report) = api
            .get("/api/sessions/da-demo/settlement", people.token(aggregator))
            .await
            .map_err(CliError::input)?;
        let own: u64 = report["settlements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["tokens"].as_u64())
            .sum();
        let balance = report["balance"].as_u64().unwrap_or(0);
        minted &= status == 200 && balance == own;
        balances.push(format!("{aggregator} {:.2} PFT", balance as f64 / 100.0));
    }
    checks.push(Check {
        what: "tokens minted to the delivering aggregators",
        seen: balances.join(", "),
        held: minted,
    });
    Ok(checks)
}

/// Waits (up to a minute) until `session` reaches `status` or fails; returns its status.
pub(crate) async fn wait_for(
    api: &Api,
    session: &str,
    token: &str,
    status: &str,
) -> CliResult<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, session) = api
            .get(&format!("/api/sessions/{session}"), token)
            .await
            .map_err(CliError::input)?;
        let now = session["status"].as_str().unwrap_or("").to_owned();
        if now == status || now == "failed" || tokio::time::Instant::now() > deadline {
            if now == "failed" {
                println!("session failed: {}", session["failure"]);
            }
            return Ok(now);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
