"""Each finished run's final score pooled with the extra episodes it played later.

    python -m tools.pooled_scores results/distill-roadrunner-avx512vnni-bf16 \\
        --against RoadRunner/search/s0 --teacher-score 13373.3 --random-score 11.5

The runs are those under SERIES with a result.json (the distillation pipeline's); the extra
episodes are SERIES/eval100.json (`{"results": {RUN: {mean, std, episodes}}}`, RUN relative to
SERIES, written from `a2d eval AGENT --episodes 100 --seed 1000 --json`). For each run this prints
the final evaluation, the extra episodes and all of them as one sample (mean ± population std);
with --teacher-score and --random-score the pooled mean normalised between them; with --against
RUN, each other run's difference from it in standard errors of the difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

Sample = tuple[float, float, int]


def sample(score: dict[str, Any]) -> Sample:
    return float(score["mean"]), float(score["std"]), int(score["episodes"])


def pooled_rows(series: Path) -> dict[str, tuple[Sample, Sample | None, Sample]]:
    """{run: (final, extra or None, pooled)} for the runs under `series` with a result.json."""
    from a2d_edge.errors import A2DError
    from a2d_edge.utils.io import read_json
    from a2d_edge.utils.stats import pool

    extra_path = series / "eval100.json"
    extra = read_json(extra_path, "eval100").get("results", {}) if extra_path.exists() else {}
    rows = {}
    for path in sorted(series.rglob("result.json")):
        run = str(path.parent.relative_to(series))
        score = read_json(path, "run result").get("score")
        if not isinstance(score, dict):
            raise A2DError(f"{path} has no final score")
        final = sample(score)
        more = sample(extra[run]) if run in extra else None
        rows[run] = (final, more, pool(final, more) if more else final)
    if not rows:
        raise A2DError(f"no run with a result.json under {series}")
    return rows


def main(argv: list[str] | None = None) -> int:
    from a2d_edge.errors import A2DError
    from a2d_edge.utils.stats import se_difference

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("series", type=Path, help="a kept sweep folder (results/...)")
    p.add_argument("--against", help="a run under SERIES to compare the others with")
    p.add_argument("--teacher-score", type=float, help="100%% of the normalised score")
    p.add_argument("--random-score", type=float, default=0.0, help="0%% of it")
    args = p.parse_args(argv)

    def fmt(s: Sample | None) -> str:
        return f"{s[0]:,.1f} ± {s[1]:,.1f} ({s[2]})" if s else "-"

    try:
        if not args.series.is_dir():
            raise A2DError(f"{args.series} is not a folder")
        rows = pooled_rows(args.series)
        if args.against is not None and args.against not in rows:
            raise A2DError(f"--against {args.against}: no such run under {args.series}")
    except A2DError as e:
        print(f"pooled_scores: {e}", file=sys.stderr)
        return 2
    for run, (final, more, pooled) in rows.items():
        line = f"{run}: final {fmt(final)}, extra {fmt(more)}, pooled {fmt(pooled)}"
        if args.teacher_score is not None:
            span = args.teacher_score - args.random_score
            line += f", normalised {100 * (pooled[0] - args.random_score) / span:.1f}%"
        if args.against is not None and run != args.against:
            ref = rows[args.against][2]
            line += f", {args.against} minus this: {ref[0] - pooled[0]:+,.1f}"
            line += f" ({se_difference(ref, pooled):+.2f} SE)"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
