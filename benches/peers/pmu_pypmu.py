#!/usr/bin/env python3
"""Times pypmu (PyPI `synchrophasor`) decoding the IEEE C37.118.2 Annex D data frame.

The same frame and configuration as `cargo bench -p platone-benches --bench pmu`
(`pmu/annex_d_data_frame`). Set up once:

    python3 -m venv benches/peers/.venv
    benches/peers/.venv/bin/pip install -r benches/peers/requirements-pmu.txt
    benches/peers/.venv/bin/python benches/peers/pmu_pypmu.py [FRAMES]
"""
import collections
import collections.abc
import sys
import time

# synchrophasor 1.0.0a0 (2017) still uses `collections.Sequence`, removed in Python 3.10.
collections.Sequence = collections.abc.Sequence  # type: ignore[attr-defined]

from synchrophasor.frame import CommonFrame, DataFrame

CFG2 = bytes.fromhex(
    "aa3101c61e36448527f056071098000f4240000153746174696f6e2041202020202020201e360004000400030001"
    "5641202020202020202020202020202056422020202020202020202020202020564320202020202020202020202020"
    "2049312020202020202020202020202020414e414c4f4731202020202020202020414e414c4f473220202020202020"
    "2020414e414c4f4733202020202020202020425245414b4552203120535441545553425245414b4552203220535441"
    "545553425245414b4552203320535441545553425245414b4552203420535441545553425245414b45522035205354"
    "41545553425245414b4552203620535441545553425245414b4552203720535441545553425245414b455220382053"
    "5441545553425245414b4552203920535441545553425245414b4552204120535441545553425245414b4552204220"
    "535441545553425245414b4552204320535441545553425245414b4552204420535441545553425245414b45522045"
    "20535441545553425245414b4552204620535441545553425245414b4552204720535441545553000df847000df847"
    "000df8470100b2d00000000101000001020000010000ffff00000016001ed5d1"
)
DATA = bytes.fromhex(
    "aa0100341e3644853600000041b10000392b0000e36ace7ce36a31830444000009c4000042c80000447a0000461c40003c12d43f"
)


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    cfg = CommonFrame.convert2frame(CFG2)
    frame = CommonFrame.convert2frame(DATA, cfg)
    assert isinstance(frame, DataFrame)
    # Warm-up.
    for _ in range(1000):
        CommonFrame.convert2frame(DATA, cfg)
    start = time.perf_counter()
    for _ in range(frames):
        CommonFrame.convert2frame(DATA, cfg)
    elapsed = time.perf_counter() - start
    print(f"pypmu {frames} Annex D data frames: {elapsed:.3f} s, {frames / elapsed:,.0f} frames/s")


if __name__ == "__main__":
    main()
