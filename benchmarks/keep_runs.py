"""Keep what `a2d report` reads of finished runs in the repository (benchmarks/results/).

    python benchmarks/keep_runs.py runs/table2-cpu benchmarks/results/table2-cpu
    python benchmarks/keep_runs.py runs/fig2 benchmarks/results/fig2-cpu

Run folders do not outlive a machine, and a sweep like Table 2 spans sittings. For each run
folder under SRC (one with an a2d config.json) whose metrics reached its config's `steps`, this
copies config.json, metrics.jsonl and, for a search, search.json and arch.json (a few KB, no
checkpoints) to the same relative path under DST. Unfinished runs are listed and left out; a
kept run is overwritten only by a finished run of the same config (`--force` otherwise).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

KEPT = ("config.json", "metrics.jsonl", "search.json", "arch.json")


def last_step(run_dir: Path) -> int:
    """The furthest step the run's metrics (or its search summary) reached."""
    step = 0
    metrics = run_dir / "metrics.jsonl"
    if metrics.is_file():
        for line in metrics.read_text().splitlines():
            try:
                step = max(step, int(json.loads(line).get("step", 0)))
            except (ValueError, AttributeError):
                continue  # a line cut by a kill
    search = run_dir / "search.json"
    if search.is_file():
        step = max(step, int(json.loads(search.read_text()).get("step", 0)))
    return step


def run_config(run_dir: Path) -> dict | None:
    try:
        data = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and isinstance(data.get("config"), dict)
    return data if ok else None


def keep(src: Path, dst: Path, force: bool = False) -> tuple[list[str], list[str]]:
    """Copy the finished runs under `src` to `dst`; returns (kept, left out with the reason)."""
    kept, left = [], []
    for cfg_path in sorted(src.rglob("config.json")):
        run_dir = cfg_path.parent
        rel = run_dir.relative_to(src)
        data = run_config(run_dir)
        if data is None:
            continue
        steps, step = int(data["config"].get("steps", 0)), last_step(run_dir)
        if step < steps:
            left.append(f"{rel}: at step {step:,} of {steps:,}")
            continue
        target = dst / rel
        old = run_config(target)
        if old is not None and old["config"] != data["config"] and not force:
            left.append(f"{rel}: {target} holds a run of other settings (--force replaces it)")
            continue
        target.mkdir(parents=True, exist_ok=True)
        for name in KEPT:
            if (run_dir / name).is_file():
                shutil.copyfile(run_dir / name, target / name)
        kept.append(str(rel))
    return kept, left


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("src", type=Path, help="a sweep's --out folder (or one run folder's parent)")
    p.add_argument("dst", type=Path, help="where to keep them, e.g. benchmarks/results/<name>")
    p.add_argument("--force", action="store_true", help="replace kept runs of other settings")
    args = p.parse_args(argv)
    if not args.src.is_dir():
        print(f"keep_runs: {args.src} is not a folder", file=sys.stderr)
        return 2
    kept, left = keep(args.src, args.dst, args.force)
    for name in kept:
        print(f"kept  {name}")
    for why in left:
        print(f"left  {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
