"""Reference results from pandapower for the platone-grid tests and benchmarks.

    python pandapower_ref.py pf CASE.m [--dc] [--enforce-q-limits]
    python pandapower_ref.py se CASE.m MEASUREMENTS.json

Reads the MATPOWER case with its own small reader (independent of the Rust one), converts it
with pandapower.converter.from_ppc and prints JSON in the `platone grid` layout:
pf: {"converged", "buses": [{"bus", "vm", "va"}], "branches": [{"index", "pf", "qf", "pt", "qt"}]}
se: {"converged", "buses": [{"bus", "vm", "va"}]}
"""
import json
import logging
import re
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")
logging.getLogger("numba").setLevel(logging.WARNING)


def read_case(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    text = re.sub(r"%[^\n]*", "", text)
    ppc = {"version": "2"}
    ppc["baseMVA"] = float(re.search(r"mpc\.baseMVA\s*=\s*([^;\s]+)", text).group(1))
    for name in ("bus", "gen", "branch"):
        body = re.search(r"mpc\." + name + r"\s*=\s*\[(.*?)\]", text, re.S).group(1)
        rows = [r for r in re.split(r"[;\n]", body) if r.strip()]
        ppc[name] = np.array([[float(x) for x in r.replace(",", " ").split()] for r in rows])
    # pandapower wants the 21 MATPOWER generator columns
    gen = np.zeros((ppc["gen"].shape[0], 21))
    gen[:, : ppc["gen"].shape[1]] = ppc["gen"]
    ppc["gen"] = gen
    return ppc


def network(path):
    import pandapower as pp  # noqa: F401
    from pandapower.converter import from_ppc

    ppc = read_case(path)
    net = from_ppc(ppc, f_hz=60)
    return ppc, net


def branch_flows(ppc, net):
    lookup = net._from_ppc_lookups["branch"]
    out = []
    for row, (element, kind) in enumerate(zip(lookup["element"], lookup["element_type"])):
        f = int(ppc["branch"][row, 0])
        e = int(element)
        if kind == "line":
            r = net.res_line.loc[e]
            pf, qf, pt, qt = r.p_from_mw, r.q_from_mvar, r.p_to_mw, r.q_to_mvar
        elif kind == "trafo":
            r = net.res_trafo.loc[e]
            hv, lv = (r.p_hv_mw, r.q_hv_mvar), (r.p_lv_mw, r.q_lv_mvar)
            if int(net.trafo.loc[e, "hv_bus"]) == f:
                (pf, qf), (pt, qt) = hv, lv
            else:
                (pf, qf), (pt, qt) = lv, hv
        else:
            r = net.res_impedance.loc[e]
            pf, qf, pt, qt = r.p_from_mw, r.q_from_mvar, r.p_to_mw, r.q_to_mvar
        out.append({"index": row + 1, "pf": float(pf), "qf": float(qf), "pt": float(pt), "qt": float(qt)})
    return out


def buses(net, res):
    return [
        {"bus": int(b), "vm": float(r.vm_pu), "va": float(r.va_degree)}
        for b, r in res.iterrows()
    ]


def power_flow(path, dc, enforce_q_lims=False):
    import pandapower as pp

    ppc, net = network(path)
    if dc:
        pp.rundcpp(net, trafo_model="pi")
    else:
        pp.runpp(net, algorithm="nr", init="dc", calculate_voltage_angles=True,
                 trafo_model="pi", tolerance_mva=1e-9, max_iteration=30,
                 enforce_q_lims=enforce_q_lims)
    out = {"converged": bool(net.converged), "buses": buses(net, net.res_bus),
           "branches": branch_flows(ppc, net)}
    if enforce_q_lims and not dc:
        # Generator buses whose reactive output ended at a limit (MATPOWER bus numbers).
        at_limit = set()
        for g, r in net.res_gen.iterrows():
            row = net.gen.loc[g]
            if r.q_mvar >= row.max_q_mvar - 1e-6 or r.q_mvar <= row.min_q_mvar + 1e-6:
                at_limit.add(int(row.bus))
        out["at_q_limit"] = sorted(at_limit)
    return out


def state_estimation(path, measurements_path):
    """WLS with pandapower's estimator; bus p/q in the load convention pandapower uses."""
    import pandapower as pp
    from pandapower.estimation import estimate

    ppc, net = network(path)
    spec = json.load(open(measurements_path))
    lookup = net._from_ppc_lookups["branch"]
    for m in spec["measurements"]:
        kind, value, sigma = m["kind"], m["value"], m["sigma"]
        if "bus" in m:
            b = int(m["bus"])
            if kind == "vm":
                pp.create_measurement(net, "v", "bus", value, sigma, b)
            elif kind == "p":
                pp.create_measurement(net, "p", "bus", -value, sigma, b)
            elif kind == "q":
                pp.create_measurement(net, "q", "bus", -value, sigma, b)
            else:
                raise SystemExit(f"unsupported bus measurement {kind}")
        else:
            row = int(m["branch"]) - 1
            e, et = int(lookup["element"][row]), lookup["element_type"][row]
            f = int(ppc["branch"][row, 0])
            at_from = m.get("side", "from") == "from"
            mtype = {"pf": "p", "qf": "q", "im": "i"}[kind]
            if kind == "im":
                # p.u. of the system base at the measured end's bus -> kA
                end = int(ppc["branch"][row, 0 if at_from else 1])
                base_kv = ppc["bus"][ppc["bus"][:, 0] == end][0, 9]
                scale = ppc["baseMVA"] / (np.sqrt(3) * base_kv)
                value, sigma = value * scale, sigma * scale
                if et != "line":
                    raise SystemExit(f"im measurements only on lines, branch {row + 1} is a {et}")
            if et == "line":
                side = "from" if at_from else "to"
                pp.create_measurement(net, mtype, "line", value, sigma, e, side=side)
            else:
                hv_is_from = int(net.trafo.loc[e, "hv_bus"]) == f
                side = "hv" if hv_is_from == at_from else "lv"
                pp.create_measurement(net, mtype, "trafo", value, sigma, e, side=side)
    ok = estimate(net, algorithm="wls", init="flat", tolerance=1e-10, maximum_iterations=50,
                  calculate_voltage_angles=True, zero_injection="no_inj_bus")
    return {"converged": bool(ok), "buses": buses(net, net.res_bus_est)}


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "pf":
        out = power_flow(path, "--dc" in sys.argv[3:], "--enforce-q-limits" in sys.argv[3:])
    elif mode == "se":
        out = state_estimation(path, sys.argv[3])
    else:
        raise SystemExit(f"unknown mode {mode}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
