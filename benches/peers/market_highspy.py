#!/usr/bin/env python3
"""The `optimal` clearing model of platone-market built in Python with highspy (HiGHS).

Same model as platone_market::clearing::Optimal on the same `platone-market-scenario/1` files:
max sum(v_r d_r) - sum(p_o a_o); block binaries with a_o = q_o z_b; balance per slot and
direction; with a network, PTDF line limits (bounds widened to the baseline flow when it already
exceeds the limit). Then, as the Rust side does with HiGHS, the blocks are fixed and the LP is
solved again for the balance duals (prices).

Location rule (docs/market.md): the scenario's "location_rule" (same-bus | any | area), else
`any`. A TSO request takes any offer; under `any` every request does; under `same-bus` a local
(DSO or role-less) request takes offers at its own location; under `area` those within
--area-hops branches of its bus (own location without a network).

Usage: .venv/bin/python market_highspy.py SCENARIO.json [...] [--repeat N] [--area-hops H]
Prints, per file: build ms, MILP ms, LP ms, total ms (median of N runs) and the welfare.

       python market_highspy.py --check [--area-hops H] SCENARIO.json [...]
Independent check of the `optimal` clearing (a different formulation from the Rust one: one
variable per compatible offer-request pair, x[o,r] >= 0 with sum_r x[o,r] = a_o and
sum_o x[o,r] = d_r). Prints a JSON list, one entry per file: the optimal welfare, every order's
accepted quantity, and every order's range over all optimal solutions (min and max of the
order's quantity subject to welfare >= optimum - tolerance, as MILPs), so that a caller can
compare quantities where the optimum is unique.
"""
import json
import sys
import time

import highspy
import numpy as np

UNPRICED_REQUEST_VALUE = 1000.0
INF = highspy.kHighsInf


def ptdf(net):
    buses = net["buses"]
    index = {b: i for i, b in enumerate(buses)}
    n = len(buses)
    slack = index[net["slack"]]
    keep = [i for i in range(n) if i != slack]
    B = np.zeros((n, n))
    for br in net["branches"]:
        f, t, b = index[br["from"]], index[br["to"]], 1.0 / br["x"]
        B[f, f] += b
        B[t, t] += b
        B[f, t] -= b
        B[t, f] -= b
    X = np.zeros((n, n))
    X[np.ix_(keep, keep)] = np.linalg.inv(B[np.ix_(keep, keep)])
    rows = []
    for br in net["branches"]:
        f, t = index[br["from"]], index[br["to"]]
        rows.append((X[f, :] - X[t, :]) / br["x"])
    return np.array(rows), index


def location_rule(s):
    return s.get("location_rule") or "any"


def hop_distances(net):
    index = {b: i for i, b in enumerate(net["buses"])}
    adj = {i: [] for i in range(len(net["buses"]))}
    for br in net["branches"]:
        f, t = index[br["from"]], index[br["to"]]
        adj[f].append(t)
        adj[t].append(f)
    dist = {}
    for src in range(len(net["buses"])):
        d = {src: 0}
        frontier = [src]
        while frontier:
            nxt = []
            for u in frontier:
                for v in adj[u]:
                    if v not in d:
                        d[v] = d[u] + 1
                        nxt.append(v)
            frontier = nxt
        dist[src] = d
    return index, dist


def compatible(s, area_hops):
    """compatible(offer, request) under the scenario's location rule."""
    rule = location_rule(s)
    net = s.get("network")
    index, dist = hop_distances(net) if net else (None, None)

    def ok(o, r):
        if r.get("role") == "tso" or rule == "any":
            return True
        if rule == "same-bus" or net is None or area_hops == 0:
            return o["location"] == r["location"]
        d = dist[index[r["location"]]].get(index[o["location"]])
        return d is not None and d <= area_hops

    return ok


def build(s, area_hops=0):
    slots = {name: i for i, name in enumerate(s["slots"])}
    reqs, offs = s.get("requests", []), s.get("offers", [])
    lo, hi, cost, integrality = [], [], [], []

    def var(l, h, c=0.0, integer=False):
        lo.append(l)
        hi.append(h)
        cost.append(c)
        integrality.append(1 if integer else 0)
        return len(lo) - 1

    rows = []  # (lower, upper, {var: coef})
    dvar = [var(0.0, r["quantity"], r.get("price", UNPRICED_REQUEST_VALUE)) for r in reqs]
    avar = [var(0.0, o["quantity"], -o["price"]) for o in offs]
    blocks = {}
    for i, o in enumerate(offs):
        if o.get("block"):
            blocks.setdefault(o["block"], []).append(i)
    zvars = []
    for members in blocks.values():
        z = var(0.0, 1.0, 0.0, True)
        zvars.append(z)
        for i in members:
            rows.append((0.0, 0.0, {avar[i]: 1.0, z: -offs[i]["quantity"]}))
    key = lambda o: (slots[o["slot"]], o["direction"])
    balance = []
    net = s.get("network")
    if net and location_rule(s) != "any":
        # Local requests limited by location with a network: the check formulation.
        raise SystemExit("timing mode models the location rule `any` with a network; use --check")
    if net:
        groups = {}
        for o, a in zip(offs, avar):
            groups.setdefault(key(o), {})[a] = 1.0
        for r, d in zip(reqs, dvar):
            groups.setdefault(key(r), {})[d] = -1.0
        for k in sorted(groups):
            balance.append(len(rows))
            rows.append((0.0, 0.0, groups[k]))
        P, index = ptdf(net)
        nb = len(net["buses"])
        base = np.zeros((len(s["slots"]), nb))
        for slot, row in net.get("baseline", {}).items():
            for bus, v in row.items():
                base[slots[slot], index[bus]] = v
        flows0 = base @ P.T
        limits = np.array([br["limit"] for br in net["branches"]])
        inj = {}
        for o, a in zip(offs, avar):
            inj.setdefault(slots[o["slot"]], []).append((index[o["location"]], a, 1.0 if o["direction"] == "up" else -1.0))
        for r, d in zip(reqs, dvar):
            inj.setdefault(slots[r["slot"]], []).append((index[r["location"]], d, -1.0 if r["direction"] == "up" else 1.0))
        for t in sorted(inj):
            entries = inj[t]
            buses = np.array([e[0] for e in entries])
            signs = np.array([e[2] for e in entries])
            coefs = P[:, buses] * signs  # branches x entries
            for l in range(P.shape[0]):
                terms = {}
                for (b, v, sg), c in zip(entries, coefs[l]):
                    if abs(c) > 1e-12:
                        terms[v] = terms.get(v, 0.0) + c
                terms = {v: c for v, c in terms.items() if abs(c) > 1e-12}
                if not terms:
                    continue
                f0 = flows0[t, l]
                lo_b, hi_b = min(-limits[l], f0), max(limits[l], f0)
                rows.append((lo_b - f0, hi_b - f0, terms))
    else:
        system, local = {}, {}
        rule = location_rule(s)
        for r, d in zip(reqs, dvar):
            if r.get("role") == "tso" or rule == "any":
                system.setdefault(key(r), {})[d] = -1.0
            else:
                local.setdefault((key(r), r["location"]), {})[d] = -1.0
        for o, a in zip(offs, avar):
            k = key(o)
            split = {a: 1.0}
            if k in system:
                v = var(0.0, o["quantity"])
                system[k][v] = 1.0
                split[v] = -1.0
            if (k, o["location"]) in local:
                v = var(0.0, o["quantity"])
                local[(k, o["location"])][v] = 1.0
                split[v] = -1.0
            rows.append((0.0, 0.0, split))
        for k in sorted(system):
            balance.append(len(rows))
            rows.append((0.0, 0.0, system[k]))
        for k in sorted(local):
            balance.append(len(rows))
            rows.append((0.0, 0.0, local[k]))
    return lo, hi, cost, integrality, rows, zvars, balance


def solve(lo, hi, cost, integrality, rows, with_integers):
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", 0.0)
    n = len(lo)
    h.addVars(n, np.array(lo), np.array(hi))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(cost))
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    starts, idx, val, rlo, rhi = [], [], [], [], []
    for l, u, terms in rows:
        starts.append(len(idx))
        idx.extend(terms.keys())
        val.extend(terms.values())
        rlo.append(l)
        rhi.append(u)
    h.addRows(len(rows), np.array(rlo), np.array(rhi), len(idx), np.array(starts, dtype=np.int32),
              np.array(idx, dtype=np.int32), np.array(val))
    if with_integers and any(integrality):
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                                np.array([highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                                          for i in integrality]))
    h.run()
    return h


def clear(s):
    t0 = time.perf_counter()
    lo, hi, cost, integrality, rows, zvars, balance = build(s)
    t1 = time.perf_counter()
    h = solve(lo, hi, cost, integrality, rows, True)
    x = list(h.getSolution().col_value)
    welfare = h.getInfo().objective_function_value
    t2 = time.perf_counter()
    if zvars:
        for z in zvars:
            v = 1.0 if x[z] > 0.5 else 0.0
            lo[z] = hi[z] = v
        h = solve(lo, hi, cost, integrality, rows, False)
        welfare = h.getInfo().objective_function_value
    duals = list(h.getSolution().row_dual)
    prices = [-duals[r] for r in balance]
    t3 = time.perf_counter()
    return (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t3 - t0) * 1e3, welfare, prices


def check(s, area_hops):
    """The pairwise MILP of one scenario; returns welfare, quantities and optimal ranges."""
    slots = {name: i for i, name in enumerate(s["slots"])}
    reqs, offs = s.get("requests", []), s.get("offers", [])
    ok = compatible(s, area_hops)
    lo, hi, cost, integ = [], [], [], []

    def var(l, h, c=0.0, integer=False):
        lo.append(l)
        hi.append(h)
        cost.append(c)
        integ.append(integer)
        return len(lo) - 1

    rows = []
    d = [var(0.0, r["quantity"], r["price"] if r.get("price") is not None else UNPRICED_REQUEST_VALUE)
         for r in reqs]
    a = [var(0.0, o["quantity"], -o["price"]) for o in offs]
    per_offer = {i: {a[i]: -1.0} for i in range(len(offs))}
    per_request = {j: {d[j]: -1.0} for j in range(len(reqs))}
    for i, o in enumerate(offs):
        for j, r in enumerate(reqs):
            if o["slot"] == r["slot"] and o["direction"] == r["direction"] and ok(o, r):
                x = var(0.0, min(o["quantity"], r["quantity"]))
                per_offer[i][x] = 1.0
                per_request[j][x] = 1.0
    rows += [(0.0, 0.0, t) for t in per_offer.values()]
    rows += [(0.0, 0.0, t) for t in per_request.values()]
    blocks = {}
    for i, o in enumerate(offs):
        if o.get("block"):
            blocks.setdefault(o["block"], []).append(i)
    for members in blocks.values():
        z = var(0.0, 1.0, 0.0, True)
        for i in members:
            rows.append((0.0, 0.0, {a[i]: 1.0, z: -offs[i]["quantity"]}))
    net = s.get("network")
    if net:
        P, index = ptdf(net)
        base = np.zeros((len(s["slots"]), len(net["buses"])))
        for slot, row in net.get("baseline", {}).items():
            for bus, v in row.items():
                base[slots[slot], index[bus]] = v
        for t in range(len(s["slots"])):
            f0 = P @ base[t]
            for l, br in enumerate(net["branches"]):
                terms = {}
                for o, v in zip(offs, a):
                    if slots[o["slot"]] == t:
                        sign = 1.0 if o["direction"] == "up" else -1.0
                        terms[v] = terms.get(v, 0.0) + sign * P[l, index[o["location"]]]
                for r, v in zip(reqs, d):
                    if slots[r["slot"]] == t:
                        sign = -1.0 if r["direction"] == "up" else 1.0
                        terms[v] = terms.get(v, 0.0) + sign * P[l, index[r["location"]]]
                terms = {v: c for v, c in terms.items() if abs(c) > 1e-12}
                if terms:
                    lim = br["limit"]
                    rows.append((min(-lim, f0[l]) - f0[l], max(lim, f0[l]) - f0[l], terms))

    def run(objective, sense, extra=None):
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 0.0)
        h.setOptionValue("mip_feasibility_tolerance", 1e-9)
        h.setOptionValue("primal_feasibility_tolerance", 1e-9)
        n = len(lo)
        if n == 0:
            return 0.0, []
        h.addVars(n, np.array(lo, dtype=float), np.array(hi, dtype=float))
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(objective, dtype=float))
        h.changeObjectiveSense(sense)
        allrows = rows + (extra or [])
        for l, u, terms in allrows:
            h.addRow(l, u, len(terms), np.array(list(terms.keys()), dtype=np.int32),
                     np.array(list(terms.values()), dtype=float))
        if any(integ):
            h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                                    np.array([highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                                              for i in integ]))
        h.run()
        status = h.modelStatusToString(h.getModelStatus())
        if status != "Optimal":
            raise SystemExit(f"highspy: {status}")
        return h.getInfo().objective_function_value, list(h.getSolution().col_value)

    welfare, x = run(cost, highspy.ObjSense.kMaximize)
    out = {"welfare": welfare,
           "offers": {o["id"]: x[v] if x else 0.0 for o, v in zip(offs, a)},
           "requests": {r["id"]: x[v] if x else 0.0 for r, v in zip(reqs, d)},
           "range": {}}
    floor = welfare - 1e-7 * max(1.0, abs(welfare))
    optimal_face = [(floor, INF, {v: c for v, c in enumerate(cost) if c != 0.0})]
    for order, v in [(o["id"], v) for o, v in zip(offs, a)] + [(r["id"], v) for r, v in zip(reqs, d)]:
        unit = [0.0] * len(lo)
        unit[v] = 1.0
        if not optimal_face[0][2]:
            out["range"][order] = [lo[v], hi[v]]
            continue
        low, _ = run(unit, highspy.ObjSense.kMinimize, optimal_face)
        high, _ = run(unit, highspy.ObjSense.kMaximize, optimal_face)
        out["range"][order] = [low, high]
    return out


def main(argv):
    repeat = 5
    area_hops = 0
    checking = False
    files = []
    it = iter(argv)
    for a in it:
        if a == "--repeat":
            repeat = int(next(it))
        elif a == "--area-hops":
            area_hops = int(next(it))
        elif a == "--check":
            checking = True
        else:
            files.append(a)
    if checking:
        results = []
        for f in files:
            with open(f) as fh:
                results.append(dict(check(json.load(fh), area_hops), file=f))
        json.dump(results, sys.stdout)
        print()
        return
    print(f"highspy {highspy.Highs().version() if hasattr(highspy.Highs(), 'version') else ''}".strip())
    print("file\tbuild_ms\tmilp_ms\tlp_ms\ttotal_ms\twelfare")
    for f in files:
        with open(f) as fh:
            s = json.load(fh)
        runs = [clear(s) for _ in range(repeat)]
        med = lambda k: sorted(r[k] for r in runs)[len(runs) // 2]
        print(f"{f}\t{med(0):.2f}\t{med(1):.2f}\t{med(2):.2f}\t{med(3):.2f}\t{runs[0][4]:.6f}")


if __name__ == "__main__":
    main(sys.argv[1:])
