"""A phase of the distillation search: a model trained by distillation for some agent steps
(RUN/NAME.pt, resumable), its precision, and the wall times of the phases (RUN/walls.json)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from a2d_edge.errors import A2DError
from a2d_edge.hw.table import Table
from a2d_edge.nets.spaces import Space
from a2d_edge.rl.loop import LoopState, default_hooks, run_loop
from a2d_edge.rl.setup import make_collector, open_logger
from a2d_edge.rl.teacher import Teacher
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.replay import LabelledReplay
from a2d_edge.search.supernet_file import FORMAT as SUPERNET_FORMAT
from a2d_edge.search.supernet_file import check_method, supernet_method
from a2d_edge.search.trainer import FORMAT, DistillLoop, PhaseSettings
from a2d_edge.sources.checkpoint import torch_load
from a2d_edge.utils.accel import PRECISION_FILE, resolve_precision, set_rng_state
from a2d_edge.utils.dist import DistInfo
from a2d_edge.utils.io import read_json, write_json
from a2d_edge.utils.threads import learner_threads


def phase_settings(cfg: SearchConfig, steps: int, eval_every: int) -> PhaseSettings:
    return PhaseSettings(
        env=cfg.env,
        steps=steps,
        log_every=cfg.log_every,
        eval_every=eval_every,
        eval_episodes=cfg.eval_episodes,
        checkpoint_every=cfg.checkpoint_every,
        progress=cfg.progress,
    )


def load_phase(path: Path) -> dict[str, Any] | None:
    """A phase's checkpoint (None before its first): a plain net's `a2d.distill-phase/1`, a
    supernet's `a2d.supernet/2` of method distill or its older `a2d.distill-phase/1`."""
    if not path.exists():
        return None
    ckpt = torch_load(path, "distillation checkpoint")
    if isinstance(ckpt, dict):
        check_method(ckpt, "distill", path)  # the RL search's supernet: named in one line
    if not isinstance(ckpt, dict) or (
        ckpt.get("format") != FORMAT and supernet_method(ckpt) != "distill"
    ):
        raise A2DError(
            f"{path} is not an a2d distillation checkpoint (format {FORMAT!r} or "
            f"{SUPERNET_FORMAT!r})"
        )
    return ckpt


def phase_precision(
    cfg: SearchConfig,
    folder: Path,
    model: torch.nn.Module,
    obs_shape: tuple[int, ...],
    resumed: bool,
) -> str:
    """The precision of a phase's weight steps: --precision auto's choice, timed at their
    batch and threads and recorded in `folder`; a phase resumed without a record began before
    the distillation trained in bf16, and continues in the fp32 it began in."""
    if resumed and cfg.precision == "auto" and not (folder / PRECISION_FILE).exists():
        print(f"precision: auto -> fp32 ({folder.name} began in fp32, before a recorded choice)")
        return "fp32"
    with learner_threads(cfg):  # timed as the weight steps run: their batch, their threads
        return resolve_precision(
            cfg.precision, torch.device("cpu"), model, obs_shape,
            batch=cfg.batch_size, run_dir=folder,
        )  # fmt: skip


def run_phase(
    cfg: SearchConfig,
    run_dir: Path,
    name: str,
    model: torch.nn.Module,
    teacher: Teacher,
    steps: int,
    table: Table | None = None,
    eval_every: int = 0,
    evaluate: Any = None,
    space: Space | None = None,
) -> DistillLoop:
    """Train `model` by distillation for `steps` agent steps (resumed from RUN/name.pt);
    `space`: a supernet's, recorded in the checkpoint."""
    path = run_dir / f"{name}.pt"
    ckpt = load_phase(path)
    state = LoopState() if ckpt is None else LoopState.from_checkpoint(ckpt)
    if ckpt is not None:
        set_rng_state(ckpt["rng"], torch.device("cpu"))
    else:
        torch.manual_seed(cfg.seed)
    (run_dir / name).mkdir(parents=True, exist_ok=True)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    collector = make_collector(cfg, state.step)
    obs_shape, n_actions = collector.obs_shape, collector.n_actions
    precision = phase_precision(cfg, run_dir / name, model, obs_shape, resumed=ckpt is not None)
    cfg = replace(cfg, precision=precision)
    phase = phase_settings(cfg, steps, eval_every)
    loop = DistillLoop(
        cfg=cfg,
        phase=phase,
        run_dir=run_dir,
        checkpoint_path=path,
        model=model,
        teacher=teacher,
        collector=collector,
        logger=open_logger(run_dir / name, state.step if ckpt else None, DistInfo()),
        state=state,
        replay=LabelledReplay(cfg.replay_size, obs_shape, n_actions),
        holdout=LabelledReplay(cfg.holdout_size, obs_shape, n_actions),
        table=table,
        hooks=default_hooks(phase, state, DistInfo()),
        evaluate=evaluate,
        meta={
            "env_id": cfg.env,
            "n_actions": n_actions,
            "kind": name,
            **({"space": space.to_dict()} if space is not None else {}),
        },
    )
    if ckpt is not None:
        loop.restore(ckpt)
    if state.step < steps:
        loop.fill(cfg.batch_size * 4)
        run_loop(loop, resume_command(run_dir))
        loop.checkpoint()
    else:
        collector.close()
        loop.logger.close()
    return loop


def resume_command(run_dir: Path) -> str:
    """The command that resumes `run_dir`: its config.json's kind (`a2d distill` trains a
    given arch with the finish's recipe, `a2d search` runs every phase)."""
    path = run_dir / "config.json"
    kind = read_json(path, "run config").get("kind") if path.exists() else None
    return kind if kind in ("search", "distill") else "search"


def add_wall(run_dir: Path, phase: str, seconds: float) -> None:
    path = run_dir / "walls.json"
    walls = read_json(path, "wall times") if path.exists() else {}
    walls[phase] = round(float(walls.get(phase, 0.0)) + seconds, 1)
    write_json(path, walls)
