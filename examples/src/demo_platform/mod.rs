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

mod field;
mod setup;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chrono::{DurationRound, TimeDelta, Utc};
use platone_dsotp::dispatch::{Activation, PodShare, PowerUnit};
use platone_market_platform::schedule::slot_name;
use platone_model::{DeviceId, PodId};
use platone_scd::Store;
use serde_json::json;

use crate::demo::{Check, print_report};
use crate::demo_market::{readings, wait_for};
use crate::error::{CliError, CliResult};

use field::{estimate_at, feeder, lowest, read_back};
use setup::{Platform, start};

/// The flexible PoDs: their bus, their aggregator.
pub(crate) const FLEXIBLE: [(u64, &str, &str); 4] = [
    (11, "IT001E00000011", "agg-1"),
    (12, "IT001E00000012", "agg-1"),
    (14, "IT001E00000014", "agg-2"),
    (15, "IT001E00000015", "agg-2"),
];
/// What each flexible PoD offers, kW of load reduction.
pub(crate) const OFFER_KW: f64 = 300.0;
/// The evening peak: the feeder's loads times this.
pub(crate) const PEAK: f64 = 1.4;
/// The voltage limit the DSO keeps, p.u.
pub(crate) const VMIN: f64 = 0.95;
/// The consumption of a flexible PoD over the last days at the slot's time, kW.
pub(crate) const HISTORY_KW: [f64; 5] = [640.0, 610.0, 650.0, 620.0, 630.0];

pub(crate) fn input(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::input(format!("{what}: {e}"))
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
