"""A value-based teacher's policy softmax(Q/τ) and value E_π[Q], against hand-computed numbers."""

import math

import pytest
import torch

from a2d_edge.errors import A2DError
from a2d_edge.nets import build_agent, load_arch, q_temperature
from a2d_edge.nets.agent import QActorCritic, q_policy


def test_q_policy_matches_hand_computed_values():
    # τ = 0.01: logits 100, 99, 50 -> p = e^0, e^-1, e^-50 normalised = 0.731059, 0.268941, ~0
    logits, value = q_policy(torch.tensor([[1.0, 0.99, 0.5]]), 0.01)
    assert logits.tolist()[0] == pytest.approx([100.0, 99.0, 50.0])
    p = torch.softmax(logits, -1)[0]
    assert p.tolist() == pytest.approx([0.731059, 0.268941, 0.0], abs=1e-6)
    assert value.item() == pytest.approx(0.731059 * 1.0 + 0.268941 * 0.99, abs=1e-6)  # 0.997311
    # τ = 1: Q = (1, 0) -> p = (e/(e+1), 1/(e+1)), V = e/(e+1)
    _, value = q_policy(torch.tensor([[1.0, 0.0]]), 1.0)
    assert value.item() == pytest.approx(math.e / (math.e + 1))
    # τ -> large: uniform policy, V -> the mean Q
    _, value = q_policy(torch.tensor([[3.0, 1.0]]), 1e6)
    assert value.item() == pytest.approx(2.0, abs=1e-5)


def test_a_q_head_builds_a_q_actor_critic_and_bad_heads_are_one_line_errors():
    arch = load_arch("nature-thin")
    agent = build_agent(arch, 4, head={"kind": "q", "temperature": 0.1})
    assert isinstance(agent, QActorCritic) and agent.temperature == 0.1
    assert not isinstance(build_agent(arch, 4, head={"kind": "actor-critic"}), QActorCritic)
    assert q_temperature(None) is None
    for bad in ({"kind": "q"}, {"kind": "q", "temperature": 0}, {"kind": "dueling"}, "q"):
        with pytest.raises(A2DError):
            q_temperature(bad)  # type: ignore[arg-type]
