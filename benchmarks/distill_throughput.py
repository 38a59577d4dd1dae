"""Agent-steps/s of the distillation loop (`a2d distill`, the finish's recipe) in fp32 against
bf16 autocast, per arch, on this host.

Each (arch, precision) runs `a2d distill` for --steps agent steps in its own process, one after
the other, the pairs interleaved (fp32, bf16, fp32, bf16, ...) so a drift of the VM falls on
both; --repeats rounds, medians reported. A run's speed is the median of its logged
`steps_per_second` after the first log (the replay's fill and the first updates excluded).
Only the weight steps run under bf16 (the teacher's labels, the acting forwards and the loss
stay fp32), so the ratio is what `--precision auto` gains where it picks bf16; on a CPU
without native bf16 the bf16 column is emulated and slower (auto picks fp32 there).

    python -m benchmarks.distill_throughput --env ALE/Breakout-v5 --teacher zoo:breakout \\
        --arch 32,64,16,256 16,32,32,256 --steps 20000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import arch_of, machine, median, result, run_worker, table

PRECISIONS = ("fp32", "bf16")


def worker(settings: dict[str, Any], out: Path) -> None:
    """One `a2d distill` run in `out`; prints RESULT <steps/s>."""
    from a2d_edge.experiments.commands import start_command

    start_command("distill", settings, out)
    rows = [json.loads(line) for line in (out / "finish" / "metrics.jsonl").open()]
    sps = [r["steps_per_second"] for r in rows if "steps_per_second" in r][1:]
    if not sps:
        raise SystemExit("too few logged updates: raise --steps")
    print("RESULT " + json.dumps(median(sps)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="ALE/Pong-v5")
    p.add_argument("--teacher", default="zoo:pong")
    p.add_argument("--arch", nargs="+", default=["32,64,16,256", "nature-half"])
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--learner-threads", type=int, default=2)
    args = p.parse_args()

    speeds: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for spec in args.arch:
                path = Path(tmp) / f"{len(speeds)}.arch.json"
                path.write_text(json.dumps(arch_of(spec)))
                for prec in PRECISIONS if r % 2 == 0 else PRECISIONS[::-1]:
                    out = Path(tmp) / f"run-{r}-{spec.replace('/', '_')}-{prec}"
                    settings = {"env": args.env, "teacher": args.teacher, "arch": str(path),
                                "finish_steps": args.steps, "final_episodes": 0,
                                "eval_every": 0, "log_every": max(args.steps // 20, 1),
                                "checkpoint_every": args.steps, "precision": prec,
                                "learner_threads": args.learner_threads,
                                "progress": False}  # fmt: skip
                    sps = result(run_worker([__file__, "--worker", json.dumps(settings),
                                             str(out)]))  # fmt: skip
                    speeds.setdefault((spec, prec), []).append(sps)
                    print(f"{spec} {prec}: {sps:.0f} agent-steps/s", flush=True)
    rows = []
    for spec in args.arch:
        fp32, bf16 = (median(speeds[(spec, p)]) for p in PRECISIONS)
        rows.append([spec, f"{fp32:.0f}", f"{bf16:.0f}", f"{bf16 / fp32:.2f}x"])
    print(f"\n{machine()}\n{args.env}, teacher {args.teacher}, {args.steps} agent steps per run, "
          f"{args.repeats} round(s), learner on {args.learner_threads} threads\n")  # fmt: skip
    print(table(["arch", "fp32 agent-steps/s", "bf16 agent-steps/s", "bf16 / fp32"], rows))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(json.loads(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
