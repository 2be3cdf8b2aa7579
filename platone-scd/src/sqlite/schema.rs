//! The embedded store's schema.

/// Connection settings: WAL journal (readers never block the writer), normal sync (durable at
/// checkpoints, never corrupt), foreign keys, and a busy timeout for other processes.
pub(crate) const PRAGMAS: &str = "PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 30000;
PRAGMA temp_store = MEMORY;
PRAGMA cache_size = -65536;";

/// The tables, created if missing. Certification references are split between
/// `certified_batches` and `certifications` as [`crate::certification`] describes.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    meter TEXT,
    component TEXT,
    channel TEXT,
    kind TEXT NOT NULL,
    unit TEXT NOT NULL,
    phases TEXT NOT NULL,
    direction TEXT NOT NULL,
    accumulation TEXT NOT NULL,
    interval_s INTEGER,
    aggregate TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS series_source ON series (source);
CREATE INDEX IF NOT EXISTS series_meter ON series (meter) WHERE meter IS NOT NULL;
CREATE TABLE IF NOT EXISTS measurements (
    series_id INTEGER NOT NULL,
    ts_ns INTEGER NOT NULL,
    offset_s INTEGER NOT NULL,
    pod TEXT,
    usage_point TEXT,
    value REAL NOT NULL,
    multiplier INTEGER NOT NULL,
    quality INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts_ns)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS measurements_pod_time ON measurements (pod, ts_ns);
CREATE INDEX IF NOT EXISTS measurements_time ON measurements (ts_ns);
CREATE TABLE IF NOT EXISTS certified_batches (
    id INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL,
    root_hex TEXT NOT NULL,
    shared TEXT NOT NULL,
    UNIQUE (batch_id, root_hex)
);
CREATE TABLE IF NOT EXISTS certifications (
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    ts_ns INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    leaf_index INTEGER NOT NULL,
    proof TEXT NOT NULL,
    merged INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS certifications_measurement ON certifications (series_id, ts_ns);
CREATE TABLE IF NOT EXISTS pods (
    pod TEXT PRIMARY KEY,
    dso TEXT NOT NULL,
    customer TEXT
);
CREATE TABLE IF NOT EXISTS pod_links (
    id INTEGER PRIMARY KEY,
    pod TEXT NOT NULL REFERENCES pods (pod),
    meter TEXT,
    device TEXT,
    aggregator TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pod_links_pod ON pod_links (pod);
CREATE INDEX IF NOT EXISTS pod_links_meter ON pod_links (meter);
CREATE INDEX IF NOT EXISTS pod_links_device ON pod_links (device);
CREATE TABLE IF NOT EXISTS set_points (
    id TEXT PRIMARY KEY,
    pod TEXT,
    valid_from_ns INTEGER NOT NULL,
    valid_to_ns INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS set_points_pod ON set_points (pod, valid_from_ns);
CREATE TABLE IF NOT EXISTS set_point_acks (
    set_point TEXT NOT NULL REFERENCES set_points (id),
    device TEXT NOT NULL,
    at_ns INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (set_point, device, at_ns)
);
CREATE TABLE IF NOT EXISTS subscriptions (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    consumer TEXT NOT NULL,
    topic TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    decided_at TEXT
);
CREATE INDEX IF NOT EXISTS subscriptions_consumer ON subscriptions (consumer, topic);
CREATE INDEX IF NOT EXISTS subscriptions_provider ON subscriptions (provider);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    what TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    reason TEXT NOT NULL
);
";
