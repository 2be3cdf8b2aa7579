//! The PostgreSQL schema: measurements partitioned by UTC day on `ts_ns`.

/// The tables, created if missing.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS series (
    id BIGSERIAL PRIMARY KEY,
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
    interval_s BIGINT,
    aggregate TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS series_source ON series (source);
CREATE INDEX IF NOT EXISTS series_meter ON series (meter) WHERE meter IS NOT NULL;
CREATE TABLE IF NOT EXISTS measurements (
    series_id BIGINT NOT NULL,
    ts_ns BIGINT NOT NULL,
    offset_s INTEGER NOT NULL,
    pod TEXT,
    usage_point TEXT,
    value DOUBLE PRECISION NOT NULL,
    multiplier SMALLINT NOT NULL,
    quality INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts_ns)
) PARTITION BY RANGE (ts_ns);
CREATE INDEX IF NOT EXISTS measurements_pod_time ON measurements (pod, ts_ns);
CREATE INDEX IF NOT EXISTS measurements_time ON measurements (ts_ns);
CREATE TABLE IF NOT EXISTS certified_batches (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id TEXT NOT NULL,
    root_hex TEXT NOT NULL,
    shared TEXT NOT NULL,
    UNIQUE (batch_id, root_hex)
);
CREATE TABLE IF NOT EXISTS certifications (
    series_id BIGINT NOT NULL,
    ts_ns BIGINT NOT NULL,
    batch BIGINT NOT NULL,
    leaf_index BIGINT NOT NULL,
    proof TEXT NOT NULL,
    merged BOOLEAN NOT NULL,
    PRIMARY KEY (series_id, ts_ns)
);
CREATE INDEX IF NOT EXISTS certifications_time ON certifications (ts_ns);
CREATE TABLE IF NOT EXISTS pods (
    pod TEXT PRIMARY KEY,
    dso TEXT NOT NULL,
    customer TEXT
);
CREATE TABLE IF NOT EXISTS pod_links (
    id BIGSERIAL PRIMARY KEY,
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
    valid_from_ns BIGINT NOT NULL,
    valid_to_ns BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS set_points_pod ON set_points (pod, valid_from_ns);
CREATE TABLE IF NOT EXISTS set_point_acks (
    set_point TEXT NOT NULL REFERENCES set_points (id),
    device TEXT NOT NULL,
    at_ns BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (set_point, device, at_ns)
);
CREATE TABLE IF NOT EXISTS subscriptions (
    id BIGSERIAL PRIMARY KEY,
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
    seq BIGSERIAL PRIMARY KEY,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    what TEXT NOT NULL,
    allowed BOOLEAN NOT NULL,
    reason TEXT NOT NULL
);
";

/// The advisory lock key that serialises schema and partition changes.
pub(crate) const DDL_LOCK: i64 = 0x5CD_0001;

/// The name of the partition holding UTC day `day`.
pub(crate) fn partition_name(day: i64) -> String {
    format!("measurements_{}", crate::row::day_name(day))
}
