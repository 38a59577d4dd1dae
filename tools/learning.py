"""Learning curves of our A2C: eval score vs agent steps and wall time, PNG + markdown table.

    python -m tools.learning quick          # ALE/Seaquest-v5, Nature CNN, 16 envs, 500k steps
    python -m tools.learning quick-pipelined  # the same, --update pipelined --precision bf16
    python -m tools.learning pong           # ALE/Pong-v5, 10M steps (hours; resumable)
    python -m tools.learning plot RUN_DIR [--compare RUN_DIR ...]   # only redraw curves

A run that exists is resumed (`a2d train --resume`), so a long run continues across sittings.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchmarks.common import table

QUICK = {"env": "ALE/Seaquest-v5", "steps": 500_000, "eval_every": 50_000, "eval_episodes": 10}
RUNS: dict[str, dict[str, Any]] = {
    "quick": {"dir": "runs/bench-seaquest", "settings": QUICK},
    "quick-pipelined": {
        "dir": "runs/bench-seaquest-pipelined",
        "settings": {**QUICK, "update": "pipelined", "precision": "bf16"},
    },
    "pong": {
        "dir": "runs/pong-nature",
        "settings": {
            "env": "ALE/Pong-v5",
            "steps": 10_000_000,
            "eval_every": 250_000,
            "eval_episodes": 10,
            "checkpoint_every": 100_000,
        },
    },
}
"""Each run's folder and its `a2d train` settings (over the Nature CNN on 16 envs)."""


def run(name: str) -> Path:
    from a2d_edge.experiments.commands import resume_command, start_command

    spec = RUNS[name]
    run_dir = Path(spec["dir"])
    if (run_dir / "config.json").exists():
        done = resume_command("train", run_dir)
    else:
        done = start_command("train", {"arch": "nature", "num_envs": 16, **spec["settings"]},
                             run_dir)  # fmt: skip
    print(f"done: {done.said}")
    return run_dir


def _evals(run_dir: Path) -> list[dict]:  # type: ignore[type-arg]
    from a2d_edge.utils.logging import read_jsonl

    rows = [r for r in read_jsonl(run_dir / "metrics.jsonl") if r["kind"] == "eval"]
    if not rows:
        raise SystemExit(f"{run_dir} has no evaluations yet")
    return rows


def _label(run_dir: Path) -> str:
    import json

    cfg = json.loads((run_dir / "config.json").read_text())["config"]
    extra = "" if cfg.get("update", "batched") == "batched" else f", {cfg['update']}"
    return f"{run_dir.name} ({cfg.get('optimizer', 'rmsprop')}{extra})"


def plot(run_dir: Path, others: list[Path] | None = None) -> str:
    """The run's eval curve (mean ± std), with other runs' curves overlaid for comparison."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _evals(run_dir)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for d in [run_dir, *(others or [])]:
        evals = _evals(d)
        steps = [r["step"] for r in evals]
        means = [r["score_mean"] for r in evals]
        stds = [r["score_std"] for r in evals]
        ax.plot(steps, means, marker="o", ms=3, label=_label(d))
        ax.fill_between(
            steps,
            [m - s for m, s in zip(means, stds, strict=True)],
            [m + s for m, s in zip(means, stds, strict=True)],
            alpha=0.2,
        )
    ax.set_xlabel("agent steps")
    ax.set_ylabel("eval score (mean ± std)")
    ax.set_title(run_dir.name)
    ax.grid(alpha=0.3)
    if others:
        ax.legend(fontsize=7)
    fig.tight_layout()
    png = run_dir / "learning_curve.png"
    fig.savefig(png, dpi=120)
    keep = rows if len(rows) <= 12 else [*rows[:: max(1, len(rows) // 12)], rows[-1]]
    return (
        table(
            ["agent steps", "wall time (min)", "eval mean", "eval std"],
            [
                [
                    f"{r['step']:,}",
                    f"{r['wall_time'] / 60:.1f}",
                    f"{r['score_mean']:.1f}",
                    f"{r['score_std']:.1f}",
                ]
                for r in keep
            ],
        )
        + f"\n\n(plot: {png})"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("what", choices=[*RUNS, "plot"])
    p.add_argument("run_dir", nargs="?")
    p.add_argument("--compare", nargs="*", default=[], help="other run folders to overlay")
    args = p.parse_args()
    run_dir = Path(args.run_dir) if args.what == "plot" else run(args.what)
    print(plot(run_dir, [Path(c) for c in args.compare]))


if __name__ == "__main__":
    main()
