"""`runtime.Agent` (the bring-your-own-agent API) acting on raw screens on aarch64."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from arm64_agents import AGENTS

pytestmark = pytest.mark.arm64
STEPS = 60

Agent = getattr(importlib.import_module("a2d_edge.runtime"), "Agent", None)


@pytest.mark.skipif(
    Agent is None,
    reason="a2d_edge.runtime.Agent does not exist in this checkout yet (the bring-your-own-"
    "agent issue adds Agent.load / reset / act)",
)
@pytest.mark.parametrize("screen", ["rgb", "grayscale"])
@pytest.mark.parametrize("agent", AGENTS)
def test_runtime_agent_acts_on_raw_screens(bundles, agent, screen):
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    assert Agent is not None
    policy = Agent.load(bundles / agent)
    # the INT8 model made for arm64 is at home here: no warning of another instruction set
    assert not [w for w in getattr(policy, "warnings", ()) if "int8" in w.lower()]
    env_id = policy.bundle.env_id if hasattr(policy, "bundle") else _env_id(bundles / agent)
    env = gym.make(env_id, obs_type=screen, frameskip=4, repeat_action_probability=0.0)
    try:
        obs, _ = env.reset(seed=0)
        assert obs.shape == ((210, 160, 3) if screen == "rgb" else (210, 160))
        policy.reset()
        actions = []
        for _ in range(STEPS):
            action = policy.act(obs)
            assert isinstance(action, (int, np.integer)) and not isinstance(action, bool)
            assert 0 <= int(action) < env.action_space.n
            actions.append(int(action))
            obs, _, term, trunc, _ = env.step(int(action))
            if term or trunc:
                break
        assert len(set(actions)) > 1, f"one action on every screen: {actions}"
    finally:
        env.close()


def _env_id(bundle) -> str:  # type: ignore[no-untyped-def]
    import json

    return str(json.loads((bundle / "manifest.json").read_text())["env_id"])
