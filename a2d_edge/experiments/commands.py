"""The commands an experiment file runs, as `a2d sweep` drives them through the library: each
one's settings class, what it refuses before a run folder is written, the run itself (new or
resumed), and how far a run folder on disk has come.

| command | settings | done when |
|---|---|---|
| train | `TrainConfig` | agent.pt reached `steps` |
| search-rl (the paper's RL DNAS) | `SearchConfig` (method rl) | supernet.pt reached `steps` |
| search (the distillation search) | `SearchConfig` | result.json is written |
| distill | `SearchConfig` (+ `arch`) | result.json is written |

A distillation search's `budget_of_teacher` is a share of the teacher's latency on this host;
`TeacherTimes` times each teacher once per table and sweep, so that every run of the sweep takes
its budget from the same timing (the VM's speed drifts by tens of percent between sittings).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a2d_edge.applies import MODES, check_applies, elsewhere, given_settings
from a2d_edge.config import RESUME_OVERRIDES
from a2d_edge.errors import A2DError
from a2d_edge.utils.args import check_out_dir
from a2d_edge.utils.io import read_json


def config_class(command: str) -> type:
    """The flat config of a command's runs (as their config.json holds it)."""
    if command in ("search", "search-rl", "distill"):
        from a2d_edge.search.config import SearchConfig

        return SearchConfig
    from a2d_edge.rl.config import TrainConfig

    return TrainConfig


def resolve_settings(args: argparse.Namespace, cls: type, kind: str) -> Any:
    """A new run's settings (defaults < --config file < flags), or a resumed run's own: the flat
    config the library reads (a composed class's `flat()`)."""
    from a2d_edge.config import as_flat, build_config, flat_fields, to_dict
    from a2d_edge.experiments.spec import settings_layer
    from a2d_edge.search.settings import COMMAND_SETTINGS, foreign

    names = flat_fields(cls)
    others = foreign(kind) if kind in COMMAND_SETTINGS else {}
    flags = {k: v for k, v in vars(args).items() if k in names}
    if args.resume:
        cfg = load_run(args.resume, kind)
        given = [k for k, v in vars(args).items() if (k in names or k in others) and v is not None]
        if [k for k in given if k not in RESUME_OVERRIDES] or args.config:
            raise A2DError(
                f"--resume continues a run with its own settings; only "
                f"{', '.join('--' + k.replace('_', '-') for k in RESUME_OVERRIDES)} may change"
            )
        return build_config(type(cfg), vars(cfg), {k: v for k, v in flags.items() if k in
                                                   RESUME_OVERRIDES})  # fmt: skip
    if not args.out:
        raise A2DError(f"a2d {kind} needs --out RUN_DIR (or --resume RUN_DIR)")
    check_out_dir(args.out)  # before a teacher or a table is loaded
    file_layer: dict[str, Any] = {}
    file_given: dict[str, Any] = {}
    if args.config:
        from a2d_edge.experiments.spec import read_experiment
        from a2d_edge.search.config import SearchConfig

        checked = SearchConfig if others else cls  # every search setting, refused below if not its
        file_layer = settings_layer(args.config, checked, kind, flags.get("env"))
        flags["env"] = None  # the layer's env is final: the flag's, matched to the file's games
        # a grid's shared settings serve runs that use different ones: only its flags are judged
        file_given = {} if read_experiment(args.config).grid else file_layer
        if kind in ("search", "search-rl"):
            check_method(file_layer.pop("method", None), kind)
    if kind in ("search", "search-rl"):
        check_method(args.method, kind)
    cfg = as_flat(build_config(cls, {k: v for k, v in file_layer.items() if k in names}, flags))
    shared = {k: v for k, v in file_layer.items() if k not in names and k not in others}
    if shared:  # a file shared with a2d train (update, init, arch) keeps them, as before
        cfg = build_config(type(cfg), to_dict(cfg), shared)
    modes = (*MODES[kind], *elsewhere(others))
    check_applies(modes, cfg, given_settings(args, {*names, *others}, file_given))
    return cfg


def check_method(method: str | None, kind: str) -> None:
    """`--method` is gone: the distillation search is `a2d search`, the RL one `a2d search-rl`."""
    want = {"search": "distill", "search-rl": "rl"}.get(kind)
    if method is None or method == want:
        return
    if method == "rl":
        raise A2DError("the RL-driven search is `a2d search-rl` (--method rl is gone): run "
                       "a2d search-rl with the same settings (nothing was run)")  # fmt: skip
    raise A2DError(f"--method {method} is for `a2d search` (the distillation search), not "
                   f"`a2d {kind}` (nothing was run)")  # fmt: skip


def load_run(run_dir: str | Path, kind: str) -> Any:
    """A run's flat config as its config.json holds it, routed by its kind and method (a search
    run without a method is RL); refused in one line when the run is another command's."""
    if kind == "train":
        from a2d_edge.rl.config import TrainConfig
        from a2d_edge.rl.trainer import load_run_config

        return load_run_config(run_dir, TrainConfig, kind)
    from a2d_edge.search.settings import load_flat_config

    return load_flat_config(run_dir, kind)


def by_result(command: str, config: dict[str, Any]) -> bool:
    """Whether a run of `command` is done when its result.json exists (the distillation
    pipeline's runs), rather than when its checkpoint reached `steps` (train, search-rl, and a
    search run of method rl)."""
    return command == "distill" or (command == "search" and config.get("method") != "rl")


def checkpoint_name(command: str) -> str:
    return "agent.pt" if command == "train" else "supernet.pt"


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


def phase_step(run_dir: Path) -> int:
    """How far an unfinished distillation run has come: its finish's step, else its supernet's."""
    for name in ("finish.pt", "supernet.pt"):
        step = checkpoint_step(run_dir / name)
        if step:
            return step
    return 0


def result_step(run_dir: Path) -> int:
    """The steps a finished distillation run trained (supernet and finish)."""
    result = read_json(run_dir / "result.json", "run result")
    steps = result.get("steps") if isinstance(result, dict) else None
    return sum(int(v) for v in steps.values()) if isinstance(steps, dict) else 0


def derived_keys(config: dict[str, Any]) -> set[str]:
    """Settings a run writes into its own config.json when it starts, so that a sweep's plan
    does not hold them: the budget `budget_of_teacher` resolves to."""
    if config.get("budget_of_teacher") and not config.get("latency_budget_ms"):
        return {"latency_budget_ms", "budget_teacher_ms"}
    return set()


@dataclass(frozen=True)
class Outcome:
    step: int
    said: str
    """The run's closing line, after `done: `."""


def run_command(command: str, cfg: Any, run_dir: Path, *, new: bool, resume: bool) -> Outcome:
    """Run (or continue) one run of `command` in `run_dir`: `new` writes its config.json first
    (after the command's refusals), `resume` continues from its checkpoints."""
    from a2d_edge.rl.trainer import start_run
    from a2d_edge.utils.dist import DistInfo

    if command == "train":
        from a2d_edge.rl.trainer import train

        if new:
            start_run(cfg, run_dir, "train")
        res = train(cfg, run_dir, resume=resume, dist=DistInfo())
        return Outcome(res.step, f"{res.step} steps, last eval {_score(res.final_eval)}")
    if command == "search-rl" or (command == "search" and cfg.method == "rl"):
        from a2d_edge.search.rl import prepare, search

        prepare(cfg, say=False)
        if new:
            start_run(cfg, run_dir, "search")  # config.json's kind: search, method: rl
        found = search(cfg, run_dir, resume=resume, dist=DistInfo())
        return Outcome(found.step, f"{found.step} steps, last eval {_score(found.final_eval)}")
    from a2d_edge.search.finish import distill_arch
    from a2d_edge.search.pipeline import distill_search
    from a2d_edge.search.start import check_start

    if command == "search":
        start = check_start(cfg)  # table, budget, teacher, reused supernet: before writing
        if new:
            start_run(cfg, run_dir, "search")
        result = distill_search(cfg, run_dir, start)
    else:
        arch = check_distill(cfg)
        if new:
            start_run(cfg, run_dir, "distill")
        result = distill_arch(cfg, arch, run_dir)
    said = describe_result(result.summary, result.agent).removeprefix("done: ")
    return Outcome(result_step(Path(run_dir)), said)


def settings_class(command: str) -> type:
    """The settings class of a command's new runs (as its flags build them): the composed
    class of a search or distill command, else `TrainConfig`."""
    if command == "train":
        from a2d_edge.rl.config import TrainConfig

        return TrainConfig
    from a2d_edge.search.settings import COMMAND_SETTINGS

    if command not in COMMAND_SETTINGS:
        raise A2DError(
            f"unknown command {command!r}; commands: train, {', '.join(COMMAND_SETTINGS)}"
        )
    return COMMAND_SETTINGS[command]


def start_command(command: str, settings: dict[str, Any], run_dir: str | Path) -> Outcome:
    """A new run of `command` in `run_dir` with `settings` (flat names, as its flags are:
    the defaults, then these), by `run_command`: what `a2d COMMAND --out RUN_DIR` runs (a
    `budget_of_teacher` becomes its budget in ms by the teacher timed here, as there)."""
    from a2d_edge.config import as_flat, build_config

    cfg = as_flat(build_config(settings_class(command), settings))
    if command != "train":
        from a2d_edge.search.start import resolve_budget

        cfg = resolve_budget(cfg)
    return run_command(command, cfg, Path(run_dir), new=True, resume=False)


def resume_command(command: str, run_dir: str | Path) -> Outcome:
    """Continue a run of `command` with its own settings: `a2d COMMAND --resume RUN_DIR`."""
    return run_command(command, load_run(run_dir, command), Path(run_dir), new=False, resume=True)


def describe_result(summary: dict[str, Any], agent: object) -> str:
    score, lat = summary.get("score") or {}, summary.get("latency") or {}
    parts = [f"done: {summary['mflops']:.2f} MFLOPs"]
    if lat.get("predicted_ms") is not None:
        budget = f" (budget {lat['budget_ms']})" if lat.get("budget_ms") is not None else ""
        parts.append(f"{lat['predicted_ms']:.3f} ms by the table{budget}")
    if lat.get("measured_ms") is not None:
        ratio = (lat.get("measured") or {}).get("ratio")
        beside = f", {ratio:.2f}x the teacher in the same sitting" if ratio else ""
        parts.append(f"{lat['measured_ms']:.3f} ms measured here{beside}")
    if score:
        parts.append(f"score {score['mean']:.1f} +- {score['std']:.1f} over {score['episodes']}")
    return ", ".join(parts) + f"; agent {agent}"


def check_distill(cfg: Any) -> dict[str, Any]:
    """`a2d distill`'s refusals before a run folder is written: the arch and the teacher (its
    game and action set); the arch."""
    from a2d_edge.envs.atari import action_meanings
    from a2d_edge.nets import load_arch
    from a2d_edge.rl.teacher import Teacher

    arch = load_arch(cfg.arch)
    if not cfg.teacher:
        raise A2DError("a2d distill needs --teacher CKPT|zoo:NAME")
    Teacher.load(cfg.teacher, cfg.env, len(action_meanings(cfg.env)))
    return arch


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


@dataclass
class TeacherTimes:
    """Each teacher's latency on this host by each table, timed once per sweep and kept in
    sweep.json ("teachers"), from which `budget_of_teacher` takes every run's budget."""

    pinned: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    echo: Callable[[str], None] = print

    @classmethod
    def read(cls, sweep_json: Path, echo: Callable[[str], None] = print) -> TeacherTimes:
        if not sweep_json.is_file():
            return cls([], echo)
        data = read_json(sweep_json, "sweep status")
        rows = data.get("teachers") if isinstance(data, dict) else None
        ok = [r for r in rows or [] if isinstance(r, dict) and isinstance(r.get("ms"), float)]
        return cls(ok, echo)

    def get(self, lut: str, teacher: str) -> float | None:
        for row in self.pinned:
            if row.get("lut") == lut and row.get("teacher") == teacher:
                return float(row["ms"])
        return None

    def budget(self, cfg: Any) -> Any:
        """`cfg` with `budget_of_teacher` turned into `latency_budget_ms` by the pinned
        timing of its teacher (`search.start.resolve_budget` times it on its first use)."""
        from a2d_edge.search.start import resolve_budget, with_budget

        if cfg.budget_of_teacher <= 0 or cfg.latency_budget_ms > 0:
            return cfg
        ms = self.get(cfg.lut, cfg.teacher)
        if ms is not None:
            return with_budget(cfg, ms)
        cfg = resolve_budget(cfg)  # refuses a missing table or teacher in one line
        self.pinned.append({"lut": cfg.lut, "teacher": cfg.teacher, "ms": cfg.budget_teacher_ms})
        self.echo(
            f"every budget_of_teacher of this sweep is a share of that timing of {cfg.teacher}"
        )
        return cfg
