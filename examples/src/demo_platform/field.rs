//! The demo's field: the feeder model, its PMUs, the Light Nodes and what an EMS reads.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use platone_bus::{Bus, Message, MqttBus, Publisher, QoS};
use platone_dsotp::Dsotp;
use platone_dsotp::estimation::Estimation;
use platone_grid::{Network, PowerFlowOptions, PowerFlowResult, parse_case, run_ac};
use platone_model::{DeviceId, PodId};
use platone_sim::grid_field::GridPmus;
use platone_sim::lightnode::{LightNode, SetPointBoard, SetPointTopics, serve_http, serve_modbus};
use serde_json::Value;
use tokio_modbus::client::Reader;

use crate::error::CliResult;

use super::{VMIN, input};

/// A 15-bus radial 20 kV feeder (main line 1–12, lateral 6–13–14–15; sections of
/// 0.48 + j0.56 Ω), 0.45 MW + j0.15 Mvar per bus times `scale`, less `relief` MW at some
/// buses; the substation holds 1.03 p.u.
pub(crate) fn feeder_case(scale: f64, relief: &BTreeMap<u64, f64>) -> String {
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

pub(crate) fn feeder(scale: f64, relief: &BTreeMap<u64, f64>) -> CliResult<Network> {
    parse_case(&feeder_case(scale, relief)).map_err(|e| input("feeder model", e))
}

/// The lowest estimated voltage: (bus, vm).
pub(crate) fn lowest(estimation: &Estimation) -> (u64, f64) {
    estimation
        .buses
        .iter()
        .map(|b| (b.bus, b.vm))
        .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a })
}

/// One Light Node: its HTTP and Modbus addresses.
pub(crate) struct Node {
    pub(crate) pod: String,
    pub(crate) http: SocketAddr,
    pub(crate) modbus: SocketAddr,
}

pub(crate) async fn start_light_node(
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
    let answering = node.start(bus).await.map_err(|e| input("Light Node", e))?;
    tokio::spawn(async move {
        let _ = answering.await;
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
pub(crate) async fn read_back(node: &Node) -> (Option<f64>, Option<f32>) {
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

/// The PMUs publish one frame of the state `flow` at `time` to the BAL's broker.
pub(crate) async fn publish_frame(
    field: &MqttBus,
    pmus: &GridPmus,
    flow: &PowerFlowResult,
    time: DateTime<Utc>,
    seed: u64,
) -> CliResult<usize> {
    let messages = pmus.messages(flow, time.fixed_offset(), 1e-4, seed);
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
pub(crate) async fn estimate_at(
    dsotp: &Dsotp,
    field: &MqttBus,
    network: &Network,
    time: DateTime<Utc>,
    routes: usize,
) -> CliResult<Arc<Estimation>> {
    let estimator = dsotp
        .estimator()
        .ok_or_else(|| input("estimator", "none"))?;
    // The state the PMUs measure, solved once for all frames.
    let flow = run_ac(network, &PowerFlowOptions::default()).map_err(|e| input("power flow", e))?;
    let pmus = GridPmus::new(network);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut frame = 0;
    loop {
        // Ten frames a second of simulated PMU time, each stamped a tenth of a second later.
        let at = time + TimeDelta::milliseconds(100 * frame);
        publish_frame(field, &pmus, &flow, at, frame as u64 + 1).await?;
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
