#!/usr/bin/env python3
"""Peer figures for the platone-scd benchmark: the same data in the same tables, loaded and read
from Python with the standard sqlite3 module (one transaction, executemany) and with psycopg 3
(binary COPY into a staging table, then INSERT ... ON CONFLICT DO NOTHING, as the Rust store
does).

The data is the benchmark's: 500 PoDs x 3 days of quarter-hour energy readings preloaded
(144,000), then five bulk inserts of 100,000 new readings (1,042 new series each), then 2,000
PoD-day queries (96 points) of the preloaded PoDs. Series rows are created as the Rust store
creates them (one row per new series key, ids kept in a dict); the measurement columns, primary
key and indexes are the same.

What the peer does NOT do, and the Rust store does: validate and encode Measurement values,
detect duplicates and conflicts, check the access policy and write the audit log on each read,
and decode rows back into Measurement values. The peer is the floor for the same storage work.

Usage:
  .venv/bin/python scd_python.py sqlite
  .venv/bin/python scd_python.py postgres postgres://postgres@127.0.0.1:PORT/DB
(scd_peers.sh starts a throwaway PostgreSQL server with default durability and runs both.)
"""
import datetime as dt
import os
import sqlite3
import sys
import tempfile
import time

BULK = 100_000
PODS = 500
QUERIES = 2000
START = int(dt.datetime(2021, 6, 28, tzinfo=dt.timezone.utc).timestamp()) * 10**9
QUARTER = 15 * 60 * 10**9
DAY = 86_400 * 10**9


def readings(tag, pods, days):
    """(series key parts, ts_ns, pod, value) rows, in the benchmark's order."""
    out = []
    for p in range(pods):
        device, meter, pod = f"ln-{tag}-{p}", f"m-{tag}-{p}", f"pod-{tag}-{p}"
        key = f"{device}|{meter}|||energy|Wh|ABC|forward|delta|900|none"
        series = (key, device, meter)
        for q in range(days * 96):
            out.append((series, START + QUARTER * (q + 1), pod, (q % 97) * 1.5))
    return out


SERIES_COLUMNS = ("key, source, meter, component, channel, kind, unit, phases, direction, "
                  "accumulation, interval_s, aggregate")


def series_row(series):
    key, device, meter = series
    return (key, device, meter, None, None, "energy", "Wh", "ABC", "forward", "delta", 900, "none")


def cpu():
    t = os.times()
    return t.user + t.system


def report(name, insert_batches, query):
    wall = cpu_used = 0.0
    for tag in range(1, 6):
        batch = readings(tag, BULK // 96 + 1, 1)[:BULK]
        t, c = time.perf_counter(), cpu()
        insert_batches(batch)
        wall += time.perf_counter() - t
        cpu_used += cpu() - c
    n = 5 * BULK
    print(f"{name}: bulk insert, 5 x {BULK}: wall {wall:.2f} s ({n / wall:,.0f}/s), "
          f"process CPU {cpu_used:.2f} s ({n / cpu_used:,.0f}/s)")
    times = []
    c = cpu()
    for i in range(QUERIES):
        p = i * 7919 % PODS
        t = time.perf_counter()
        rows = query(f"pod-0-{p}", START + DAY, START + 2 * DAY)
        times.append(time.perf_counter() - t)
        assert len(rows) == 96, len(rows)
    per_query = (cpu() - c) / QUERIES
    times.sort()
    print(f"{name}: PoD-day query latency over {QUERIES} queries: "
          f"p50 {times[QUERIES // 2] * 1e6:.0f} us, p99 {times[QUERIES * 99 // 100] * 1e6:.0f} us, "
          f"max {times[-1] * 1e6:.0f} us; process CPU per query {per_query * 1e6:.0f} us")


QUERY = ("SELECT s.key, s.source, s.meter, s.component, s.channel, s.kind, s.unit, s.phases, "
         "s.direction, s.accumulation, s.interval_s, s.aggregate, m.series_id, m.ts_ns, "
         "m.offset_s, m.pod, m.usage_point, m.value, m.multiplier, m.quality "
         "FROM measurements m JOIN series s ON s.id = m.series_id "
         "WHERE m.ts_ns >= {0} AND m.ts_ns < {0} AND m.pod = {0} ORDER BY m.ts_ns, m.series_id")


def run_sqlite():
    directory = tempfile.mkdtemp(prefix="scd-peer-")
    db = sqlite3.connect(os.path.join(directory, "peer.db"), isolation_level=None)
    db.executescript("""
        PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;
        PRAGMA cache_size = -65536;
        CREATE TABLE series (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL, meter TEXT, component TEXT, channel TEXT, kind TEXT NOT NULL,
            unit TEXT NOT NULL, phases TEXT NOT NULL, direction TEXT NOT NULL,
            accumulation TEXT NOT NULL, interval_s INTEGER, aggregate TEXT NOT NULL);
        CREATE INDEX series_source ON series (source);
        CREATE INDEX series_meter ON series (meter) WHERE meter IS NOT NULL;
        CREATE TABLE measurements (series_id INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
            offset_s INTEGER NOT NULL, pod TEXT, usage_point TEXT, value REAL NOT NULL,
            multiplier INTEGER NOT NULL, quality INTEGER NOT NULL,
            PRIMARY KEY (series_id, ts_ns)) WITHOUT ROWID;
        CREATE INDEX measurements_pod_time ON measurements (pod, ts_ns);
        CREATE INDEX measurements_time ON measurements (ts_ns);
    """)
    ids = {}

    def insert(batch):
        db.execute("BEGIN IMMEDIATE")
        for series, *_ in batch:
            if series[0] not in ids:
                cur = db.execute(f"INSERT INTO series ({SERIES_COLUMNS}) VALUES "
                                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", series_row(series))
                ids[series[0]] = cur.lastrowid
        db.executemany(
            "INSERT INTO measurements (series_id, ts_ns, offset_s, pod, usage_point, value, "
            "multiplier, quality) VALUES (?, ?, 0, ?, NULL, ?, 0, 0) "
            "ON CONFLICT (series_id, ts_ns) DO NOTHING",
            ((ids[s[0]], ts, pod, v) for s, ts, pod, v in batch))
        db.execute("COMMIT")

    def query(pod, start, end):
        return db.execute(QUERY.format("?"), (start, end, pod)).fetchall()

    pre = readings(0, PODS, 3)
    for i in range(0, len(pre), BULK):
        insert(pre[i:i + BULK])
    report("python sqlite3 executemany", insert, query)


def run_postgres(url):
    import psycopg

    db = psycopg.connect(url, autocommit=True)
    db.execute("""
        CREATE TABLE series (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL, meter TEXT, component TEXT, channel TEXT, kind TEXT NOT NULL,
            unit TEXT NOT NULL, phases TEXT NOT NULL, direction TEXT NOT NULL,
            accumulation TEXT NOT NULL, interval_s BIGINT, aggregate TEXT NOT NULL);
        CREATE INDEX series_source ON series (source);
        CREATE INDEX series_meter ON series (meter) WHERE meter IS NOT NULL;
        CREATE TABLE measurements (series_id BIGINT NOT NULL, ts_ns BIGINT NOT NULL,
            offset_s INTEGER NOT NULL, pod TEXT, usage_point TEXT,
            value DOUBLE PRECISION NOT NULL, multiplier SMALLINT NOT NULL,
            quality INTEGER NOT NULL, PRIMARY KEY (series_id, ts_ns)) PARTITION BY RANGE (ts_ns);
        CREATE INDEX measurements_pod_time ON measurements (pod, ts_ns);
        CREATE INDEX measurements_time ON measurements (ts_ns);
    """)
    for d in range(4):
        lo = START + d * DAY
        db.execute(f"CREATE TABLE measurements_{d} PARTITION OF measurements "
                   f"FOR VALUES FROM ({lo}) TO ({lo + DAY})")
    ids = {}

    def insert(batch):
        with db.transaction():
            new = {}
            for series, *_ in batch:
                if series[0] not in ids and series[0] not in new:
                    new[series[0]] = series_row(series)
            if new:
                with db.cursor() as cur:
                    cur.executemany(f"INSERT INTO series ({SERIES_COLUMNS}) VALUES "
                                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                                    list(new.values()))
                    cur.execute("SELECT id, key FROM series WHERE key = ANY(%s)", (list(new),))
                    ids.update((key, i) for i, key in cur.fetchall())
            db.execute("CREATE TEMP TABLE IF NOT EXISTS staging (series_id BIGINT, "
                       "ts_ns BIGINT, offset_s INTEGER, pod TEXT, usage_point TEXT, "
                       "value DOUBLE PRECISION, multiplier SMALLINT, quality INTEGER) "
                       "ON COMMIT DELETE ROWS")
            with db.cursor() as cur:
                with cur.copy("COPY staging FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["int8", "int8", "int4", "text", "text", "float8", "int2",
                                    "int4"])
                    for s, ts, pod, v in batch:
                        copy.write_row((ids[s[0]], ts, 0, pod, None, v, 0, 0))
                cur.execute("INSERT INTO measurements SELECT * FROM staging "
                            "ON CONFLICT DO NOTHING")

    def query(pod, start, end):
        return db.execute(QUERY.format("%s"), (start, end, pod)).fetchall()

    pre = readings(0, PODS, 3)
    for i in range(0, len(pre), BULK):
        insert(pre[i:i + BULK])
    report("python psycopg COPY", insert, query)


if __name__ == "__main__":
    if sys.argv[1:2] == ["sqlite"]:
        run_sqlite()
    elif sys.argv[1:2] == ["postgres"] and len(sys.argv) == 3:
        run_postgres(sys.argv[2])
    else:
        sys.exit(__doc__)
