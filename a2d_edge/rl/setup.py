"""A run's setup, written once for `a2d train` and `a2d search`: seeding (with the per-rank
offset), resume (progress, RNG, world size), the envs, the model, the precision, broadcast
across ranks, channels-last, the optimizer (restored on resume), the teacher, the logger."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from a2d_edge.rl.config import TrainConfig
from a2d_edge.rl.loop import LoopState
from a2d_edge.rl.optim import make_optimizer
from a2d_edge.rl.rollout import RolloutCollector
from a2d_edge.rl.teacher import Teacher
from a2d_edge.utils.accel import resolve_device, resolve_precision, set_rng_state
from a2d_edge.utils.dist import DistInfo, broadcast_choice, broadcast_module, check_resume_world
from a2d_edge.utils.logging import NullLogger, RunLogger

BuildModel = Callable[[dict[str, Any] | None, RolloutCollector], torch.nn.Module]


@dataclass
class RunSetup:
    cfg: TrainConfig  # with the precision resolved (what runs; config.json keeps "auto")
    device: torch.device
    state: LoopState
    ckpt: dict[str, Any] | None  # the checkpoint resumed from
    collector: RolloutCollector
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    teacher: Teacher | None
    logger: RunLogger


def make_collector(
    cfg: TrainConfig, step: int, rank: int = 0, device: torch.device | None = None
) -> RolloutCollector:
    """The training envs (`num_envs` per rank); a resumed run reseeds them from its step (env
    state is not saved), each rank from its own seed range."""
    return RolloutCollector(
        cfg.env,
        cfg.num_envs,
        cfg.atari(),
        seed=cfg.seed * 1_000_003 + step + rank * 7_919_000,
        groups=cfg.env_groups,
        env_threads=cfg.env_threads,
        channels_last=cfg.channels_last,
        device=device or torch.device("cpu"),
    )


def open_logger(run_dir: Path, resume_step: int | None, dist: DistInfo) -> RunLogger:
    return RunLogger(run_dir, resume_step) if dist.main else NullLogger()


def check_distill(
    cfg: TrainConfig, n_actions: int, device: torch.device | None = None
) -> Teacher | None:
    from a2d_edge.errors import A2DError

    mode = cfg.distill_mode()
    if mode != "none" and not cfg.teacher:
        raise A2DError(f"--distill {mode} needs a --teacher checkpoint")
    if not cfg.teacher:
        return None
    return Teacher.load(cfg.teacher, cfg.env, n_actions).to(device or torch.device("cpu"))


def setup_run(
    cfg: TrainConfig,
    run_dir: Path,
    *,
    dist: DistInfo,
    load: Callable[[], dict[str, Any]] | None,
    build: BuildModel,
    params: Callable[[torch.nn.Module], Iterable[torch.nn.Parameter]],
) -> RunSetup:
    """Everything a loop starts from. `load` reads the checkpoint to resume (None: a new run);
    `build(ckpt, collector)` makes the model (with the checkpoint's weights on resume);
    `params(model)` are the parameters the optimizer trains."""
    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    state, ckpt = LoopState(), None
    if load is not None:
        ckpt = load()
        check_resume_world(ckpt.get("world_size"), dist, run_dir)
        state = LoopState.from_checkpoint(ckpt)
        set_rng_state(ckpt["rng"], device)
        if dist.rank > 0:  # rank 0's sampling stream is the saved one; the others derive theirs
            torch.manual_seed(cfg.seed + 104_729 * dist.rank + state.step)
    else:
        torch.manual_seed(cfg.seed + 104_729 * dist.rank)
    collector = make_collector(cfg, state.step, dist.rank, device)
    model = build(ckpt, collector).to(device)
    broadcast_module(model, dist)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    precision = resolve_precision(  # timed in the memory format the run uses
        cfg.precision,
        device,
        model,
        collector.obs_shape,
        dist.main,
        batch=cfg.num_envs * cfg.rollout,
        run_dir=run_dir,
    )
    cfg = dataclasses.replace(cfg, precision=broadcast_choice(precision, dist))  # rank 0's
    optimizer = make_optimizer(
        cfg.optimizer, params(model), cfg.lr, cfg.rmsprop_alpha, cfg.rmsprop_eps
    )
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    teacher = check_distill(cfg, collector.n_actions, device)
    logger = open_logger(run_dir, state.step if ckpt else None, dist)
    return RunSetup(cfg, device, state, ckpt, collector, model, optimizer, teacher, logger)


__all__ = ["RunSetup", "check_distill", "make_collector", "open_logger", "setup_run"]
