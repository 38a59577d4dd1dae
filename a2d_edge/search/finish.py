"""Phase 3 and the end: the finish from the selected arch (RUN/finish.pt), the optional A2C
retrain, the final evaluation (RUN/agent.pt, RUN/result.json), and `a2d distill`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from a2d_edge.config import to_dict
from a2d_edge.envs import EvalResult
from a2d_edge.nets import build_agent
from a2d_edge.nets.agent import ActorCritic
from a2d_edge.nets.spaces import SupernetNet
from a2d_edge.rl.evaluate import evaluate_agent
from a2d_edge.rl.teacher import Teacher
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.frames import Frames
from a2d_edge.search.phase import add_wall, run_phase
from a2d_edge.search.prepare import latency_is_local, resolve_lut
from a2d_edge.search.select import judge_agent, path_agent
from a2d_edge.search.start import predicted_or_none
from a2d_edge.search.trainer import DistillLoop
from a2d_edge.sources.checkpoint import save_checkpoint
from a2d_edge.utils.io import read_json, write_json


@dataclass
class DistillResult:
    run_dir: Path
    arch: dict[str, Any]
    agent: Path
    score: EvalResult | None
    summary: dict[str, Any]


def measured_at_end(
    cfg: SearchConfig, arch: dict[str, Any], n_actions: int, budget_ms: float | None
) -> dict[str, Any]:
    """The agent timed here beside its teacher in one sitting (`search.timing`), with the
    --lut table's backend and settings, when that table is this host's; else nothing."""
    from a2d_edge.search.timing import measured_beside_teacher

    if not cfg.lut:
        return {}
    table = resolve_lut(cfg, say=False, recalibrate=False)  # only its settings time the nets
    if not latency_is_local(table):
        return {}
    return measured_beside_teacher(table, arch, cfg.teacher, n_actions, budget_ms)


def start_agent(
    cfg: SearchConfig, arch: dict[str, Any], supernet: SupernetNet, frames: Frames, n_actions: int
) -> ActorCritic:
    """What the finish starts from: the supernet's weights for the selected arch (`inherit`,
    BN statistics recomputed on its own path where it has BN) or a fresh net (`scratch`)."""
    if cfg.finish_from == "inherit":
        return path_agent(supernet, arch, frames.split(cfg.bn_frames)[0])
    return build_agent(arch, n_actions)


def finish_phase(
    cfg: SearchConfig,
    run_dir: Path,
    agent: ActorCritic,
    frames: Frames,
    teacher: Teacher,
) -> ActorCritic:
    """`agent` (`start_agent`'s) trained by distillation (RUN/finish.pt); `frames`' part past
    the BN frames judges it at each evaluation."""
    if cfg.finish_steps == 0:
        return agent
    t = time.perf_counter()
    judge = frames.split(min(cfg.bn_frames, len(frames) // 2))[1]

    def evaluate(loop: DistillLoop) -> None:
        loop.model.eval()
        result = evaluate_agent(
            loop.model,
            cfg.env,
            cfg.eval_episodes,
            seed=10_000_019 + loop.state.step,
            settings=cfg.atari(),
        )
        held: dict[str, float] = {}
        if len(judge):
            j = judge_agent(loop.model, judge, cfg.temperature, cfg.value_weight)  # type: ignore[arg-type]
            held = {"heldout_kl": j.kl, "heldout_agreement": j.agreement}
        loop.state.last_eval = result.mean
        loop.state.best_eval = max(loop.state.best_eval, result.mean)
        loop.logger.log(
            loop.state.step,
            "eval",
            {"score_mean": result.mean, "score_std": result.std, **held},
        )

    run_phase(
        cfg,
        run_dir,
        "finish",
        agent,
        teacher,
        cfg.finish_steps,
        eval_every=cfg.eval_every,
        evaluate=evaluate,
    )
    add_wall(run_dir, "finish", time.perf_counter() - t)
    return agent.eval()


def a2c_finish(
    cfg: SearchConfig,
    run_dir: Path,
    arch: dict[str, Any],
    agent: ActorCritic,
    n_actions: int,
    steps_before: int,
) -> ActorCritic:
    """The paper's retrain: A2C + distillation from the finished agent (a2d train --init; the
    A2C run adds its own steps to the `steps_before` its init holds)."""
    from a2d_edge.rl.config import TrainConfig
    from a2d_edge.rl.trainer import start_run, train

    init = run_dir / "distilled.pt"
    save_agent(init, cfg, arch, agent, n_actions, steps_before, {})
    fields = {f: getattr(cfg, f) for f in TrainConfig.__dataclass_fields__}
    tcfg = TrainConfig(
        **{
            **fields,
            "arch": str(run_dir / "arch.json"),
            "init": str(init),
            "steps": cfg.finish_a2c_steps,
            "precision": cfg.precision,
        }
    )
    out = run_dir / "a2c"
    t = time.perf_counter()
    resume = (out / "agent.pt").exists()
    if not resume:
        start_run(tcfg, out)
    train(tcfg, out, resume=resume)
    add_wall(run_dir, "a2c", time.perf_counter() - t)
    from a2d_edge.sources.checkpoint import load_agent

    return load_agent(out / "agent.pt")[0]


def save_agent(
    path: Path,
    cfg: SearchConfig,
    arch: dict[str, Any],
    agent: ActorCritic,
    n_actions: int,
    step: int,
    extra: dict[str, Any],
) -> None:
    """An agent checkpoint of the distilled net; `step`: the agent steps behind its weights
    (every phase's that trained them)."""
    from a2d_edge.envs.atari import OBS_SHAPE

    save_checkpoint(
        path,
        {
            "arch": arch,
            "env_id": cfg.env,
            "obs_shape": list(OBS_SHAPE),
            "n_actions": n_actions,
            "step": step,
            "model": {k: v.detach().cpu().contiguous() for k, v in agent.state_dict().items()},
            "atari": cfg.atari().to_dict(),
            "teacher": cfg.teacher,
            "distill": "student-driven",
            "config": to_dict(cfg),
            **extra,
        },
    )


def final(
    cfg: SearchConfig,
    run_dir: Path,
    arch: dict[str, Any],
    agent: ActorCritic,
    latency: dict[str, Any],
    mflops: float,
    steps: dict[str, int],
) -> DistillResult:
    """The final evaluation, `agent.pt` and `result.json` (skipped when both exist)."""
    result_path, agent_path = run_dir / "result.json", run_dir / "agent.pt"
    if result_path.exists() and agent_path.exists():
        return DistillResult(run_dir, arch, agent_path, None, read_json(result_path, "result"))
    score = None
    t = time.perf_counter()
    if cfg.final_episodes > 0:
        score = evaluate_agent(
            agent, cfg.env, cfg.final_episodes, seed=20_000_003, settings=cfg.atari()
        )
    n_actions = int(agent.actor.out_features)
    latency = {**latency, **measured_at_end(cfg, arch, n_actions, latency.get("budget_ms"))}
    keep = ("budget_ms", "predicted_ms", "measured_ms", "measured_median_ms", "measured",
            "table", "table_mode", "recalibration")  # fmt: skip
    summary: dict[str, Any] = {
        "env_id": cfg.env,
        "arch": arch,
        "score": score.to_dict() if score else None,
        "latency": {k: latency.get(k) for k in keep}
        | ({"budget_teacher_ms": cfg.budget_teacher_ms} if cfg.budget_teacher_ms else {}),
        "mflops": mflops,
        "params": sum(p.numel() for p in agent.parameters()),
        "teacher": cfg.teacher,
        "steps": steps,
    }
    save_agent(
        agent_path,
        cfg,
        arch,
        agent,
        int(agent.actor.out_features),
        sum(steps.values()),
        {
            "elapsed": sum(read_json(run_dir / "walls.json", "wall times").values()),
            "eval": summary["score"],
            "search": summary["latency"],
        },
    )
    add_wall(run_dir, "eval", time.perf_counter() - t)
    summary["wall_seconds"] = read_json(run_dir / "walls.json", "wall times")
    write_json(result_path, summary)
    return DistillResult(run_dir, arch, agent_path, score, summary)


def distill_arch(cfg: SearchConfig, arch: dict[str, Any], run_dir: str | Path) -> DistillResult:
    """`a2d distill`: a given arch (a hand-made baseline) trained by the finish's recipe from
    scratch for --finish-steps, then evaluated; timed here with the --lut table's backend when
    it is this host's."""
    from a2d_edge.envs.atari import action_meanings
    from a2d_edge.hw.flops import fvcore_flops

    run_dir = Path(run_dir)
    n_actions = len(action_meanings(cfg.env))
    teacher = Teacher.load(cfg.teacher, cfg.env, n_actions)
    torch.set_num_threads(cfg.threads)
    agent = build_agent(arch, n_actions)
    empty = Frames(
        torch.zeros(0, 4, 84, 84, dtype=torch.uint8), torch.zeros(0, n_actions), torch.zeros(0)
    )
    agent = finish_phase(cfg, run_dir, agent, empty, teacher)
    latency: dict[str, Any] = {}
    if cfg.lut:  # the target's prediction (any host's table); `final` times it where it is ours
        table = resolve_lut(cfg, say=False)
        latency = {"predicted_ms": predicted_or_none(table, arch), "table": table.path}
        latency["table_mode"] = table.mode
        if "recalibration" in table.meta:
            latency["recalibration"] = table.meta["recalibration"]
    if cfg.latency_budget_ms > 0:  # an arch drawn to fit a budget (a sweep's random_archs)
        latency["budget_ms"] = cfg.latency_budget_ms
    mflops = fvcore_flops(agent, batchnorm=False) / 1e6
    return final(cfg, run_dir, arch, agent, latency, mflops, {"finish": cfg.finish_steps})
