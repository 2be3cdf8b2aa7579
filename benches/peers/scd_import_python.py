#!/usr/bin/env python3
"""Peer for `platone scd import --from-cim`: parse an IEC 61968-9 MeterReadings dump with the
standard library's ElementTree and insert one row per reading into SQLite with
sqlite3.executemany, in one transaction, into the same tables and indexes the embedded store
uses (series + measurements WITHOUT ROWID, primary key (series_id, ts_ns), the pod/time and time
indexes). Re-running on the same database inserts nothing (INSERT OR IGNORE), like the store's
idempotent import.

What the peer does NOT do, and `platone scd import` does: validate ReadingType codes and map
them to measurement kinds, units and multipliers, detect conflicts (same key, other value),
report per-reading errors. It is the floor for the same parse-and-store work.

Usage: python3 scd_import_python.py DUMP.xml DB.sqlite
Prints: readings, seconds (wall), readings/s.
"""
import datetime as dt
import sqlite3
import sys
import time
import xml.etree.ElementTree as ET

NS = "{http://iec.ch/TC57/2011/MeterReadings#}"

SCHEMA = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, source TEXT NOT NULL, meter TEXT,
    component TEXT, channel TEXT, kind TEXT NOT NULL, unit TEXT NOT NULL, phases TEXT NOT NULL,
    direction TEXT NOT NULL, accumulation TEXT NOT NULL, interval_s INTEGER,
    aggregate TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS measurements (
    series_id INTEGER NOT NULL, ts_ns INTEGER NOT NULL, offset_s INTEGER NOT NULL, pod TEXT,
    usage_point TEXT, value REAL NOT NULL, multiplier INTEGER NOT NULL, quality INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts_ns)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS measurements_pod_time ON measurements (pod, ts_ns);
CREATE INDEX IF NOT EXISTS measurements_time ON measurements (ts_ns);
"""


def ts(text):
    t = dt.datetime.fromisoformat(text)
    return int(t.timestamp()) * 10**9, int(t.utcoffset().total_seconds())


def main(xml_path, db_path):
    start = time.perf_counter()
    root = ET.parse(xml_path).getroot()
    series, rows = {}, []

    def series_id(meter, code):
        key = f"{meter}|{code}"
        sid = series.get(key)
        if sid is None:
            sid = series[key] = (len(series) + 1, key, meter, code)
        return sid[0]

    for mr in root.iter(NS + "MeterReading"):
        meter = mr.find(f"{NS}Meter/{NS}mRID").text
        up = mr.find(f"{NS}UsagePoint/{NS}mRID")
        up = up.text if up is not None else None
        for r in mr.findall(NS + "Readings"):
            code = r.find(NS + "ReadingType").get("ref")
            ns, off = ts(r.find(NS + "timeStamp").text)
            rows.append((series_id(meter, code), ns, off, None, up,
                         float(r.find(NS + "value").text), 0, 0))
        for block in mr.findall(NS + "IntervalBlocks"):
            code = block.find(NS + "ReadingType").get("ref")
            sid = series_id(meter, code)
            for r in block.findall(NS + "IntervalReadings"):
                ns, off = ts(r.find(NS + "timeStamp").text)
                rows.append((sid, ns, off, None, up, float(r.find(NS + "value").text), 0, 0))

    db = sqlite3.connect(db_path, isolation_level=None)
    db.executescript(SCHEMA)
    db.execute("BEGIN")
    known = dict(db.execute("SELECT key, id FROM series"))
    new = [(k, meter, meter, "energy", "kWh", "ABC", "forward", "delta", 900, "none")
           for (_, k, meter, _code) in series.values() if k not in known]
    db.executemany(
        "INSERT INTO series (key, source, meter, kind, unit, phases, direction, accumulation,"
        " interval_s, aggregate) VALUES (?,?,?,?,?,?,?,?,?,?)", new)
    ids = dict(db.execute("SELECT key, id FROM series"))
    remap = {local: ids[key] for (local, key, _m, _c) in series.values()}
    db.executemany("INSERT OR IGNORE INTO measurements VALUES (?,?,?,?,?,?,?,?)",
                   ((remap[r[0]],) + r[1:] for r in rows))
    db.execute("COMMIT")
    db.close()
    wall = time.perf_counter() - start
    print(f"{len(rows)} readings, {wall:.3f} s, {len(rows) / wall:,.0f} readings/s")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
