//! Outside clients for the outage tests: `mosquitto_pub` as the devices, a durable
//! `mosquitto_sub -q 1 -c` as the application on the sink.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Topic of message `i`: `platone/dsotp/meter/{i % 50}` at the source.
pub fn source_topic(i: u32) -> String {
    format!("platone/dsotp/meter/{}", i % 50)
}

/// Publishes one QoS 1 message per index with its own `mosquitto_pub` process, as a device
/// would: a publish refused because the broker is down is tried again until it succeeds.
pub fn publish_range(port: u16, range: Range<u32>) {
    for i in range {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
                .args(["-t", &source_topic(i), "-m", &i.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("mosquitto_pub (Debian package mosquitto-clients) runs");
            if status.success() {
                break;
            }
            assert!(Instant::now() < deadline, "mosquitto_pub {i} kept failing");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// What the subscriber saw: how often each index arrived, and lines that were not as expected.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub counts: BTreeMap<u32, u32>,
    pub bad: Vec<String>,
    probes: usize,
}

/// A durable QoS 1 `mosquitto_sub` on the sink, started again whenever it exits (a broker
/// restart ends it).
pub struct Subscriber {
    received: Arc<Mutex<Received>>,
    child: Arc<Mutex<Option<Child>>>,
    stop: Arc<AtomicBool>,
}

fn spawn_sub(port: u16, id: &str, filter: &str) -> Child {
    Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-q", "1", "-c", "-i", id, "-v", "-t", filter])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub (Debian package mosquitto-clients) runs")
}

/// Starts the subscriber and returns once it receives (a probe on `/bal/_probe` proves it).
pub fn durable_subscriber(port: u16, id: &str, filter: &str) -> Subscriber {
    let received = Arc::new(Mutex::new(Received::default()));
    let child = Arc::new(Mutex::new(None::<Child>));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (received, child, stop) = (received.clone(), child.clone(), stop.clone());
        let (id, filter) = (id.to_owned(), filter.to_owned());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let mut c = spawn_sub(port, &id, &filter);
                let out = c.stdout.take();
                *child.lock().unwrap() = Some(c);
                let Some(out) = out else { return };
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    record(&received, &line);
                }
                if let Some(mut c) = child.lock().unwrap().take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    }
    let sub = Subscriber {
        received,
        child,
        stop,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while sub.received.lock().unwrap().probes == 0 {
        assert!(Instant::now() < deadline, "mosquitto_sub did not start");
        let _ = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
            .args(["-t", "/bal/_probe", "-m", "probe"])
            .status();
        std::thread::sleep(Duration::from_millis(200));
    }
    sub
}

fn record(received: &Mutex<Received>, line: &str) {
    let mut r = received.lock().unwrap();
    if line == "/bal/_probe probe" {
        r.probes += 1;
        return;
    }
    let parsed = line.split_once(' ').and_then(|(topic, payload)| {
        let i: u32 = payload.parse().ok()?;
        (topic == format!("/bal/meter/{}", i % 50)).then_some(i)
    });
    match parsed {
        Some(i) => *r.counts.entry(i).or_default() += 1,
        None => r.bad.push(line.to_owned()),
    }
}

impl Subscriber {
    /// Waits until `n` distinct messages arrived (then a little longer for late duplicates), or
    /// until nothing new arrived for `quiet`; returns what arrived.
    pub fn wait_for(&self, n: usize, quiet: Duration) -> Received {
        let mut last = (0, Instant::now());
        loop {
            let seen = self.received.lock().unwrap().counts.len();
            if seen >= n {
                std::thread::sleep(Duration::from_millis(1500));
                break;
            }
            if seen != last.0 {
                last = (seen, Instant::now());
            } else if last.1.elapsed() > quiet {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(mut c) = self.child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
