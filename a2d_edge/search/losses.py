"""The distillation losses of this search, as pure functions: the tempered policy KL and the
value regression (Eq. 6-7 on teacher-labelled frames) and the two-sided latency term."""

from __future__ import annotations

import torch

from a2d_edge.rl.teacher import actor_kl, critic_mse


def tempered_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """mean KL(softmax(t / T) || softmax(s / T)) * T^2 (Hinton et al.: the T^2 keeps the
    gradient's scale as T changes); T = 1 is Eq. 6."""
    return actor_kl(student / temperature, teacher / temperature) * temperature**2


def distill_loss(
    student_logits: torch.Tensor,
    student_values: torch.Tensor,
    teacher_logits: torch.Tensor,
    teacher_values: torch.Tensor,
    temperature: float,
    value_weight: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, kl, mse): KL + value_weight * 1/2 (V_s - V_t)^2."""
    kl = tempered_kl(student_logits, teacher_logits, temperature)
    mse = critic_mse(student_values, teacher_values)
    return kl + value_weight * mse, kl, mse


def two_sided_latency(expected_ms: torch.Tensor, budget_ms: float) -> torch.Tensor:
    """|E[lat] / B - 1| (TF-NAS): pulls the architecture to the budget from both sides, so a
    budget of B ms yields an arch near B ms rather than the cheapest one."""
    return (expected_ms / budget_ms - 1.0).abs()


def agreement(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> float:
    """Share of frames where the student's greedy action is the teacher's."""
    return float((student_logits.argmax(-1) == teacher_logits.argmax(-1)).float().mean())
