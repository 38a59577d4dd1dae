"""Settings by composition (issue 41): each phase or method has its own small
group, and each command composes the groups it uses, so its `--help` shows only those.

- `a2d search` (distillation): Env, Compute, Periodic, Target, Budget, Distill, Supernet,
  Select, Gradient, Finish; A2C hidden (read only by `--finish-a2c-steps` above 0);
- `a2d search-rl` (the paper's DNAS): Env, Compute, Periodic, A2C, Target, RLSearch;
- `a2d distill` (the baselines): Arch, Env, Compute, Periodic, Target, Distill, DistillFinish.

Flags and files stay flat, and config.json's `"config"` stays the flat `SearchConfig` mapping:
the library still reads a flat `SearchConfig`, which `flat()` builds (the method filled in).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a2d_edge.config import (
    GROUP,
    HIDDEN_GROUP,
    build_config,
    copy_field,
    flat_fields,
    to_dict,
)
from a2d_edge.errors import A2DError
from a2d_edge.rl.config import (
    A2CSettings,
    ComputeSettings,
    EnvSettings,
    PeriodicSettings,
    TrainConfig,
)
from a2d_edge.search.config import SearchConfig

S = SearchConfig
OP_PRESETS = ("auto", "paper", "edge", "fast", "tiny")
"""The spaces of ops (the RL search's supernet); nature-widths is a space of widths."""


@dataclass(frozen=True)
class TargetSettings:
    """The device the agent will run on: its latency table, the budget, how it will run."""

    lut: str = copy_field(S, "lut")
    latency_budget_ms: float = copy_field(S, "latency_budget_ms")
    run_hz: float = copy_field(S, "run_hz")
    recalibrate: bool = copy_field(S, "recalibrate")
    run_spin_ms: float = copy_field(S, "run_spin_ms", hidden=True)
    run_prewarm: bool = copy_field(S, "run_prewarm", hidden=True)


@dataclass(frozen=True)
class BudgetSettings:
    """The budget as a share of the teacher's own latency, measured here."""

    budget_of_teacher: float = copy_field(S, "budget_of_teacher")
    budget_teacher_ms: float = copy_field(S, "budget_teacher_ms")


@dataclass(frozen=True)
class DistillSettings:
    """Distillation from teacher-labelled frames the student plays (DAgger)."""

    teacher: str = copy_field(S, "teacher")
    replay_size: int = copy_field(S, "replay_size")
    batch_size: int = copy_field(S, "batch_size")
    distill_lr: float = copy_field(S, "distill_lr")
    temperature: float = copy_field(S, "temperature")
    value_weight: float = copy_field(S, "value_weight")
    teacher_share: float = copy_field(S, "teacher_share")
    holdout_size: int = copy_field(S, "holdout_size", hidden=True)
    teacher_share_steps: int = copy_field(S, "teacher_share_steps", hidden=True)


@dataclass(frozen=True)
class SupernetSettings:
    """The space searched and the supernet's training (or a trained one to reuse)."""

    preset: str = copy_field(
        S,
        "preset",
        help="search-space preset: ops (paper, edge, fast, tiny) or the Nature CNN's widths "
        "(nature-widths); auto: the --lut table's, else fast",
    )
    supernet: str = copy_field(S, "supernet")
    supernet_steps: int = copy_field(S, "supernet_steps")
    paths: str = copy_field(S, "paths")
    random_paths: int = copy_field(S, "random_paths")
    supernet_frames_per_update: int = copy_field(S, "supernet_frames_per_update", hidden=True)


@dataclass(frozen=True)
class SelectSettings:
    """How an arch is selected from the trained supernet under the budget."""

    select: str = copy_field(S, "select")
    budget_margin: float = copy_field(S, "budget_margin")
    population: int = copy_field(S, "population")
    generations: int = copy_field(S, "generations")
    judge_adapt_steps: int = copy_field(S, "judge_adapt_steps")
    rerank_top: int = copy_field(S, "rerank_top")
    judge_frames: int = copy_field(S, "judge_frames", hidden=True)
    bn_frames: int = copy_field(S, "bn_frames", hidden=True)
    rerank_adapt_steps: int = copy_field(S, "rerank_adapt_steps", hidden=True)


@dataclass(frozen=True)
class GradientSettings:
    """`--select gradient`: alpha learns during the supernet's training."""

    latency_weight: float = copy_field(S, "latency_weight")
    select_warmup: float = copy_field(S, "select_warmup", hidden=True)
    select_tau: float = copy_field(S, "select_tau", hidden=True)
    alpha_lr: float = copy_field(S, "alpha_lr", hidden=True)
    alpha_beta1: float = copy_field(S, "alpha_beta1", hidden=True)


@dataclass(frozen=True)
class FinishSettings:
    """The selected net's finish by the same distillation, and the final evaluation."""

    finish_steps: int = copy_field(S, "finish_steps")
    finish_from: str = copy_field(S, "finish_from")
    finish_lr_schedule: str = copy_field(S, "finish_lr_schedule")
    frames_per_update: int = copy_field(S, "frames_per_update")
    final_episodes: int = copy_field(S, "final_episodes")
    finish_a2c_steps: int = copy_field(S, "finish_a2c_steps", hidden=True)


@dataclass(frozen=True)
class DistillFinishSettings:
    """`a2d distill`: a given arch distilled from a fresh init, then evaluated."""

    finish_steps: int = copy_field(S, "finish_steps")
    finish_lr_schedule: str = copy_field(S, "finish_lr_schedule")
    frames_per_update: int = copy_field(S, "frames_per_update")
    final_episodes: int = copy_field(S, "final_episodes")


@dataclass(frozen=True)
class ArchSettings:
    arch: str = copy_field(TrainConfig, "arch")


@dataclass(frozen=True)
class RLSearchSettings:
    """The paper's Algorithm 1: A2C + distillation through a Gumbel-softmax supernet."""

    steps: int = copy_field(S, "steps")
    teacher: str = copy_field(S, "teacher")
    preset: str = copy_field(
        S,
        "preset",
        help="search-space preset of ops (auto: the --lut table's, else paper)",
        choices=OP_PRESETS,
    )
    mode: str = copy_field(S, "mode")
    optimization: str = copy_field(S, "optimization")
    tau: float = copy_field(S, "tau")
    tau_decay: float = copy_field(S, "tau_decay")
    tau_every: int = copy_field(S, "tau_every")
    alpha_lr: float = copy_field(S, "alpha_lr")
    alpha_beta1: float = copy_field(S, "alpha_beta1")
    alpha_warmup: int = copy_field(S, "alpha_warmup")
    flops_weight: float = copy_field(S, "flops_weight")
    latency_weight: float = copy_field(S, "latency_weight")


def _flat(settings: Any, method: str) -> SearchConfig:
    return build_config(SearchConfig, to_dict(settings), {"method": method})


@dataclass(frozen=True)
class DistillSearchConfig:
    """`a2d search`: supernet by distillation, selection under the budget, finish, evaluation."""

    env: EnvSettings = field(default_factory=EnvSettings, metadata=GROUP)
    compute: ComputeSettings = field(default_factory=ComputeSettings, metadata=GROUP)
    periodic: PeriodicSettings = field(default_factory=PeriodicSettings, metadata=GROUP)
    target: TargetSettings = field(default_factory=TargetSettings, metadata=GROUP)
    budget: BudgetSettings = field(default_factory=BudgetSettings, metadata=GROUP)
    distill: DistillSettings = field(default_factory=DistillSettings, metadata=GROUP)
    supernet: SupernetSettings = field(default_factory=SupernetSettings, metadata=GROUP)
    select: SelectSettings = field(default_factory=SelectSettings, metadata=GROUP)
    gradient: GradientSettings = field(default_factory=GradientSettings, metadata=GROUP)
    finish: FinishSettings = field(default_factory=FinishSettings, metadata=GROUP)
    a2c: A2CSettings = field(default_factory=A2CSettings, metadata=HIDDEN_GROUP)
    """Read only by --finish-a2c-steps above 0 (the paper's A2C retrain after the finish)."""

    def flat(self) -> SearchConfig:
        return _flat(self, "distill")


@dataclass(frozen=True)
class RLSearchConfig:
    """`a2d search-rl`: the paper's RL-driven DNAS."""

    env: EnvSettings = field(default_factory=EnvSettings, metadata=GROUP)
    compute: ComputeSettings = field(default_factory=ComputeSettings, metadata=GROUP)
    periodic: PeriodicSettings = field(default_factory=PeriodicSettings, metadata=GROUP)
    a2c: A2CSettings = field(default_factory=A2CSettings, metadata=GROUP)
    target: TargetSettings = field(default_factory=TargetSettings, metadata=GROUP)
    rl: RLSearchSettings = field(default_factory=RLSearchSettings, metadata=GROUP)

    def flat(self) -> SearchConfig:
        return _flat(self, "rl")


@dataclass(frozen=True)
class DistillArchConfig:
    """`a2d distill`: the search's finish alone, for a given arch (the hand-made baselines)."""

    arch: ArchSettings = field(default_factory=ArchSettings, metadata=GROUP)
    env: EnvSettings = field(default_factory=EnvSettings, metadata=GROUP)
    compute: ComputeSettings = field(default_factory=ComputeSettings, metadata=GROUP)
    periodic: PeriodicSettings = field(default_factory=PeriodicSettings, metadata=GROUP)
    target: TargetSettings = field(default_factory=TargetSettings, metadata=GROUP)
    distill: DistillSettings = field(default_factory=DistillSettings, metadata=GROUP)
    finish: DistillFinishSettings = field(default_factory=DistillFinishSettings, metadata=GROUP)

    def flat(self) -> SearchConfig:
        return _flat(self, "distill")


COMMAND_SETTINGS: dict[str, type] = {
    "search": DistillSearchConfig,
    "search-rl": RLSearchConfig,
    "distill": DistillArchConfig,
}
"""Each command's composition (`a2d train` keeps the flat TrainConfig)."""

NOT_SEARCH = ("arch", "update", "init")
"""Flat SearchConfig fields that no search command takes (`a2d distill` takes arch)."""


def foreign(command: str) -> dict[str, str]:
    """Settings of the flat SearchConfig that `command` does not take -> the commands that do
    (`a2d search-rl or a2d search`), for a one-line refusal."""
    return dict(_foreign(command))


@functools.cache
def _foreign(command: str) -> dict[str, str]:
    own = flat_fields(COMMAND_SETTINGS[command])
    out: dict[str, str] = {}
    for name in flat_fields(SearchConfig):
        if name == "method" and command == "distill":
            out[name] = "a2d search or a2d search-rl"
        if name in own or name in NOT_SEARCH or name == "method":
            continue
        users = [f"a2d {c}" for c, cls in COMMAND_SETTINGS.items()
                 if c != command and name in flat_fields(cls)]  # fmt: skip
        out[name] = " or ".join(users) or "no command"
    return out


def run_command(data: dict[str, Any]) -> str:
    """The command whose settings a config.json holds: train, search (distillation),
    search-rl (a search run with `method: rl`, or with no method: those predate the
    distillation search) or distill."""
    kind = data.get("kind", "train")
    if kind == "search":
        method = (data.get("config") or {}).get("method")
        return "search" if method == "distill" else "search-rl"
    if kind in ("train", "distill"):
        return str(kind)
    raise A2DError(f"unknown run kind {kind!r}")


def settings_of_run(data: dict[str, Any]) -> Any:
    """A config.json's settings in its command's class: the flat mapping distributed over the
    groups; keys of the old flat SearchConfig that the command does not take are retired and
    ignored (`tau` in a distillation run); any other key is refused."""
    command = run_command(data)
    cls = TrainConfig if command == "train" else COMMAND_SETTINGS[command]
    known = flat_fields(cls)
    retired = flat_fields(SearchConfig)
    saved = dict(data["config"])
    if command == "train":
        saved.setdefault("optimizer", "rmsprop")  # as rl/trainer.load_run_config
    bad = sorted(k for k in saved if k not in known and k not in retired)
    if bad:
        raise A2DError(f"unknown setting {bad[0]!r} for {cls.__name__}")
    return build_config(cls, {k: v for k, v in saved.items() if k in known})


def read_run(run_dir: str | Path) -> dict[str, Any]:
    from a2d_edge.utils.io import read_json

    data = read_json(Path(run_dir) / "config.json", "run config")
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise A2DError(f"{run_dir}/config.json is not an a2d run config")
    return data


def run_command_of(run_dir: str | Path) -> str:
    return run_command(read_run(run_dir))


def load_run_settings(run_dir: str | Path) -> Any:
    """A run folder's settings in its command's (composed) class."""
    return settings_of_run(read_run(run_dir))


def load_flat_config(run_dir: str | Path, command: str) -> SearchConfig:
    """The flat SearchConfig a search or distill run was started with (its config.json as
    written), refused in one line when the run is another command's."""
    data = read_run(run_dir)
    found = run_command(data)
    if found != command:
        raise A2DError(f"{run_dir} is an `a2d {found}` run, not an `a2d {command}` run")
    saved = {**data["config"], "method": "rl" if command == "search-rl" else "distill"}
    return build_config(SearchConfig, saved)
