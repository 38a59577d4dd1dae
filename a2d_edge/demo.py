"""`make demo`: the main job end to end on the embedded default (ALE/Pong-v5).

This stage of the project trains a small agent briefly on Pong and evaluates it with the
paper's protocol. `python -m a2d_edge.demo --steps N --episodes K` runs it longer.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from a2d_edge.config import build_config
from a2d_edge.errors import A2DError
from a2d_edge.rl.config import TrainConfig
from a2d_edge.rl.evaluate import evaluate_checkpoint
from a2d_edge.rl.trainer import start_run, train


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="a2d-demo", description=__doc__)
    p.add_argument("--env", default="ALE/Pong-v5")
    p.add_argument("--steps", type=int, default=40_000)
    p.add_argument("--episodes", type=int, default=5)
    p.add_argument("--out", default="runs/demo")
    args = p.parse_args(argv)
    out = Path(args.out)
    try:
        if out.exists():
            shutil.rmtree(out)  # the demo's own folder, rebuilt on every run
        cfg = build_config(
            TrainConfig,
            {"env": args.env, "arch": "nature", "steps": args.steps, "eval_every": 0},
        )
        t0 = time.perf_counter()
        result = train(cfg, start_run(cfg, out))
        t_train = time.perf_counter() - t0
        ev = evaluate_checkpoint(out / "agent.pt", episodes=args.episodes, seed=0)
    except A2DError as e:
        print(f"a2d-demo: error: {e}", file=sys.stderr)
        return 2
    print()
    header = ("env", "arch", "steps", "train s", "steps/s", "eval mean", "± std")
    print("{:<16}{:<8}{:>8}{:>9}{:>9}{:>11}{:>8}".format(*header))
    print(
        f"{args.env:<16}{'nature':<8}{result.step:>8}{t_train:>9.1f}"
        f"{result.steps_per_second:>9.0f}{ev.mean:>11.2f}{ev.std:>8.2f}"
    )
    print(f"\ncheckpoint: {out / 'agent.pt'}   logs: {out / 'metrics.jsonl'}, {out / 'tb'}")
    print("(a brief run: Pong needs ~6-7M steps to win; see BENCHMARKS.md for the long run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
