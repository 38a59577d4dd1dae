"""Nets timed against their teacher on this host: for each --lut table, with its backend,
precision, threads and timing mode (`measure_here`), the teacher and every --arch once per
round after a settle, the rounds interleaved (`hw.sitting.time_sitting`, so a drift of the VM
meets them alike). Per net: the fastest round's p50 (noise on a shared VM only adds), the median
round, the spread, and its ratio to the teacher (the median of the per-round ratios). A table of
this host also gives its prediction.

    python -m benchmarks.teacher_latency --teacher zoo:breakout \
        --arch results/distill-breakout/search-0.333/arch.json \
        --lut latency_tables/amd-epyc-2c-avx512vnni-bf16-onnxruntime-fp32-fast.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from a2d_edge.hw.sitting import time_sitting
from benchmarks.common import machine, table


def main() -> int:
    from a2d_edge.errors import A2DError
    from a2d_edge.hw.lut import LatencyTable
    from a2d_edge.nets import load_arch
    from a2d_edge.search.prepare import measure_here
    from a2d_edge.sources.checkpoint import load_checkpoint

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", default="zoo:pong", help="CKPT or zoo:NAME")
    p.add_argument("--arch", nargs="+", required=True, help="arch names or arch.json files")
    p.add_argument("--lut", nargs="+", required=True, help="tables whose settings time the nets")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    try:
        teacher = load_checkpoint(args.teacher)
        nets = {"teacher": teacher["arch"]}
        nets |= {Path(a).parent.name if a.endswith(".json") else a: load_arch(a) for a in args.arch}
        tables = [LatencyTable.load(path) for path in args.lut]
    except A2DError as e:
        print(f"teacher_latency: error: {e}", file=sys.stderr)
        return 2
    print(machine())
    for lut in tables:

        def measure(arch: dict[str, Any], lut: LatencyTable = lut) -> float | None:
            return measure_here(lut, arch, int(teacher["n_actions"]))  # the teacher's game

        sitting = time_sitting(measure, nets, args.rounds)
        if sitting.timed("teacher") is None:
            print(
                f"teacher_latency: error: could not time the teacher with {lut.path}'s backend",
                file=sys.stderr,
            )
            return 2
        here = lut.host_match() == "same"
        rows = []
        for name in nets:
            predicted = "-"
            if here and nets[name].get("family") == "searched":
                predicted = f"{lut.predict(nets[name]):.4f}"
            t, ratio = sitting.timed(name), sitting.ratio(name, "teacher")
            rows.append([
                name,
                f"{t.fastest_ms:.4f}" if t else "n/a",
                f"{t.median_ms:.4f}" if t else "n/a",
                f"{100 * t.spread:.0f}%" if t else "n/a",
                f"{ratio.median:.2f}" if ratio else "n/a",
                predicted,
            ])  # fmt: skip
        whose = "this host's" if here else "another host's (settings only; no prediction)"
        print(f"\n{lut.path} ({lut.describe_mode()}; {whose} table), {args.rounds} rounds")
        print(
            table(["net", "fastest ms", "median ms", "spread", "x teacher", "predicted ms"], rows)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
