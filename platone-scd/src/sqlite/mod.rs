//! The embedded default: SQLite in one file, WAL mode.
//!
//! One writer connection (SQLite has one writer at a time) and a small pool of reader
//! connections; WAL lets readers run while the writer writes, from this process or others. All
//! SQLite work runs on tokio's blocking threads, never on the async executor. WAL checkpoints
//! (copying the log back into the database file, with its `fsync`) run on a background thread,
//! at most once a second, so neither reads (which write the audit log) nor inserts wait for
//! them — except that once the log passes 64 MiB, the writer waits between two transactions
//! while the log is started over (otherwise, under writes that never pause, it would grow
//! without bound).

mod certifications;
mod ops;
mod schema;
mod set_points;
mod subscriptions;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use platone_model::{Measurement, ParticipantId, PodId, SetPoint, Timestamp};
use rusqlite::{Connection, TransactionBehavior};

use crate::backend::{
    AuditLog, CertificationStore, MeasurementStore, PodRegistry, Retention, SetPointStore,
    StoreFuture, SubscriptionStore,
};
use crate::error::{Result, ScdError, SqliteContext};
use crate::period::Periods;
use crate::policy::Decision;
use crate::query::{MeasurementQuery, Page, StoredMeasurement};
use crate::records::{
    AuditEntry, CertificationRecord, PodLink, PodRecord, Principal, Resource, SetPointAck,
    StoredSetPoint, Subscription, SubscriptionStatus,
};
use crate::retention::{ArchiveManifest, ArchiveWriter, cutoff_ns};
use crate::row::{DAY_NS, encode_batch, to_ns};
use crate::store::InsertReport;

struct Writer {
    conn: Connection,
    series: HashMap<String, i64>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    /// Wakes the checkpoint thread after a write; dropped with the store, which ends it.
    checkpoints: SyncSender<()>,
}

impl Inner {
    /// Tells the checkpoint thread that the log grew.
    fn written(&self) {
        // A full channel means a checkpoint is already due.
        let _ = self.checkpoints.try_send(());
    }
}

/// The shortest time between two checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Log size (in pages: 64 MiB of 4 KiB pages) above which the log is started over.
const WAL_RESTART_PAGES: i64 = 16_384;

/// Runs checkpoints on its own connection after writes, at most once per `every`
/// ([`CHECKPOINT_EVERY`]), until the store is dropped. A passive checkpoint never blocks readers
/// or the writer, but under continuous writes it never catches up with the end of the log,
/// and SQLite only starts the log over once a checkpoint has: the file would grow without
/// bound (22 GB after a minute at 50,000 measurements/s). So once the log holds more than
/// `restart_pages` ([`WAL_RESTART_PAGES`]) pages, a `RESTART` checkpoint follows: it waits for
/// the writer between two transactions (the writer waits in turn, up to the busy timeout),
/// copies what the passive one left (little: the frames written meanwhile) and has the next
/// transaction write from the start of the log file again.
fn checkpointer(conn: Connection, wake: Receiver<()>, every: Duration, restart_pages: i64) {
    let mut last: Option<Instant> = None;
    while wake.recv().is_ok() {
        if let Some(last) = last {
            std::thread::sleep(every.saturating_sub(last.elapsed()));
        }
        while wake.try_recv().is_ok() {}
        // What a checkpoint cannot copy now (pages a reader still needs) stays in the log for
        // the next one, so a failure here loses nothing.
        let log_pages = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
            .unwrap_or(0);
        if log_pages > restart_pages {
            let _ = conn.execute_batch("PRAGMA wal_checkpoint(RESTART)");
        }
        last = Some(Instant::now());
    }
}

/// The embedded store: one SQLite file in WAL mode. Cheap to clone (shared handle).
///
/// ```
/// use platone_scd::{SqliteStore, Store, MeasurementQuery, Principal};
/// use platone_model::{Measurement, MeasurementKind, Unit, DeviceId, PodId, parse_timestamp};
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("scd.db")).await?;
/// let m = Measurement::new(DeviceId::new("ln-1")?, parse_timestamp("2021-06-30T10:15:00Z")?,
///     MeasurementKind::Energy, Unit::WattHour, 120.0)?.with_pod(PodId::new("IT001E1")?);
/// let report = store.insert_measurements(&[m.clone(), m.clone()]).await?;
/// assert_eq!((report.inserted, report.duplicates), (1, 1));
/// let page = store.query_measurements(&Principal::Operator,
///     &MeasurementQuery::pod(PodId::new("IT001E1")?)).await?;
/// assert_eq!(page.items[0].measurement, m);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| ScdError::Task("a store lock was poisoned by a panic".into()))
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it and its schema if needed.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path))
            .await
            .map_err(|e| ScdError::Task(e.to_string()))?
    }

    /// Opens the database file without an async runtime.
    pub fn open_blocking(path: &Path) -> Result<Self> {
        let conn = ops::open(path)?;
        // Checkpoints are the background thread's job (see the module docs).
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
            .ctx("turning off inline checkpoints")?;
        let (checkpoints, wake) = sync_channel(1);
        let background = ops::open(path)?;
        std::thread::Builder::new()
            .name("scd-checkpoint".into())
            .spawn(move || checkpointer(background, wake, CHECKPOINT_EVERY, WAL_RESTART_PAGES))
            .map_err(|e| ScdError::Io {
                path: path.display().to_string(),
                source: e,
            })?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(Writer {
                    conn,
                    series: HashMap::new(),
                }),
                readers: Mutex::new(Vec::new()),
                checkpoints,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs SQLite's integrity check; `Ok(())` when the file is sound.
    pub async fn integrity_check(&self) -> Result<()> {
        self.read(|conn| {
            let answer: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .ctx("checking integrity")?;
            if answer == "ok" {
                Ok(())
            } else {
                Err(ScdError::Corrupt {
                    record: "database file".into(),
                    reason: answer,
                })
            }
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| ScdError::Task(e.to_string()))?
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.blocking(move |inner| {
            let out = f(&mut *lock(&inner.writer)?);
            inner.written();
            out
        })
        .await
    }

    /// Runs a read. Every policy-checked read appends to the audit log, and every write makes
    /// the other connections drop their page caches; so a read runs on the writer's
    /// connection, whose cache stays current, when no write is in progress, and on a pooled
    /// reader connection while one is.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.blocking(move |inner| match inner.writer.try_lock() {
            Ok(writer) => f(&writer.conn),
            Err(TryLockError::Poisoned(_)) => Err(ScdError::Task(
                "a store lock was poisoned by a panic".into(),
            )),
            Err(TryLockError::WouldBlock) => with_reader(inner, f),
        })
        .await
    }
}

fn with_reader<T>(inner: &Inner, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let pooled = lock(&inner.readers)?.pop();
    let conn = match pooled {
        Some(c) => c,
        None => ops::open(&inner.path)?,
    };
    let out = f(&conn);
    let mut readers = lock(&inner.readers)?;
    if readers.len() < 8 {
        readers.push(conn);
    }
    out
}

impl MeasurementStore for SqliteStore {
    fn write_measurements<'a>(&'a self, batch: &'a [Measurement]) -> StoreFuture<'a, InsertReport> {
        Box::pin(async move {
            let encoded = encode_batch(batch)?;
            self.write(move |w| ops::insert(&mut w.conn, &encoded, &mut w.series))
                .await
        })
    }

    fn read_page<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, Page> {
        let (q, within) = (query.clone(), within.clone());
        Box::pin(self.read(move |c| ops::fetch(c, &q, &within, true)))
    }

    fn read_all<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, Vec<StoredMeasurement>> {
        let (q, within) = (query.clone(), within.clone());
        Box::pin(self.read(move |c| Ok(ops::fetch(c, &q, &within, false)?.items)))
    }

    fn read_count<'a>(
        &'a self,
        query: &'a MeasurementQuery,
        within: &'a Periods,
    ) -> StoreFuture<'a, u64> {
        let (q, within) = (query.clone(), within.clone());
        Box::pin(self.read(move |c| ops::count(c, &q, &within)))
    }
}

impl PodRegistry for SqliteStore {
    fn write_pod<'a>(&'a self, pod: &'a PodRecord) -> StoreFuture<'a, ()> {
        let pod = pod.clone();
        Box::pin(self.write(move |w| ops::register_pod(&w.conn, &pod)))
    }

    fn write_pod_link<'a>(&'a self, link: &'a PodLink) -> StoreFuture<'a, ()> {
        let link = link.clone();
        Box::pin(self.write(move |w| ops::add_pod_link(&w.conn, &link)))
    }

    fn pod_record<'a>(&'a self, pod: &'a PodId) -> StoreFuture<'a, Option<PodRecord>> {
        let pod = pod.clone();
        Box::pin(self.read(move |c| ops::pod_record(c, pod.as_str())))
    }

    fn links_of<'a>(&'a self, resource: &'a Resource) -> StoreFuture<'a, Vec<PodLink>> {
        let resource = resource.clone();
        Box::pin(self.read(move |c| match &resource {
            Resource::Pod(p) => ops::links_by(c, "pod", p.as_str()),
            Resource::Meter(m) => ops::links_by(c, "meter", m.as_str()),
            Resource::Device(d) => ops::links_by(c, "device", d.as_str()),
        }))
    }
}

impl SetPointStore for SqliteStore {
    fn write_set_point<'a>(&'a self, set_point: &'a SetPoint) -> StoreFuture<'a, ()> {
        let sp = set_point.clone();
        Box::pin(self.write(move |w| set_points::put_set_point(&w.conn, &sp)))
    }

    fn write_set_point_ack<'a>(&'a self, ack: &'a SetPointAck) -> StoreFuture<'a, ()> {
        let ack = ack.clone();
        Box::pin(self.write(move |w| set_points::acknowledge(&w.conn, &ack)))
    }

    fn set_points_overlapping<'a>(
        &'a self,
        pod: &'a PodId,
        from: &'a Timestamp,
        to: &'a Timestamp,
    ) -> StoreFuture<'a, Vec<StoredSetPoint>> {
        Box::pin(async move {
            let from = to_ns(from, || "set point query bound `from`".into())?;
            let to = to_ns(to, || "set point query bound `to`".into())?;
            let p = pod.clone();
            self.read(move |c| set_points::set_points(c, &p, from, to))
                .await
        })
    }
}

impl CertificationStore for SqliteStore {
    fn write_certifications<'a>(
        &'a self,
        records: &'a [CertificationRecord],
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let batches = crate::certification::encode(records)?;
            self.write(move |w| certifications::attach(&mut w.conn, &batches, &w.series))
                .await
        })
    }
}

impl SubscriptionStore for SqliteStore {
    fn add_subscription<'a>(
        &'a self,
        consumer: &'a ParticipantId,
        provider: &'a ParticipantId,
        topic: &'a Resource,
        at: &'a Timestamp,
    ) -> StoreFuture<'a, Subscription> {
        let (c, p, t, at) = (consumer.clone(), provider.clone(), topic.clone(), *at);
        Box::pin(self.write(move |w| subscriptions::add_subscription(&w.conn, &c, &p, &t, &at)))
    }

    fn subscription(&self, id: i64) -> StoreFuture<'_, Option<Subscription>> {
        Box::pin(self.read(move |c| subscriptions::subscription(c, id)))
    }

    fn decide<'a>(
        &'a self,
        id: i64,
        expected: SubscriptionStatus,
        status: SubscriptionStatus,
        at: &'a Timestamp,
    ) -> StoreFuture<'a, Option<Subscription>> {
        let at = *at;
        Box::pin(self.write(move |w| subscriptions::decide(&w.conn, id, expected, status, &at)))
    }

    fn subscriptions_involving<'a>(
        &'a self,
        who: &'a ParticipantId,
    ) -> StoreFuture<'a, Vec<Subscription>> {
        let who = who.clone();
        Box::pin(self.read(move |c| subscriptions::subscriptions(c, &who)))
    }

    fn subscriptions_to<'a>(
        &'a self,
        consumer: &'a ParticipantId,
        topics: &'a [Resource],
    ) -> StoreFuture<'a, Vec<Subscription>> {
        let (consumer, topics) = (consumer.clone(), topics.to_vec());
        Box::pin(self.read(move |c| subscriptions::subscriptions_to(c, &consumer, &topics)))
    }
}

impl AuditLog for SqliteStore {
    fn append_audit<'a>(
        &'a self,
        at: &'a Timestamp,
        who: &'a Principal,
        action: &'a str,
        what: &'a str,
        decision: &'a Decision,
    ) -> StoreFuture<'a, ()> {
        let (at, who, action, what, decision) = (
            *at,
            who.clone(),
            action.to_owned(),
            what.to_owned(),
            decision.clone(),
        );
        Box::pin(self.write(move |w| ops::audit(&w.conn, &at, &who, &action, &what, &decision)))
    }

    fn audit_entries(&self, after_seq: i64) -> StoreFuture<'_, Vec<AuditEntry>> {
        Box::pin(self.read(move |c| ops::audit_log(c, after_seq)))
    }
}

impl Retention for SqliteStore {
    fn archive_days<'a>(
        &'a self,
        before: &'a Timestamp,
        dir: &'a Path,
    ) -> StoreFuture<'a, ArchiveManifest> {
        Box::pin(async move {
            let cutoff = cutoff_ns(before)?;
            let dir = dir.to_path_buf();
            self.write(move |w| archive(&mut w.conn, cutoff, &dir))
                .await
        })
    }
}

/// Exports every whole UTC day before `cutoff` to `dir` and deletes it, in one write
/// transaction: no writer can add old data between export and delete.
fn archive(conn: &mut Connection, cutoff: i64, dir: &Path) -> Result<ArchiveManifest> {
    let mut writer = ArchiveWriter::create(dir)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("beginning the archive")?;
    let mut start = i64::MIN;
    while let Some(first) = ops::first_at(&tx, start, cutoff)? {
        let day = first.div_euclid(DAY_NS);
        let end = (day + 1).saturating_mul(DAY_NS).min(cutoff);
        let q = MeasurementQuery {
            from: Some(crate::row::utc_from_ns(first)),
            to: Some(crate::row::utc_from_ns(end)),
            ..MeasurementQuery::default()
        };
        let rows = ops::fetch(&tx, &q, &Periods::all(), false)?;
        writer.write_day(day, &rows.items)?;
        start = end;
    }
    let manifest = writer.finish(cutoff)?;
    ops::delete_before(&tx, cutoff)?;
    tx.commit().ctx("committing the archive")?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under writes that never pause, the log file stays small: it is started over once it
    /// passes the restart size (a passive checkpoint alone never lets SQLite start it over, so
    /// it would hold everything written).
    #[test]
    fn the_log_starts_over_under_continuous_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = ops::open(&path).unwrap();
        writer
            .execute_batch("PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x BLOB)")
            .unwrap();
        let (wake_tx, wake) = sync_channel(1);
        let background = ops::open(&path).unwrap();
        let every = Duration::from_millis(100);
        let thread = std::thread::spawn(move || checkpointer(background, wake, every, 64));
        let wal = dir.path().join("wal.db-wal");
        // 12 MB in bursts of 1 MB, each followed by a pause of five checkpoint intervals, so
        // that the checkpointer gets its turns however loaded the machine is (a test bounded
        // by time starved it on a busy 2-core machine). Without restarts the log would hold
        // all 12 MB; with them it stays within a few bursts even when some pauses pass
        // without a checkpoint (3.2 MB was seen with other tests running beside it).
        let (mut largest, mut written) = (0, 0);
        for row in 1..=3000 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .unwrap();
            written += 4000;
            let _ = wake_tx.try_send(());
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
            if row % 250 == 0 {
                std::thread::sleep(every * 5);
            }
        }
        drop(wake_tx);
        thread.join().unwrap();
        assert!(
            largest < written / 2,
            "the log file reached {largest} bytes of {written} written"
        );
    }
}
