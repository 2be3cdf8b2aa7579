"""pandapower timings on the cases and measurement sets of benches/benches/grid.rs.

    $PLATONE_PYTHON benches/peers/grid_pandapower.py [CASE ...]

For each case (default case1354_pegase): power flow = reading the MATPOWER file + from_ppc +
runpp (Newton-Raphson, numba); estimation = reading + from_ppc + creating the measurements +
estimate (WLS). The set: |V|, P, Q at every bus, P, Q at the from end of every branch with
±1 sigma of noise, as the Rust bench. Prints the median of several runs after one warm-up.
"""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../platone-grid/tests/peers"))

import numpy as np  # noqa: E402
import pandapower as pp  # noqa: E402
from pandapower.converter import from_ppc  # noqa: E402
from pandapower.estimation import estimate  # noqa: E402

from pandapower_ref import read_case  # noqa: E402

REFERENCE = os.environ.get("PLATONE_REFERENCE", os.path.join(HERE, "../../../shared/reference"))


def power_flow(path):
    net = from_ppc(read_case(path), f_hz=60)
    pp.runpp(net, algorithm="nr", init="dc", calculate_voltage_angles=True, trafo_model="pi", numba=True)
    return net


def measurement_set(path):
    """(kind, element type, element, side, value, sigma) from a solved power flow."""
    ppc = read_case(path)
    net = power_flow(path)
    rng = np.random.default_rng(7)
    out = []
    for b, r in net.res_bus.iterrows():
        for kind, value, sigma in (("v", r.vm_pu, 0.004), ("p", r.p_mw, 1.0), ("q", r.q_mvar, 1.0)):
            out.append((kind, "bus", b, None, value + sigma * rng.uniform(-1, 1), sigma))
    lookup = net._from_ppc_lookups["branch"]
    for row, (e, et) in enumerate(zip(lookup["element"], lookup["element_type"])):
        e = int(e)
        if et == "line":
            r = net.res_line.loc[e]
            side, p, q = "from", r.p_from_mw, r.q_from_mvar
        else:
            r = net.res_trafo.loc[e]
            hv_is_from = int(net.trafo.loc[e, "hv_bus"]) == int(ppc["branch"][row, 0])
            side = "hv" if hv_is_from else "lv"
            p, q = (r.p_hv_mw, r.q_hv_mvar) if hv_is_from else (r.p_lv_mw, r.q_lv_mvar)
        for kind, value in (("p", p), ("q", q)):
            out.append((kind, et, e, side, value + 0.5 * rng.uniform(-1, 1), 0.5))
    return out


def state_estimation(path, measurements):
    net = from_ppc(read_case(path), f_hz=60)
    for kind, et, e, side, value, sigma in measurements:
        pp.create_measurement(net, kind, et, value, sigma, e, side=side)
    ok = estimate(net, algorithm="wls", init="flat", zero_injection="no_inj_bus")
    assert ok
    return net


def timed(f, runs):
    f()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    cases = sys.argv[1:] or ["case1354_pegase"]
    for case in cases:
        path = os.path.join(REFERENCE, "grid", f"pglib_opf_{case}.m")
        runs = 10 if "10000" not in case else 3
        t_pf = timed(lambda: power_flow(path), runs)
        print(f"pandapower {case}: read + from_ppc + runpp      {t_pf * 1e3:9.1f} ms (median of {runs})")
        meas = measurement_set(path)
        t_se = timed(lambda: state_estimation(path, meas), runs)
        print(f"pandapower {case}: read + from_ppc + estimate   {t_se * 1e3:9.1f} ms (median of {runs}, {len(meas)} measurements)")


if __name__ == "__main__":
    main()
