"""`a2d sweep FILE --out DIR`: every run of an experiment file, one after another.

The file's games x grid x seeds become named runs `DIR/<Game>/<key=value,...>-s<seed>` (with
`runs:` groups, `DIR/<Game>/<group>/...`, group by group). Each is trained, searched or
distilled in this process with the library functions (`experiments.commands`); a finished run
is skipped and a started one resumes, so a killed sweep restarted with the same command
continues where it stopped. A run folder whose settings differ from the file's is refused, never
resumed with other settings. `--shard K/N` and torchrun's ranks split the runs (each run is
single-process; a run that names another group's run waits for it: the next sweep runs it);
`DIR/sweep.json` lists the runs and their status as found on disk, and the teacher timings the
runs' `budget_of_teacher` took.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from a2d_edge.config import RESUME_OVERRIDES, build_config, to_dict
from a2d_edge.errors import A2DError
from a2d_edge.experiments.commands import (
    TeacherTimes,
    by_result,
    checkpoint_name,
    checkpoint_step,
    config_class,
    derived_keys,
    load_run,
    phase_step,
    result_step,
    run_command,
)
from a2d_edge.experiments.draws import check_draws, draw_arch
from a2d_edge.experiments.spec import (
    NOT_IN_GRID,
    Experiment,
    Group,
    match_game,
    read_experiment,
    ref_of,
    safe_name,
    short_name,
    validate,
)
from a2d_edge.utils.io import write_json

SCHEMA = "a2d.sweep/1"


@dataclass(frozen=True)
class PlannedRun:
    name: str
    env: str
    grid: dict[str, Any]
    seed: int
    config: dict[str, Any]
    command: str = "train"
    group: str = ""
    needs: tuple[str, ...] = ()
    """The runs it names by `{run:NAME}` (they must be done first)."""
    draw: int | None = None
    """Of a `random_archs` group: which random arch it trains (drawn when it starts)."""
    draw_seed: int = 7

    @property
    def arch_file(self) -> str:
        """Where a drawn arch is written, beside the run folder (a new run's folder is empty)."""
        return f"{self.name}.arch.json"


@dataclass
class RunState:
    status: str
    """pending | partial | done | refused, and while sweeping: running | failed | interrupted"""
    step: int | None = None
    message: str = ""


@dataclass
class SweepResult:
    runs: list[PlannedRun]
    mine: list[PlannedRun]
    states: dict[str, RunState] = field(default_factory=dict)


def expand(
    exp: Experiment,
    classes: type | Callable[[str], type] = config_class,
    sets: dict[str, Any] | None = None,
    games: Sequence[str] = (),
    only_seeds: Sequence[int] = (),
    out: str | Path = ".",
) -> list[PlannedRun]:
    """games x groups x grid x seeds, in file order, with the settings of each run (file <
    group < game < grid point < game and seed < --set); `--set` on a grid key keeps only that
    grid value. `classes`: the settings class of a command (or one class for every group)."""
    class_of = (lambda _command: classes) if isinstance(classes, type) else classes
    sets = dict(sets or {})
    owned = sorted(set(sets) & set(NOT_IN_GRID))
    if owned:
        raise A2DError(
            f"--set {', '.join(owned)}: set by the file's games / seeds, not by --set "
            "(--games picks games)"
        )
    for group in exp.groups:
        validate(exp, class_of(group.command), group)
        try:
            build_config(class_of(group.command), sets)
        except A2DError as e:
            raise A2DError(f"--set: {e}") from None
        for env, overrides in exp.games.items():
            clash = sorted(set(overrides) & set(group.grid))
            if clash:
                raise A2DError(f"{exp.path}: games: {env}: {', '.join(clash)} is a grid key")
    ids = [match_game(exp, g) for g in games] if games else exp.game_ids()
    seeds = tuple(only_seeds) or exp.seeds or (int(exp.settings.get("seed", 0)),)
    runs: list[PlannedRun] = []
    for env in dict.fromkeys(ids):
        for group in exp.groups:
            runs += _group_runs(exp, group, class_of(group.command), env, seeds, sets, runs, out)
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise A2DError(f"{exp.path}: two runs would share a folder name; rename a game or value")
    return runs


def _group_runs(
    exp: Experiment,
    group: Group,
    cls: type,
    env: str,
    seeds: Sequence[int],
    sets: dict[str, Any],
    earlier: list[PlannedRun],
    out: str | Path,
) -> list[PlannedRun]:
    own_sets = dict(sets)
    grid = {
        k: _restrict(cls, k, v, own_sets.pop(k)) if k in own_sets else v
        for k, v in group.grid.items()
    }
    runs = []
    draws: list[int | None] = list(range(group.draws)) if group.draws else [None]
    for combo in itertools.product(*grid.values()):
        point = dict(zip(grid, combo, strict=True))
        for draw, seed in itertools.product(draws, seeds):
            own, needs = _resolve_refs(exp, group, env, seed, earlier, Path(out))
            drawn = {} if draw is None else {"arch": f"random #{draw}"}  # drawn as it starts
            cfg: Any = build_config(
                cls,
                exp.settings,
                own,
                exp.games.get(env, {}),
                point,
                {"env": env, "seed": seed},
                own_sets,
                drawn,
            )
            if draw is not None:
                check_draws(f"{exp.path}: runs: {group.name}: random_archs", cfg)
            config = to_dict(cfg)
            named = point if draw is None else {**point, "random": draw}
            runs.append(
                PlannedRun(
                    run_name(env, named, seed, group.name),
                    env,
                    {k: config[k] for k in point} | ({} if draw is None else {"random": draw}),
                    seed,
                    config,
                    group.command,
                    group.name,
                    needs,
                    draw,
                    group.draw_seed,
                )
            )
    return runs


def _resolve_refs(
    exp: Experiment,
    group: Group,
    env: str,
    seed: int,
    earlier: list[PlannedRun],
    out: Path,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The group's settings with each `{run:NAME}` turned into that group's run folder of the
    same game and seed, and the runs so named."""
    own: dict[str, Any] = {}
    needs: list[str] = []
    for key, value in group.settings.items():
        m = ref_of(value)
        if not m:
            own[key] = value
            continue
        found = [r for r in earlier if r.group == m.group(1) and r.env == env and r.seed == seed]
        if len(found) != 1:
            raise A2DError(
                f"{exp.path}: runs: {group.name}: {key}: {value} names {len(found)} runs of "
                f"{short_name(env)} seed {seed}; it must name a group of one run per game and seed"
            )
        own[key] = str(out / found[0].name) + (m.group(2) or "")
        needs.append(found[0].name)
    return own, tuple(needs)


def _restrict(cls: type, key: str, values: list[Any], wanted: Any) -> list[Any]:
    """`--set KEY=V` on a grid key keeps only that grid value (it must be one of them)."""
    target = getattr(build_config(cls, {key: wanted}), key)
    kept = [v for v in values if getattr(build_config(cls, {key: v}), key) == target]
    if not kept:
        listed = ", ".join(_fmt(v) for v in values)
        raise A2DError(f"--set {key}={_fmt(wanted)}: not one of the grid's values: {listed}")
    return kept


def run_name(env: str, point: dict[str, Any], seed: int, group: str = "") -> str:
    """`Pong/arch=resnet20,distill=actor-s0` (`Pong/s0` without a grid; `Pong/GROUP/...` in a
    group of `runs:`)."""
    parts = ",".join(f"{safe_name(k)}={safe_name(_fmt(v))}" for k, v in point.items())
    folder = f"{short_name(env)}/{group}" if group else short_name(env)
    return f"{folder}/{parts + '-' if parts else ''}s{seed}"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def select(
    runs: list[PlannedRun], shard: tuple[int, int], rank: int, world: int
) -> list[PlannedRun]:
    """This process's runs: every N-th from K for `--shard K/N`, then every world-th from rank."""
    k, n = shard
    return runs[k::n][rank::world]


def rank_world() -> tuple[int, int]:
    """torchrun's rank and world size (0, 1 outside torchrun); no process group is needed."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def inspect_run(run: PlannedRun, run_dir: Path) -> RunState:
    """What is on disk for a run: pending, partial (resumable), done, or refused."""
    if not (run_dir / "config.json").exists():
        return RunState("pending")
    try:
        saved = to_dict(load_run(run_dir, run.command))
    except A2DError as e:
        return RunState("refused", message=str(e))
    skip = {*RESUME_OVERRIDES, *derived_keys(run.config)}
    if run.draw is not None:
        skip.add("arch")  # drawn when the run started
    keys = sorted(set(saved) | set(run.config))
    diff = [k for k in keys if k not in skip and saved.get(k) != run.config.get(k)]
    if diff:
        changes = ", ".join(f"{k} {saved.get(k)!r} -> {run.config.get(k)!r}" for k in diff)
        return RunState("refused", message=f"settings differ from {run_dir}/config.json: {changes}")
    try:
        if by_result(run.command, run.config):
            if (run_dir / "result.json").is_file():
                return RunState("done", result_step(run_dir))
            return RunState("partial", phase_step(run_dir))
        step = checkpoint_step(run_dir / checkpoint_name(run.command))
    except A2DError as e:
        return RunState("refused", message=str(e))
    if step is None:
        return RunState("partial", 0)
    return RunState("done" if step >= run.config["steps"] else "partial", step)


def run_sweep(
    path: str | Path,
    out: str | Path,
    *,
    games: Sequence[str] = (),
    sets: dict[str, Any] | None = None,
    seeds: Sequence[int] = (),
    dry_run: bool = False,
    shard: tuple[int, int] = (0, 1),
    echo: Callable[[str], None] = print,
) -> SweepResult:
    exp = read_experiment(path)
    out = Path(out)
    runs = expand(exp, config_class, sets, games, seeds, out)
    rank, world = rank_world()
    mine = select(runs, shard, rank, world)
    result = SweepResult(runs, mine)
    result.states = {r.name: inspect_run(r, out / r.name) for r in runs}
    if dry_run:
        _print_plan(exp, out, result, shard, (rank, world), echo)
        return result
    teachers = TeacherTimes.read(out / "sweep.json", echo)
    sweep = _Sweep(exp, out, result, dict(sets or {}), shard, echo, teachers)
    sweep.run()
    return result


@dataclass
class _Sweep:
    exp: Experiment
    out: Path
    result: SweepResult
    sets: dict[str, Any]
    shard: tuple[int, int]
    echo: Callable[[str], None]
    teachers: TeacherTimes

    def run(self) -> None:
        mine = self.result.mine
        self.write_status()
        for i, run in enumerate(mine, 1):
            state = inspect_run(run, self.out / run.name)
            self.result.states[run.name] = state
            head = f"[{i}/{len(mine)}] {run.name}:"
            if state.status == "done":
                self.echo(f"{head} done at step {state.step}, skipped")
                continue
            if state.status == "refused":
                self.echo(f"{head} refused: {state.message}")
                continue
            waits = [n for n in run.needs if self.status_of(n) != "done"]
            if waits:
                message = f"waits for {', '.join(waits)} (not done): run the sweep again"
                self.result.states[run.name] = RunState("waiting", state.step, message)
                self.echo(f"{head} {message}")
                continue
            self.run_one(run, state, head)
            self.write_status()
        self.write_status()
        bad = [(r.name, self.result.states[r.name]) for r in mine]
        bad = [(n, s) for n, s in bad if s.status in ("refused", "failed", "waiting")]
        if bad:
            listed = "; ".join(f"{n}: {s.status}: {s.message}" for n, s in bad)
            raise A2DError(f"{len(bad)} of {len(mine)} run(s) not done: {listed}")

    def status_of(self, name: str) -> str:
        run = next(r for r in self.result.runs if r.name == name)
        return inspect_run(run, self.out / name).status

    def run_one(self, run: PlannedRun, state: RunState, head: str) -> None:
        run_dir = self.out / run.name
        new = state.status == "pending"
        phased = by_result(run.command, run.config)  # resumes phase by phase, from any point
        if new:
            self.echo(f"{head} start")
        elif state.step or phased:
            self.echo(f"{head} resume" + (f" from step {state.step}" if state.step else ""))
        else:  # killed before its first checkpoint: start it again
            self.echo(f"{head} restart (no checkpoint yet)")
            (run_dir / "metrics.jsonl").unlink(missing_ok=True)
            shutil.rmtree(run_dir / "tb", ignore_errors=True)
        self.result.states[run.name] = RunState("running", state.step)
        self.write_status()
        cls = config_class(run.command)
        try:
            if new:
                cfg: Any = build_config(cls, run.config)
                cfg = self.teachers.budget(cfg) if run.command != "train" else cfg
                if run.draw is not None:
                    path = draw_arch(cfg, run.draw, run.draw_seed, self.out / run.arch_file)
                    cfg = replace(cfg, arch=str(path))
            else:  # its own config.json: with the budget it took when it started
                cfg = load_run(run_dir, run.command)
            resume = not new and (bool(state.step) or phased)
            done = run_command(run.command, cfg, run_dir, new=new, resume=resume)
        except A2DError as e:
            self.result.states[run.name] = RunState("failed", state.step, str(e))
            self.echo(f"{head} failed: {e}")
            return
        except KeyboardInterrupt:
            self.result.states[run.name] = RunState("interrupted", state.step)
            self.write_status()
            self.echo(f"sweep interrupted; continue it with the same command ({self.out})")
            raise
        self.result.states[run.name] = RunState("done", done.step)
        self.echo(f"{head} done: {done.said}")

    def write_status(self) -> None:
        """sweep.json: the file, the runs and the status of each (this process's view of its own
        runs, the disk's of the others': several shards or ranks may write it in turn), and the
        teacher timings the budgets took."""
        mine = {r.name for r in self.result.mine}
        rows = []
        for run in self.result.runs:
            state = self.result.states.get(run.name) or RunState("pending")
            if run.name not in mine:
                state = inspect_run(run, self.out / run.name)
            row: dict[str, Any] = {
                "name": run.name,
                "env": run.env,
                "command": run.command,
                "group": run.group,
                "grid": run.grid,
                "seed": run.seed,
                "status": state.status,
                "step": state.step,
                "steps": run.config["steps"],
            }
            if state.message:
                row["message"] = state.message
            row["config"] = run.config
            rows.append(row)
        write_json(
            self.out / "sweep.json",
            {
                "schema": SCHEMA,
                "file": str(self.exp.path),
                "command": self.exp.command or "train",
                "sets": self.sets,
                "shard": f"{self.shard[0]}/{self.shard[1]}",
                "updated": time.time(),
                "teachers": self.teachers.pinned,
                "runs": rows,
            },
        )


def _print_plan(
    exp: Experiment,
    out: Path,
    result: SweepResult,
    shard: tuple[int, int],
    rank_world: tuple[int, int],
    echo: Callable[[str], None],
) -> None:
    runs, mine = result.runs, result.mine
    games = len({r.env for r in runs})
    seeds = len({r.seed for r in runs})
    split = ""
    if shard != (0, 1) or rank_world[1] > 1:
        split = f"; this process (shard {shard[0]}/{shard[1]}, rank {rank_world[0]}/"
        split += f"{rank_world[1]}) takes {len(mine)}"
    for group in exp.groups:
        here = [r for r in runs if r.group == group.name]
        points = len({json.dumps(r.grid, sort_keys=True) for r in here})
        what = f"a2d {group.command}" + (f" (group {group.name})" if group.name else "")
        echo(
            f"{exp.path}: {what}, {len(here)} run(s) ({games} game(s) x {points} grid point(s) "
            f"x {seeds} seed(s)) in {out}{split}"
        )
        if here:
            _print_group(group, here, [r for r in mine if r.group == group.name], result, echo)


def _print_group(
    group: Group,
    runs: list[PlannedRun],
    mine: list[PlannedRun],
    result: SweepResult,
    echo: Callable[[str], None],
) -> None:
    defaults = to_dict(build_config(config_class(group.command)))
    keys = [k for k in runs[0].config if k not in RESUME_OVERRIDES]
    common = {
        k: runs[0].config[k] for k in keys if all(r.config[k] == runs[0].config[k] for r in runs)
    }
    shown = {k: v for k, v in common.items() if v != defaults.get(k)}
    echo("every run: " + (" ".join(f"{k}={_fmt(v)}" for k, v in shown.items()) or "defaults"))
    named = {"env", "seed", *group.grid}
    for run in mine:
        state = result.states[run.name]
        extra = {k: run.config[k] for k in keys if k not in common and k not in named}
        status = state.status + (f" (step {state.step})" if state.step else "")
        line = f"  {status:<20} {run.name}"
        if extra:
            line += "  " + " ".join(f"{k}={_fmt(v)}" for k, v in extra.items())
        if state.message:
            line += f"  [{state.message}]"
        echo(line)
