"""`a2d search --method distill`: supernet -> selection -> finish -> evaluation, in one folder.

    RUN/supernet.pt   the supernet phase (resumable; `--supernet RUN` reuses it)
    RUN/frames.npz    held-out teacher-labelled frames the paths are judged on
    RUN/arch.json     the selected arch (for a2d train --arch, a2d export, a2d-profile)
    RUN/search.json   how it was selected: method, budget, prediction, fitness, history
    RUN/finish.pt     the finish phase (resumable)
    RUN/agent.pt      the deployable agent (a2d eval / export / run), with its final score
    RUN/result.json   the summary: score, latency predicted and measured, FLOPs, wall times

Each phase is skipped when its output is complete and resumed from its checkpoint otherwise,
so `a2d search --resume RUN` after a kill continues where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch

from a2d_edge.hw.table import Table
from a2d_edge.nets.agent import ActorCritic
from a2d_edge.nets.spaces import Space, SupernetNet
from a2d_edge.rl.teacher import Teacher
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.finish import DistillResult, a2c_finish, final, finish_phase, start_agent
from a2d_edge.search.frames import (
    Frames,
    collect_frames,
    load_frames,
    save_frames,
    supernet_frames,
)
from a2d_edge.search.phase import add_wall, run_phase
from a2d_edge.search.rl import SEARCH_SCHEMA
from a2d_edge.search.select import select_arch
from a2d_edge.search.start import Start, check_start
from a2d_edge.utils.io import read_json, write_json


def supernet_phase(
    cfg: SearchConfig,
    run_dir: Path,
    supernet: SupernetNet,
    teacher: Teacher,
    table: Table | None,
) -> tuple[SupernetNet, Frames]:
    """`supernet` trained by distillation (RUN/supernet.pt), and the held-out frames its paths
    are judged on (RUN/frames.npz)."""
    t = time.perf_counter()
    module = cast(torch.nn.Module, supernet)  # every supernet is a module (`SupernetNet`)
    loop = run_phase(cfg, run_dir, "supernet", module, teacher, cfg.supernet_steps, table,
                     space=supernet.space)  # fmt: skip
    frames_path = run_dir / "frames.npz"
    if not frames_path.exists():  # a phase resumed after its end has no held-out buffer left
        held = loop.holdout
        frames = (
            Frames(*held.all())
            if len(held) >= 256
            else collect_frames(cfg, teacher, cfg.holdout_size)
        )
        save_frames(frames_path, frames)
    add_wall(run_dir, "supernet", time.perf_counter() - t)
    return supernet, load_frames(frames_path)


def distill_search(
    cfg: SearchConfig, run_dir: str | Path, start: Start | None = None
) -> DistillResult:
    """Run (or continue) every phase in `run_dir` (`start`: `check_start`'s, when the caller
    already checked), whichever the space's kind."""
    run_dir = Path(run_dir)
    start = start or check_start(cfg)
    torch.set_num_threads(cfg.threads)
    teacher, table, n_actions = start.teacher, start.table, start.n_actions
    if start.reused is not None:
        supernet, source = start.reused
        frames = supernet_frames(cfg, source, teacher)
    else:
        supernet, frames = supernet_phase(
            cfg, run_dir, start.space.supernet(n_actions), teacher, table
        )

    def select() -> tuple[dict[str, Any], dict[str, Any], int]:
        arch, info = select_arch(cfg, supernet, frames, table, n_actions)
        return arch, info, supernet.space.flops(arch, n_actions)

    arch = selection_phase(cfg, run_dir, supernet.space, select)
    agent = start_agent(cfg, arch, supernet, frames, n_actions)
    return finish_and_evaluate(cfg, run_dir, arch, agent, frames, teacher, n_actions)


def selection_phase(
    cfg: SearchConfig,
    run_dir: Path,
    space: Space,
    select: Callable[[], tuple[dict[str, Any], dict[str, Any], int]],
) -> dict[str, Any]:
    """The selected arch: RUN/search.json's when complete, else `select()`'s (arch, what
    search.json says of it, its FLOPs), written to RUN/arch.json and RUN/search.json."""
    search_path = run_dir / "search.json"
    done = read_json(search_path, "search record") if search_path.exists() else None
    if done and done.get("complete"):
        return done["derived"]  # type: ignore[no-any-return]
    t = time.perf_counter()
    arch, info, flops = select()
    write_json(run_dir / "arch.json", arch)
    write_json(
        search_path,
        {
            "schema": SEARCH_SCHEMA,
            "method": "distill",
            "env_id": cfg.env,
            "preset": space.name,
            "space": space.to_dict(),
            "teacher": cfg.teacher,
            "supernet": cfg.supernet or str(run_dir),
            "derived": arch,
            "derived_flops": flops,
            "latency": info,
            "complete": True,
        },
    )
    add_wall(run_dir, "select", time.perf_counter() - t)
    return arch


def finish_and_evaluate(
    cfg: SearchConfig,
    run_dir: Path,
    arch: dict[str, Any],
    agent: ActorCritic,
    frames: Frames,
    teacher: Teacher,
    n_actions: int,
) -> DistillResult:
    """The finish from `agent`, the optional A2C retrain and the final evaluation."""
    agent = finish_phase(cfg, run_dir, agent, frames, teacher)
    steps = {
        "supernet": 0 if cfg.supernet else cfg.supernet_steps,
        "finish": cfg.finish_steps,
        "a2c": cfg.finish_a2c_steps,
    }
    if cfg.finish_a2c_steps > 0:
        agent = a2c_finish(
            cfg, run_dir, arch, agent, n_actions, steps["supernet"] + steps["finish"]
        )
    record = read_json(run_dir / "search.json", "search record")
    return final(cfg, run_dir, arch, agent, record["latency"], record["derived_flops"] / 1e6, steps)
