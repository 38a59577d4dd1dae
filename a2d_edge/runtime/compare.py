"""The loop comparison of `a2d run BUNDLE --compare OTHER` (pure, torch-free).

Both bundles run in one sitting, in alternating blocks of steps on one schedule, so that the
machine's drift (other load, clocks, a noisy neighbour) falls on both alike: the ratios are the
drift-free figures, the absolute ones hold for this sitting only. Each bundle's figures come
from its own run report (`latency_us`); the ratio of a figure is the other bundle's over this
one's (for `a2d run AGENT --compare TEACHER`: the speed-up).
"""

from __future__ import annotations

import math
from typing import Any

FIGURES: tuple[tuple[str, str, str, str], ...] = (
    # (key, report part, percentile, row label)
    ("inference_p50_us", "inference", "p50", "inference p50"),
    ("inference_p99_us", "inference", "p99", "inference p99"),
    ("loop_p50_us", "loop", "p50", "whole loop step p50"),
    ("loop_p99_us", "loop", "p99", "whole loop step p99"),
)


def loop_figures(report: dict[str, Any]) -> dict[str, float | None]:
    """A run report's inference and whole-loop-step p50 / p99 (us); None where it has none."""
    latency = report["latency_us"]
    return {key: latency.get(part, {}).get(pct) for key, part, pct, _ in FIGURES}


def ratios(
    this: dict[str, float | None], other: dict[str, float | None]
) -> dict[str, float | None]:
    """other / this for each figure; None where either is missing or this one is not > 0."""
    out: dict[str, float | None] = {}
    for key, *_ in FIGURES:
        a, b = this.get(key), other.get(key)
        out[key] = b / a if a is not None and b is not None and a > 0 else None
    return out


def comparison(
    this: dict[str, Any], other: dict[str, Any], names: tuple[str, str], block: int
) -> dict[str, Any]:
    """The comparison record of two run reports of one interleaved sitting."""
    mine, theirs = loop_figures(this), loop_figures(other)
    return {
        "names": list(names),
        "ratio": f"{names[1]} / {names[0]}",
        "block_steps": block,
        "steps": [this["steps"], other["steps"]],
        "figures": {names[0]: mine, names[1]: theirs},
        "ratios": ratios(mine, theirs),
    }


def _us(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f} us"


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def comparison_table(
    sittings: list[tuple[str, dict[str, Any]]], labels: tuple[str, str] | None = None
) -> str:
    """A markdown table of one or more comparisons, each (setting, `comparison(...)`); the
    columns are the second bundle, the first and the ratio, as `labels` (default: the names
    of the first comparison) name them."""
    first = sittings[0][1]
    a, b = labels or (first["names"][0], first["names"][1])
    lines = [f"| setting | figure | {b} | {a} | {b} / {a} |", "|---|---|---|---|---|"]
    for setting, comp in sittings:
        mine, theirs = (comp["figures"][n] for n in comp["names"])
        for key, _, _, label in FIGURES:
            lines.append(f"| {setting} | {label} | {_us(theirs[key])} | {_us(mine[key])} | "
                         f"{_times(comp['ratios'][key])} |")  # fmt: skip
    return "\n".join(lines)


def pacing_words(hz: float, spin_ms: float, prewarm: bool) -> str:
    """A run's pacing in a few words: `60 Hz`, `60 Hz, spin 2 ms + prewarm`, `free`."""
    words = f"{hz:g} Hz" if hz > 0 else "free"
    if spin_ms:
        words += f", spin {spin_ms:g} ms" + (" + prewarm" if prewarm else "")
    return words
