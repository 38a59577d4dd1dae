"""Eq. 8 on a rollout (`rl.objective.a2d_loss`), by hand: the reuse-critic routing of the
teacher's value and the TD(0) targets of Eq. 4."""

from __future__ import annotations

import math

import pytest
import torch

from a2d_edge.rl.config import TrainConfig
from a2d_edge.rl.objective import a2d_loss
from a2d_edge.rl.rollout import Rollout
from a2d_edge.rl.teacher import TeacherOutputs

LN2 = math.log(2.0)


def _rollout() -> Rollout:
    """T = 2 steps of N = 1 env, 2 actions, uniform policy (log pi = -ln 2 everywhere)."""
    return Rollout(
        logits=torch.zeros(2, 2),
        values=torch.tensor([0.5, 0.2]),
        actions=torch.tensor([0, 1]),
        rewards=torch.tensor([[1.0], [0.0]]),
        dones=torch.tensor([[0.0], [0.0]]),
        last_obs=torch.zeros(1, 4, 84, 84, dtype=torch.uint8),
        obs=torch.zeros(2, 4, 84, 84, dtype=torch.uint8),
    )


class FakeTeacher:
    """The teacher's outputs, fixed: values 1 and 2, last value 3, a uniform policy."""

    def outputs(self, obs: torch.Tensor, last_obs: torch.Tensor) -> TeacherOutputs:
        return TeacherOutputs(torch.zeros(2, 2), torch.tensor([1.0, 2.0]), torch.tensor([3.0]))


def test_reuse_critic_bootstraps_and_baselines_with_the_teachers_value() -> None:
    cfg = TrainConfig(rollout=2, gamma=0.5, ent_coef=0.01, distill="actor-reuse-critic",
                      teacher="x")  # fmt: skip
    total, s = a2d_loss(cfg, _rollout(), torch.tensor([0.4]), FakeTeacher())  # type: ignore[arg-type]
    # n-step targets from the TEACHER's last value 3: R1 = 0 + 0.5 * 3 = 1.5, R0 = 1 + 0.5 * R1
    # baseline = the teacher's values [1, 2]: advantages [0.75, -0.5]
    policy = -((0.75 - 0.5) / 2) * -LN2
    assert s["loss/policy"] == pytest.approx(policy)
    # the student's critic is not trained (weight 0), its loss still reported: against R
    assert s["loss/value"] == pytest.approx(0.5 * ((1.75 - 0.5) ** 2 + (1.5 - 0.2) ** 2) / 2)
    assert s["distill/kl"] == pytest.approx(0.0) and s["distill/critic_mse"] == pytest.approx(
        0.5 * ((0.5 - 1.0) ** 2 + (0.2 - 2.0) ** 2) / 2
    )
    assert float(total) == pytest.approx(policy + 0.01 * -LN2)  # no value, no MSE term


def test_td0_targets_bootstrap_one_step_from_the_students_values() -> None:
    cfg = TrainConfig(rollout=2, gamma=0.5, ent_coef=0.01, advantage="td0")
    total, s = a2d_loss(cfg, _rollout(), torch.tensor([0.4]), None)
    # targets r_t + 0.5 V(s_t+1): [1 + 0.5 * 0.2, 0 + 0.5 * 0.4] = [1.1, 0.2]; advantages [0.6, 0]
    policy = -(0.6 / 2) * -LN2
    value = 0.5 * (0.6**2 + 0.0**2) / 2
    assert s["loss/policy"] == pytest.approx(policy)
    assert s["loss/value"] == pytest.approx(value)
    assert float(total) == pytest.approx(policy + value + 0.01 * -LN2)
    assert "distill/kl" not in s


def test_nstep_without_a_teacher_hand_computed() -> None:
    cfg = TrainConfig(rollout=2, gamma=0.5, ent_coef=0.0)
    _, s = a2d_loss(cfg, _rollout(), torch.tensor([0.4]), None)
    # R1 = 0 + 0.5 * 0.4 = 0.2, R0 = 1 + 0.5 * 0.2 = 1.1; advantages [0.6, 0.0]
    assert s["loss/value"] == pytest.approx(0.5 * (0.6**2 + 0.0**2) / 2)
