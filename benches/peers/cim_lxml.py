#!/usr/bin/env python3
"""Peer timing for platone-cim: Python lxml iterparse on the generated 15-minute dump.

Reads the same file the Rust benchmark writes (benches/peers/out/cim-dump.xml, created by
`cargo bench -p platone-benches --bench cim`), walks every MeterReading with iterparse
(clearing elements as it goes, the usual bounded-memory idiom), and for every reading takes the
meter, timestamp (parsed with datetime.fromisoformat), value (float) and ReadingType ref --
the same typed work the Rust reader does. Prints the best of RUNS runs in MB/s, by wall-clock
and by process CPU time (the latter is the fair figure on a busy machine).

Setup: python3 -m venv benches/peers/.venv && benches/peers/.venv/bin/pip install -r benches/peers/requirements-cim.txt
Run:   benches/peers/.venv/bin/python benches/peers/cim_lxml.py [FILE] [RUNS]
"""
import os
import sys
import time
from datetime import datetime

from lxml import etree

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "out", "cim-dump.xml")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def local(tag):
    return tag.rsplit("}", 1)[-1]


def reading(elem):
    ts = value = ref = None
    for child in elem:
        name = local(child.tag)
        if name == "timeStamp":
            ts = datetime.fromisoformat(child.text)
        elif name == "value":
            try:
                value = float(child.text)
            except (TypeError, ValueError):
                value = None
        elif name == "ReadingType":
            ref = child.get("ref")
    return ts, value, ref


def parse(path):
    count = 0
    checksum = 0.0
    for _, elem in etree.iterparse(path, events=("end",)):
        if local(elem.tag) != "MeterReading":
            continue
        meter = None
        for child in elem:
            name = local(child.tag)
            if name == "Meter":
                for m in child:
                    if local(m.tag) == "mRID":
                        meter = m.text
            elif name == "Readings":
                _, value, _ = reading(child)
                count += 1
                checksum += value or 0.0
            elif name == "IntervalBlocks":
                ref = None
                for ir in child:
                    n = local(ir.tag)
                    if n == "IntervalReadings":
                        _, value, _ = reading(ir)
                        count += 1
                        checksum += value or 0.0
                    elif n == "ReadingType":
                        ref = ir.get("ref")
        assert meter is not None
        elem.clear()
        while elem.getprevious() is not None:
            del elem.getparent()[0]
    return count, checksum


def main():
    size = os.path.getsize(PATH)
    best = best_cpu = None
    count = 0
    for _ in range(RUNS):
        start, start_cpu = time.perf_counter(), time.process_time()
        count, _ = parse(PATH)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
        best = elapsed if best is None else min(best, elapsed)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    mb = size / 1e6
    print(
        f"lxml {'.'.join(map(str, etree.LXML_VERSION[:3]))}: {count} readings, {mb:.1f} MB, "
        f"best of {RUNS}: wall {best:.3f} s = {mb / best:.1f} MB/s, "
        f"CPU {best_cpu:.3f} s = {mb / best_cpu:.1f} MB/s"
    )


if __name__ == "__main__":
    main()
