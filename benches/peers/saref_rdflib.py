"""Peer for the platone-saref writer (docs/benchmarks.md): builds the same graph with rdflib and serialises it.

Same input as platone_benches::measurement_lines (100 meters, consecutive 15-minute intervals,
forward active energy in kWh, at a PoD) and the same triples platone-saref writes for it
(SAREF core 3.1.1 pattern: 8 per reading plus each meter's, PoD's and property's description
once). Prints triples, seconds and triples/s for building the graph and for each serialisation.

usage: python saref_rdflib.py [READINGS]   (default 100000; pip install rdflib==7.6.0)
"""
import datetime
import sys
import time

import rdflib
from rdflib import RDF, RDFS, XSD, Literal, Namespace, URIRef

SAREF = Namespace("https://saref.etsi.org/core/")
S4GRID = Namespace("https://saref.etsi.org/saref4grid/")
UNIT = Namespace("http://qudt.org/vocab/unit/")
QK = Namespace("http://qudt.org/vocab/quantitykind/")
CIM = Namespace("http://iec.ch/TC57/CIM100#")
PLATONE = Namespace("https://w3id.org/platone/ns#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
BASE = "https://data.example.org/grid/"


def readings(n):
    start = datetime.datetime(2021, 6, 30, 0, 15, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    for i in range(n):
        meter = i % 100
        t = start + datetime.timedelta(minutes=15 * (i // 100))
        yield f"meter-{meter:05}", f"GR-POD-{meter:05}", t.isoformat(), ((i * 7919) % 5000) / 1000.0


def build(n):
    g = rdflib.Graph()
    for prefix, ns in [("saref", SAREF), ("s4grid", S4GRID), ("unit", UNIT), ("qk", QK), ("cim", CIM),
                       ("platone", PLATONE), ("skos", SKOS)]:
        g.bind(prefix, ns)
    seen = set()
    local = "energy.Wh.ABC.forward.delta.900.sum"
    kwh = UNIT["KiloW-HR"]
    g.add((kwh, RDF.type, SAREF.EnergyUnit))
    for meter, pod, ts, value in readings(n):
        d = URIRef(f"{BASE}meter/{meter}")
        f = URIRef(f"{BASE}pod/{pod}")
        p = URIRef(f"{BASE}pod/{pod}#{local}")
        if meter not in seen:
            seen.add(meter)
            fn = URIRef(f"{d}#metering")
            for triple in [
                (d, RDF.type, SAREF.Meter), (d, RDF.type, S4GRID.Meter), (d, RDFS.label, Literal(meter)),
                (d, PLATONE.mRID, Literal(meter)),
                (f, RDF.type, SAREF.FeatureOfInterest), (f, RDF.type, PLATONE.PointOfDelivery),
                (f, RDFS.label, Literal("PoD " + pod)), (f, PLATONE.mRID, Literal(pod)),
                (p, RDF.type, SAREF.Property), (p, RDF.type, SAREF.Energy), (p, SAREF.isPropertyOf, f),
                (p, SKOS.broader, S4GRID.ActiveEnergy), (p, PLATONE.measurementKind, PLATONE["MeasurementKind.energy"]),
                (p, PLATONE.quantityKind, QK.ActiveEnergy), (p, PLATONE.phases, CIM["PhaseCode.ABC"]),
                (p, PLATONE.flowDirection, CIM["FlowDirectionKind.forward"]),
                (p, PLATONE.accumulation, CIM["AccumulationKind.deltaData"]),
                (p, PLATONE.intervalSeconds, Literal("900", datatype=XSD.integer)),
                (p, PLATONE.aggregate, CIM["AggregateKind.sum"]), (f, SAREF.hasProperty, p),
                (d, SAREF.measuresProperty, p), (d, SAREF.hasFunction, fn), (fn, RDF.type, SAREF.MeteringFunction),
                (fn, SAREF.hasMeterReadingType, p),
            ]:
                g.add(triple)
        m = URIRef(f"{d}/m/{ts}/{local}")
        g.add((m, RDF.type, SAREF.Measurement))
        g.add((m, SAREF.hasValue, Literal(repr(value), datatype=XSD.double)))
        g.add((m, SAREF.hasTimestamp, Literal(ts, datatype=XSD.dateTime)))
        g.add((m, SAREF.isMeasuredIn, kwh))
        g.add((m, SAREF.relatesToProperty, p))
        g.add((m, SAREF.isMeasurementOf, f))
        g.add((m, SAREF.measurementMadeBy, d))
        g.add((d, SAREF.makesMeasurement, m))
    return g


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    # Wall-clock (perf_counter) and this process's CPU time (process_time): on a loaded
    # machine the CPU time is the figure to compare with one core.
    t0, c0 = time.perf_counter(), time.process_time()
    g = build(n)
    t1, c1 = time.perf_counter(), time.process_time()
    triples = len(g)
    print(f"rdflib {rdflib.__version__}: {n} readings, {triples} triples")
    print(f"build      {t1 - t0:8.3f} s  {triples / (t1 - t0):12,.0f} triples/s   "
          f"CPU {c1 - c0:8.3f} s  {triples / (c1 - c0):12,.0f} triples/s")
    for fmt in ["nt", "turtle", "json-ld"]:
        t2, c2 = time.perf_counter(), time.process_time()
        data = g.serialize(format=fmt, encoding="utf-8")
        t3, c3 = time.perf_counter(), time.process_time()
        print(f"{fmt:10} {t3 - t2:8.3f} s  {triples / (t3 - t2):12,.0f} triples/s serialise only, "
              f"{triples / (t3 - t2 + t1 - t0):12,.0f} triples/s build+serialise  ({len(data)} bytes)")
        print(f"{'':10} CPU {c3 - c2:8.3f} s  {triples / (c3 - c2):12,.0f} triples/s serialise only, "
              f"{triples / (c3 - c2 + c1 - c0):12,.0f} triples/s build+serialise")


if __name__ == "__main__":
    main()
