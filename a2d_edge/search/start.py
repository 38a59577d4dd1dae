"""What a distillation search starts from: the budget (a fraction of the teacher's latency
here) and every refusal, checked before anything is written (`Start`, `check_start`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.hw.table import Table
from a2d_edge.nets.spaces import Space, SupernetNet
from a2d_edge.rl.teacher import Teacher
from a2d_edge.search.checkpoint import load_supernet
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.prepare import latency_is_local, prepare, resolve_lut
from a2d_edge.search.replay import check_fits


def predicted_or_none(table: Table, arch: dict[str, Any]) -> float | None:
    """The table's prediction of `arch`, or None for an arch outside its space (a hand-made
    net beside an op table: it is timed, not predicted)."""
    try:
        return table.predict(arch)
    except A2DError:
        return None


def teacher_latency_ms(table: Table, teacher: str, rounds: int = 5) -> float:
    """The teacher's latency on this host, timed as the table's entries were (same backend,
    precision, threads and timing mode): the fastest of `rounds` timings, since a budget taken
    as a fraction of it would loosen with a slow one (one single timing on host B read 0.426 ms
    against ~0.34). A width table that holds the teacher's arch gives its own entry: timed
    whole in the sitting that timed every candidate, so the budget's fraction is of the same
    clock as the candidates' latencies."""
    return teacher_latency(table, teacher, rounds)[0]


def teacher_latency(table: Table, teacher: str, rounds: int = 5) -> tuple[float, str]:
    """`teacher_latency_ms` and how it was taken, in words: the fastest of its rounds in one
    sitting (`search.timing.teacher_timing`, its median and spread beside), or the width
    table's entry."""
    from a2d_edge.search.timing import teacher_timing
    from a2d_edge.sources.checkpoint import load_checkpoint

    if not latency_is_local(table):
        raise A2DError(
            "--budget-of-teacher times the teacher here: it needs this host's table "
            f"({table.path} is another machine's); give --latency-budget-ms instead"
        )
    arch = load_checkpoint(teacher)["arch"]
    if table.space.contains(arch):
        # an arch of the table's space: its prediction (a width table's entry, timed whole in
        # the same sitting as every candidate)
        return table.predict(arch), f"its entry in the {table.KIND}"
    try:
        t = teacher_timing(table, arch, rounds)
    except A2DError:
        raise A2DError(
            f"could not time the teacher {teacher} with {table.path}'s backend"
        ) from None
    how = (
        f"fastest of {len(t.rounds_ms)} rounds; median {t.median_ms:.3f} ms, spread "
        f"{100 * t.spread:.0f}%"
    )
    return t.fastest_ms, how


def resolve_budget(cfg: SearchConfig) -> SearchConfig:
    """--budget-of-teacher F -> --latency-budget-ms F x the teacher's latency here (said in
    one line), so that a resumed run keeps the same budget."""
    if cfg.budget_of_teacher <= 0 or cfg.latency_budget_ms > 0:
        return cfg
    if not cfg.lut or not cfg.teacher:
        raise A2DError("--budget-of-teacher needs --lut TABLE and --teacher CKPT")
    table = resolve_lut(cfg, say=False)
    ms, how = teacher_latency(table, cfg.teacher)
    out = with_budget(cfg, ms)
    print(
        f"latency budget: {cfg.budget_of_teacher:g} x the teacher's {ms:.3f} ms measured "
        f"here ({table.describe_mode()}; {how}) = {out.latency_budget_ms:g} ms"
    )
    return out


def with_budget(cfg: SearchConfig, teacher_ms: float) -> SearchConfig:
    """`cfg` with `budget_of_teacher` turned into `latency_budget_ms`, that share of
    `teacher_ms` (kept in `budget_teacher_ms`, so that a resumed run keeps the same budget)."""
    budget = round(cfg.budget_of_teacher * teacher_ms, 4)
    return replace(cfg, latency_budget_ms=budget, budget_teacher_ms=teacher_ms)


@dataclass
class Start:
    space: Space
    table: Table | None
    teacher: Teacher
    n_actions: int
    reused: tuple[SupernetNet, Path] | None


def check_start(cfg: SearchConfig) -> Start:
    """Everything a distillation search is refused for, in one line each, before anything is
    written: the table, the budget, the teacher (game and action set), the replay's memory,
    a reused supernet (game, space against the table)."""
    from a2d_edge.envs.atari import OBS_SHAPE, action_meanings

    space, table = prepare(cfg)
    if not cfg.teacher:
        raise A2DError("a2d search --method distill needs --teacher CKPT|zoo:NAME")
    for name in ("frames_per_update", "supernet_frames_per_update"):
        if getattr(cfg, name) % cfg.num_envs:
            flag = "--" + name.replace("_", "-")
            raise A2DError(
                f"{flag} {getattr(cfg, name)} is not a multiple of --num-envs {cfg.num_envs}"
            )
    n_actions = len(action_meanings(cfg.env))
    teacher = Teacher.load(cfg.teacher, cfg.env, n_actions)
    check_fits(cfg.replay_size + cfg.holdout_size, OBS_SHAPE, n_actions)
    reused = None
    if cfg.supernet:
        reused = load_supernet(cfg.supernet, cfg.env, n_actions)
        if table is not None and table.space != reused[0].space:
            raise A2DError(
                f"supernet {reused[1]} is of space {reused[0].space.name!r}, the "
                f"table {cfg.lut} of {table.space.name!r}"
            )
    return Start(reused[0].space if reused else space, table, teacher, n_actions, reused)
