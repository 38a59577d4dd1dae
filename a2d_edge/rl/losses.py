"""The A2C objective of Eq. 2-5 (policy gradient, critic regression, entropy), pure.

All terms are means over the batch of T*N samples:
    L_policy  = -mean(A_t * log pi(a_t|s_t))           (A_t detached)
    L_value   = mean(0.5 * (target_t - V(s_t))^2)       (target detached)
    L_entropy = mean(sum_a pi(a|s_t) log pi(a|s_t))      (negative entropy: minimising it explores)
    L = L_policy + value_coef * L_value + ent_coef * L_entropy
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class A2CLoss:
    total: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor
    entropy: torch.Tensor  # L_entropy = -H (mean), as weighted in the total

    def scalars(self) -> dict[str, float]:
        return {
            "loss/total": float(self.total.detach()),
            "loss/policy": float(self.policy.detach()),
            "loss/value": float(self.value.detach()),
            "policy_entropy": -float(self.entropy.detach()),
        }


def policy_terms(logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log pi(a_t|s_t) per sample and sum_a pi log pi per sample, from logits [B, A]."""
    logp = F.log_softmax(logits.float(), dim=-1)
    chosen = logp.gather(1, actions.long().unsqueeze(1)).squeeze(1)
    neg_entropy = (logp.exp() * logp).sum(-1)
    return chosen, neg_entropy


def a2c_loss(
    logits: torch.Tensor,
    values: torch.Tensor,
    actions: torch.Tensor,
    targets: torch.Tensor,
    ent_coef: float,
    value_coef: float = 1.0,
    baseline: torch.Tensor | None = None,
) -> A2CLoss:
    """Flat [B] tensors (B = T*N); `targets` are n-step returns or TD(0) targets.

    The advantage is `targets - baseline`, the baseline being the student's own values unless
    another critic is given (the teacher's, in the reuse-critic distillation mode).
    """
    targets = targets.detach()
    values = values.float()
    log_pi, neg_entropy = policy_terms(logits, actions)
    base = values.detach() if baseline is None else baseline.detach().float()
    advantages = targets - base
    policy = -(advantages * log_pi).mean()
    value = 0.5 * (targets - values).pow(2).mean()
    entropy = neg_entropy.mean()
    total = policy + value_coef * value + ent_coef * entropy
    return A2CLoss(total, policy, value, entropy)
