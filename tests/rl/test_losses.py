import math

import pytest
import torch

from a2d_edge.rl.losses import a2c_loss, policy_terms


def test_policy_terms_hand_computed():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # pi = [0.25, 0.75]
    logp, neg_ent = policy_terms(logits, torch.tensor([1]))
    assert logp.item() == pytest.approx(math.log(0.75))
    assert neg_ent.item() == pytest.approx(0.25 * math.log(0.25) + 0.75 * math.log(0.75))


def test_a2c_loss_hand_computed():
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]], requires_grad=True)
    values = torch.tensor([1.0, -1.0], requires_grad=True)
    actions = torch.tensor([1, 0])
    targets = torch.tensor([3.0, 0.0])
    loss = a2c_loss(logits, values, actions, targets, ent_coef=0.01, value_coef=1.0)
    adv = [2.0, 1.0]
    logp = [math.log(0.75), math.log(0.5)]
    policy = -(adv[0] * logp[0] + adv[1] * logp[1]) / 2
    value = 0.5 * ((3 - 1) ** 2 + (0 + 1) ** 2) / 2
    neg_ent = ((0.25 * math.log(0.25) + 0.75 * math.log(0.75)) + math.log(0.5)) / 2
    assert loss.policy.item() == pytest.approx(policy)
    assert loss.value.item() == pytest.approx(value)
    assert loss.entropy.item() == pytest.approx(neg_ent)
    assert loss.total.item() == pytest.approx(policy + value + 0.01 * neg_ent)


def test_advantage_is_detached_from_critic():
    logits = torch.zeros(2, 3, requires_grad=True)
    values = torch.tensor([0.5, 0.5], requires_grad=True)
    loss = a2c_loss(logits, values, torch.tensor([0, 1]), torch.tensor([1.0, 1.0]), 0.0)
    loss.policy.backward()
    assert values.grad is None  # the policy term does not train the critic


def test_external_baseline_replaces_the_students_critic():
    """actor-reuse-critic: advantages use the teacher's values, and value_coef 0 drops L_value."""
    logits = torch.zeros(2, 2)
    values = torch.tensor([5.0, 5.0], requires_grad=True)
    targets = torch.tensor([1.0, 2.0])
    baseline = torch.tensor([0.5, 0.5])
    loss = a2c_loss(logits, values, torch.tensor([0, 1]), targets, 0.0, 0.0, baseline=baseline)
    assert loss.policy.item() == pytest.approx(-((0.5 + 1.5) / 2) * math.log(0.5))
    assert loss.total.item() == pytest.approx(loss.policy.item())
