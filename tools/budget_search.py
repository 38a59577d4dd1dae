"""Search under latency budgets: does each derived arch meet its budget on this machine?

For a latency table, runs `a2d search --lut TABLE --latency-budget-ms B` at several budgets
(multiples of the fastest arch the table predicts for its space), then times every derived arch
end to end with the table's own backend, precision, threads and mode (interleaved, one sitting)
and prints budget, table prediction, measurement, measured/budget and whether the search had to
repair its argmax arch. Searches are resumable (a killed benchmark continues); a finished one is
reused.

    python -m tools.budget_search \\
        latency_tables/amd-epyc-2c-avx2-onnxruntime-int8-edge-inloop.json --budgets 1.25,2,3
    python -m tools.budget_search TABLE --search-flags "--alpha-lr 1e-2 --flops-weight 0" \\
        --out runs/budget-search-lat-only

`--search-flags` passes more `a2d search` flags to every search (here: the latency hinge as the
only cost, and architecture logits that move 10x faster, so a CPU-length search leaves the
near-uniform start and the budget shapes the arch).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.common import machine, table


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("lut")
    p.add_argument("--budgets", default="1.25,2,3", help="multiples of the fastest arch's latency")
    p.add_argument("--steps", type=float, default=20_000, help="agent steps per search")
    p.add_argument("--teacher", default="zoo:pong")
    p.add_argument("--env", default="ALE/Pong-v5")
    p.add_argument("--out", default="runs/budget-search")
    p.add_argument("--repeats", type=int, default=200, help="timed calls per derived arch")
    p.add_argument("--search-flags", default="", help="more `a2d search-rl` flags, one string")
    args = p.parse_args()

    from a2d_edge.experiments.commands import resume_command, start_command
    from a2d_edge.hw.lut import LatencyTable
    from a2d_edge.hw.profile import measure_archs, settings_for

    extra = search_settings(args.search_flags)
    lut = LatencyTable.load(args.lut)
    fastest, _ = lut.fastest()
    runs = []
    for factor in (float(f) for f in args.budgets.split(",")):
        budget = round(fastest * factor, 4)
        out = Path(args.out) / f"{Path(args.lut).stem}-x{factor:g}"
        if not (out / "search.json").exists() or _unfinished(out, args.steps):
            if (out / "config.json").exists():
                resume_command("search-rl", out)
            else:
                start_command("search-rl", {"preset": lut.space.name, "mode": "hard",
                              "eval_every": 0, "env": args.env, "steps": int(args.steps),
                              "teacher": args.teacher, "lut": args.lut,
                              "latency_budget_ms": budget, **extra}, out)  # fmt: skip
        runs.append((factor, budget, json.loads((out / "search.json").read_text())))
    archs = [r[2]["derived"] for r in runs]
    measured = measure_archs(lut.space, archs, settings_for(lut, args.repeats)) / 1000.0
    rows = []
    for (factor, budget, result), ms in zip(runs, measured, strict=True):
        lat = result["latency"]
        rows.append([
            f"{factor:g}× fastest = {budget:.3f}", f"{lat['predicted_ms']:.3f}", f"{ms:.3f}",
            f"{ms / budget:.2f}", "yes" if ms <= budget else "NO",
            "yes" if lat["repaired"] else "no", f"{result['derived_flops'] / 1e6:.1f}",
            f"{_expected_ms(lut, result):.3f}", f"{_entropy(result):.2f}",
        ])  # fmt: skip
    flags = f", flags `{args.search_flags}`" if args.search_flags else ""
    print(f"\n{Path(args.lut).name} ({lut.mode}), searches of {int(args.steps)} steps{flags}; "
          f"{machine()}\n")  # fmt: skip
    print(table(["budget ms", "predicted ms", "measured ms", "measured / budget", "meets",
                 "repaired", "MFLOPs", "E[lat] at the end ms", "op entropy (uniform 2.20)"],
                rows))  # fmt: skip
    uniform = _expected_ms(lut, {"probabilities": [[1.0 / len(lut.space.ops)] * len(lut.space.ops)]
                                 * lut.space.n_blocks})  # fmt: skip
    print(f"\nE[lat] by the table under uniform op probabilities (the search's start): "
          f"{uniform:.3f} ms; fastest arch {fastest:.3f} ms")  # fmt: skip
    return 0


def search_settings(flags: str) -> dict[str, object]:
    """`--search-flags`: more `a2d search-rl` flags, one string, as settings (those given)."""
    from a2d_edge.config import add_config_args, flags_for
    from a2d_edge.search.settings import RLSearchConfig
    from a2d_edge.utils.args import OneLineParser

    p = OneLineParser(prog="--search-flags")
    add_config_args(p, RLSearchConfig)
    given = flags_for(RLSearchConfig, p.parse_args(flags.split()))
    return {k: v for k, v in given.items() if v is not None}


def _expected_ms(lut, result: dict) -> float:  # type: ignore[no-untyped-def, type-arg]
    """The table's expected latency under the search's final op probabilities (what the
    latency hinge saw), against the argmax arch's prediction."""
    import torch

    return float(lut.expected(torch.tensor(result["probabilities"], dtype=torch.float64)))


def _entropy(result: dict) -> float:  # type: ignore[type-arg]
    """Mean per-block entropy (nats) of the final op probabilities: how far α left uniform."""
    import torch

    from a2d_edge.search.cost import alpha_entropy

    return alpha_entropy(torch.tensor(result["probabilities"], dtype=torch.float64).log())


def _unfinished(out: Path, steps: float) -> bool:
    result = json.loads((out / "search.json").read_text())
    return int(result.get("step", 0)) < int(steps)


if __name__ == "__main__":
    sys.exit(main())
