"""Student-driven distillation on teacher-labelled frames: one loop for the supernet and for a
plain net (the finish).

Each update collects `frames_per_update` new frames with the training envs (the student acts,
or the teacher for a share of the steps that falls to 0: DAgger), labels them with the frozen
teacher (logits and value) into the replay, then takes one Adam step on a replayed batch:
KL(pi_T || pi_S) at temperature T plus value_weight * 1/2 (V_S - V_T)^2. A supernet trains
the paths of `paths.sample_paths` on the same batch (their mean loss), and in `--select
gradient` its alpha takes a step on a held-out batch: the same loss through a straight-through
Gumbel sample plus latency_weight * |E[lat]/B - 1|.

Checkpoints hold the weights, both optimizers, the RNG streams and the progress; the replay
is not saved (tens of MB to GB): a resumed phase refills it from its envs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import torch
from torch import nn

from a2d_edge.hw.table import Table
from a2d_edge.nets.supernet import Supernet, gumbel_weights, sample_gumbel
from a2d_edge.nets.widths import ElasticNature
from a2d_edge.rl.loop import Loop, LoopState
from a2d_edge.rl.rollout import RolloutCollector
from a2d_edge.rl.schedule import annealed_lr
from a2d_edge.rl.teacher import Teacher
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.losses import agreement, distill_loss, two_sided_latency
from a2d_edge.search.paths import one_hot, random_path, sample_paths
from a2d_edge.search.replay import LabelledReplay
from a2d_edge.search.supernet_file import PHASE_FORMAT, write_supernet
from a2d_edge.utils.accel import autocast, rng_state
from a2d_edge.utils.dist import DistInfo
from a2d_edge.utils.io import atomic_write
from a2d_edge.utils.logging import RunLogger
from a2d_edge.utils.threads import learner_threads

FORMAT = PHASE_FORMAT  # a plain net's phase (finish.pt); a supernet's is `supernet_file`'s v2


@dataclass(frozen=True)
class PhaseSettings:
    """What `Loop.run` and its hooks read of a phase: its length and periodic work."""

    env: str
    steps: int
    log_every: int
    eval_every: int
    eval_episodes: int
    checkpoint_every: int
    progress: bool


def teacher_share_at(step: int, start: float, steps: int) -> float:
    """DAgger's beta: `start` at step 0, falling linearly to 0 at `steps` (0: never acts)."""
    if steps <= 0:
        return 0.0
    return max(0.0, start * (1.0 - step / steps))


def is_supernet(model: nn.Module) -> TypeGuard[Supernet | ElasticNature]:
    """A net of many paths: forward(obs, one-hot path weights), `path_costs()` and
    `weight_parameters()`; else a plain net."""
    return isinstance(model, Supernet | ElasticNature)


class DistillLoop(Loop):
    """Distil the teacher into `model` (a supernet, `is_supernet`, or a plain `ActorCritic`)."""

    def __init__(
        self,
        *,
        cfg: SearchConfig,
        phase: PhaseSettings,
        run_dir: Path,
        checkpoint_path: Path,
        model: nn.Module,
        teacher: Teacher,
        collector: RolloutCollector,
        logger: RunLogger,
        state: LoopState,
        replay: LabelledReplay,
        holdout: LabelledReplay,
        table: Table | None = None,
        hooks: list[Any],
        evaluate: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(hooks=hooks)
        self.search_cfg = cfg
        self.cfg = phase
        self.run_dir = run_dir
        self.checkpoint_path = checkpoint_path
        self.model = model
        self.teacher = teacher
        self.collector = collector
        self.logger = logger
        self.state = state
        self.dist = DistInfo()
        self.replay = replay
        self.holdout = holdout
        self.table = table
        self.rng = np.random.default_rng(cfg.seed * 7_919 + 17)
        # the weight steps' forwards under bf16 autocast (`cfg.precision` resolved by the
        # phase); the teacher's labels, the acting forwards and alpha's steps stay in fp32
        self.bf16 = cfg.precision == "bf16"
        weights = model.weight_parameters() if is_supernet(model) else model.parameters()
        self.optimizer = torch.optim.Adam(weights, lr=cfg.distill_lr)
        self.a_opt: torch.optim.Optimizer | None = None
        # the architecture logits alpha learn (--select gradient) where the supernet has them
        arch_params = model.arch_parameters() if is_supernet(model) else []
        self.alpha: nn.Parameter | None = arch_params[0] if arch_params else None
        if self.alpha is not None and cfg.select == "gradient":
            self.a_opt = torch.optim.Adam(
                arch_params, lr=cfg.alpha_lr, betas=(cfg.alpha_beta1, 0.999)
            )
        # [blocks or dimensions, choices]: what orders a supernet's choices (FLOPs of a
        # Supernet's ops, an ElasticNature's widths); None for a plain net
        self.cost = np.asarray(model.path_costs(), dtype=np.float64) if is_supernet(model) else None
        self._evaluate = evaluate
        self._collects = 0
        self.meta = meta or {}

    # ----- collection -----
    def steps_per_update(self) -> int:
        return self.collector.num_envs * self._env_steps()

    def _env_steps(self) -> int:
        cfg = self.search_cfg
        frames = cfg.frames_per_update if self.cost is None else cfg.supernet_frames_per_update
        return max(1, frames // self.collector.num_envs)

    def _acting(self) -> Any:
        """The forward that acts this update: the teacher for its share, else the student (a
        supernet on one uniformly drawn path)."""
        cfg = self.search_cfg
        share = teacher_share_at(self.state.step, cfg.teacher_share, cfg.teacher_share_steps)
        if self.rng.random() < share:
            return self.teacher.model
        if self.cost is not None:
            n_blocks, n_ops = self.cost.shape
            w = one_hot(random_path(n_blocks, n_ops, self.rng), n_ops)
            return lambda x: self.model(x, w)
        return self.model

    def collect(self) -> int:
        """New frames, labelled by the teacher, into the replay (every 8th collection into the
        held-out ring instead, so that it follows the student's recent play). Returns the frames
        added."""
        self.model.eval()
        acting = self._acting()
        ro = self.collector.collect(acting, self._env_steps(), keep_graph=False)
        assert ro.obs is not None
        if acting is self.teacher.model:  # its acting forwards already labelled these frames
            logits, values = ro.logits, ro.values
        else:
            with torch.no_grad():
                logits, values = self.teacher.model(ro.obs)
        obs = ro.obs.cpu().numpy()
        target = self.holdout if self._to_holdout() else self.replay
        target.add(obs, logits.float().cpu().numpy(), values.float().cpu().numpy())
        self._collects += 1
        return len(obs)

    def _to_holdout(self) -> bool:
        return self._collects % 8 == 7

    def fill(self, frames: int) -> None:
        """Collect (without training) until the replay holds `frames` (after a start or a
        resume: the replay is not checkpointed); these steps are not counted."""
        while len(self.replay) < min(frames, self.replay.capacity):
            self.collect()
        self.skip_clock()

    # ----- learning -----
    def update(self) -> dict[str, float]:
        self.collect()
        stats = self.weight_step()
        if self.a_opt is not None and self.alpha_active() and len(self.holdout) >= 64:
            stats.update(self.alpha_step())
        share = self.search_cfg.teacher_share
        stats["teacher_share"] = teacher_share_at(
            self.state.step, share, self.search_cfg.teacher_share_steps
        )
        return stats

    def alpha_active(self) -> bool:
        return self.state.step >= self.search_cfg.select_warmup * self.cfg.steps

    def _forward(self, obs: torch.Tensor, path: list[int] | None) -> tuple[torch.Tensor, ...]:
        if self.cost is None or path is None:
            return self.model(obs)  # type: ignore[no-any-return]
        return self.model(obs, one_hot(path, self.cost.shape[1]))  # type: ignore[no-any-return]

    def weight_step(self) -> dict[str, float]:
        cfg = self.search_cfg
        with learner_threads(cfg):
            return self._weight_step()

    def _weight_step(self) -> dict[str, float]:
        cfg = self.search_cfg
        obs, t_logits, t_values = self.replay.sample(cfg.batch_size, self.rng)
        if cfg.channels_last:
            obs = obs.contiguous(memory_format=torch.channels_last)
        paths: list[list[int] | None] = [None]
        if self.cost is not None:
            paths = list(sample_paths(cfg.paths, self.cost, cfg.random_paths, self.rng))
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        kls, mses, agree = [], [], []
        for path in paths:
            with autocast(torch.device("cpu"), self.bf16):
                logits, values = self._forward(obs, path)
            logits, values = logits.float(), values.float()  # the loss in fp32 either way
            loss, kl, mse = distill_loss(
                logits, values, t_logits, t_values, cfg.temperature, cfg.value_weight
            )
            (loss / len(paths)).backward()
            kls.append(float(kl.detach()))
            mses.append(float(mse.detach()))
            agree.append(agreement(logits.detach(), t_logits))
        torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], 10.0)
        lr = self.step_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        stats = {
            "distill/kl": float(np.mean(kls)),
            "distill/critic_mse": float(np.mean(mses)),
            "distill/agreement": float(np.mean(agree)),
            "distill/lr": lr,
        }
        if self.cost is not None and cfg.paths == "sandwich":
            stats.update({"distill/kl_largest": kls[0], "distill/kl_smallest": kls[1]})
        return stats

    def step_lr(self) -> float:
        """This step's lr of the weights: the finish's schedule for a plain net, constant for a
        supernet (its selection reads weights trained at one lr)."""
        cfg = self.search_cfg
        schedule = "constant" if self.cost is not None else cfg.finish_lr_schedule
        return annealed_lr(self.state.step, self.cfg.steps, cfg.distill_lr, schedule)

    def alpha_step(self) -> dict[str, float]:
        """alpha on a held-out batch: distillation loss of a straight-through Gumbel sample plus
        latency_weight * |E[lat]/B - 1| (E under softmax(alpha), by the table)."""
        alpha = self.alpha
        assert alpha is not None and self.a_opt is not None  # set up for --select gradient
        cfg = self.search_cfg
        obs, t_logits, t_values = self.holdout.sample(cfg.batch_size, self.rng)
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.state.updates)
        noise = sample_gumbel(tuple(alpha.shape), generator=gen)
        weights = gumbel_weights(alpha, noise, cfg.select_tau, hard=True)
        self.model.eval()  # BN in eval: alpha is judged, the statistics are not updated
        self.a_opt.zero_grad(set_to_none=True)
        logits, values = self.model(obs, weights)
        loss, kl, _ = distill_loss(
            logits, values, t_logits, t_values, cfg.temperature, cfg.value_weight
        )
        stats = {"alpha/kl": float(kl.detach())}
        if self.table is not None and cfg.latency_budget_ms > 0:
            expected = self.table.expected(torch.softmax(alpha, -1)).float()
            lat = two_sided_latency(expected, cfg.latency_budget_ms)
            loss = loss + cfg.latency_weight * lat
            stats.update(
                {
                    "alpha/expected_ms": float(expected.detach()),
                    "alpha/latency_term": float(lat.detach()),
                }
            )
        loss.backward()
        self.a_opt.step()
        self.optimizer.zero_grad(set_to_none=True)  # the weights learn from the train batch only
        return stats

    # ----- periodic work -----
    def evaluate(self) -> None:
        if self._evaluate is not None:
            self._evaluate(self)
            self.skip_clock()

    def checkpoint(self) -> None:
        st = self.state
        ckpt = {
            **self.meta,
            "step": st.step,
            "updates": st.updates,
            "elapsed": st.elapsed,
            "best_eval": st.best_eval,
            "last_eval": st.last_eval,
            "model": {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "alpha_optimizer": self.a_opt.state_dict() if self.a_opt else None,
            "rng": rng_state(torch.device("cpu")),
            "numpy_rng": self.rng.bit_generator.state,
            "collects": self._collects,
        }
        if self.meta.get("kind") == "supernet":  # RUN/supernet.pt: a2d.supernet/2
            write_supernet(self.checkpoint_path, "distill", ckpt)
            return
        buf = io.BytesIO()
        torch.save({"format": FORMAT, **ckpt}, buf)
        atomic_write(self.checkpoint_path, lambda f: f.write(buf.getbuffer()))

    def restore(self, ckpt: dict[str, Any]) -> None:
        """Weights, optimizers and RNG streams of `checkpoint()` (progress: `LoopState`)."""
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.a_opt is not None and ckpt.get("alpha_optimizer"):
            self.a_opt.load_state_dict(ckpt["alpha_optimizer"])
        self.rng.bit_generator.state = ckpt["numpy_rng"]
        self._collects = int(ckpt["collects"])

    def postfix(self) -> str:
        parts = [f"{self.sps:,.0f} steps/s", f"replay {len(self.replay):,}"]
        if self.scores:
            parts.append(f"score {sum(self.scores) / len(self.scores):.1f}")
        if self.state.last_eval is not None:
            parts.append(f"eval {self.state.last_eval:.1f}")
        return " | ".join(parts)
