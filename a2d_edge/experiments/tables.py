"""The report's markdown: paper-style tables from `build_report`'s data."""

from __future__ import annotations

from typing import Any


def cell(
    s: dict[str, Any] | None, complete: bool = True, scale: float = 1.0, digits: int = 1
) -> str:
    """`mean ± std (n)`; `n/a` without values; † when a run has not reached its last step."""
    if not s:
        return "n/a"
    mean, std = s["mean"] / scale, s["std"] / scale
    text = f"{mean:,.{digits}f} ± {std:,.{digits}f} ({s['n']})"
    return text if complete else text + " †"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def score_table(groups: list[dict[str, Any]], metric: str) -> list[str]:
    """Rows = games, columns = the group labels (the settings that vary within a game)."""
    games = list(dict.fromkeys(g["game"] for g in groups))
    columns = list(dict.fromkeys(g["label"] for g in groups))
    rows = []
    for game in games:
        row = [game]
        for col in columns:
            hits = [g for g in groups if g["game"] == game and g["label"] == col]
            row.append(" / ".join(cell(g[metric], g["complete"]) for g in hits) or "")
        rows.append(row)
    return table(["game", *columns], rows)


def varying_keys(groups: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(k for g in groups for k in g["varying"]))


def arch_table(groups: list[dict[str, Any]]) -> list[str]:
    """Params and FLOPs per arch (a range where the games' action counts change the heads)."""
    archs: dict[str, list[dict[str, Any]]] = {}
    for g in groups:
        archs.setdefault(str(g["arch"]), []).append(g)
    rows = []
    for arch, gs in archs.items():
        params = sorted({g["params"] for g in gs if g["params"] is not None})
        flops = sorted({g["flops"]["mean"] for g in gs if g["flops"]})
        rows.append([arch, _span(params, 1e6, 3), _span(flops, 1e6, 2)])
    return table(["arch", "params (M)", "MFLOPs"], rows)


def _span(values: list[float], scale: float, digits: int) -> str:
    if not values:
        return "n/a"
    lo, hi = f"{values[0] / scale:.{digits}f}", f"{values[-1] / scale:.{digits}f}"
    return lo if lo == hi else f"{lo}–{hi}"


def search_table(groups: list[dict[str, Any]]) -> list[str]:
    keys = varying_keys(groups)
    header = ["game", *(["settings"] if keys else []), "seeds", "derived MFLOPs"]
    header += ["latency ms (table)", "latency ms (measured)", "best eval", "final eval"]
    rows = []
    for g in groups:
        row = [g["game"], *([g["label"]] if keys else []), str(len(g["seeds"]))]
        row += [cell(g["flops"], scale=1e6, digits=2)]
        row += [cell(g["predicted_ms"], digits=3), cell(g["measured_ms"], digits=3)]
        row += [cell(g["best"], g["complete"]), cell(g["final"], g["complete"])]
        rows.append(row)
    return table(header, rows)


def agent_table(agents: list[dict[str, Any]], teachers: list[dict[str, Any]]) -> list[str]:
    """One row per finally evaluated agent; latency also as a multiple of its game's teacher
    where a series timed the teacher in the same sitting."""
    teacher_ms = {(t["game"], t["series"]): t["measured_ms"] for t in teachers}
    header = ["game", "run", "kind", "score (episodes)", "measured ms", "× teacher"]
    header += ["budget ms", "MFLOPs"]
    rows = []
    for a in agents:
        ms, t = a["measured_ms"], teacher_ms.get((a["game"], a["series"]))
        x = a.get("ratio_to_teacher") or (ms / t if ms and t else None)  # drift-free when timed
        s = a["score"]
        rows.append(
            [
                a["game"],
                a["name"],
                a["kind"],
                f"{s['mean']:.1f} ± {s['std']:.1f} ({s['n']})",
                f"{ms:.3f}" if ms else "n/a",
                f"{x:.2f}" if x else "n/a",
                f"{a['budget_ms']:.3f}" if a["budget_ms"] else "-",
                f"{a['mflops']:.2f}" if a["mflops"] else "n/a",
            ]
        )
    for t in teachers:
        rows.append(
            [t["game"], f"{t['series']}: teacher {t['spec']}", "teacher",
             "n/a" if t["score"] is None else f"{t['score']:.1f}",
             f"{t['measured_ms']:.3f}", "1.00", "-", "n/a"]
        )  # fmt: skip
    return table(header, rows)


def markdown(data: dict[str, Any]) -> str:
    groups = data["groups"]
    train = [g for g in groups if g["kind"] == "train"]
    search = [g for g in groups if g["kind"] == "search"]
    runs = data["runs"]
    out = [
        "# a2d report",
        "",
        f"{len(runs)} run(s) under {', '.join(data['roots'])}: {len(train)} train and "
        f"{len(search)} search group(s) (runs that differ only in seed). Cells: mean ± std "
        "(population) over seeds of each run's eval score, (n) = seeds with an evaluation, "
        "† = a run has not reached its last step yet. FLOPs: conv + linear multiply-adds of "
        "the deployed net (BatchNorm folded), 84×84×4 input, batch 1.",
    ]
    if train:
        keys = varying_keys(train)
        cols = f"columns: {', '.join(keys) or 'arch'}"
        out += ["", f"## Train: best eval score ({cols})", "", *score_table(train, "best")]
        out += ["", f"## Train: last eval score ({cols})", "", *score_table(train, "final")]
        out += ["", "## Architectures", "", *arch_table(train)]
    if search:
        out += ["", "## Search: derived architectures", "", *search_table(search)]
    if data.get("agents"):
        out += ["", "## Agents: final score vs measured latency", ""]
        timing = data.get("timing")
        if timing:
            where = (
                f"every agent and its game's teacher timed in this report's sitting on "
                f"{timing['host']}, with {timing['table']}'s settings ({timing['settings']}), "
                f"{timing['rounds']} interleaved rounds after a settle round: per net the "
                "fastest round's p50; × teacher: the median of the per-round ratios. "
                "Budget: a series' budget as the same fraction of the teacher timed here (a "
                "lone run's, its own host's, is left out)."
            )
        else:
            where = (
                "measured with the run's table's backend and settings; in a series' sitting "
                "(with its teacher) where a benchmark series timed them all, else at the end "
                "of the run."
            )
        out += [
            f"Score: mean ± std over the final evaluation's episodes. Latency: {where}",
            "",
            *agent_table(data["agents"], data.get("teachers", [])),
        ]
    pending = [r for r in runs if not r["evals"] and r["final_score"] is None]
    if pending:
        out += ["", "## Runs without an evaluation yet (n/a above)", ""]
        out += [
            f"- {r['path']} ({r['kind']}, step {r['last_step']} of {r['steps']})" for r in pending
        ]
    if data.get("figures"):
        out += ["", "## Figures", ""] + [f"![{f}]({f})" for f in data["figures"]]
    return "\n".join(out) + "\n"
