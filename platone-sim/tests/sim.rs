//! The field simulator publishing to a real Mosquitto (started by the test on a free loopback
//! port) and to the memory bus: everything sent arrives, decodes to the measurements counted
//! and carries signatures the BAL's configuration verifies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use platone_bus::{MemoryBus, MqttBus, QoS, Subscriber, Subscription, TopicFilter};
use platone_certify::SignedEnvelope;
use platone_cim::meter_readings::{Mode, parse_slice};
use platone_cim::pmu::c37118::{Decoded, Decoder};
use platone_cim::pmu::convert::data_to_measurements;
use platone_cim::pmu::sogno::SognoMessage;
use platone_sim::{FieldPlan, PmuFormat, RunReport, Signing, SimStats, run};
use platone_testkit::Mosquitto;

/// What the received packets decoded to.
#[derive(Debug, Default)]
struct Received {
    packets: u64,
    measurements: u64,
    malformed: u64,
    configs: u64,
    signed: u64,
    sources: HashMap<String, u64>,
}

/// Decodes one packet as the BAL would: envelope (signature checked against the configured
/// address), then SOGNO JSON, C37.118 or MeterReadings by topic and first byte.
fn decode(
    plan: &FieldPlan,
    addresses: &HashMap<String, String>,
    decoders: &mut HashMap<String, Decoder>,
    topic: &str,
    payload: &[u8],
    into: &mut Received,
) {
    let mut parts = topic.rsplitn(3, '/');
    let format = parts.next().unwrap();
    let device = parts.next().unwrap().to_owned();
    let bytes = match SignedEnvelope::detect(payload) {
        Some(envelope) => {
            let envelope = envelope.unwrap();
            let signer = envelope.recover_signer(plan.chain_id).unwrap();
            assert_eq!(&signer.to_checksum(None), &addresses[&device], "{topic}");
            into.signed += 1;
            envelope.payload_bytes().unwrap().into_owned()
        }
        None => payload.to_vec(),
    };
    into.packets += 1;
    let measurements = match format {
        "pmu" if bytes.first() == Some(&0xAA) => {
            match decoders.entry(device).or_default().decode(&bytes).unwrap() {
                Decoded::Config(..) => {
                    into.configs += 1;
                    Vec::new()
                }
                Decoded::Data(data, config) => data_to_measurements(&data, &config, None).unwrap(),
                other => panic!("unexpected frame {other:?}"),
            }
        }
        "pmu" => match SognoMessage::from_json(std::str::from_utf8(&bytes).unwrap()) {
            Ok(message) => message.to_measurements().unwrap(),
            Err(_) => {
                into.malformed += 1;
                Vec::new()
            }
        },
        "cim" => parse_slice(&bytes, Mode::Strict)
            .unwrap()
            .document
            .measurements()
            .into_iter()
            .map(Result::unwrap)
            .collect(),
        other => panic!("unexpected topic suffix {other}"),
    };
    for m in &measurements {
        *into
            .sources
            .entry(m.source.as_str().to_owned())
            .or_default() += 1;
    }
    into.measurements += measurements.len() as u64;
}

/// Receives until `expected` packets arrived (or 30 s passed), acknowledging each.
async fn receive(plan: &FieldPlan, subscription: &mut Subscription, expected: u64) -> Received {
    let addresses: HashMap<String, String> = plan
        .bal_devices()
        .into_iter()
        .map(|d| (d.id, d.address.unwrap()))
        .collect();
    let mut decoders = HashMap::new();
    let mut received = Received::default();
    while received.packets < expected {
        let delivery = tokio::time::timeout(Duration::from_secs(30), subscription.next_delivery())
            .await
            .unwrap_or_else(|_| panic!("only {} of {expected} packets arrived", received.packets))
            .expect("subscription open");
        let message = delivery.message.clone();
        decode(
            plan,
            &addresses,
            &mut decoders,
            &message.topic,
            &message.payload,
            &mut received,
        );
        delivery.ack().await.unwrap();
    }
    received
}

fn assert_everything_arrived(report: &RunReport, received: &Received) {
    assert_eq!(report.stats.failed, 0, "{report:?}");
    assert_eq!(report.stats.in_flight, 0, "{report:?}");
    assert_eq!(Some(report.attempted_packets), report.scheduled_packets);
    assert_eq!(received.packets, report.stats.packets);
    assert_eq!(received.measurements, report.stats.measurements);
    assert_eq!(received.malformed, report.stats.malformed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_mixed_field_through_mosquitto_arrives_whole() {
    let broker = tokio::task::spawn_blocking(Mosquitto::start)
        .await
        .unwrap()
        .expect("mosquitto (Debian package `mosquitto`) must be installed");
    let subscriber = MqttBus::connect(broker.mqtt_config("sim-test-bal")).unwrap();
    let mut subscription = subscriber
        .subscribe(
            TopicFilter::new("platone/bal/devices/#").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let publisher = MqttBus::connect(broker.mqtt_config("sim-test-field")).unwrap();
    publisher
        .wait_connected(Duration::from_secs(10))
        .await
        .unwrap();

    let mut plan = FieldPlan::new(3, 50, 4);
    plan.signing = Signing::Eip712;
    plan.pmu_format = PmuFormat::Mixed;
    plan.accelerate = 900.0; // a meter interval every real second
    plan.meters_per_packet = 3;
    plan.malformed = 2;
    plan.config_every_secs = 1;
    let stats = SimStats::new();
    let report = run(
        &publisher,
        &plan,
        Some(Duration::from_millis(2_000)),
        &stats,
    )
    .await
    .unwrap();
    // 100 frames × 3 PMUs, CFG-2 of pmu-2 at frames 0 and 50, 2 intervals × 2 documents,
    // 2 malformed.
    assert_eq!(report.scheduled_packets, Some(300 + 2 + 4 + 2));
    let received = receive(&plan, &mut subscription, report.stats.packets).await;
    assert_everything_arrived(&report, &received);
    assert_eq!(received.signed, received.packets, "every packet is signed");
    assert_eq!(received.configs, 2);
    assert_eq!(received.malformed, 2);
    assert_eq!(received.sources["pmu-1"], 100 * 13);
    assert_eq!(received.sources["pmu-2"], 100 * 14);
    assert_eq!(received.sources["MTR-4"], 2);
    assert_eq!(report.stats.measurements, 100 * (13 + 14 + 13) + 2 * 4);
    assert!(report.elapsed >= Duration::from_millis(1_980), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bus_run_keeps_the_schedule_and_stops_when_cancelled() {
    let bus = Arc::new(MemoryBus::new());
    let mut subscription = bus
        .subscribe(
            TopicFilter::new("platone/bal/devices/#").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let mut plan = FieldPlan::new(2, 100, 0);
    plan.signing = Signing::Eip191;
    plan.max_in_flight = 8;
    let stats = Arc::new(SimStats::new());
    let (bus2, stats2, plan2) = (bus.clone(), stats.clone(), plan.clone());
    let running = tokio::spawn(async move { run(&*bus2, &plan2, None, &stats2).await });
    // Consume while it runs (the memory bus applies back-pressure), then cancel.
    let first = receive(&plan, &mut subscription, 100).await;
    assert_eq!(first.measurements, 100 * 13);
    stats.cancel();
    let report = running.await.unwrap().unwrap();
    assert!(report.cancelled && !report.kept_up, "{report:?}");
    assert_eq!(report.scheduled_packets, None);
    assert_eq!(report.stats.failed, 0);
    let rest = receive(&plan, &mut subscription, report.stats.packets - 100).await;
    assert_eq!(
        first.measurements + rest.measurements,
        report.stats.measurements
    );
    // 2 PMUs at 100 frames/s: the n-th frame is due at (n - 1) / 100 s; none went out early.
    let frames = report.stats.packets / 2;
    assert!(
        report.elapsed.as_secs_f64() >= (frames - 1) as f64 / 100.0,
        "{frames} frames in {:?}",
        report.elapsed
    );
}
