"""Control-loop overhead beyond inference, and the inference tail (p99 / p50), at batch 1.

Runs `a2d run` free-running (`--hz 0`) on a bundle for `--steps` steps and splits each step
into inference (the session call), the env step (ALE, preprocessing included) and the rest:
the loop's own overhead (reading the observation, choosing the action, bookkeeping).

    python benchmarks/control_loop.py BUNDLE --steps 5000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("bundle")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    from a2d_edge.runtime.loop import RunSettings, run_agent
    from a2d_edge.runtime.policy import PolicySpec

    rows = []
    for precision in ("fp32", "int8"):
        settings = RunSettings(hz=0, max_steps=args.steps, episodes=10**6, status=False)
        r = run_agent(args.bundle, settings, PolicySpec("ort-cpu", precision, args.threads))
        lat = r["latency_us"]
        inf, over = lat["inference"], lat["overhead"]
        rows.append([
            r["policy"], f"{inf['p50']:.1f}", f"{inf['p99']:.1f}",
            f"{inf['p99'] / inf['p50']:.2f}", f"{lat['env_step']['p50']:.1f}",
            f"{over['p50']:.1f}", f"{over['p99']:.1f}",
        ])  # fmt: skip
    print(f"\n{args.steps} steps, free-running, {args.threads} thread(s); {machine()}\n")
    print(table(["model", "inference p50 µs", "inference p99 µs", "p99/p50",
                 "env step p50 µs", "loop overhead p50 µs", "overhead p99 µs"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
