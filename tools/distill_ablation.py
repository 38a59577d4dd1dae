"""Table 2 at CPU scale: students trained under the four distillation modes, same budget.

    python -m tools.distill_ablation                       # configs/table2.yaml as written
    python -m tools.distill_ablation --steps 150000 --arch nature --seeds 0,1,2
    python -m tools.distill_ablation --steps 250000 --evals 5 --arch nature \
        --out runs/table2-250k --report runs/table2-250k-report --set learner_threads=2
    python -m tools.distill_ablation --report-only         # redraw from the run folders
    python -m tools.distill_ablation --arch resnet14 --seeds 1 \\
        --also results/table2-cpu --figure-prefix table2-resnet14

`--also` adds run folders finished in earlier sittings to the report: a run folder's
config.json + metrics.jsonl are all the report reads, and that much of each finished run is
kept in the repository (results/), since run folders do not outlive a machine.

Runs `a2d sweep configs/table2.yaml` (resumable: a killed benchmark continues where it
stopped), then `a2d report`, and prints one row per (student, mode): best and final eval mean
± std over seeds, with the paper's expectation (actor-critic >= actor > none at equal steps)
checked on the final scores. The learning-curve PNG is copied to docs/img/.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from benchmarks.common import machine, table

MODES = ("none", "actor", "actor-reuse-critic", "actor-critic")


def _cell(stats: dict | None) -> str:  # type: ignore[type-arg]
    if not stats:
        return "n/a"
    return f"{stats['mean']:.1f} ± {stats['std']:.1f} (n={stats['n']})"


def summarise(report: dict) -> tuple[str, list[str]]:  # type: ignore[type-arg]
    """The markdown table and the expectation checks, from `a2d report`'s JSON."""
    rows, finals = [], {}
    for g in report["groups"]:
        if g["kind"] != "train":
            continue
        arch, mode = g.get("arch"), g["varying"].get("distill")
        rows.append((arch, mode, _cell(g.get("best")), _cell(g.get("final"))))
        if g.get("final"):
            finals[(arch, mode)] = g["final"]["mean"]
    rows.sort(key=lambda r: (str(r[0]), MODES.index(r[1]) if r[1] in MODES else 9))
    text = table(["student", "distill", "best eval", "final eval"], rows)
    checks = []
    for arch in sorted({a for a, _ in finals}):
        f = {m: finals.get((arch, m)) for m in MODES}
        if None in (f["none"], f["actor"], f["actor-critic"]):
            continue
        ok1 = f["actor-critic"] >= f["actor"]  # type: ignore[operator]
        ok2 = f["actor"] > f["none"]  # type: ignore[operator]
        checks.append(
            f"{arch}: actor-critic {f['actor-critic']:.1f} >= actor {f['actor']:.1f}: "
            f"{'yes' if ok1 else 'NO'}; actor {f['actor']:.1f} > none {f['none']:.1f}: "
            f"{'yes' if ok2 else 'NO'}"
        )
    return text, checks


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/table2.yaml")
    p.add_argument("--out", default="runs/table2")
    p.add_argument("--report", default="runs/table2-report")
    p.add_argument("--steps", type=float, help="agent steps per run (default: the file's)")
    p.add_argument("--arch", help="one student arch (default: the file's grid)")
    p.add_argument("--seeds", help="comma-separated seeds (default: the file's)")
    p.add_argument("--evals", type=int, default=10, help="evaluations per run with --steps")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other run setting, e.g. learner_threads=2 (repeatable)",
    )
    p.add_argument("--report-only", action="store_true")
    p.add_argument(
        "--figure-prefix",
        default="table2",
        help="the curves are copied to docs/img/PREFIX-curves-<game>.png",
    )
    p.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="DIR",
        help="more finished run folders (or folders above them) for the report (repeatable)",
    )
    args = p.parse_args()

    from a2d_edge.experiments.report import write_report
    from a2d_edge.experiments.spec import parse_sets
    from a2d_edge.experiments.sweep import run_sweep

    if not args.report_only:
        sets: dict[str, object] = {}
        if args.steps:
            every = max(int(args.steps) // max(args.evals, 1), 1)
            sets.update(steps=int(args.steps), eval_every=every, checkpoint_every=every)
        if args.arch:
            sets["arch"] = args.arch
        sets.update(parse_sets(args.set))
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else []
        result = run_sweep(args.config, args.out, sets=sets, seeds=seeds)
        done = sum(result.states[r.name].status == "done" for r in result.mine)
        print(f"sweep: {done} of {len(result.mine)} run(s) done; {args.out}/sweep.json")
    report = write_report([args.out, *args.also], args.report)
    for w in report.warnings:
        print(f"a2d report: warning: {w}", file=sys.stderr)
    import json

    data = json.loads((Path(args.report) / "report.json").read_text())
    text, checks = summarise(data)
    print(f"\n# Table 2 at CPU scale ({machine()})\n")
    print(text)
    print()
    for line in checks:
        print("- " + line)
    img = Path("docs/img")
    img.mkdir(parents=True, exist_ok=True)
    for fig in Path(args.report).glob("curves-*.png"):
        shutil.copy(fig, img / f"{args.figure_prefix}-{fig.name}")
        print(f"curve: {img / f'{args.figure_prefix}-{fig.name}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
