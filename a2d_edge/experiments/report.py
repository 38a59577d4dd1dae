"""`a2d report RUN_DIR... --out DIR`: run folders -> paper-style tables and plots.

Runs (folders with an a2d config.json) that differ only in their seed form a group; a group's
cell is the mean ± std over its seeds of each run's best (and, in a second table, last) eval
score. Rows are games, columns the settings that vary between the groups of a game (arch,
distill, ...). Writes report.md, report.json (the same numbers), curves-<game>.png and
tradeoff.png (score vs FLOPs, and vs latency where a search recorded one).

Runs with a final evaluation (`result.json`: the distillation pipeline's searched agents and
`a2d distill` baselines) are also listed one by one, with their final score and measured
latency, and drawn in pareto.png: score vs measured latency, one panel per game. Where a
series' summary.json (kept from the series script that `a2d sweep` and `--time-with` replaced)
lies under a root, its agents are placed at the latency it measured for all of them and the
teacher in one sitting, and the teacher is drawn beside them. `--time-with TABLE` times every
agent and each game's teacher again here in one sitting instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a2d_edge.config import RESUME_OVERRIDES
from a2d_edge.errors import A2DError
from a2d_edge.experiments.spec import short_name
from a2d_edge.utils.io import read_json, write_json
from a2d_edge.utils.logging import read_jsonl

SCHEMA = "a2d.report/1"
NOT_SETTINGS = ("seed", *RESUME_OVERRIDES)
"""Keys that do not split groups: the seed, and speed-only settings."""


@dataclass
class RunData:
    path: Path
    kind: str
    config: dict[str, Any]
    evals: list[tuple[int, float]]
    last_step: int
    search: dict[str, Any] | None = None
    result: dict[str, Any] | None = None

    @property
    def env(self) -> str:
        return str(self.config.get("env", ""))

    @property
    def best(self) -> float | None:
        return max(s for _, s in self.evals) if self.evals else None

    @property
    def final(self) -> float | None:
        return self.evals[-1][1] if self.evals else None

    @property
    def complete(self) -> bool:
        return self.last_step >= int(self.config.get("steps", 0))


@dataclass
class Group:
    kind: str
    env: str
    settings: dict[str, Any]
    runs: list[RunData] = field(default_factory=list)
    varying: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The group's column: the values of what varies, else its arch (A2D for a search)."""
        if len(self.varying) == 1:
            return _fmt_value(next(iter(self.varying.values())))
        if self.varying:
            return ", ".join(f"{k}={_fmt_value(v)}" for k, v in self.varying.items())
        return "A2D" if self.kind == "search" else str(self.settings.get("arch"))


@dataclass
class Report:
    markdown: str
    data: dict[str, Any]
    figures: list[str]
    warnings: list[str] = field(default_factory=list)


def find_runs(roots: list[str | Path]) -> list[RunData]:
    """Every run folder under the roots (a root may be a run folder itself)."""
    runs: list[RunData] = []
    seen: set[Path] = set()
    for root in map(Path, roots):
        if not root.exists():
            raise A2DError(f"no such folder: {root}")
        for cfg_path in sorted(root.rglob("config.json")):
            run = load_run(cfg_path.parent)
            if run is not None and run.path.resolve() not in seen:
                seen.add(run.path.resolve())
                runs.append(run)
    if not runs:
        listed = ", ".join(str(r) for r in roots)
        raise A2DError(f"no a2d run folders (config.json) under {listed}")
    return runs


def load_run(run_dir: Path) -> RunData | None:
    data = read_json(run_dir / "config.json", "run config")
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        return None  # some other tool's config.json
    rows = read_jsonl(run_dir / "metrics.jsonl") if (run_dir / "metrics.jsonl").is_file() else []
    evals = sorted(
        (int(r["step"]), float(r["score_mean"]))
        for r in rows
        if r.get("kind") == "eval" and isinstance(r.get("score_mean"), (int, float))
    )
    last = max((int(r.get("step", 0)) for r in rows), default=0)
    search = None
    if (run_dir / "search.json").is_file():
        search = read_json(run_dir / "search.json", "search summary")
        if not isinstance(search, dict):
            raise A2DError(f"{run_dir / 'search.json'} is not an a2d search summary")
        last = max(last, int(search.get("step", 0)))
    result = None
    if (run_dir / "result.json").is_file():
        result = read_json(run_dir / "result.json", "run result")
        if not isinstance(result, dict) or not _is_score(result.get("score")):
            raise A2DError(f"{run_dir / 'result.json'} is not an a2d run result (no score)")
    kind = str(data.get("kind", "train"))
    return RunData(run_dir, kind, data["config"], evals, last, search, result)


def _is_score(score: Any) -> bool:
    """A final evaluation's score, or None (a run with --final-episodes 0)."""
    return score is None or (
        isinstance(score, dict) and isinstance(score.get("mean"), (int, float))
    )


def find_series(
    roots: list[str | Path],
) -> tuple[dict[Path, tuple[float, str]], list[dict[str, Any]]]:
    """The benchmark series under the roots (a summary.json with the teacher's latency and
    rows): each of their runs' latency measured in the series' last sitting and the series,
    by run folder; and their teachers (game, spec, measured ms, score, series)."""
    timed: dict[Path, tuple[float, str]] = {}
    teachers: list[dict[str, Any]] = []
    for root in map(Path, roots):
        for path in sorted(root.rglob("summary.json")):
            s = read_json(path, "series summary")
            if not isinstance(s, dict) or not isinstance(s.get("rows"), list):
                continue
            games = set()
            for row in s["rows"]:
                if isinstance(row, dict) and isinstance(row.get("measured_now_ms"), float):
                    run = (path.parent / str(row.get("run"))).resolve()
                    timed[run] = (row["measured_now_ms"], path.parent.name)
                    games.add(short_name(str(row.get("env_id", ""))))
            ms, score = s.get("teacher_ms"), s.get("teacher_score")
            if len(games) == 1 and isinstance(ms, float) and isinstance(score, float):
                teachers.append(
                    {
                        "game": games.pop(),
                        "spec": s.get("teacher"),
                        "measured_ms": ms,
                        "budget_teacher_ms": s.get("budget_teacher_ms", ms),
                        "score": score,
                        "series": path.parent.name,
                    }
                )
    return timed, teachers


def agent_rows(
    runs: list[RunData], timed: dict[Path, tuple[float, str]], base: Path | None
) -> list[dict[str, Any]]:
    """One row per run with a final evaluation: its score over the episodes and its latency
    (its series' last sitting where it has a series, else the run's own measurement)."""
    rows = []
    for r in runs:
        if r.result is None or r.result["score"] is None:
            continue
        score = r.result["score"]
        lat = r.result.get("latency") or {}
        now, series = timed.get(r.path.resolve(), (None, None))
        rows.append(
            {
                "path": _rel(r.path, base),
                "name": f"{r.path.parent.name}/{r.path.name}",
                "series": series,
                "kind": r.kind,
                "game": short_name(str(r.result.get("env_id") or r.env)),
                "env": str(r.result.get("env_id") or r.env),
                "arch": r.result.get("arch"),
                "score": {
                    "mean": float(score["mean"]),
                    "std": float(score.get("std", 0.0)),
                    "n": int(score.get("episodes", len(score.get("scores", [])))),
                },
                "measured_ms": now if now is not None else lat.get("measured_ms"),
                "predicted_ms": lat.get("predicted_ms"),
                "budget_ms": lat.get("budget_ms"),
                "budget_teacher_ms": lat.get("budget_teacher_ms"),
                "mflops": r.result.get("mflops"),
                "teacher": r.result.get("teacher"),
            }
        )
    return rows


def budget_fractions(data: dict[str, Any]) -> list[float | None]:
    """Each agent's budget as a fraction of the teacher timing it was set by (pure): its
    series' (as the series timed the teacher when it set its budgets), else its own run's (a
    `budget_of_teacher` run's, a sweep's): what the budget means on another host. None for an
    agent without a budget or without that timing (a plain budget in ms is its own host's)."""
    of_teacher = {t["series"]: t.get("budget_teacher_ms") for t in data.get("teachers", [])}
    out: list[float | None] = []
    for a in data["agents"]:
        ms = (of_teacher.get(a["series"]) or a.get("budget_teacher_ms")) if a["budget_ms"] else None
        out.append(a["budget_ms"] / ms if ms else None)
    return out


def time_here(data: dict[str, Any], lut_path: str | Path, rounds: int) -> list[str]:
    """Every agent of the report and each game's teacher timed again on this host in one
    sitting with the table's backend and settings (`measure_here`), in interleaved rounds
    after a settle (`hw.sitting`): per net the fastest round's p50, the median round and the
    spread beside it, and each agent's ratio to its game's teacher (the median of the
    per-round ratios, which a drift of the machine cancels). Replaces
    the runs' and series' own measurements (made on whichever host ran them) in `data`, so
    one figure compares one host's latencies. Returns warnings (a table of another host lends
    its settings only)."""
    from a2d_edge.envs import action_meanings
    from a2d_edge.hw.sitting import STATISTIC, time_sitting
    from a2d_edge.hw.table import load_table
    from a2d_edge.search.prepare import measure_here
    from a2d_edge.sources.checkpoint import load_checkpoint, shipped_eval
    from a2d_edge.utils.fingerprint import this_host

    lut = load_table(lut_path)  # an op or a width table: only its settings are read
    warnings = []
    if lut.host_match() != "same":
        warnings.append(
            f"{lut_path} was profiled on {lut.device.get('slug', 'another host')}, not here "
            f"({this_host().slug}): its settings time the nets, its numbers are not used"
        )

    def key(arch: dict[str, Any], env: str) -> str:  # one timing per distinct net
        return json.dumps([arch, len(action_meanings(env))], sort_keys=True)

    agents = [a for a in data["agents"] if isinstance(a.get("arch"), dict)]
    nets = {key(a["arch"], a["env"]): (a["arch"], len(action_meanings(a["env"]))) for a in agents}
    teachers = {(a["game"], a["env"], str(a["teacher"])) for a in agents if a.get("teacher")}
    for game, env, spec in sorted(teachers):
        nets[f"teacher {game} {spec}"] = (load_checkpoint(spec)["arch"], len(action_meanings(env)))
    sitting = time_sitting(lambda net: measure_here(lut, *net), nets, rounds)
    here = f"timed here ({this_host().slug})"
    fraction = dict(zip(map(id, data["agents"]), budget_fractions(data), strict=True))
    for a in data["agents"]:  # an agent without its arch is not placed by another host's time
        a["measured_ms"], a["measured_median_ms"], a["series"] = None, None, here
        a["budget_ms"] = None
    for a in agents:
        t = sitting.timed(key(a["arch"], a["env"]))
        a["measured_ms"] = t.fastest_ms if t else None
        a["measured_median_ms"] = t.median_ms if t else None
        a["measured_spread"] = t.spread if t else None
        if a.get("teacher"):
            ratio = sitting.ratio(key(a["arch"], a["env"]), f"teacher {a['game']} {a['teacher']}")
            a["ratio_to_teacher"] = ratio.median if ratio else None
            a["ratio_spread"] = ratio.spread if ratio else None
    scores = {t["spec"]: t["score"] for t in data.get("teachers", [])}
    data["teachers"] = []
    for game, _, spec in sorted(teachers):
        t = sitting.timed(f"teacher {game} {spec}")
        if t is None:
            raise A2DError(f"could not time the teacher {spec} with {lut_path}'s backend here")
        score = shipped_eval(spec).get("mean", scores.get(spec))
        data["teachers"].append(
            {"game": game, "spec": spec, "measured_ms": t.fastest_ms, "score": score,
             "measured_median_ms": t.median_ms, "measured_spread": t.spread, "series": here}
        )  # fmt: skip
        for a in (a for a in data["agents"] if a["game"] == game and a["teacher"] == spec):
            f = fraction[id(a)]
            a["budget_ms"] = f * t.fastest_ms if f else None
    data["timing"] = {
        "table": str(lut_path),
        "host": this_host().slug,
        "table_host": lut.device.get("slug"),
        "settings": f"{lut.meta['backend']} {lut.meta['precision']}, {lut.describe_mode()}, "
        f"batch {lut.meta.get('batch', 1)}, {lut.meta.get('threads', 1)} thread(s)",
        "rounds": rounds,
        "settle_rounds": sitting.settle,
        "statistic": f"{STATISTIC}; a round times a net's p50 of 100 calls",
    }
    return warnings


def group_runs(runs: list[RunData]) -> list[Group]:
    groups: dict[tuple[str, str], Group] = {}
    for run in runs:
        settings = {k: v for k, v in run.config.items() if k not in NOT_SETTINGS}
        key = (run.kind, json.dumps(settings, sort_keys=True))
        if key not in groups:
            groups[key] = Group(run.kind, run.env, settings)
        groups[key].runs.append(run)
    out = list(groups.values())
    for g in out:
        g.runs.sort(key=lambda r: (int(r.config.get("seed", 0)), str(r.path)))
    for kind in dict.fromkeys(g.kind for g in out):
        same_kind = [g for g in out if g.kind == kind]
        varying: list[str] = []
        for env in dict.fromkeys(g.env for g in same_kind):
            peers = [g for g in same_kind if g.env == env]
            for k in peers[0].settings:
                if k not in varying and any(
                    p.settings.get(k) != peers[0].settings[k] for p in peers
                ):
                    varying.append(k)
        for g in same_kind:
            g.varying = {k: g.settings.get(k) for k in varying}
    return out


def stats(values: list[float]) -> dict[str, Any] | None:
    """Mean, population std (ddof 0) and count; None without values."""
    if not values:
        return None
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return {"mean": mean, "std": std, "n": len(values)}


_ARCH_CACHE: dict[tuple[str, str], dict[str, Any] | None] = {}


def arch_cost(arch: str, env: str) -> dict[str, Any] | None:
    """Params and FLOPs (deployed count: fvcore without BatchNorm, the search space's
    convention; fvcore's total beside it) of an arch with the game's action count."""
    key = (arch, env)
    if key not in _ARCH_CACHE:
        from a2d_edge.envs import action_meanings
        from a2d_edge.hw.flops import count_params, fvcore_flops
        from a2d_edge.nets import build_agent, load_arch

        try:
            model = build_agent(load_arch(arch), len(action_meanings(env)))
        except A2DError:
            _ARCH_CACHE[key] = None
        else:
            _ARCH_CACHE[key] = {
                "params": count_params(model),
                "flops": fvcore_flops(model, batchnorm=False),
                "flops_fvcore": fvcore_flops(model),
            }
    return _ARCH_CACHE[key]


def group_data(g: Group, gid: str, base: Path | None) -> dict[str, Any]:
    runs_with_eval = [r for r in g.runs if r.evals]
    d: dict[str, Any] = {
        "id": gid,
        "kind": g.kind,
        "env": g.env,
        "game": short_name(g.env),
        "label": g.label,
        "varying": g.varying,
        "seeds": [r.config.get("seed") for r in g.runs],
        "runs": [_rel(r.path, base) for r in g.runs],
        "complete": all(r.complete for r in g.runs),
        "best": stats([r.best for r in runs_with_eval if r.best is not None]),
        "final": stats([r.final for r in runs_with_eval if r.final is not None]),
    }
    if g.kind == "search":
        searched = [r for r in g.runs if r.search]
        searches = [r.search for r in searched if r.search]
        d["flops"] = stats([float(s["derived_flops"]) for s in searches if "derived_flops" in s])
        # the selection's record, and the search end's timing where result.json holds it
        lat = [((r.search or {}).get("latency") or {}) | ((r.result or {}).get("latency") or {})
               for r in searched]  # fmt: skip
        d["predicted_ms"] = stats([float(x["predicted_ms"]) for x in lat if x.get("predicted_ms")])
        d["measured_ms"] = stats([float(x["measured_ms"]) for x in lat if x.get("measured_ms")])
    else:
        cost = arch_cost(str(g.settings.get("arch", "")), g.env)
        d["arch"] = g.settings.get("arch")
        d["params"] = cost and cost["params"]
        d["flops"] = cost and stats([float(cost["flops"])])
    d["curve"] = curve(g.runs)
    return d


def curve(runs: list[RunData]) -> dict[str, list[float]]:
    """Eval score per step: mean, min and max over the seeds that evaluated at that step."""
    by_step: dict[int, list[float]] = {}
    for r in runs:
        for step, score in r.evals:
            by_step.setdefault(step, []).append(score)
    steps = sorted(by_step)
    return {
        "steps": [float(s) for s in steps],
        "mean": [sum(by_step[s]) / len(by_step[s]) for s in steps],
        "min": [min(by_step[s]) for s in steps],
        "max": [max(by_step[s]) for s in steps],
    }


def _rel(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return str(path.resolve().relative_to(base))
        except ValueError:
            pass
    return str(path)


def _fmt_value(v: Any) -> str:
    """A setting's value in a column or legend; an arch.json path by its name (the file's, or
    its folder's for a search's `DIR/arch.json`), not the whole path."""
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, bool):
        return str(v).lower()
    text = str(v)
    if text.endswith(".json") and "/" in text:
        path = Path(text)
        return path.parent.name if path.stem == "arch" else path.stem
    return text


def build_report(roots: list[str | Path]) -> dict[str, Any]:
    runs = find_runs(roots)
    groups = group_runs(runs)
    base = Path.cwd().resolve()
    ids: dict[str, int] = {}
    out_groups = []
    for g in groups:
        gid = f"{g.kind}:{short_name(g.env)}:{g.label}"
        ids[gid] = ids.get(gid, 0) + 1
        out_groups.append(group_data(g, gid if ids[gid] == 1 else f"{gid}#{ids[gid]}", base))
    out_runs = [
        {
            "path": _rel(r.path, base),
            "kind": r.kind,
            "env": r.env,
            "seed": r.config.get("seed"),
            "steps": r.config.get("steps"),
            "last_step": r.last_step,
            "complete": r.complete,
            "evals": len(r.evals),
            "best_eval": r.best,
            "final_eval": r.final,
            "final_score": (r.result.get("score") or {}).get("mean") if r.result else None,
        }
        for r in runs
    ]
    timed, teachers = find_series(roots)
    return {
        "schema": SCHEMA,
        "roots": [str(r) for r in roots],
        "agents": agent_rows(runs, timed, base),
        "teachers": teachers,
        "std": "population (ddof 0) over seeds",
        "flops": "deployed count: conv + linear multiply-adds (fvcore without BatchNorm)",
        "runs": out_runs,
        "groups": out_groups,
    }


def write_report(
    roots: list[str | Path],
    out: str | Path,
    time_with: str | Path | None = None,
    rounds: int = 5,
) -> Report:
    """The report of the runs under `roots` into `out`; with `time_with` (a latency table),
    every agent and teacher timed again here first (`time_here`)."""
    from a2d_edge.experiments.plots import plot_curves, plot_pareto, plot_tradeoff
    from a2d_edge.experiments.tables import markdown

    data = build_report(roots)
    warnings = time_here(data, time_with, rounds) if time_with is not None else []
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = plot_curves(data["groups"], out) + plot_tradeoff(data["groups"], out)
    figures += plot_pareto(data["agents"], data["teachers"], out)
    data["figures"] = figures
    text = markdown(data)
    (out / "report.md").write_text(text)
    write_json(out / "report.json", data)
    return Report(text, data, figures, warnings)
