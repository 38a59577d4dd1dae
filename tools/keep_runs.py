"""Keep what `a2d report` reads of finished runs in the repository (results/).

    python -m tools.keep_runs runs/table2-cpu results/table2-cpu
    python -m tools.keep_runs runs/fig2 results/fig2-cpu

Run folders do not outlive a machine, and a sweep like Table 2 spans sittings. For each run
folder under SRC (one with an a2d config.json) whose metrics reached its config's `steps`, this
copies config.json, metrics.jsonl and, for a search, search.json and arch.json (a few KB, no
checkpoints) to the same relative path under DST. A run of the distillation pipeline (`a2d
search` of method distill, `a2d distill`) is finished when its result.json is written; it keeps
result.json, walls.json and each phase's metrics (supernet/, finish/) too. Unfinished runs are
listed and left out; a kept run is overwritten only by a finished run of the same config
(`--force` otherwise).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from a2d_edge.errors import A2DError

KEPT = ("config.json", "metrics.jsonl", "search.json", "arch.json")
# the distillation pipeline's run: its final evaluation, phase times and each phase's metrics
KEPT_DISTILL = ("result.json", "walls.json", "supernet/metrics.jsonl", "finish/metrics.jsonl")


def keep(src: Path, dst: Path, force: bool = False) -> tuple[list[str], list[str]]:
    """Copy the finished runs under `src` to `dst`; returns (kept, left out with the reason).
    A run is read as `a2d report` reads it (`load_run`: its config and the furthest step)."""
    from a2d_edge.experiments.report import load_run

    kept, left = [], []
    for cfg_path in sorted(src.rglob("config.json")):
        run = load_run(cfg_path.parent)
        if run is None:
            continue  # some other tool's config.json
        rel = run.path.relative_to(src)
        # config.json's kind is the command; an RL search's (of old: no method) keeps by steps
        distill = run.kind == "distill" or run.config.get("method") == "distill"
        steps = int(run.config.get("steps", 0))
        if distill and run.result is None:
            left.append(f"{rel}: no result.json yet (its final evaluation)")
            continue
        if not distill and run.last_step < steps:
            left.append(f"{rel}: at step {run.last_step:,} of {steps:,}")
            continue
        target = dst / rel
        old = load_run(target) if (target / "config.json").is_file() else None
        if old is not None and old.config != run.config and not force:
            left.append(f"{rel}: {target} holds a run of other settings (--force replaces it)")
            continue
        for name in KEPT + (KEPT_DISTILL if distill else ()):
            if (run.path / name).is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run.path / name, target / name)
        kept.append(str(rel))
    return kept, left


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("src", type=Path, help="a sweep's --out folder (or one run folder's parent)")
    p.add_argument("dst", type=Path, help="where to keep them, e.g. results/<name>")
    p.add_argument("--force", action="store_true", help="replace kept runs of other settings")
    args = p.parse_args(argv)
    if not args.src.is_dir():
        print(f"keep_runs: {args.src} is not a folder", file=sys.stderr)
        return 2
    try:
        kept, left = keep(args.src, args.dst, args.force)
    except A2DError as e:  # an unreadable config.json or search.json
        print(f"keep_runs: {e}", file=sys.stderr)
        return 2
    for name in kept:
        print(f"kept  {name}")
    for why in left:
        print(f"left  {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
