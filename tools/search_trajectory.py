"""What each search did over time: its search.json trajectory as a table (and a figure).

    python -m tools.search_trajectory results/fig2-cpu --figure docs/img/fig2.png

For every search run under the given folders (a folder with a search.json), one row per eval
point: the derived (argmax) net's eval score with the supernet's weights, its MFLOPs, the
expected MFLOPs under the op probabilities, the entropy of those probabilities (uniform over 9
ops: ln 9 = 2.20) and tau; then the final derived ops, counted. `--figure` draws the score and
the derived MFLOPs against agent steps, one line per search.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.utils.io import read_json
from benchmarks.common import table

TOP = ("optimization", "distill", "mode", "preset", "step", "derived")
POINT = ("step", "score_mean", "derived_mflops", "expected_mflops", "alpha_entropy", "tau")


def find_searches(roots: list[Path]) -> list[tuple[str, dict[str, Any]]]:
    """(name, search.json) of every search under the roots, named by its folder."""
    found = []
    for root in roots:
        if not root.exists():
            raise A2DError(f"no such folder: {root}")
        for path in sorted(root.rglob("search.json")):
            data = read_json(path, "search summary")
            if not isinstance(data, dict) or not isinstance(data.get("trajectory"), list):
                raise A2DError(f"{path} is not an a2d search summary (no trajectory)")
            missing = sorted(
                {k for k in TOP if k not in data}
                | {k for p in data["trajectory"] for k in POINT if k not in p}
            )
            if missing or not isinstance(data["derived"], dict) or "ops" not in data["derived"]:
                raise A2DError(f"{path} lacks {', '.join(missing) or 'derived ops'}")
            found.append((path.parent.name, data))
    if not found:
        raise A2DError(f"no search.json under {', '.join(map(str, roots))}")
    return found


def rows(search: dict[str, Any]) -> list[list[object]]:
    return [
        [
            f"{int(p['step']):,}",
            f"{p['score_mean']:.1f}",
            f"{p['derived_mflops']:.2f}",
            f"{p['expected_mflops']:.2f}",
            f"{p['alpha_entropy']:.2f}",
            f"{p['tau']:.2f}",
        ]
        for p in search["trajectory"]
    ]


def op_counts(search: dict[str, Any]) -> str:
    counts = Counter(search["derived"]["ops"])
    return ", ".join(f"{n}× {op}" for op, n in counts.most_common())


def _series(search: dict[str, Any], key: str) -> list[float]:
    return [float(p[key]) for p in search["trajectory"]]


def figure(searches: list[tuple[str, dict[str, Any]]], out: Path) -> None:
    from a2d_edge.experiments.plots import _pyplot

    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True)
    for name, s in searches:
        steps = _series(s, "step")
        (line,) = top.plot(steps, _series(s, "score_mean"), marker="o", label=name)
        for key, style, what in (
            ("derived_mflops", "o-", "derived"),
            ("expected_mflops", "--", "expected"),
        ):
            bottom.plot(
                steps, _series(s, key), style, color=line.get_color(), label=f"{name}: {what}"
            )
    top.set(ylabel="derived net's eval score", title="Search: the derived (argmax) net over time")
    bottom.set(xlabel="agent steps", ylabel="MFLOPs")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="+", type=Path, help="folders holding search runs")
    ap.add_argument("--figure", type=Path, help="also draw score and MFLOPs vs steps (PNG)")
    args = ap.parse_args(argv)
    try:
        searches = find_searches(args.roots)
    except A2DError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    headers = ["step", "derived score", "derived MFLOPs", "E[MFLOPs]", "op entropy", "tau"]
    for name, s in searches:
        print(
            f"\n{name} ({s['optimization']}, distill {s['distill']}, {s['mode']}, "
            f"preset {s['preset']}, {s['step']:,} steps)\n"
        )
        print(table(headers, rows(s)))
        print(f"\nderived: {op_counts(s)}")
    if args.figure:
        figure(searches, args.figure)
        print(f"\nwrote {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
