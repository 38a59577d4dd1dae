"""Does the table hold inside the controller? Predicted vs in-run inference latency.

For `--archs` random architectures of a table's space, each is exported as a real bundle in
the table's precision (an INT8 table: `a2d export --int8`, the host's INT8 recipe and graph
rewrites, calibrated on frames of the agent playing; fresh weights, so the agreement gate is
not the point and is not enforced; an fp32 table: the fp32 model alone) and
run by `a2d run` at every rate of `--rates` for `--steps` steps (sampled actions, the default
wait: sleep until the tick). Each run's inference p50 is compared with the prediction of the
table timed the way that run waits (`a2d run --lut`'s choice: the `-ctl<F>hz` table beside
TABLE, else the in-loop twin, else TABLE), and the runs are interleaved over archs and rates.

    python -m benchmarks.controller_latency latency_tables/HOST-onnxruntime-int8-edge.json \\
        --archs 10 --rates 15,60 --steps 300

`--recalibrate K` first rescales each table by the device's drift since it was profiled
(`a2d-profile --recalibrate`, K archs timed the table's way, in memory: nothing is written) and
judges both predictions, as shipped and recalibrated. `--spin-ms S --prewarm` runs the loops
with that wait policy (and so uses the tables of it).

Target: the measured in-run p50 within ±15% of the matching table's prediction.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import machine, median, table

TOLERANCE = 0.15


def make_bundle(
    arch: dict, n_actions: int, out: Path, seed: int, frames: int, int8: bool = True
) -> Path:
    """A bundle of a freshly initialised agent of `arch`, exported as `a2d export --int8`
    (or fp32 alone, for an fp32 table)."""
    import torch

    from a2d_edge.export.bundle import export_bundle
    from a2d_edge.export.settings import ExportSettings
    from a2d_edge.nets import build_agent
    from a2d_edge.sources.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    model = build_agent(arch, n_actions)
    ckpt = out.with_suffix(".pt")
    save_checkpoint(ckpt, {"arch": arch, "env_id": "ALE/Pong-v5", "obs_shape": [4, 84, 84],
                           "n_actions": n_actions, "step": 0,
                           "model": model.state_dict()})  # fmt: skip
    export_bundle(str(ckpt), out, ExportSettings(int8=int8, frames=frames, force=True))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("table", help="a latency table; its controller-mode twins are used per rate")
    p.add_argument("--archs", type=int, default=10)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--rates", default="15,60", help="control rates (Hz), comma-separated")
    p.add_argument("--steps", type=int, default=300, help="steps per run")
    p.add_argument("--frames", type=int, default=64, help="export frames (calibration + check)")
    p.add_argument("--recalibrate", type=int, default=0, metavar="K", help="drift-rescale first")
    p.add_argument(
        "--per-run",
        action="store_true",
        help="recalibrate each run's table right before it, as `a2d run --lut` does on this "
        "host's table (the VM's speed drifts within minutes)",
    )
    p.add_argument("--spin-ms", type=float, default=0.0)
    p.add_argument("--prewarm", action="store_true")
    p.add_argument(
        "--floor",
        action="store_true",
        help="run every (arch, rate) a second time, in reverse order after the first pass, and "
        "score that p50 as a prediction of the first: the machine's own repeatability",
    )
    args = p.parse_args()

    from a2d_edge.hw.drift import ARCHS, repeats_for
    from a2d_edge.hw.lut import LatencyTable, host_mismatch, resolve_for_run
    from a2d_edge.hw.profile import random_archs, recalibrate, settings_for
    from a2d_edge.runtime.loop import RunSettings, run_agent
    from a2d_edge.runtime.pacing import Pacing
    from a2d_edge.runtime.policy import PolicySpec

    rates = [float(r) for r in args.rates.split(",")]
    pacing = {r: Pacing(r, args.spin_ms, args.prewarm).check() for r in rates}
    tables = {r: LatencyTable.load(resolve_for_run(args.table, pacing[r])) for r in rates}
    shipped = {r: LatencyTable.load(t.path) for r, t in tables.items()}
    for t in tables.values():
        if t.host_match() != "same":
            print(f"  warning: {host_mismatch(t.path, t)}", file=sys.stderr)
        if args.recalibrate:
            rec = recalibrate(t, args.recalibrate, settings_for(t, 100, 10), seed=args.seed + 1)
            print(f"  {Path(t.path).name}: drift x{rec['drift_factor']:.3f}", file=sys.stderr)
    space = next(iter(tables.values())).space
    precision = str(next(iter(tables.values())).meta.get("precision", "int8"))  # as timed
    archs = random_archs(space, args.archs, args.seed)
    rows: list[list[object]] = []
    ratios: dict[float, list[float]] = {r: [] for r in rates}
    floor: dict[float, list[float]] = {r: [] for r in rates}

    def run(bundle: Path, rate: float, seed: int) -> dict:  # type: ignore[type-arg]
        settings = RunSettings(hz=rate, max_steps=args.steps, status=False, seed=seed,
                               spin_ms=args.spin_ms, prewarm=args.prewarm)  # fmt: skip
        return run_agent(bundle, settings, PolicySpec(precision=precision))

    with tempfile.TemporaryDirectory() as tmp:
        bundles = []
        for i, arch in enumerate(archs):
            out = Path(tmp) / f"arch{i}"
            bundles.append(
                make_bundle(arch, 6, out, args.seed + i, args.frames, precision == "int8")
            )
            print(f"  exported arch {i}", file=sys.stderr)
        plan = [(i, rate) for i in range(len(archs))
                for rate in (rates if i % 2 == 0 else rates[::-1])]  # fmt: skip
        first: dict[tuple[int, float], float] = {}
        for i, rate in plan:
            if args.per_run:  # as `a2d run --lut` does: this host's table, just before the run
                tables[rate] = LatencyTable.load(shipped[rate].path)
                hz = tables[rate].pacing.hz  # a2d run's own recalibration (hw/drift.py), uncached
                recalibrate(tables[rate], ARCHS, settings_for(tables[rate], repeats_for(hz), 10))
            report = run(bundles[i], rate, args.seed + i)
            measured = report["latency_us"]["inference"]["p50"]
            first[i, rate] = measured
            predicted = tables[rate].predict(archs[i]) * 1000
            as_shipped = shipped[rate].predict(archs[i]) * 1000
            ratio = measured / predicted
            ratios[rate].append(ratio)
            rows.append([
                i, f"{rate:g}", Path(tables[rate].path).name, tables[rate].describe_mode(),
                f"{as_shipped:.1f}", f"{predicted:.1f}", f"{measured:.1f}",
                f"{report['latency_us']['inference']['p99']:.1f}", f"{ratio:.2f}",
                "yes" if abs(ratio - 1) <= TOLERANCE else "no",
            ])  # fmt: skip
            print(f"  arch {i} at {rate:g} Hz: {measured:.1f} us, x{ratio:.2f}", file=sys.stderr)
        for i, rate in reversed(plan) if args.floor else ():
            again = run(bundles[i], rate, args.seed + 100 + i)["latency_us"]["inference"]["p50"]
            floor[rate].append(again / first[i, rate])
    wait = "sleep"
    if args.spin_ms:
        wait = f"spin {args.spin_ms:g} ms" + (" + prewarm" if args.prewarm else "")
    recal = f", tables recalibrated on {args.recalibrate} archs first" if args.recalibrate else ""
    recal += ", each run's table recalibrated just before it" if args.per_run else ""
    print(f"\n{args.archs} random archs (seed {args.seed}) x {len(rates)} rates, {args.steps} "
          f"steps per run, wait: {wait}{recal}; {precision.upper()}, 1 thread; "
          f"{machine()}\n")  # fmt: skip
    print(table(["arch", "Hz", "table", "table mode", "shipped predicts µs", "predicted µs",
                 "in-run p50 µs",
                 "in-run p99 µs", "p50 / predicted", f"within ±{TOLERANCE:.0%}"],
                rows))  # fmt: skip
    summary = []
    for label, got in (("p50 / predicted", ratios), ("re-run p50 / first p50 (floor)", floor)):
        for rate, rs in got.items():
            if not rs:
                continue
            a = np.asarray(rs)
            within = float((np.abs(a - 1) <= TOLERANCE).mean())
            summary.append([label, f"{rate:g}", f"{median(rs):.2f}", f"{a.min():.2f}-{a.max():.2f}",
                            f"{100 * within:.0f}%"])  # fmt: skip
    print()
    print(table(["ratio", "Hz", "median", "range", f"within ±{TOLERANCE:.0%}"], summary))


if __name__ == "__main__":
    main()
