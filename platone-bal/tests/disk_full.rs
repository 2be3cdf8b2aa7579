//! A full disk under the BAL's data directory (journal, sealed-batch files, ledger): a real
//! file system of 4 MiB (tmpfs) is filled while the BAL ingests from a real Mosquitto.
//!
//! Mounting needs root (or `CAP_SYS_ADMIN`); where it is refused the test says so and is
//! skipped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures::FutureExt;
use platone_bal::{Bal, BalConfig, HealthReport, MetricsSnapshot};
use platone_bus::{Message, MqttBus, Publisher, QoS};
use platone_certify::{FileLedger, Ledger};
use platone_scd::{MeasurementQuery, Principal, Store};
use platone_testkit::Mosquitto;

const TOPIC: &str = "platone/bal/devices/pmu-1/pmu";

/// A tmpfs of a fixed size mounted on a temporary directory; unmounted when dropped.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    /// Mounts it, or says why it cannot.
    fn mount(size: &str) -> Result<SmallFs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallFs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A file that takes every free byte of its file system, then gives some back.
struct Filler {
    path: PathBuf,
}

impl Filler {
    /// Writes `path` until the file system is full; gives back `slack` bytes (rounded to whole
    /// pages by the file system).
    fn fill(path: PathBuf, slack: u64) -> Filler {
        let mut file = std::fs::File::create(&path).unwrap();
        for chunk in [1usize << 16, 4096, 1] {
            let block = vec![0x5au8; chunk];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(slack)).unwrap();
        Filler { path }
    }

    /// Frees the space.
    fn free(self) {
        std::fs::remove_file(&self.path).unwrap();
    }
}

fn sogno(second: u32, value: f64) -> String {
    format!(
        r#"{{"device":"pmu-1","timestamp":"2024-03-01T12:{:02}:{:02}Z","readings":[
        {{"component":"BUS-1","measurand":"voltmagnitude","phase":"A","data":{value}}},
        {{"component":"BUS-1","measurand":"frequency","data":50.01}}]}}"#,
        second / 60,
        second % 60
    )
}

fn config(data: &Path, scd: &Path, broker: &str) -> BalConfig {
    let text = format!(
        "http = \"127.0.0.1:0\"\ndata = {data:?}\nstore = \"sqlite://{}\"\n\
         [batch]\npmu_size = 4\npmu_window_secs = 600\nmeter_size = 100\nmeter_window_secs = 600\n\
         [[pods]]\nid = \"POD-1\"\ncustomer = \"cust-1\"\ndevices = [\"pmu-1\"]\n",
        scd.join("scd.db").display()
    );
    let mut config = BalConfig::from_toml(&text).unwrap();
    config.mqtt = Some(broker.to_owned());
    config.api.insecure_http = true;
    config
}

async fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn publish_range(bus: &MqttBus, seconds: std::ops::Range<u32>) {
    for second in seconds {
        bus.publish(
            Message::new(TOPIC, sogno(second, 230.0 + f64::from(second))),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    }
}

fn batched(bal: &Bal) -> u64 {
    bal.metrics().measurements_batched
}

fn assert_alive(bal: &Bal, health: &HealthReport) {
    assert!(health.is_alive(), "{health:?}");
    assert!(
        bal.failed().now_or_never().is_none(),
        "a task stopped: {health:?}"
    );
}

async fn ready_status(bal: &Bal) -> (reqwest::StatusCode, serde_json::Value) {
    let response = reqwest::get(format!("http://{}/ready", bal.http_addr()))
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_data_directory_pauses_ingest_and_loses_nothing() {
    let fs = match SmallFs::mount("4m") {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!(
                "skipped: a_full_data_directory_pauses_ingest_and_loses_nothing needs to mount \
                 a small tmpfs (run as root): {why}"
            );
            return;
        }
    };
    let data = fs.path().join("data");
    let scd = tempfile::tempdir().unwrap();
    let mosquitto = Mosquitto::start().unwrap();
    let devices = {
        let config = platone_bal::MqttUrl::parse(&mosquitto.url())
            .unwrap()
            .client_config("disk-full-devices");
        let bus = MqttBus::connect(config).unwrap();
        bus.wait_connected(Duration::from_secs(10)).await.unwrap();
        bus
    };
    let bal = Bal::start(config(&data, scd.path(), &mosquitto.url()))
        .await
        .unwrap();
    publish_range(&devices, 0..4).await;
    wait_until("the first packets", 30, || batched(&bal) == 8).await;

    // Full to the last byte: nothing can be journaled, so nothing more is acknowledged;
    // ingest waits, /ready says why, the process stays up and nothing is dead-lettered.
    let filler = Filler::fill(fs.path().join("filler"), 0);
    publish_range(&devices, 4..12).await;
    wait_until("the data directory to show unavailable", 30, || {
        bal.health().engines["data"].status == "unavailable"
    })
    .await;
    let health = bal.health();
    assert_eq!(health.status, "degraded", "{health:?}");
    assert!(
        health.engines["data"]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("No space left")),
        "{health:?}"
    );
    assert_alive(&bal, &health);
    let (status, body) = ready_status(&bal).await;
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["engines"]["data"]["status"], "unavailable", "{body}");
    // Retried with back-pressure, still waiting a while later. (A packet or two may have been
    // journaled into the last, partly used page of the journal before the disk refused one.)
    let stalled = batched(&bal);
    assert!(
        stalled < 24,
        "{stalled} measurements batched on a full disk"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(batched(&bal), stalled, "batched on a full disk");
    assert!(bal.health().engines["data"].retries > 0);
    assert_alive(&bal, &bal.health());

    // Space returns: everything held is journaled, acknowledged and certified.
    filler.free();
    wait_until("the packets held while the disk was full", 60, || {
        batched(&bal) == 24
    })
    .await;
    wait_until("the BAL to be ready again", 30, || bal.health().is_ready()).await;
    assert_eq!(ready_status(&bal).await.0, reqwest::StatusCode::OK);

    // Nearly full: a few pages left, so that the failure falls on later writes (a sealed-batch
    // file, a seal marker, the ledger, a reference) in turn.
    let mut next = 12u32;
    for pages in 1..=8u64 {
        let filler = Filler::fill(fs.path().join("filler"), pages * 4096);
        publish_range(&devices, next..next + 4).await;
        next += 4;
        let target = u64::from(next) * 2;
        // Either it all fits, or something waits for space.
        wait_until("all stored, or a wait for space", 30, || {
            batched(&bal) == target || !bal.health().is_ready()
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_alive(&bal, &bal.health());
        filler.free();
        wait_until("the packets of this round", 60, || batched(&bal) == target).await;
        wait_until("the BAL to be ready again", 30, || bal.health().is_ready()).await;
    }
    let expected = u64::from(next) * 2;
    bal.flush().await.unwrap();
    let metrics: MetricsSnapshot = bal.metrics();
    assert_eq!(metrics.packets_dead_lettered, 0, "{metrics:?}");
    assert_eq!(metrics.measurements_certified, expected, "{metrics:?}");
    bal.shutdown().await.unwrap();

    // The journal and the ledger open again: nothing was torn.
    let bal = Bal::start(config(&data, scd.path(), &mosquitto.url()))
        .await
        .unwrap();
    bal.flush().await.unwrap();
    assert_eq!(
        bal.metrics().packets_received,
        0,
        "nothing was left unacknowledged"
    );
    bal.shutdown().await.unwrap();
    audit(&data, scd.path(), expected).await;
}

/// Every acknowledged measurement is stored and certified exactly once.
async fn audit(data: &Path, scd: &Path, expected: u64) {
    let store = platone_scd::AnyStore::open(&format!("sqlite://{}", scd.join("scd.db").display()))
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
        "every measurement stored"
    );
    assert!(
        page.items.iter().all(|i| i.certification.is_some()),
        "every stored measurement certified"
    );
    let ledger = FileLedger::open_read_only(data.join("ledger")).unwrap();
    let entries = ledger.list("pmu-1/pmu", 0..u64::MAX).await.unwrap();
    let leaves: u64 = entries.iter().map(|e| e.certificate.leaf_count).sum();
    assert_eq!(leaves, expected, "nothing certified twice");
    assert!(ledger.check_consistency().await.unwrap().is_consistent());
}
