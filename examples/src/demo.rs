//! `platone demo`: the BAL on embedded defaults with simulated field devices, end to end, and
//! a report of what held.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use platone_bal::security::TlsSettings;
use platone_bal::{Bal, BalConfig, MetricsSnapshot};
use platone_bus::{MqttBus, QoS, Subscriber, TopicFilter};
use platone_sim::{FieldPlan, PmuFormat, Signing, SimStats};
use serde_json::{Value, json};

use crate::error::{CliError, CliResult};

/// Options of `platone demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long the field devices send, in seconds.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Number of PMUs (odd ones send SOGNO JSON, even ones IEEE C37.118 frames).
    #[arg(long, default_value_t = 4)]
    pmus: usize,
    /// Frames per second of each PMU.
    #[arg(long, default_value_t = 50)]
    rate: u32,
    /// Number of smart meters read by the DSO data server.
    #[arg(long, default_value_t = 20)]
    meters: usize,
    /// Meter time runs this many times faster (60: 15 simulated minutes every 15 s).
    #[arg(long, default_value_t = 60.0)]
    accelerate: f64,
    /// Keep the BAL's data (SCD, ledger, registry) in this directory instead of a temporary one.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Use this MQTT broker (mqtt://HOST:PORT) instead of the embedded one.
    #[arg(long)]
    mqtt: Option<String>,
    /// Address of the REST API (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    http: SocketAddr,
    /// Anchor on a local Ethereum node instead of the file ledger: starts anvil (one block a
    /// second; installed by `npm ci`, or on PATH, or PLATONE_ANVIL), deploys the contracts and
    /// checks the proofs from the chain alone.
    #[arg(long)]
    chain: bool,
    /// Run the Market Platform demo instead: a whole day-ahead session on embedded defaults in
    /// accelerated time, from the requests to the settlement from the SCD and the tokens.
    #[arg(long, conflicts_with_all = ["chain", "mqtt"])]
    market: bool,
    /// Run the whole framework instead: BAL, DSOTP and Market Platform on embedded defaults,
    /// from PMUs on a feeder to a voltage problem, a flexibility session, its validation by the
    /// DSOTP, set points to Light Nodes, delivery and settlement (UC-IT-2).
    #[arg(long, conflicts_with_all = ["chain", "mqtt", "market"])]
    platform: bool,
}

/// One line of the report: what was checked, what was seen, and whether it held.
pub(crate) struct Check {
    pub what: &'static str,
    pub seen: String,
    pub held: bool,
}

/// Runs the demo; exit 0 only if every check held.
pub fn run(args: DemoArgs) -> CliResult {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::input(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> CliResult {
    let temporary =
        tempfile::tempdir().map_err(|e| CliError::input(format!("temporary directory: {e}")))?;
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    if args.market {
        return crate::demo_market::run(&data, args.http).await;
    }
    if args.platform {
        return crate::demo_platform::run(&data, args.http).await;
    }
    let mut plan = FieldPlan::new(args.pmus, args.rate, args.meters);
    plan.signing = Signing::Eip712;
    plan.pmu_format = PmuFormat::Mixed;
    plan.accelerate = args.accelerate;
    plan.malformed = 1;
    plan.validate().map_err(CliError::usage)?;

    // The participants are clients of the BAL's embedded OAuth 2.0 issuer: the demo asks it
    // for their access tokens (client-credentials grant) as any integrator would.
    let dso_secret = token("dso");
    let owner = FieldPlan::pmu_customer(0);
    let owner_secret = token(&owner);
    let mut config = BalConfig {
        embedded_broker: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        http: args.http,
        data,
        chain_id: plan.chain_id,
        require_signatures: true,
        pods: plan.bal_pods(),
        devices: plan.bal_devices(),
        ..BalConfig::default()
    };
    if let Some(url) = &args.mqtt {
        config.mqtt = Some(url.clone());
        config.embedded_broker = None;
    }
    config.api.clients = vec![
        format!("dso={dso_secret}:dso"),
        format!("{owner}={owner_secret}:"),
    ];
    std::fs::create_dir_all(&config.data)
        .map_err(|e| CliError::input(format!("{}: {e}", config.data.display())))?;
    let tls = demo_certificate(&config.data)?;
    let trusted = tls.cert.clone();
    config.api.tls = Some(tls);

    println!(
        "Platone BAL demo: {} PMUs at {} frames/s (SOGNO JSON and IEEE C37.118), {} meters every \
         15 simulated minutes (x{} time), every packet signed (EIP-712), for {} s",
        args.pmus, args.rate, args.meters, args.accelerate, args.duration
    );
    #[cfg(not(feature = "chain"))]
    if args.chain {
        return Err(crate::ledgers::no_chain_support());
    }
    #[cfg(feature = "chain")]
    let chain = match args.chain {
        true => Some(crate::demo_chain::DemoChain::start(&config.data).await?),
        false => None,
    };
    #[cfg(feature = "chain")]
    let bal = match &chain {
        Some(chain) => {
            println!(
                "anchoring on a local anvil at {} (one block a second)",
                chain.url()
            );
            Bal::start_with_ledger(config, chain.ledger()).await
        }
        None => Bal::start(config).await,
    }
    .map_err(CliError::input)?;
    #[cfg(not(feature = "chain"))]
    let bal = Bal::start(config).await.map_err(CliError::input)?;
    println!(
        "BAL started: embedded MQTT broker {}, REST API {} (OAuth 2.0 tokens from its \
         embedded issuer at /oauth/token)",
        bal.mqtt_url(),
        bal.api_url()
    );

    let field = connect(bal.mqtt_url(), "platone-demo-field").await?;
    let mut dead_letters = field
        .subscribe(
            TopicFilter::new("platone/bal/dlq/#").map_err(CliError::input)?,
            QoS::AtLeastOnce,
        )
        .await
        .map_err(CliError::input)?;

    let stats = Arc::new(SimStats::new());
    let sim = {
        let (field, plan, stats) = (field.clone(), plan.clone(), stats.clone());
        let duration = Duration::from_secs(args.duration);
        tokio::spawn(async move { platone_sim::run(&field, &plan, Some(duration), &stats).await })
    };
    let started = Instant::now();
    while !sim.is_finished() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        progress(started, &stats.snapshot(), &bal.metrics());
    }
    let report = sim
        .await
        .map_err(|e| CliError::input(format!("the field simulator stopped: {e}")))?
        .map_err(CliError::input)?;

    // Wait for the BAL to store and batch everything the broker acknowledged.
    let sent = report.stats;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = bal.metrics();
        if m.measurements_stored >= sent.measurements
            && m.measurements_batched >= m.measurements_stored
        {
            break;
        }
        if Instant::now() > deadline {
            println!("the BAL did not take in every packet within 60 s");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("closing open batches and anchoring them…");
    bal.flush().await.map_err(CliError::input)?;
    #[cfg(feature = "chain")]
    if let Some(chain) = &chain {
        chain.settle(&bal).await?;
    }
    let totals = bal.metrics();
    progress(started, &stats.snapshot(), &totals);

    let mut checks = Vec::new();
    checks.push(Check {
        what: "packets sent / received",
        seen: format!(
            "{} / {} ({} failed to publish; {} measurements delivered again and recognised)",
            sent.packets, totals.packets_received, sent.failed, totals.measurements_duplicate
        ),
        // QoS 1 is at least once: a broker may deliver a packet again; the SCD stores it once.
        held: sent.failed == 0 && totals.packets_received >= sent.packets,
    });
    checks.push(Check {
        what: "measurements sent / stored",
        seen: format!("{} / {}", sent.measurements, totals.measurements_stored),
        held: sent.measurements > 0 && totals.measurements_stored == sent.measurements,
    });
    checks.push(Check {
        what: "signed packets verified",
        seen: format!(
            "{} (unsigned accepted: {})",
            totals.packets_signed, totals.packets_unsigned
        ),
        held: totals.packets_signed > 0 && totals.packets_unsigned == 0,
    });
    let letter = tokio::time::timeout(Duration::from_secs(5), dead_letters.next_delivery()).await;
    let letter: Option<Value> = match letter {
        Ok(Some(d)) => serde_json::from_slice(&d.message.payload).ok(),
        _ => None,
    };
    checks.push(Check {
        what: "malformed packet dead-lettered",
        seen: letter.as_ref().map_or_else(
            || "nothing on platone/bal/dlq/#".into(),
            |l| format!("{} ({})", l["reason"].as_str().unwrap_or("?"), l["stage"]),
        ),
        held: letter.is_some() && totals.packets_dead_lettered >= sent.malformed,
    });
    checks.push(Check {
        what: "batches certified and anchored",
        seen: format!(
            "{} sealed, {} anchored, {} measurements certified",
            totals.batches_sealed, totals.batches_anchored, totals.measurements_certified
        ),
        held: totals.batches_anchored > 0
            && totals.batches_anchored == totals.batches_sealed
            && totals.measurements_certified == totals.measurements_stored,
    });

    let api = match Api::new(bal.api_url(), &trusted) {
        Ok(api) => api,
        Err(e) => {
            let _ = bal.shutdown().await;
            return Err(e);
        }
    };
    let dso_token = api.access_token("dso", &dso_secret).await;
    let owner_token = api.access_token(&owner, &owner_secret).await;
    let (dso_token, owner_token) = match (dso_token, owner_token) {
        (Ok(dso), Ok(owner)) => (dso, owner),
        (Err(e), _) | (_, Err(e)) => {
            let _ = bal.shutdown().await;
            return Err(CliError::input(e));
        }
    };
    let (rest, _sample) = rest_checks(&api, &dso_token, &owner_token).await;
    checks.extend(rest);
    #[cfg(feature = "chain")]
    if let Some(chain) = &chain {
        checks.extend(chain.checks(totals.measurements_stored, &_sample).await);
    }
    field.disconnect().await.map_err(CliError::input)?;
    bal.shutdown().await.map_err(CliError::input)?;
    #[cfg(feature = "chain")]
    if let Some(chain) = chain {
        chain.stop().await?;
    }

    print_report(&checks)
}

/// Prints the checks; `Ok` only if every one held.
pub(crate) fn print_report(checks: &[Check]) -> CliResult {
    println!("\nreport");
    let width = checks.iter().map(|c| c.what.len()).max().unwrap_or(0);
    for c in checks {
        let mark = if c.held { "ok  " } else { "FAIL" };
        println!("  {mark} {:width$}  {}", c.what, c.seen);
    }
    if checks.iter().all(|c| c.held) {
        println!("result: every check held");
        Ok(())
    } else {
        Err(CliError::input(
            "the demo's checks did not all hold (see the report)",
        ))
    }
}

fn progress(started: Instant, sim: &platone_sim::SimSnapshot, bal: &MetricsSnapshot) {
    println!(
        "[{:>3} s] field sent {} packets ({} measurements) | BAL received {}, stored {}, \
         certified {} in {} anchored batches, {} dead letters",
        started.elapsed().as_secs(),
        sim.packets,
        sim.measurements,
        bal.packets_received,
        bal.measurements_stored,
        bal.measurements_certified,
        bal.batches_anchored,
        bal.packets_dead_lettered
    );
}

pub(crate) fn token(participant: &str) -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Only the demo's own process uses these tokens, on loopback.
        bytes = [7; 16];
    }
    format!("{participant}-{}", hex::encode(bytes))
}

async fn connect(url: &str, client_id: &str) -> CliResult<MqttBus> {
    let mut config = platone_bal::MqttUrl::parse(url)
        .map_err(CliError::input)?
        .client_config(client_id);
    config.max_inflight = 256;
    let bus = MqttBus::connect(config).map_err(CliError::input)?;
    bus.wait_connected(Duration::from_secs(10))
        .await
        .map_err(CliError::input)?;
    Ok(bus)
}

/// The REST API as a client sees it.
pub(crate) struct Api {
    client: platone_service::ServiceClient,
}

impl Api {
    /// A client of the BAL at `base`, trusting the certificate in `ca`.
    pub(crate) fn new(base: &str, ca: &Path) -> CliResult<Self> {
        let client =
            platone_service::ServiceClient::new(base, Some(ca)).map_err(CliError::input)?;
        Ok(Api { client })
    }

    /// An access token of the embedded issuer (client-credentials grant, RFC 6749 §4.4).
    pub(crate) async fn access_token(&self, client: &str, secret: &str) -> Result<String, String> {
        self.client
            .access_token(client, secret)
            .await
            .map(|token| token.access_token)
            .map_err(|e| e.to_string())
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Result<(u16, Value), String> {
        let (status, body) = self
            .client
            .get(path, Some(token))
            .await
            .map_err(|e| e.to_string())?;
        Ok((status.as_u16(), body))
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Result<(u16, Value), String> {
        let (status, body) = self
            .client
            .post(path, Some(token), body)
            .await
            .map_err(|e| e.to_string())?;
        Ok((status.as_u16(), body))
    }
}

/// A self-signed certificate for `127.0.0.1` and `localhost`, written to `dir` as
/// `demo-cert.pem` and `demo-key.pem` (the key readable by its owner only): the demo's API is
/// HTTPS like any deployment's, its client trusting this one certificate.
pub(crate) fn demo_certificate(dir: &Path) -> CliResult<TlsSettings> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(|e| CliError::input(format!("demo certificate: {e}")))?;
    let cert = dir.join("demo-cert.pem");
    let key = dir.join("demo-key.pem");
    std::fs::write(&cert, certified.cert.pem())
        .map_err(|e| CliError::input(format!("{}: {e}", cert.display())))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(
        &mut options
            .open(&key)
            .map_err(|e| CliError::input(format!("{}: {e}", key.display())))?,
        certified.signing_key.serialize_pem().as_bytes(),
    )
    .map_err(|e| CliError::input(format!("{}: {e}", key.display())))?;
    Ok(TlsSettings {
        cert,
        key,
        client_ca: None,
    })
}

/// The REST checks, and the sample of measurements (with their proofs) they verified.
async fn rest_checks(api: &Api, dso: &str, owner: &str) -> (Vec<Check>, Vec<Value>) {
    let mut checks = Vec::new();
    // A sample of proofs from a SOGNO PMU, a C37.118 PMU and the meter data server.
    let mut sample: Vec<Value> = Vec::new();
    let mut problems = Vec::new();
    for device in [
        FieldPlan::pmu_id(0),
        FieldPlan::pmu_id(1),
        platone_sim::DATA_SERVER.to_owned(),
    ] {
        let query = if device == platone_sim::DATA_SERVER {
            format!("/api/measurements?pod={}&limit=3", FieldPlan::meter_pod(0))
        } else {
            format!("/api/measurements?device={device}&limit=4")
        };
        match api.get(&query, dso).await {
            Ok((200, page)) => sample.extend(page["items"].as_array().cloned().unwrap_or_default()),
            Ok((status, body)) => problems.push(format!("{query}: {status} {body}")),
            Err(e) => problems.push(e),
        }
    }
    let mut verified = 0;
    for item in &sample {
        let body = json!({"record": item["measurement"], "proof": item["proof"]});
        match api.post("/api/verify", dso, &body).await {
            Ok((200, answer)) if answer["verified"] == json!(true) => verified += 1,
            Ok((status, answer)) => problems.push(format!("verify: {status} {answer}")),
            Err(e) => problems.push(e),
        }
    }
    checks.push(Check {
        what: "proofs verified through the REST API",
        seen: if problems.is_empty() {
            format!(
                "{verified} / {} (each with its ledger anchor)",
                sample.len()
            )
        } else {
            problems.join("; ")
        },
        held: !sample.is_empty() && verified == sample.len(),
    });

    // Tamper check: one stored value altered in a copy.
    let tamper = match sample.first() {
        Some(item) => {
            let mut record = item["measurement"].clone();
            let value = record["value"].as_f64().unwrap_or(0.0);
            record["value"] = json!(value + 1.0);
            let body = json!({"record": record, "proof": item["proof"]});
            match api.post("/api/verify", dso, &body).await {
                Ok((200, answer)) if answer["verified"] == json!(false) => Check {
                    what: "tampered copy refused",
                    seen: format!(
                        "value {value} → {}: {}",
                        value + 1.0,
                        answer["reason"].as_str().unwrap_or("no reason")
                    ),
                    held: answer["reason"].is_string(),
                },
                Ok((status, answer)) => Check {
                    what: "tampered copy refused",
                    seen: format!("{status} {answer}"),
                    held: false,
                },
                Err(e) => Check {
                    what: "tampered copy refused",
                    seen: e,
                    held: false,
                },
            }
        }
        None => Check {
            what: "tampered copy refused",
            seen: "no measurement to alter".into(),
            held: false,
        },
    };
    checks.push(tamper);

    // The access policy: a customer sees its own PoD and not another one's.
    let own = format!("/api/measurements?pod={}&limit=1", FieldPlan::pmu_pod(0));
    let other = format!("/api/measurements?pod={}&limit=1", FieldPlan::pmu_pod(1));
    let (own, other) = (api.get(&own, owner).await, api.get(&other, owner).await);
    let status = |r: &Result<(u16, Value), String>| r.as_ref().map_or(0, |(s, _)| *s);
    checks.push(Check {
        what: "access policy (customer of a PoD)",
        seen: format!(
            "own PoD {}, another customer's PoD {}",
            status(&own),
            status(&other)
        ),
        held: status(&own) == 200 && status(&other) == 403,
    });
    (checks, sample)
}
