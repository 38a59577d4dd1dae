"""The report's figures (matplotlib, Agg backend): learning curves and score-cost trade-offs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from a2d_edge.experiments.spec import safe_name


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(g: dict[str, Any]) -> str:
    """A group's name in a legend: what varies, else its arch; searches are marked A2D."""
    if g["kind"] == "search" and g["varying"]:
        return f"A2D {g['label']}"
    return str(g["label"])


def plot_curves(groups: list[dict[str, Any]], out: Path) -> list[str]:
    """`curves-<game>.png`: eval score vs agent steps, one line per group (mean over seeds),
    a band from the lowest to the highest seed."""
    plt = _pyplot()
    names = []
    for game in dict.fromkeys(g["game"] for g in groups):
        lines = [g for g in groups if g["game"] == game and g["curve"]["steps"]]
        if not lines:
            continue
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for g in lines:
            c = g["curve"]
            label = f"{_label(g)} ({len(g['seeds'])} seed(s))"
            (line,) = ax.plot(c["steps"], c["mean"], label=label)
            ax.fill_between(c["steps"], c["min"], c["max"], color=line.get_color(), alpha=0.2)
        ax.set(xlabel="agent steps", ylabel="eval score", title=f"{game}: eval score")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        name = f"curves-{safe_name(game)}.png"
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        names.append(name)
    return names


def _plain(x: float, _pos: int | None = None) -> str:
    """Plain tick labels (20, not 2x10^1) on a log axis."""
    return f"{x:g}"


def _plain_minor(x: float, _pos: int | None = None) -> str:
    """Minor log ticks labelled at 2, 3 and 5 times a power of ten only (0.8 and 0.9 collide)."""
    mantissa = x / 10 ** math.floor(math.log10(x)) if x > 0 else 0.0
    return _plain(x) if any(math.isclose(mantissa, m) for m in (2, 3, 5)) else ""


def _points(groups: list[dict[str, Any]], cost: str) -> list[tuple[float, dict[str, Any]]]:
    pts = []
    for g in groups:
        if not g["best"]:
            continue
        if cost == "flops" and g.get("flops"):
            pts.append((g["flops"]["mean"] / 1e6, g))
        elif cost == "ms":
            ms = g.get("measured_ms") or g.get("predicted_ms")
            if ms:
                pts.append((ms["mean"], g))
    return pts


def plot_tradeoff(groups: list[dict[str, Any]], out: Path) -> list[str]:
    """`tradeoff.png`: best eval score vs MFLOPs per game (one row each), and vs latency (ms,
    measured else by the table) in a second column when any search recorded one."""
    games = [
        game
        for game in dict.fromkeys(g["game"] for g in groups)
        if _points([g for g in groups if g["game"] == game], "flops")
    ]
    if not games:
        return []
    with_ms = any(_points(groups, "ms"))
    plt = _pyplot()
    cols = 2 if with_ms else 1
    fig, axes = plt.subplots(
        len(games), cols, figsize=(6.5 * cols, 3.8 * len(games)), squeeze=False
    )
    for row, game in zip(axes, games, strict=True):
        mine = [g for g in groups if g["game"] == game]
        panels = [("flops", "MFLOPs"), ("ms", "latency (ms)")][:cols]
        for ax, (cost, xlabel) in zip(row, panels, strict=True):
            for x, g in _points(mine, cost):
                best = g["best"]
                marker = "*" if g["kind"] == "search" else "o"
                ax.errorbar(x, best["mean"], yerr=best["std"], fmt=marker, capsize=3, ms=8)
                ax.annotate(_label(g), (x, best["mean"]), fontsize=7, xytext=(4, 4),
                            textcoords="offset points")  # fmt: skip
            if cost == "flops":
                ax.set_xscale("log")
                ax.xaxis.set_major_formatter(_plain)
                ax.xaxis.set_minor_formatter(_plain_minor)
            ax.set(xlabel=xlabel, ylabel="best eval score", title=f"{game}: score vs {xlabel}")
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "tradeoff.png", dpi=110)
    plt.close(fig)
    return ["tradeoff.png"]


def dodged(xs: list[float], step: float = 0.012) -> list[float]:
    """Latencies to draw at on a log axis (pure): the k-th repeat of a value (to 3 decimals;
    one net trained twice is timed once) moved right by a factor (1 + step)^k, so their
    error bars do not hide each other."""
    seen: dict[float, int] = {}
    out = []
    for x in xs:
        k = seen.get(round(x, 3), 0)
        seen[round(x, 3)] = k + 1
        out.append(x * (1 + step) ** k)
    return out


def plot_pareto(
    agents: list[dict[str, Any]], teachers: list[dict[str, Any]], out: Path
) -> list[str]:
    """`pareto.png`: each finally evaluated agent's score (mean ± std over its episodes) vs its
    measured latency, one panel per game side by side; searched agents are stars, baselines
    circles, the teacher (where a series timed it) a black square, each named in the legend;
    the searches' budgets are dotted lines; agents of one latency are dodged apart."""
    games = list(dict.fromkeys(a["game"] for a in agents if a["measured_ms"]))
    if not games:
        return []
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(games), figsize=(6.5 * len(games), 6.4), squeeze=False)
    for ax, game in zip(axes[0], games, strict=True):
        mine = [a for a in agents if a["game"] == game and a["measured_ms"]]
        for a, x in zip(mine, dodged([a["measured_ms"] for a in mine]), strict=True):
            marker = "*" if a["kind"] == "search" else "o"
            ax.errorbar(x, a["score"]["mean"], yerr=a["score"]["std"],
                        fmt=marker, capsize=3, ms=9 if marker == "*" else 6,
                        label=a["name"])  # fmt: skip
        for budget in sorted({a["budget_ms"] for a in mine if a["budget_ms"]}):
            ax.axvline(budget, color="grey", ls=":", lw=1)
        for t in (t for t in teachers if t["game"] == game and t["score"] is not None):
            ax.scatter([t["measured_ms"]], [t["score"]], marker="s", color="k", zorder=3,
                       label=f"teacher {t['spec']} ({t['series']})")  # fmt: skip
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(_plain)
        ax.xaxis.set_minor_formatter(_plain_minor)
        ax.set(xlabel="measured latency (ms, log)", ylabel="score (final evaluation)",
               title=f"{game}: score vs measured latency")  # fmt: skip
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=110)
    plt.close(fig)
    return ["pareto.png"]
