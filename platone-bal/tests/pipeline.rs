//! The BAL end to end: MQTT in (the embedded broker and a real Mosquitto), signatures checked,
//! stored, certified, anchored, forwarded, dead-lettered, recovered after a crash.

use std::path::Path;
use std::time::Duration;

use platone_bal::{Bal, BalConfig, MetricsSnapshot};
use platone_bus::{Message, MqttBus, Publisher, QoS, Subscriber, Subscription, TopicFilter};
use platone_certify::{DeviceKey, FileLedger, Ledger, SignedEnvelope};
use platone_scd::{MeasurementQuery, Principal, Store};
use platone_testkit::Mosquitto;

const CFG2: &str = "aa3101c61e36448527f056071098000f4240000153746174696f6e2041202020202020201e36000400040003000156412020202020202020202020202020564220202020202020202020202020205643202020202020202020202020202049312020202020202020202020202020414e414c4f4731202020202020202020414e414c4f4732202020202020202020414e414c4f4733202020202020202020425245414b4552203120535441545553425245414b4552203220535441545553425245414b4552203320535441545553425245414b4552203420535441545553425245414b4552203520535441545553425245414b4552203620535441545553425245414b4552203720535441545553425245414b4552203820535441545553425245414b4552203920535441545553425245414b4552204120535441545553425245414b4552204220535441545553425245414b4552204320535441545553425245414b4552204420535441545553425245414b4552204520535441545553425245414b4552204620535441545553425245414b4552204720535441545553000df847000df847000df8470100b2d00000000101000001020000010000ffff00000016001ed5d1";
const DATA: &str = "aa0100341e3644853600000041b10000392b0000e36ace7ce36a31830444000009c4000042c80000447a0000461c40003c12d43f";

const CIM: &str = r#"<msg:ResponseMessage xmlns:msg="http://iec.ch/TC57/2011/schema/message">
  <msg:Header><msg:Verb>created</msg:Verb><msg:Noun>MeterReadings</msg:Noun></msg:Header>
  <msg:Payload><m:MeterReadings xmlns:m="http://iec.ch/TC57/2011/MeterReadings#">
    <m:MeterReading><m:Meter><m:mRID>MTR-1</m:mRID></m:Meter>
      <m:Readings><m:timeStamp>2024-03-01T12:15:00Z</m:timeStamp><m:value>1.25</m:value>
        <m:ReadingType ref="0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"/></m:Readings>
      <m:Readings><m:timeStamp>2024-03-01T12:30:00Z</m:timeStamp><m:value>1.5</m:value>
        <m:ReadingType ref="0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"/></m:Readings>
    </m:MeterReading></m:MeterReadings></msg:Payload></msg:ResponseMessage>"#;

fn sogno(device: &str, second: u32, value: f64) -> String {
    format!(
        r#"{{"device":"{device}","timestamp":"2024-03-01T12:00:{second:02}Z","readings":[
        {{"component":"BUS-1","measurand":"voltmagnitude","phase":"A","data":{value}}},
        {{"component":"BUS-1","measurand":"frequency","data":50.01}}]}}"#
    )
}

fn config(data: &Path, keys: &[(&str, &DeviceKey)], broker: Option<String>) -> BalConfig {
    let mut text = format!(
        "http = \"127.0.0.1:0\"\ndata = {data:?}\n\
         [batch]\npmu_size = 4\npmu_window_secs = 600\nmeter_size = 100\nmeter_window_secs = 600\n\
         [api]\ninsecure_http = true\n[tokens]\ndso = \"dso-token\"\ncust-1 = \"c1\"\n\
         [[pods]]\nid = \"POD-1\"\ncustomer = \"cust-1\"\ndevices = [\"pmu-1\", \"pmu-c37\"]\nmeters = [\"MTR-1\"]\n\
         [[pods]]\nid = \"POD-2\"\ncustomer = \"cust-2\"\ndevices = [\"pmu-2\"]\n"
    );
    for (device, key) in keys {
        text.push_str(&format!(
            "[[devices]]\nid = \"{device}\"\naddress = \"{}\"\n",
            key.address()
        ));
    }
    let mut config = BalConfig::from_toml(&text).unwrap();
    match broker {
        Some(url) => config.mqtt = Some(url),
        None => config.embedded_broker = Some("127.0.0.1:0".parse().unwrap()),
    }
    config
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

async fn client(url: &str, id: &str) -> MqttBus {
    let config = platone_bal::MqttUrl::parse(url).unwrap().client_config(id);
    let bus = MqttBus::connect(config).unwrap();
    bus.wait_connected(Duration::from_secs(10)).await.unwrap();
    bus
}

/// A subscription to every dead letter the BAL publishes.
async fn dead_letters(bus: &MqttBus) -> Subscription {
    bus.subscribe(
        TopicFilter::new("platone/bal/dlq/#").unwrap(),
        QoS::AtLeastOnce,
    )
    .await
    .unwrap()
}

async fn publish(bus: &MqttBus, topic: &str, payload: impl Into<bytes::Bytes>) {
    bus.publish(Message::new(topic, payload), QoS::AtLeastOnce)
        .await
        .unwrap();
}

async fn wait_for(bal: &Bal, what: &str, done: impl Fn(&MetricsSnapshot) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = bal.metrics();
        if done(&now) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn next_json(sub: &mut Subscription) -> serde_json::Value {
    let delivery = tokio::time::timeout(Duration::from_secs(10), sub.next_delivery())
        .await
        .expect("a message in time")
        .expect("an open subscription");
    let value = serde_json::from_slice(&delivery.message.payload).unwrap();
    delivery.ack().await.unwrap();
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_of_every_format_are_stored_certified_forwarded_or_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let key1 = DeviceKey::generate().unwrap();
    let key2 = DeviceKey::generate().unwrap();
    let bal = Bal::start(config(
        dir.path(),
        &[("pmu-1", &key1), ("pmu-2", &key2)],
        None,
    ))
    .await
    .unwrap();
    let bus = client(bal.mqtt_url(), "test-devices").await;
    let mut dlq = dead_letters(&bus).await;
    let mut forwarded = bus
        .subscribe(
            TopicFilter::new("platone/dsotp/devices/pmu-1/pmu").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();

    // pmu-1: unsigned (accepted in trial mode), EIP-712 and EIP-191 signed by its key.
    let topic1 = "platone/bal/devices/pmu-1/pmu";
    publish(&bus, topic1, sogno("pmu-1", 0, 230.0)).await;
    let signed = SignedEnvelope::sign_eip712(
        &key1,
        "pmu-1",
        sogno("pmu-1", 1, 230.1).as_bytes(),
        unix_now(),
        1,
    )
    .unwrap();
    publish(&bus, topic1, signed.to_json().unwrap()).await;
    let signed = SignedEnvelope::sign_eip191(&key1, sogno("pmu-1", 2, 230.2).as_bytes()).unwrap();
    publish(&bus, topic1, signed.to_json().unwrap()).await;
    // pmu-2's packet signed with pmu-1's key: refused.
    let forged = SignedEnvelope::sign_eip191(&key1, sogno("pmu-2", 3, 229.0).as_bytes()).unwrap();
    publish(
        &bus,
        "platone/bal/devices/pmu-2/pmu",
        forged.to_json().unwrap(),
    )
    .await;
    // C37.118: the configuration, then a data frame.
    let topic_c37 = "platone/bal/devices/pmu-c37/pmu";
    publish(&bus, topic_c37, hex::decode(CFG2).unwrap()).await;
    publish(&bus, topic_c37, hex::decode(DATA).unwrap()).await;
    // CIM MeterReadings in an IEC 61968-100 envelope from the DSO data server.
    publish(&bus, "platone/bal/devices/dso-ds-1/cim", CIM).await;
    // Malformed.
    publish(&bus, topic1, "{\"device\": \"pmu-1\", \"timestamp\": 5").await;

    let forged_letter = next_json(&mut dlq).await;
    assert_eq!(forged_letter["stage"], "signature", "{forged_letter}");
    assert!(
        forged_letter["reason"].as_str().unwrap().contains("POD-2"),
        "{forged_letter}"
    );
    let malformed = next_json(&mut dlq).await;
    assert_eq!(malformed["stage"], "decode", "{malformed}");
    assert_eq!(malformed["device"], "pmu-1");
    assert!(
        malformed["reason"].as_str().unwrap().contains("SOGNO JSON"),
        "{malformed}"
    );
    assert_eq!(
        malformed["payload"],
        "{\"device\": \"pmu-1\", \"timestamp\": 5"
    );

    // Forwarded as stored (publishes overlap, so in any order), marked with their signer.
    let mut signers = Vec::new();
    for _ in 0..3 {
        let message = next_json(&mut forwarded).await;
        assert_eq!(message["device"], "pmu-1");
        assert_eq!(message["measurements"].as_array().unwrap().len(), 2);
        signers.push(message["signer"].as_str().map(str::to_owned));
    }
    signers.sort();
    let address = key1.address().to_checksum(None);
    assert_eq!(signers, [None, Some(address.clone()), Some(address)]);

    wait_for(&bal, "every packet", |m| {
        m.packets_signed + m.packets_unsigned + m.packets_dead_lettered == 8
            && m.measurements_batched == m.measurements_decoded
    })
    .await;
    let expected = bal.metrics().measurements_decoded;
    bal.flush().await.unwrap();
    let totals = bal.metrics();
    assert_eq!(totals.packets_signed, 2, "{totals:?}");
    assert_eq!(totals.packets_dead_lettered, 2, "{totals:?}");
    assert_eq!(totals.measurements_certified, expected, "{totals:?}");

    // Everything is stored with its PoD and an anchored proof that verifies with the ledger.
    let store = &bal.context().store;
    let pod1 = store
        .query_measurements(
            &Principal::Participant("cust-1".parse().unwrap()),
            &MeasurementQuery::pod("POD-1".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(
        pod1.items.len() as u64,
        expected,
        "everything here is POD-1's"
    );
    let meters = pod1
        .items
        .iter()
        .filter(|i| i.measurement.meter.is_some())
        .count();
    assert_eq!(meters, 2);
    for item in &pod1.items {
        let certification = item.certification.as_ref().expect("certified");
        let proof: platone_certify::Proof =
            serde_json::from_value(certification.proof.clone()).unwrap();
        assert!(proof.anchor.anchor().is_some());
        let verification =
            platone_certify::verify_with_ledger(&item.measurement, &proof, &*bal.context().ledger)
                .await
                .unwrap();
        assert!(verification.is_verified(), "{verification:?}");
    }
    let report = bal.context().ledger.check_consistency().await.unwrap();
    assert!(report.is_consistent(), "{report:?}");
    bal.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_can_be_required() {
    let dir = tempfile::tempdir().unwrap();
    let key = DeviceKey::generate().unwrap();
    let mut config = config(dir.path(), &[("pmu-1", &key)], None);
    config.require_signatures = true;
    let bal = Bal::start(config).await.unwrap();
    let bus = client(bal.mqtt_url(), "signing-devices").await;
    let mut dlq = bus
        .subscribe(
            TopicFilter::new("platone/bal/dlq/+").unwrap(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let topic = "platone/bal/devices/pmu-1/pmu";
    publish(&bus, topic, sogno("pmu-1", 0, 230.0)).await;
    let signed = SignedEnvelope::sign_eip191(&key, sogno("pmu-1", 1, 230.0).as_bytes()).unwrap();
    publish(&bus, topic, signed.to_json().unwrap()).await;
    let letter = next_json(&mut dlq).await;
    assert_eq!(letter["stage"], "signature");
    assert!(
        letter["reason"].as_str().unwrap().contains("unsigned"),
        "{letter}"
    );
    wait_for(&bal, "the signed packet", |m| m.measurements_batched == 2).await;
    assert_eq!(bal.metrics().packets_unsigned, 0);
    bal.shutdown().await.unwrap();
}

/// Counts what the SCD and the ledger hold after a run.
async fn audit(dir: &Path, expected: u64) {
    let store = platone_scd::AnyStore::open(&format!("sqlite://{}", dir.join("scd.db").display()))
        .await
        .unwrap();
    let query = MeasurementQuery::device("pmu-1".parse().unwrap()).limit(10_000);
    let page = store
        .query_measurements(&Principal::Operator, &query)
        .await
        .unwrap();
    assert_eq!(
        page.items.len() as u64,
        expected,
        "every acknowledged measurement is stored"
    );
    let uncertified = page
        .items
        .iter()
        .filter(|i| i.certification.is_none())
        .count();
    assert_eq!(uncertified, 0, "every stored measurement is certified");
    let ledger = FileLedger::open_read_only(dir.join("ledger")).unwrap();
    let entries = ledger.list("pmu-1/pmu", 0..u64::MAX).await.unwrap();
    let leaves: u64 = entries.iter().map(|e| e.certificate.leaf_count).sum();
    assert_eq!(leaves, expected, "nothing is certified twice");
    assert!(ledger.check_consistency().await.unwrap().is_consistent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_no_acknowledged_packet_and_anchors_nothing_twice() {
    let mosquitto = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let devices = client(&mosquitto.url(), "crash-devices").await;
    let topic = "platone/bal/devices/pmu-1/pmu";

    let bal = Bal::start(config(dir.path(), &[], Some(mosquitto.url())))
        .await
        .unwrap();
    for second in 0..10 {
        publish(&devices, topic, sogno("pmu-1", second, 230.0)).await;
    }
    wait_for(&bal, "the first packets", |m| m.measurements_batched == 20).await;
    // Sealed batches of 4 are anchored; 20 % 4 = 0, so add two more to leave a batch open.
    publish(&devices, topic, sogno("pmu-1", 10, 230.0)).await;
    wait_for(&bal, "the open batch", |m| m.measurements_batched == 22).await;
    bal.abort().await;

    // Published while the BAL is down: the broker keeps them for its persistent session.
    for second in 11..20 {
        publish(&devices, topic, sogno("pmu-1", second, 231.0)).await;
    }
    // A repeated delivery of an already certified packet changes nothing.
    publish(&devices, topic, sogno("pmu-1", 0, 230.0)).await;

    let bal = Bal::start(config(dir.path(), &[], Some(mosquitto.url())))
        .await
        .unwrap();
    wait_for(&bal, "the queued packets", |m| m.packets_received >= 10).await;
    bal.shutdown().await.unwrap();
    audit(dir.path(), 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_sealing_and_recording_is_finished_at_restart() {
    let mosquitto = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let devices = client(&mosquitto.url(), "seal-devices").await;
    let topic = "platone/bal/devices/pmu-1/pmu";
    let bal = Bal::start(config(dir.path(), &[], Some(mosquitto.url())))
        .await
        .unwrap();
    for second in 0..4 {
        publish(&devices, topic, sogno("pmu-1", second, 230.0)).await;
    }
    wait_for(&bal, "two sealed batches", |m| m.batches_anchored == 2).await;
    bal.shutdown().await.unwrap();

    // Put back a sealed-batch file as if the process had died right after sealing: the
    // restart anchors it again (the ledger already has it: nothing new), records it, and
    // removes it.
    let ledger = FileLedger::open_read_only(dir.path().join("ledger")).unwrap();
    let entry = ledger.get("pmu-1/pmu:1").await.unwrap().expect("anchored");
    drop(ledger);
    let store =
        platone_scd::AnyStore::open(&format!("sqlite://{}", dir.path().join("scd.db").display()))
            .await
            .unwrap();
    let page = store
        .query_measurements(
            &Principal::Operator,
            &MeasurementQuery::device("pmu-1".parse().unwrap()),
        )
        .await
        .unwrap();
    let leaves: Vec<platone_bal::journal::PendingLeaf> = page
        .items
        .iter()
        .filter_map(|i| {
            let c = i.certification.clone()?;
            (c.batch_id == "pmu-1/pmu:1").then(|| platone_bal::journal::PendingLeaf {
                series: i.measurement.series_key().to_string(),
                timestamp: i.measurement.timestamp,
                proof: serde_json::from_value(c.proof).unwrap(),
                arrived: i.measurement.timestamp,
            })
        })
        .collect();
    assert_eq!(leaves.len(), 4);
    drop(store);
    let pending = platone_bal::journal::PendingBatch {
        certificate: entry.certificate.clone(),
        leaves,
    };
    platone_bal::journal::SealedBatches::open(dir.path().join("sealed"))
        .unwrap()
        .write(std::slice::from_ref(&pending))
        .unwrap();
    let bal = Bal::start(config(dir.path(), &[], Some(mosquitto.url())))
        .await
        .unwrap();
    assert_eq!(
        bal.metrics().batches_anchored,
        1,
        "the left-over batch was finished"
    );
    bal.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("sealed"))
            .unwrap()
            .count(),
        0
    );
    audit(dir.path(), 8).await;
}

/// A SOGNO packet dated in the year 2300: decodable, but beyond what the SCD can hold.
fn sogno_in_2300(device: &str) -> String {
    sogno(device, 0, 230.0).replace("2024-03-01", "2300-03-01")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_store_cannot_hold_is_dead_lettered_and_ingest_goes_on() {
    let mosquitto = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let devices = client(&mosquitto.url(), "poison-devices").await;
    let mut dlq = dead_letters(&devices).await;
    let topic = "platone/bal/devices/pmu-1/pmu";
    let bal = Bal::start(config(dir.path(), &[], Some(mosquitto.url())))
        .await
        .unwrap();
    publish(&devices, topic, sogno("pmu-1", 0, 230.0)).await;
    publish(&devices, topic, sogno_in_2300("pmu-1")).await;
    publish(&devices, topic, sogno("pmu-1", 1, 230.0)).await;

    // Both measurements of the poison packet are dead-lettered with the store's reason …
    for _ in 0..2 {
        let letter = next_json(&mut dlq).await;
        assert_eq!(letter["stage"], "store", "{letter}");
        assert_eq!(letter["device"], "pmu-1", "{letter}");
        assert!(
            letter["reason"].as_str().unwrap().contains("2262"),
            "{letter}"
        );
    }
    // … and the packets around it, and after it, are stored and certified.
    wait_for(&bal, "the good packets", |m| m.measurements_batched == 4).await;
    publish(&devices, topic, sogno("pmu-1", 2, 230.0)).await;
    wait_for(&bal, "a packet after the poison", |m| {
        m.measurements_batched == 6
    })
    .await;
    assert!(bal.health().is_ready(), "{:?}", bal.health());
    bal.shutdown().await.unwrap();

    // The poison packet was acknowledged: a restart does not get it again.
    let bal = Bal::start(config(dir.path(), &[], Some(mosquitto.url())))
        .await
        .unwrap();
    publish(&devices, topic, sogno("pmu-1", 3, 230.0)).await;
    wait_for(&bal, "the next packet", |m| m.measurements_batched == 2).await;
    assert_eq!(bal.metrics().packets_dead_lettered, 0);
    bal.shutdown().await.unwrap();
    audit(dir.path(), 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_checked_at_receipt_claims_within_the_skew_and_revoked_keys_refused() {
    let dir = tempfile::tempdir().unwrap();
    let old = DeviceKey::generate().unwrap();
    let new = DeviceKey::generate().unwrap();
    // pmu-1's key rotates from `old` to `new` at this start.
    let bal = Bal::start(config(dir.path(), &[("pmu-1", &old)], None))
        .await
        .unwrap();
    bal.shutdown().await.unwrap();
    let bal = Bal::start(config(dir.path(), &[("pmu-1", &new)], None))
        .await
        .unwrap();
    let bus = client(bal.mqtt_url(), "rotation-devices").await;
    let mut dlq = dead_letters(&bus).await;
    let topic = "platone/bal/devices/pmu-1/pmu";
    let payload = sogno("pmu-1", 0, 230.0);
    let sign = |key: &DeviceKey, device: &str, at: u64| {
        SignedEnvelope::sign_eip712(key, device, payload.as_bytes(), at, 1)
            .unwrap()
            .to_json()
            .unwrap()
    };
    // The rotated-out key, backdated to when it was valid: refused.
    publish(&bus, topic, sign(&old, "pmu-1", 1_000)).await;
    let letter = next_json(&mut dlq).await;
    assert_eq!(letter["stage"], "signature", "{letter}");
    // The rotated-out key, claiming now: refused, the key is not valid at receipt.
    publish(&bus, topic, sign(&old, "pmu-1", unix_now())).await;
    let letter = next_json(&mut dlq).await;
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .contains("the key registered at its receipt"),
        "{letter}"
    );
    // The current key, but a claim an hour off: refused.
    publish(&bus, topic, sign(&new, "pmu-1", unix_now() - 3_600)).await;
    let letter = next_json(&mut dlq).await;
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .contains("s from its receipt"),
        "{letter}"
    );
    // The current key, signed for another device than the topic's: refused.
    publish(&bus, topic, sign(&new, "pmu-2", unix_now())).await;
    let letter = next_json(&mut dlq).await;
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .contains("signed for device"),
        "{letter}"
    );
    // The current key, now: accepted.
    publish(&bus, topic, sign(&new, "pmu-1", unix_now())).await;
    wait_for(&bal, "the signed packet", |m| m.packets_signed == 1).await;
    bal.shutdown().await.unwrap();

    // Revoked in the configuration: its next packet is refused.
    let mut revoked = config(dir.path(), &[("pmu-1", &new)], None);
    revoked.devices[0].revoked_at = Some(chrono::Utc::now().to_rfc3339());
    let bal = Bal::start(revoked).await.unwrap();
    let bus = client(bal.mqtt_url(), "revoked-devices").await;
    let mut dlq = dead_letters(&bus).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    publish(&bus, topic, sign(&new, "pmu-1", unix_now())).await;
    let letter = next_json(&mut dlq).await;
    assert!(
        letter["reason"].as_str().unwrap().contains("withdrawn"),
        "{letter}"
    );
    assert_eq!(bal.metrics().packets_signed, 0);
    bal.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_of_a_pod_may_not_report_for_another_pods_meter() {
    let dir = tempfile::tempdir().unwrap();
    let bal = Bal::start(config(dir.path(), &[], None)).await.unwrap();
    let bus = client(bal.mqtt_url(), "scope-devices").await;
    let mut dlq = dead_letters(&bus).await;
    // pmu-2 serves POD-2; MTR-1 is POD-1's meter.
    publish(&bus, "platone/bal/devices/pmu-2/cim", CIM).await;
    let letter = next_json(&mut dlq).await;
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .contains("may not report for PoD POD-1"),
        "{letter}"
    );
    // The DSO data server, which serves no single PoD, may.
    publish(&bus, "platone/bal/devices/dso-ds-1/cim", CIM).await;
    wait_for(&bal, "the data server's readings", |m| {
        m.measurements_batched == 2
    })
    .await;
    bal.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_down_pauses_ingest_and_nothing_is_lost() {
    let postgres = platone_testkit::TempPostgres::start(platone_testkit::Durability::Fast)
        .expect("PostgreSQL (Debian package postgresql)");
    let url = postgres.create_database("bal_down").unwrap();
    let mosquitto = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let devices = client(&mosquitto.url(), "db-down-devices").await;
    let topic = "platone/bal/devices/pmu-1/pmu";
    let mut config = config(dir.path(), &[], Some(mosquitto.url()));
    config.store = Some(url.clone());
    let bal = Bal::start(config).await.unwrap();
    for second in 0..4 {
        publish(&devices, topic, sogno("pmu-1", second, 230.0)).await;
    }
    wait_for(&bal, "the first packets", |m| m.measurements_batched == 8).await;

    // The database goes down: packets wait at the broker, /ready says why, nothing is
    // dead-lettered and the BAL keeps running.
    postgres.stop().unwrap();
    for second in 4..10 {
        publish(&devices, topic, sogno("pmu-1", second, 231.0)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let health = bal.health();
        if health.engines["store"].status == "unavailable" {
            assert_eq!(health.status, "degraded", "{health:?}");
            assert!(health.is_alive());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store never showed as unavailable: {health:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let http = format!("http://{}/ready", bal.http_addr());
    let ready = reqwest::get(&http).await.unwrap();
    assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["engines"]["store"]["status"], "unavailable", "{body}");
    assert_eq!(bal.metrics().packets_dead_lettered, 0);

    // Back up: everything published meanwhile is stored and certified, once.
    postgres.restart().unwrap();
    wait_for(&bal, "the packets held during the outage", |m| {
        m.measurements_batched == 20
    })
    .await;
    assert!(bal.health().is_ready(), "{:?}", bal.health());
    assert_eq!(
        reqwest::get(&http).await.unwrap().status(),
        reqwest::StatusCode::OK
    );
    bal.flush().await.unwrap();
    let store = platone_scd::AnyStore::open(&url).await.unwrap();
    let page = store
        .query_measurements(
            &Principal::Operator,
            &MeasurementQuery::device("pmu-1".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 20);
    assert!(page.items.iter().all(|i| i.certification.is_some()));
    assert_eq!(bal.metrics().packets_dead_lettered, 0);
    bal.shutdown().await.unwrap();
}
