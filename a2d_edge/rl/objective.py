"""Eq. 8 on a rollout: A2C terms plus the distillation terms of the chosen mode.

Shared by the trainer and the architecture search, so both optimise the same objective.
"""

from __future__ import annotations

import torch

from a2d_edge.rl.config import TrainConfig
from a2d_edge.rl.losses import a2c_loss
from a2d_edge.rl.returns import nstep_returns, td0_targets
from a2d_edge.rl.rollout import Forward, Rollout
from a2d_edge.rl.teacher import Teacher, distill_losses
from a2d_edge.utils.accel import autocast


def batched_forward(forward: Forward, ro: Rollout, bf16: bool) -> None:
    """One forward with autograd over the rollout's stored frames (fills logits and values)."""
    assert ro.obs is not None, "batched update needs the rollout's frames"
    with autocast(ro.obs.device, bf16):
        ro.logits, values = forward(ro.obs)
    ro.values = values.float()


def a2d_loss(
    cfg: TrainConfig,
    ro: Rollout,
    last_value: torch.Tensor,
    teacher: Teacher | None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """L_policy + value_coef L_value + a1 L_entropy (+ a2 KL + a3 MSE with a teacher)."""
    mode = cfg.distill_mode()
    t_out = None
    if teacher is not None:
        assert ro.obs is not None
        t_out = teacher.outputs(ro.obs, ro.last_obs)
    # The critic that bootstraps and baselines: the student's, or the teacher's when reused.
    critic, critic_last = ro.values.detach(), last_value.float()
    value_coef = cfg.value_coef
    if mode == "actor-reuse-critic" and t_out is not None:
        critic, critic_last, value_coef = t_out.values, t_out.last_values, 0.0
    if cfg.advantage == "nstep":
        targets = nstep_returns(ro.rewards, ro.dones, critic_last, cfg.gamma)
    else:
        targets = td0_targets(
            ro.rewards, ro.dones, critic.view(cfg.rollout, -1), critic_last, cfg.gamma
        )
    loss = a2c_loss(
        ro.logits, ro.values, ro.actions, targets.flatten(), cfg.ent_coef, value_coef, critic
    )
    total, scalars = loss.total, loss.scalars()
    if t_out is not None:
        terms = distill_losses(
            mode,
            ro.logits,
            ro.values,
            t_out.logits,
            t_out.values,
            cfg.distill_actor_weight,
            cfg.distill_critic_weight,
        )
        total = total + terms.total
        scalars.update(terms.scalars())
    scalars["value_mean"] = float(ro.values.detach().mean())
    return total, scalars
