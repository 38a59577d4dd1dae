"""The A2C training loop: collect, update, log, evaluate, checkpoint, resume."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from a2d_edge.config import build_config, to_dict
from a2d_edge.envs import action_meanings, resolve_game
from a2d_edge.errors import A2DError
from a2d_edge.nets import build_agent, load_arch
from a2d_edge.rl.config import TrainConfig
from a2d_edge.rl.evaluate import evaluate_agent
from a2d_edge.rl.loop import Hook, Loop, LoopState, default_hooks, run_loop
from a2d_edge.rl.rollout import Rollout, RolloutCollector
from a2d_edge.rl.schedule import lr_at
from a2d_edge.rl.setup import check_distill, make_collector, setup_run
from a2d_edge.rl.teacher import Teacher
from a2d_edge.rl.update import a2d_update
from a2d_edge.sources.checkpoint import agent_from_checkpoint, load_checkpoint, save_checkpoint
from a2d_edge.utils.accel import module_device, resolve_device, rng_state
from a2d_edge.utils.args import check_out_dir
from a2d_edge.utils.dist import DistInfo
from a2d_edge.utils.io import read_json, write_json
from a2d_edge.utils.logging import RunLogger
from a2d_edge.utils.threads import learner_threads

__all__ = ["TrainLoop", "check_distill", "make_collector", "run_loop", "start_run", "train"]


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    final_eval: float | None
    steps_per_second: float


def start_run(cfg: TrainConfig, out: str | Path, kind: str = "train") -> Path:
    """Create the run folder for a new run; refuses to touch a folder that holds a run."""
    run_dir = check_out_dir(out)
    if (run_dir / "config.json").exists() or (run_dir / "agent.pt").exists():
        raise A2DError(
            f"{run_dir} already holds a run; continue it with `a2d {kind} --resume {run_dir}` "
            "or choose another --out"
        )
    if kind == "train":
        check_update(cfg)
        load_arch(cfg.arch)  # fail before creating anything
        if cfg.init:
            load_init(cfg, len(action_meanings(cfg.env)))
    check_distill(cfg, len(action_meanings(cfg.env)))
    resolve_device(cfg.device)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", {"kind": kind, "config": to_dict(cfg)})
    return run_dir


def check_update(cfg: TrainConfig) -> None:
    """The pipelined update runs its learner beside the collection with --threads threads each;
    a separate --learner-threads count has no place there."""
    if cfg.update == "pipelined" and cfg.learner_threads not in (0, cfg.threads):
        raise A2DError(
            "--update pipelined learns on its own thread with --threads intra-op threads; "
            "drop --learner-threads"
        )


def load_init(cfg: TrainConfig, n_actions: int) -> dict[str, Any]:
    """The `--init` checkpoint, refused unless it plays the same game with the same arch."""
    ckpt = load_checkpoint(cfg.init)
    if resolve_game(ckpt["env_id"]) != resolve_game(cfg.env):
        raise A2DError(f"--init {cfg.init} plays {ckpt['env_id']}, not {cfg.env}")
    if int(ckpt["n_actions"]) != n_actions:
        raise A2DError(
            f"--init {cfg.init} has {ckpt['n_actions']} actions but {cfg.env} has {n_actions}"
        )
    if ckpt["arch"] != load_arch(cfg.arch):
        family = ckpt["arch"].get("family", "?")
        raise A2DError(
            f"--init {cfg.init} is a {family} agent but --arch {cfg.arch} differs: pass the "
            "checkpoint's arch (a preset name or its arch.json)"
        )
    return ckpt


def agent_steps(ckpt: dict[str, Any]) -> int:
    """All agent steps behind a checkpoint's weights: its run's, plus those of the weights the
    run started from (`--init`, chained)."""
    return int(ckpt["step"]) + int(ckpt.get("init_steps", 0))


def load_run_config(
    run_dir: str | Path, cls: type[TrainConfig] = TrainConfig, kind: str = "train"
) -> TrainConfig:
    run_dir = Path(run_dir)
    data = read_json(run_dir / "config.json", "run config")
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise A2DError(f"{run_dir}/config.json is not an a2d run config")
    if data.get("kind", "train") != kind:
        raise A2DError(f"{run_dir} is an `a2d {data.get('kind')}` run, not an `a2d {kind}` run")
    saved = dict(data["config"])
    saved.setdefault("optimizer", "rmsprop")  # runs from before the field trained with torch's
    return build_config(cls, saved)


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    resume: bool = False,
    dist: DistInfo | None = None,
) -> TrainResult:
    """Train (or continue) the run in `run_dir` until `cfg.steps` agent steps (over all ranks
    when launched by torchrun)."""
    dist = dist or DistInfo()
    run_dir = Path(run_dir)
    check_update(cfg)
    resume_from = run_dir / "agent.pt"
    init = load_init(cfg, len(action_meanings(cfg.env))) if cfg.init and not resume else None

    def build(ckpt: dict[str, Any] | None, collector: RolloutCollector) -> torch.nn.Module:
        weights = ckpt or init
        model = (agent_from_checkpoint(weights) if weights
                 else build_agent(load_arch(cfg.arch), collector.n_actions))  # fmt: skip
        if model.n_actions != collector.n_actions:
            raise A2DError(
                f"checkpoint has {model.n_actions} actions but {cfg.env} has {collector.n_actions}"
            )
        return model

    run = setup_run(cfg, run_dir, dist=dist, build=build, params=lambda m: m.parameters(),
                    load=(lambda: load_checkpoint(resume_from)) if resume else None)  # fmt: skip
    ckpt = run.ckpt
    if ckpt is None and init and init.get("config", {}).get("optimizer") == cfg.optimizer:
        run.optimizer.load_state_dict(init["optimizer"])  # keep its RMSProp statistics
    loop = TrainLoop(
        cfg=run.cfg, run_dir=run_dir, model=run.model, optimizer=run.optimizer,
        collector=run.collector, logger=run.logger, state=run.state, teacher=run.teacher,
        dist=dist, arch=ckpt["arch"] if ckpt else load_arch(cfg.arch),
        init_steps=int(ckpt.get("init_steps", 0)) if ckpt else agent_steps(init) if init else 0,
        hooks=default_hooks(run.cfg, run.state, dist),
    )  # fmt: skip
    run_loop(loop, "train")
    return TrainResult(run_dir, run.state.step, run.state.last_eval, loop.sps)


@torch.no_grad()
def copy_weights(dst: torch.nn.Module, src: torch.nn.Module) -> None:
    """dst's parameters and buffers := src's (same architecture), in place."""
    for a, b in zip(dst.parameters(), src.parameters(), strict=True):
        a.copy_(b)
    for x, y in zip(dst.buffers(), src.buffers(), strict=True):
        x.copy_(y)


class TrainLoop(Loop):
    """A2C (+ distillation): the update of `--update batched|keep-graph|pipelined`, the
    agent's checkpoint and its evaluation; `Loop.run` and the hooks do the rest."""

    def __init__(
        self,
        *,
        cfg: TrainConfig,
        run_dir: Path,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        collector: RolloutCollector,
        logger: RunLogger,
        state: LoopState,
        teacher: Teacher | None,
        dist: DistInfo,
        hooks: Sequence[Hook],
        arch: dict[str, Any] | None = None,
        init_steps: int = 0,
    ) -> None:
        super().__init__(hooks=hooks)
        self.cfg, self.run_dir, self.model, self.optimizer = cfg, run_dir, model, optimizer
        self.collector, self.logger, self.state = collector, logger, state
        self.teacher, self.dist = teacher, dist
        self.arch = arch or {}
        self.init_steps = init_steps  # agent steps behind the --init weights
        self.actor: torch.nn.Module | None = None  # --update pipelined: the collecting copy
        self.pending: Rollout | None = None  # --update pipelined: collected, not yet learned

    def steps_per_update(self) -> int:
        return self.cfg.rollout * self.collector.num_envs * self.dist.world

    def update(self) -> dict[str, float]:
        cfg = self.cfg
        lr = lr_at(self.state.step, cfg.steps, cfg.lr, cfg.lr_final, cfg.lr_constant_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        bf16 = cfg.precision == "bf16"
        if cfg.update == "pipelined":
            return dict(self._update_pipelined(bf16), lr=lr)
        keep_graph = cfg.update == "keep-graph"
        ro = self.collector.collect(
            self.model,
            cfg.rollout,
            keep_obs=self.teacher is not None,
            autocast=bf16,
            keep_graph=keep_graph,
        )
        with learner_threads(cfg):
            scalars = self._learn(ro, bf16, keep_graph)
        scalars["lr"] = lr
        return scalars

    def _update_pipelined(self, bf16: bool) -> dict[str, float]:
        """Learn rollout k on a second thread while rollout k+1 is collected.

        The actor is a copy of the model that changes only between updates: rollout k+1 is
        collected with the weights from before update k, which is the pipeline's policy lag of
        one update (the update's own forward recomputes the logits with the current weights, as
        the batched update does). torch ops and the envs' C++ stepping release the GIL, so the
        two threads use both cores; each runs torch with --threads intra-op threads."""
        if self.actor is None:  # under bf16 it holds bf16 weights: no casts on every forward
            self.actor = copy.deepcopy(self.model).requires_grad_(False)
            if bf16:
                self.actor.to(torch.bfloat16)
        if self.pending is None:  # the first rollout (or the first after a resume)
            self.pending = self._collect(self.actor, bf16)
        ro = self.pending
        scalars: list[dict[str, float]] = []
        errors: list[BaseException] = []

        def learn() -> None:
            try:
                scalars.append(self._learn(ro, bf16, keep_graph=False))
            except BaseException as e:  # re-raised in the calling thread
                errors.append(e)

        learner = threading.Thread(target=learn, name="a2d-learner", daemon=True)
        learner.start()
        try:
            self.pending = self._collect(self.actor, bf16)
        finally:
            learner.join()
        if errors:
            raise errors[0]
        copy_weights(self.actor, self.model)
        return scalars[0]

    def _collect(self, model: torch.nn.Module, bf16: bool) -> Rollout:
        return self.collector.collect(
            model, self.cfg.rollout, keep_obs=True, autocast=bf16, keep_graph=False
        )

    def _learn(self, ro: Rollout, bf16: bool, keep_graph: bool) -> dict[str, float]:
        stats = a2d_update(
            forward=self.model,
            ro=ro,
            cfg=self.cfg,
            teacher=self.teacher,
            zero=[self.optimizer],
            step=[self.optimizer],
            average=self.model.parameters(),
            clip=self.model.parameters(),
            dist=self.dist,
            bf16=bf16,
            keep_graph=keep_graph,
        )
        return stats.scalars()

    def evaluate(self) -> None:
        cfg, st = self.cfg, self.state
        t = time.perf_counter()
        result = evaluate_agent(
            self.model, cfg.env, cfg.eval_episodes, seed=10_000_019 + st.step, settings=cfg.atari()
        )
        st.last_eval = result.mean
        self.logger.log(
            st.step,
            "eval",
            {
                "score_mean": result.mean,
                "score_std": result.std,
                "wall_time": st.elapsed,
                "eval_seconds": time.perf_counter() - t,
            },
        )
        if result.mean > st.best_eval:
            st.best_eval = result.mean
            self.checkpoint("best.pt")

    def checkpoint(self, name: str = "agent.pt") -> None:
        """The agent's checkpoint (`agent.pt`, the latest; `best.pt`, the best evaluation),
        written by the main rank."""
        if not self.dist.main:
            return
        cfg = self.cfg
        save_checkpoint(
            self.run_dir / name,
            {
                **self.loop_checkpoint(),
                "arch": self.arch,
                "obs_shape": list(self.collector.obs_shape),
                "atari": cfg.atari().to_dict(),
                "teacher": self.teacher.source if self.teacher else "",
                "distill": cfg.distill_mode(),
                "init_steps": self.init_steps,
            },
        )

    def loop_checkpoint(self) -> dict[str, Any]:
        """What every loop's checkpoint holds: progress, weights (CPU), optimizer, RNG, config."""
        st = self.state
        return {
            "env_id": self.cfg.env,
            "n_actions": self.collector.n_actions,
            "step": st.step,
            "updates": st.updates,
            "elapsed": st.elapsed,
            "best_eval": st.best_eval,
            "last_eval": st.last_eval,
            "model": {k: v.cpu().contiguous() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "rng": rng_state(module_device(self.model)),
            "config": to_dict(self.cfg),
            "world_size": self.dist.world,
        }

    def postfix(self) -> str:
        parts = [f"{self.sps:,.0f} steps/s"]
        if self.scores:
            parts.append(f"score {sum(self.scores) / len(self.scores):.1f}")
        if self.state.last_eval is not None:
            parts.append(f"eval {self.state.last_eval:.1f}")
        return " | ".join(parts)
