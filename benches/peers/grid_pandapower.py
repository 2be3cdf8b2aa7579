"""pandapower timings on the cases and measurement sets of benches/benches/grid.rs.

    $PLATONE_PYTHON benches/peers/grid_pandapower.py [CASE ...]

For each case (default case1354_pegase): power flow = reading the MATPOWER file + from_ppc +
runpp (Newton-Raphson, numba); estimation = reading + from_ppc + filling the measurement table
(in one DataFrame, not row by row with create_measurement, which alone takes seconds) +
estimate (WLS). The set: |V|, P, Q at every bus, P, Q at the from end of every branch with
±1 sigma of noise, as the Rust bench. Prints the median wall-clock and process CPU time of
several runs after one warm-up, and the solve alone (runpp / estimate on a built net).
"""
import os
import logging
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../platone-grid/tests/peers"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pandapower as pp  # noqa: E402
from pandapower.converter import from_ppc  # noqa: E402
from pandapower.estimation import estimate  # noqa: E402

from pandapower_ref import read_case  # noqa: E402

logging.getLogger("pandapower").setLevel(logging.ERROR)

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


def measurement_table(measurements):
    """The measurement table of the set, built in one go (as create_measurement would fill it)."""
    kind, et, e, side, value, sigma = zip(*measurements)
    return pd.DataFrame({
        "name": [None] * len(kind),
        "measurement_type": list(kind),
        "element_type": list(et),
        "element": np.array(e, dtype="uint32"),
        "value": np.array(value, dtype="float64"),
        "std_dev": np.array(sigma, dtype="float64"),
        "side": list(side),
    })


def built_for_estimation(path, measurements):
    net = from_ppc(read_case(path), f_hz=60)
    net.measurement = measurement_table(measurements)
    return net


def run_estimate(net):
    ok = estimate(net, algorithm="wls", init="flat", zero_injection="no_inj_bus")
    assert ok
    return net


def state_estimation(path, measurements):
    return run_estimate(built_for_estimation(path, measurements))


def timed(f, runs):
    f()
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        f()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def report(case, what, runs, times, extra=""):
    wall, cpu = times
    print(f"pandapower {case}: {what:<36} {wall * 1e3:9.1f} ms wall {cpu * 1e3:9.1f} ms CPU"
          f" (median of {runs}{extra})")


def main():
    cases = sys.argv[1:] or ["case1354_pegase"]
    print(f"pandapower {pp.__version__}, load average {os.getloadavg()}")
    for case in cases:
        path = os.path.join(REFERENCE, "grid", f"pglib_opf_{case}.m")
        runs = 10 if "10000" not in case else 3
        report(case, "read + from_ppc + runpp", runs, timed(lambda: power_flow(path), runs))
        net = power_flow(path)
        report(case, "runpp alone", runs, timed(lambda: pp.runpp(
            net, algorithm="nr", init="dc", calculate_voltage_angles=True, trafo_model="pi",
            numba=True), runs))
        meas = measurement_set(path)
        report(case, "read + from_ppc + table + estimate", runs,
               timed(lambda: state_estimation(path, meas), runs), f", {len(meas)} measurements")
        net = built_for_estimation(path, meas)
        report(case, "estimate alone", runs, timed(lambda: run_estimate(net), runs))
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
