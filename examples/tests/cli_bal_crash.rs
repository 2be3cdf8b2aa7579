//! `platone bal` killed with SIGKILL at random points during a load: after the restarts, every
//! packet the broker took is stored once and certified exactly once (crash safety of the
//! journal, the sealed-batch files and the ledger).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use platone_bus::{Message, MqttBus, Publisher, QoS};
use platone_certify::{FileLedger, Ledger};
use platone_scd::{MeasurementQuery, Principal, Store};
use platone_testkit::mosquitto::{Mosquitto, MosquittoOptions};

/// Packets published (two measurements each).
const PACKETS: u32 = 1_500;

/// A small deterministic generator for the kill points (the seed is printed, so a failure
/// can be replayed with `PLATONE_CRASH_SEED`).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

struct RunningBal {
    child: Child,
    http: String,
}

fn start_bal(mqtt: &str, data: &Path) -> RunningBal {
    let mut child = Command::new(env!("CARGO_BIN_EXE_platone"))
        .args([
            "bal",
            "--mqtt",
            mqtt,
            "--data",
            data.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
            "--batch-size",
            "64",
            "--batch-window",
            "1",
            "--token",
            "dso=crash",
            "--insecure-http",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent && let Some(at) = line.find("REST API on http://") {
                let rest = &line[at + "REST API on http://".len()..];
                let addr = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(';');
                let _ = tx.send(addr.to_owned());
                sent = true;
            }
        }
    });
    let http = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the BAL reports its REST address");
    RunningBal { child, http }
}

fn kill(bal: &mut RunningBal) {
    let _ = Command::new("kill")
        .args(["-KILL", &bal.child.id().to_string()])
        .status();
    let _ = bal.child.wait();
}

fn stop(bal: &mut RunningBal) {
    let _ = Command::new("kill")
        .args(["-TERM", &bal.child.id().to_string()])
        .status();
    let status = bal.child.wait().unwrap();
    assert!(status.success(), "graceful stop: {status:?}");
}

async fn packets_received(http: &str) -> Option<u64> {
    let health: serde_json::Value = reqwest::get(format!("http://{http}/health"))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    health["metrics"]["packets_received"].as_u64()
}

fn packet(i: u32) -> String {
    let (s, ms) = (i / 1000, i % 1000);
    format!(
        r#"{{"device":"pmu-1","timestamp":"2024-03-01T12:{:02}:{:02}.{ms:03}Z","readings":[
        {{"component":"BUS-1","measurand":"voltmagnitude","phase":"A","data":230.5}},
        {{"component":"BUS-1","measurand":"frequency","data":50.01}}]}}"#,
        s / 60,
        s % 60
    )
}

#[test]
fn sigkill_at_random_points_loses_nothing_acknowledged_and_certifies_it_once() {
    let seed = std::env::var("PLATONE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        });
    eprintln!("crash test seed: {seed} (PLATONE_CRASH_SEED replays it)");
    let mut random = Lcg(seed);
    let mosquitto = Mosquitto::start_with(MosquittoOptions {
        max_queued: Some(0),
        ..MosquittoOptions::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let mut bal = start_bal(&mosquitto.url(), &data);
    let url = mosquitto.url();
    // The field: every packet is published at QoS 1 and counts once the broker took it.
    let publisher = runtime.spawn(async move {
        let config = platone_bal::MqttUrl::parse(&url)
            .unwrap()
            .client_config("crash-field");
        let field = MqttBus::connect(config).unwrap();
        field.wait_connected(Duration::from_secs(10)).await.unwrap();
        for i in 0..PACKETS {
            field
                .publish(
                    Message::new("platone/bal/devices/pmu-1/pmu", packet(i)),
                    QoS::AtLeastOnce,
                )
                .await
                .unwrap();
            // About 250 packets a second: the load lasts long enough to be killed into.
            if i % 5 == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let _ = field.disconnect().await;
    });

    // Kill the BAL at random points while the load runs, and start it again.
    let mut kills = 0;
    while !publisher.is_finished() && kills < 4 {
        std::thread::sleep(Duration::from_millis(300 + random.next(1_200)));
        kill(&mut bal);
        kills += 1;
        std::thread::sleep(Duration::from_millis(random.next(300)));
        bal = start_bal(&mosquitto.url(), &data);
    }
    runtime.block_on(publisher).unwrap();
    assert!(kills >= 2, "the load ended before the BAL was killed twice");

    // Let the last run take everything queued at the broker, then stop it gracefully.
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = None;
        loop {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            let now = packets_received(&bal.http).await;
            if now.is_some() && now == last {
                break;
            }
            assert!(Instant::now() < deadline, "the BAL keeps receiving");
            last = now;
        }
    });
    stop(&mut bal);

    runtime.block_on(async {
        let expected = u64::from(PACKETS) * 2;
        let store =
            platone_scd::AnyStore::open(&format!("sqlite://{}", data.join("scd.db").display()))
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
            "every packet the broker took is stored (seed {seed})"
        );
        let uncertified = page
            .items
            .iter()
            .filter(|i| i.certification.is_none())
            .count();
        assert_eq!(
            uncertified, 0,
            "every stored measurement is certified (seed {seed})"
        );
        let ledger = FileLedger::open_read_only(data.join("ledger")).unwrap();
        let entries = ledger.list("pmu-1/pmu", 0..u64::MAX).await.unwrap();
        let leaves: u64 = entries.iter().map(|e| e.certificate.leaf_count).sum();
        assert_eq!(leaves, expected, "nothing is certified twice (seed {seed})");
        assert!(ledger.check_consistency().await.unwrap().is_consistent());
    });
}
