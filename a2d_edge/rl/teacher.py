"""Actor-critic distillation (A2D Eq. 6-8), pure losses plus the frozen teacher.

    L_total = L_policy + L_value + a1 L_entropy + a2 KL(pi_T || pi_S) + a3 1/2 (V_S - V_T)^2

KL direction as in Eq. 6: sum_a pi_T(a|s) [log pi_T(a|s) - log pi_S(a|s)] (the teacher's
distribution weights the log-ratio). Both distillation terms are means over the T*N samples of
the batch, like every A2C term. Modes (Table 2):

- ``none``: plain A2C.
- ``actor``: policy distillation only (a3 = 0), as in Rusu et al.
- ``actor-reuse-critic``: actor distillation, and the student uses the teacher's value as its
  critic (baseline and bootstrap); the student's own critic is not trained.
- ``actor-critic``: actor KL and critic MSE, the proposed method (default with a teacher).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from a2d_edge.envs import resolve_game
from a2d_edge.errors import A2DError
from a2d_edge.nets import ActorCritic
from a2d_edge.sources.checkpoint import load_agent

MODES = ("none", "actor", "actor-reuse-critic", "actor-critic")


def actor_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """mean over the batch of KL(pi_teacher || pi_student) (Eq. 6)."""
    log_s = F.log_softmax(student_logits.float(), dim=-1)
    log_t = F.log_softmax(teacher_logits.float(), dim=-1)
    return (log_t.exp() * (log_t - log_s)).sum(-1).mean()


def critic_mse(student_values: torch.Tensor, teacher_values: torch.Tensor) -> torch.Tensor:
    """mean over the batch of 1/2 (V_student - V_teacher)^2 (Eq. 7)."""
    return 0.5 * (student_values.float() - teacher_values.float()).pow(2).mean()


@dataclass(frozen=True)
class DistillTerms:
    total: torch.Tensor
    kl: torch.Tensor
    mse: torch.Tensor

    def scalars(self) -> dict[str, float]:
        return {
            "distill/kl": float(self.kl.detach()),
            "distill/critic_mse": float(self.mse.detach()),
        }


def distill_losses(
    mode: str,
    student_logits: torch.Tensor,
    student_values: torch.Tensor,
    teacher_logits: torch.Tensor,
    teacher_values: torch.Tensor,
    actor_weight: float = 1e-1,
    critic_weight: float = 1e-3,
) -> DistillTerms:
    """The a2 and a3 terms of Eq. 8 for `mode` (a3 only in `actor-critic`)."""
    if mode not in MODES:
        raise A2DError(f"unknown distillation mode {mode!r}; choose one of {', '.join(MODES)}")
    kl = actor_kl(student_logits, teacher_logits)
    mse = critic_mse(student_values, teacher_values)
    zero = kl.new_zeros(())
    total = zero
    if mode != "none":
        total = total + actor_weight * kl
    if mode == "actor-critic":
        total = total + critic_weight * mse
    return DistillTerms(total, kl, mse)


@dataclass(frozen=True)
class TeacherOutputs:
    logits: torch.Tensor  # [T*N, A]
    values: torch.Tensor  # [T*N]
    last_values: torch.Tensor  # [N]


class Teacher:
    """A frozen agent in eval mode, evaluated without autograd on the student's batch."""

    def __init__(self, model: ActorCritic, env_id: str, source: str) -> None:
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.env_id = env_id
        self.source = source

    @classmethod
    def load(cls, spec: str | Path, env_id: str, n_actions: int) -> Teacher:
        model, ckpt = load_agent(spec)
        game, teacher_game = resolve_game(env_id), resolve_game(ckpt["env_id"])
        if game != teacher_game:
            actions = int(ckpt["n_actions"])
            other = f" ({actions} actions, not {n_actions})" if actions != n_actions else ""
            raise A2DError(
                f"teacher {spec} was trained on {ckpt['env_id']}, not on {env_id}{other}: "
                "a teacher must play the student's game"
            )
        if int(ckpt["n_actions"]) != n_actions:
            raise A2DError(
                f"teacher {spec} has {ckpt['n_actions']} actions but {env_id} has {n_actions}"
            )
        return cls(model, ckpt["env_id"], str(spec))

    def to(self, device: torch.device) -> Teacher:
        self.model = self.model.to(device)
        return self

    @torch.no_grad()
    def outputs(self, obs: torch.Tensor, last_obs: torch.Tensor) -> TeacherOutputs:
        logits, values = self.model(torch.cat([obs, last_obs]))
        n = obs.shape[0]
        return TeacherOutputs(logits[:n].float(), values[:n].float(), values[n:].float())
