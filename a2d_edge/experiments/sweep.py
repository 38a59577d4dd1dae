"""`a2d sweep FILE --out DIR`: every run of an experiment file, one after another.

The file's games x grid x seeds become named runs `DIR/<Game>/<key=value,...>-s<seed>`. Each is
trained (or searched) in this process with the library functions; a run whose checkpoint
reached its final step is skipped and a run with a config.json resumes, so a killed sweep
restarted with the same command continues where it stopped. A run folder whose settings differ
from the file's is refused, never resumed with other settings. `--shard K/N` and torchrun's
ranks split the runs (each run is single-process); `DIR/sweep.json` lists the runs and their
status as found on disk.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a2d_edge.config import RESUME_OVERRIDES, build_config, to_dict
from a2d_edge.errors import A2DError
from a2d_edge.experiments.spec import (
    NOT_IN_GRID,
    Experiment,
    match_game,
    read_experiment,
    safe_name,
    short_name,
    validate,
)
from a2d_edge.utils.io import write_json

SCHEMA = "a2d.sweep/1"
CHECKPOINT = {"train": "agent.pt", "search": "supernet.pt"}


@dataclass(frozen=True)
class PlannedRun:
    name: str
    env: str
    grid: dict[str, Any]
    seed: int
    config: dict[str, Any]


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


def config_class(command: str) -> type:
    if command == "search":
        from a2d_edge.search.config import SearchConfig

        return SearchConfig
    from a2d_edge.rl.config import TrainConfig

    return TrainConfig


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """`key=value` overrides; values are read as YAML scalars (`false`, `2e5`, `resnet20`)."""
    import yaml

    sets: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise A2DError(f"--set expects key=value, got {item!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        sets[key.strip().replace("-", "_")] = text if value is None else value
    return sets


def parse_shard(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 1
    k, sep, n = text.partition("/")
    try:
        shard = int(k), int(n)
    except ValueError:
        shard = (-1, 0)
    if not sep or not 0 <= shard[0] < shard[1]:
        raise A2DError(f"--shard expects K/N with 0 <= K < N (e.g. 0/2, 1/2), got {text!r}")
    return shard


def expand(
    exp: Experiment,
    cls: type,
    sets: dict[str, Any] | None = None,
    games: Sequence[str] = (),
    only_seeds: Sequence[int] = (),
) -> list[PlannedRun]:
    """games x grid x seeds, in file order, with the settings of each run (file < game < grid
    point < game and seed < --set); `--set` on a grid key keeps only that grid value."""
    validate(exp, cls)
    sets = dict(sets or {})
    owned = sorted(set(sets) & set(NOT_IN_GRID))
    if owned:
        raise A2DError(
            f"--set {', '.join(owned)}: set by the file's games / seeds, not by --set "
            "(--games picks games)"
        )
    try:
        build_config(cls, sets)
    except A2DError as e:
        raise A2DError(f"--set: {e}") from None
    grid = {k: _restrict(cls, k, v, sets.pop(k)) if k in sets else v for k, v in exp.grid.items()}
    for env, overrides in exp.games.items():
        clash = sorted(set(overrides) & set(exp.grid))
        if clash:
            raise A2DError(f"{exp.path}: games: {env}: {', '.join(clash)} is a grid key")
    ids = [match_game(exp, g) for g in games] if games else exp.game_ids()
    seeds = tuple(only_seeds) or exp.seeds or (int(exp.settings.get("seed", 0)),)
    runs = []
    for env in dict.fromkeys(ids):
        for combo in itertools.product(*grid.values()):
            point = dict(zip(grid, combo, strict=True))
            for seed in seeds:
                cfg: Any = build_config(
                    cls,
                    exp.settings,
                    exp.games.get(env, {}),
                    point,
                    {"env": env, "seed": seed},
                    sets,
                )
                config = to_dict(cfg)
                runs.append(
                    PlannedRun(
                        run_name(env, point, seed),
                        env,
                        {k: config[k] for k in point},
                        seed,
                        config,
                    )
                )
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise A2DError(f"{exp.path}: two runs would share a folder name; rename a game or value")
    return runs


def _restrict(cls: type, key: str, values: list[Any], wanted: Any) -> list[Any]:
    """`--set KEY=V` on a grid key keeps only that grid value (it must be one of them)."""
    target = getattr(build_config(cls, {key: wanted}), key)
    kept = [v for v in values if getattr(build_config(cls, {key: v}), key) == target]
    if not kept:
        listed = ", ".join(_fmt(v) for v in values)
        raise A2DError(f"--set {key}={_fmt(wanted)}: not one of the grid's values: {listed}")
    return kept


def run_name(env: str, point: dict[str, Any], seed: int) -> str:
    """`Pong/arch=resnet20,distill=actor-s0` (`Pong/s0` without a grid)."""
    parts = ",".join(f"{safe_name(k)}={safe_name(_fmt(v))}" for k, v in point.items())
    return f"{short_name(env)}/{parts + '-' if parts else ''}s{seed}"


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


_STEP_CACHE: dict[tuple[str, int], int] = {}


def checkpoint_step(path: Path) -> int | None:
    if not path.is_file():
        return None
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _STEP_CACHE:
        from a2d_edge.sources.checkpoint import torch_load

        ckpt = torch_load(path)
        if not isinstance(ckpt, dict) or "step" not in ckpt:
            raise A2DError(f"{path} is not an a2d checkpoint")
        _STEP_CACHE[key] = int(ckpt["step"])
    return _STEP_CACHE[key]


def inspect_run(run: PlannedRun, run_dir: Path, cls: type, command: str) -> RunState:
    """What is on disk for a run: pending, partial (resumable), done, or refused."""
    from a2d_edge.rl.trainer import load_run_config

    if not (run_dir / "config.json").exists():
        return RunState("pending")
    try:
        saved = to_dict(load_run_config(run_dir, cls, command))
    except A2DError as e:
        return RunState("refused", message=str(e))
    keys = sorted(set(saved) | set(run.config))
    diff = [k for k in keys if k not in RESUME_OVERRIDES and saved.get(k) != run.config.get(k)]
    if diff:
        changes = ", ".join(f"{k} {saved.get(k)!r} -> {run.config.get(k)!r}" for k in diff)
        return RunState("refused", message=f"settings differ from {run_dir}/config.json: {changes}")
    try:
        step = checkpoint_step(run_dir / CHECKPOINT[command])
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
    command = exp.command or "train"
    cls = config_class(command)
    runs = expand(exp, cls, sets, games, seeds)
    rank, world = rank_world()
    mine = select(runs, shard, rank, world)
    out = Path(out)
    result = SweepResult(runs, mine)
    result.states = {r.name: inspect_run(r, out / r.name, cls, command) for r in runs}
    if dry_run:
        _print_plan(exp, command, out, result, shard, (rank, world), echo)
        return result
    sweep = _Sweep(exp, command, cls, out, result, dict(sets or {}), shard, echo)
    sweep.run()
    return result


@dataclass
class _Sweep:
    exp: Experiment
    command: str
    cls: type
    out: Path
    result: SweepResult
    sets: dict[str, Any]
    shard: tuple[int, int]
    echo: Callable[[str], None]

    def run(self) -> None:
        mine = self.result.mine
        self.write_status()
        for i, run in enumerate(mine, 1):
            state = inspect_run(run, self.out / run.name, self.cls, self.command)
            self.result.states[run.name] = state
            head = f"[{i}/{len(mine)}] {run.name}:"
            if state.status == "done":
                self.echo(f"{head} done at step {state.step}, skipped")
                continue
            if state.status == "refused":
                self.echo(f"{head} refused: {state.message}")
                continue
            self.run_one(run, state, head)
            self.write_status()
        self.write_status()
        bad = [(r.name, self.result.states[r.name]) for r in mine]
        bad = [(n, s) for n, s in bad if s.status in ("refused", "failed")]
        if bad:
            listed = "; ".join(f"{n}: {s.status}: {s.message}" for n, s in bad)
            raise A2DError(f"{len(bad)} of {len(mine)} run(s) not done: {listed}")

    def run_one(self, run: PlannedRun, state: RunState, head: str) -> None:
        from a2d_edge.utils.dist import DistInfo

        run_dir = self.out / run.name
        cfg: Any = build_config(self.cls, run.config)
        if state.status == "pending":
            self.echo(f"{head} start")
        elif state.step:
            self.echo(f"{head} resume from step {state.step}")
        else:  # killed before its first checkpoint: start it again
            self.echo(f"{head} restart (no checkpoint yet)")
            (run_dir / "metrics.jsonl").unlink(missing_ok=True)
            shutil.rmtree(run_dir / "tb", ignore_errors=True)
        self.result.states[run.name] = RunState("running", state.step)
        self.write_status()
        resume = bool(state.step)
        try:
            if self.command == "search":
                from a2d_edge.search.rl import prepare, search

                if cfg.method != "rl":
                    raise A2DError(
                        "a2d sweep runs the RL-driven search: set method: rl in the file "
                        "(the distillation search is benchmarks/distill_search.py)"
                    )
                prepare(cfg, say=False)
                if state.status == "pending":
                    _start(cfg, run_dir, "search")
                res: Any = search(cfg, run_dir, resume=resume, dist=DistInfo())
            else:
                from a2d_edge.rl.trainer import train

                if state.status == "pending":
                    _start(cfg, run_dir, "train")
                res = train(cfg, run_dir, resume=resume, dist=DistInfo())
        except A2DError as e:
            self.result.states[run.name] = RunState("failed", state.step, str(e))
            self.echo(f"{head} failed: {e}")
            return
        except KeyboardInterrupt:
            self.result.states[run.name] = RunState("interrupted", state.step)
            self.write_status()
            self.echo(f"sweep interrupted; continue it with the same command ({self.out})")
            raise
        final = "n/a" if res.final_eval is None else f"{res.final_eval:.2f}"
        self.result.states[run.name] = RunState("done", res.step)
        self.echo(f"{head} done: {res.step} steps, last eval {final}")

    def write_status(self) -> None:
        """sweep.json: the file, the runs and the status of each (this process's view of its own
        runs, the disk's of the others': several shards or ranks may write it in turn)."""
        mine = {r.name for r in self.result.mine}
        rows = []
        for run in self.result.runs:
            state = self.result.states.get(run.name) or RunState("pending")
            if run.name not in mine:
                state = inspect_run(run, self.out / run.name, self.cls, self.command)
            row: dict[str, Any] = {
                "name": run.name,
                "env": run.env,
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
                "command": self.command,
                "sets": self.sets,
                "shard": f"{self.shard[0]}/{self.shard[1]}",
                "updated": time.time(),
                "runs": rows,
            },
        )


def _start(cfg: Any, run_dir: Path, kind: str) -> None:
    from a2d_edge.rl.trainer import start_run

    start_run(cfg, run_dir, kind)


def _print_plan(
    exp: Experiment,
    command: str,
    out: Path,
    result: SweepResult,
    shard: tuple[int, int],
    rank_world: tuple[int, int],
    echo: Callable[[str], None],
) -> None:
    runs, mine = result.runs, result.mine
    games = len({r.env for r in runs})
    points = len({json.dumps(r.grid, sort_keys=True) for r in runs})
    seeds = len({r.seed for r in runs})
    split = ""
    if shard != (0, 1) or rank_world[1] > 1:
        split = f"; this process (shard {shard[0]}/{shard[1]}, rank {rank_world[0]}/"
        split += f"{rank_world[1]}) takes {len(mine)}"
    echo(
        f"{exp.path}: a2d {command}, {len(runs)} run(s) ({games} game(s) x {points} grid point(s) "
        f"x {seeds} seed(s)) in {out}{split}"
    )
    defaults = to_dict(build_config(config_class(command)))
    keys = [k for k in runs[0].config if k not in RESUME_OVERRIDES]
    common = {
        k: runs[0].config[k] for k in keys if all(r.config[k] == runs[0].config[k] for r in runs)
    }
    shown = {k: v for k, v in common.items() if v != defaults.get(k)}
    echo("every run: " + (" ".join(f"{k}={_fmt(v)}" for k, v in shown.items()) or "defaults"))
    named = {"env", "seed", *exp.grid}
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
