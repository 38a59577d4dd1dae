"""Cost of a search step (soft and hard supernet) vs training the largest derived net.

All three run the same loop (16 envs, rollout 5, batched update, 1 torch thread) on the same
space; the derived net is the space's most expensive architecture (the max-FLOPs op in every
block), i.e. the worst case a search can return. Each runs in its own process, one at a time,
`--repeats` times, interleaved; medians are reported.

    python -m benchmarks.search_cost --preset edge --steps 4000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from benchmarks.common import machine, median, result, run_worker, table


def largest_arch(preset: str) -> dict:  # type: ignore[type-arg]
    from a2d_edge.nets import get_space, searched_arch

    space = get_space(preset)
    ops = [space.ops[max(range(len(row)), key=row.__getitem__)] for row in space.op_flops()]
    return searched_arch(space, ops)


def worker(kind: str, preset: str, steps: int, env: str) -> float:
    from a2d_edge.experiments.commands import start_command
    from a2d_edge.utils.io import write_json
    from a2d_edge.utils.logging import read_jsonl

    with tempfile.TemporaryDirectory() as tmp:
        common = {"env": env, "num_envs": 16, "eval_every": 0, "progress": False,
                  "checkpoint_every": 10**9, "log_every": 400, "steps": steps + 400}  # fmt: skip
        if kind == "derived":
            write_json(f"{tmp}/arch.json", largest_arch(preset))
            start_command("train", {"arch": f"{tmp}/arch.json", **common}, f"{tmp}/run")
        else:
            start_command("search-rl", {"preset": preset, "mode": kind, **common}, f"{tmp}/run")
        rows = [r for r in read_jsonl(f"{tmp}/run/metrics.jsonl") if r["kind"] == "train"]
        return (rows[-1]["step"] - rows[0]["step"]) / (rows[-1]["time"] - rows[0]["time"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--preset", default="edge", choices=["paper", "edge"])
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--env", default="ALE/Pong-v5")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args.worker, args.preset, args.steps, args.env)))
        return
    me = str(Path(__file__).resolve())
    kinds = ["derived", "hard", "soft"]
    results: dict[str, list[float]] = {k: [] for k in kinds}
    for r in range(args.repeats):
        for k in kinds:
            argv = [me, "--worker", k, "--preset", args.preset, "--steps", str(args.steps),
                    "--env", args.env]  # fmt: skip
            sps = result(run_worker(argv))
            results[k].append(sps)
            print(f"  repeat {r + 1}: {k}: {sps:,.1f} steps/s", file=sys.stderr)
    med = {k: median(v) for k, v in results.items()}
    names = {
        "derived": "train largest derived net",
        "hard": "search, hard (straight-through)",
        "soft": "search, soft (all 9 ops, paper)",
    }
    rows = [[names[k], f"{med[k]:,.0f}", f"{med['derived'] / med[k]:.2f}×"] for k in kinds]
    print(
        f"\npreset {args.preset}, {args.env}, 16 envs, rollout 5, {args.steps:,} steps, "
        f"median of {args.repeats}; {machine()}\n"
    )
    print(table(["loop", "agent-steps/s", "time per step vs derived"], rows))


if __name__ == "__main__":
    main()
