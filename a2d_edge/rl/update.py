"""One A2C (+ distillation) update, the step every loop takes: `a2d train` (batched, keep-graph
and pipelined), `a2d search` (weights, architecture logits, or both) and the distributed
equivalence test.

Forward over the rollout's frames (unless the rollout kept its graph), the bootstrap value of
the last frames without a graph under the same autocast, Eq. 8 plus the caller's extra terms
(the search's cost), backward, the gradients averaged over ranks, the chosen parameters
clipped, the chosen optimizers stepped. Returns a typed `UpdateStats` that the caller logs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch

from a2d_edge.rl.config import TrainConfig
from a2d_edge.rl.objective import a2d_loss, batched_forward
from a2d_edge.rl.rollout import Forward, Rollout
from a2d_edge.rl.teacher import Teacher
from a2d_edge.utils.accel import autocast
from a2d_edge.utils.dist import DistInfo, average_gradients

ExtraTerms = Callable[[], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class UpdateStats:
    """What one update measured. `scalars()` is what the loggers write (metrics.jsonl keys)."""

    loss: float  # Eq. 8's total (the extra terms not included)
    policy_loss: float
    value_loss: float
    policy_entropy: float
    value_mean: float
    distill: dict[str, float] = field(default_factory=dict)  # distill/kl, distill/critic_mse
    grad_norm: float | None = None  # of the clipped parameters; None: nothing was clipped
    extra: dict[str, float] = field(default_factory=dict)  # the caller's terms, by name

    def scalars(self) -> dict[str, float]:
        out = {
            "loss/total": self.loss,
            "loss/policy": self.policy_loss,
            "loss/value": self.value_loss,
            "policy_entropy": self.policy_entropy,
            **self.distill,
            "value_mean": self.value_mean,
            **self.extra,
        }
        if self.grad_norm is not None:
            out["grad_norm"] = self.grad_norm
        return out


def a2d_update(
    *,
    forward: Forward,
    ro: Rollout,
    cfg: TrainConfig,
    teacher: Teacher | None,
    zero: Sequence[torch.optim.Optimizer],
    step: Sequence[torch.optim.Optimizer],
    average: Iterable[torch.nn.Parameter],
    clip: Iterable[torch.nn.Parameter] | None,
    dist: DistInfo,
    bf16: bool = False,
    bootstrap: Forward | None = None,
    keep_graph: bool = False,
    extra: ExtraTerms | None = None,
) -> UpdateStats:
    """One update on `ro` (see the module docstring).

    `forward` computes logits and values with autograd (a model, or a supernet under sampled
    weights); `bootstrap` (default `forward`) the value of the last frames; `zero` are the
    optimizers whose gradients are cleared before the backward, `step` those stepped after it;
    `average` the parameters whose gradients are averaged over ranks; `clip` those clipped to
    `cfg.max_grad_norm` (None: no clipping); `extra` returns named loss terms added to the
    objective (evaluated after the forward, so they may read the same sampled weights)."""
    if not keep_graph:
        batched_forward(forward, ro, bf16)
    with torch.no_grad(), autocast(ro.last_obs.device, bf16):
        _, last_value = (bootstrap or forward)(ro.last_obs)
    total, scalars = a2d_loss(cfg, ro, last_value.float(), teacher)
    terms = extra() if extra is not None else {}
    objective = total
    for term in terms.values():
        objective = objective + term
    for opt in zero:
        opt.zero_grad(set_to_none=True)
    objective.backward()
    average_gradients(average, dist)
    norm = None
    if clip is not None:
        norm = float(torch.nn.utils.clip_grad_norm_(list(clip), cfg.max_grad_norm))
    for opt in step:
        opt.step()
    return UpdateStats(
        loss=scalars["loss/total"],
        policy_loss=scalars["loss/policy"],
        value_loss=scalars["loss/value"],
        policy_entropy=scalars["policy_entropy"],
        value_mean=scalars["value_mean"],
        distill={k: v for k, v in scalars.items() if k.startswith("distill/")},
        grad_norm=norm,
        extra={k: float(v.detach()) for k, v in terms.items()},
    )


__all__ = ["UpdateStats", "a2d_update"]
