"""runtime.Agent: the embedding API on a real bundle (the tiny Pong agent's)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import a2d_edge.runtime.loop as loop
from a2d_edge.envs import AtariSettings
from a2d_edge.errors import A2DError
from a2d_edge.runtime import Agent
from a2d_edge.runtime.bundle import load_bundle
from a2d_edge.runtime.loop import RunSettings, run_agent
from a2d_edge.runtime.policy import OrtPolicy, PolicySpec


class Recorded:
    """An env that records the actions a2d run applies to it and the stacks it shows."""

    def __init__(self, env, actions: list[int], stacks: list[np.ndarray]) -> None:  # type: ignore[no-untyped-def]
        self.env, self.actions, self.stacks = env, actions, stacks

    def reset(self, **kwargs):  # type: ignore[no-untyped-def]
        out = self.env.reset(**kwargs)
        self.stacks.append(out[0].copy())
        return out

    def step(self, action):  # type: ignore[no-untyped-def]
        self.actions.append(int(action[0]))
        out = self.env.step(action)
        self.stacks.append(out[0].copy())
        return out

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.env, name)


@pytest.mark.parametrize("greedy", [True, False])
def test_act_on_raw_screens_takes_a2d_runs_actions(bundle, screen_env, monkeypatch, greedy):
    """a2d run (the env's stack, the bundle's INT8 model) and Agent.act on the raw screens of
    the same game: the same model input and the same action at every step, greedy or sampled
    with the same seed."""
    taken: list[int] = []
    stacks: list[np.ndarray] = []
    make = loop.make_vec_env
    monkeypatch.setattr(
        loop, "make_vec_env", lambda *a, **k: Recorded(make(*a, **k), taken, stacks)
    )
    steps = 120
    run_agent(bundle, RunSettings(hz=0, max_steps=steps, greedy=greedy, seed=3, status=False),
              PolicySpec())  # fmt: skip
    assert len(taken) == steps

    agent = Agent.load(bundle, greedy=greedy, seed=3)
    settings = AtariSettings.from_dict(agent.bundle.manifest["preprocessing"])
    raw = screen_env(agent.bundle.env_id, settings)
    agent.reset()
    screens = [raw.reset(seed=3)]
    acted = []
    for t in range(steps):
        action = agent.act(screens[-1], screens[-2] if t else None)
        np.testing.assert_array_equal(agent.screens.stack, stacks[t])
        acted.append(action)
        screens, ended = raw.step(action)
        assert not ended
    assert acted == taken
    assert greedy or len(set(taken)) > 1  # sampled: the check saw more than one action


def test_logits_act_on_stack_and_greedy(bundle):
    b = load_bundle(bundle)
    agent = Agent.load(bundle, precision="fp32", greedy=True)
    assert "fp32" in agent.description and agent.n_actions == b.n_actions == 6
    assert agent.action_meanings[0] == "NOOP"
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 256, (4, 84, 84), dtype=np.uint8)
    expected = OrtPolicy(str(b.model_path("fp32")), bind=False).logits(obs[None])[0]
    logits = agent.logits(obs).copy()
    np.testing.assert_array_equal(logits, expected)
    np.testing.assert_array_equal(agent.logits(obs[None]), expected)  # a batch of one as well
    assert agent.act_on_stack(obs) == int(np.argmax(expected))
    assert agent.choose([0.0, 3.0, 1.0]) == 1


def test_reset_forgets_the_frames_and_sampling_follows_the_seed(bundle):
    a = Agent.load(bundle, seed=11)
    rng = np.random.default_rng(1)
    screens = [rng.integers(0, 256, (210, 160, 3), dtype=np.uint8) for _ in range(12)]
    first = a.observe(screens[0]).copy()
    assert first[0, :3].max() == 0 and first[0, 3].max() > 0
    for s in screens[1:4]:
        a.act(s)
    assert a.screens.stack[0, 0].max() > 0
    a.reset()
    np.testing.assert_array_equal(a.observe(screens[0]), first)
    b, c = Agent.load(bundle, seed=11), Agent.load(bundle, seed=11)
    sampled = [b.act(s) for s in screens]
    assert sampled == [c.act(s) for s in screens] and len(set(sampled)) > 1


def test_a_tampered_bundle_is_refused(bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    model = copy / load_bundle(bundle).manifest["models"]["int8"]
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(A2DError, match="does not match its sha256") as e:
        Agent.load(copy)
    assert "\n" not in str(e.value)
    with pytest.raises(A2DError, match="not a bundle"):
        Agent.load(tmp_path)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda a: a.act(np.zeros((84, 84), np.uint8)), "frame must be an Atari screen"),
        (lambda a: a.act(np.zeros((210, 160, 3), np.float64)), "not float64"),
        (
            lambda a: a.act(np.zeros((210, 160), np.uint8), np.zeros((5, 5), np.uint8)),
            "prev_frame must be an Atari screen",
        ),
        (lambda a: a.act_on_stack(np.zeros((84, 84, 4), np.uint8)), "not uint8 84x84x4"),
        (lambda a: a.logits(np.zeros((1, 4, 84, 84), np.float32)), "not float32 1x4x84x84"),
    ],
)
def test_bad_input_is_one_line(bundle, call, words):
    agent = Agent.load(bundle)
    with pytest.raises(A2DError, match=words) as e:
        call(agent)
    assert "\n" not in str(e.value)


def test_bad_settings_are_one_line(bundle):
    with pytest.raises(A2DError, match="precision must be int8 or fp32"):
        Agent.load(bundle, precision="fp16")
    with pytest.raises(A2DError, match="unknown backend"):
        Agent.load(bundle, backend="tpu")
    with pytest.raises(A2DError, match="threads must be at least 1"):
        Agent.load(bundle, threads=0)


def test_the_agent_needs_no_torch(bundle):
    code = (
        "import sys, numpy as np\n"
        "from a2d_edge.runtime import Agent\n"
        f"agent = Agent.load({str(bundle)!r}, greedy=True)\n"
        "a = agent.act(np.zeros((210, 160, 3), np.uint8))\n"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]\n"
        "print(a, bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    action, bad = out.stdout.split(" ", 1)
    assert 0 <= int(action) < 6 and json.loads(bad.strip()) == []


def test_the_readmes_own_loop_runs(bundle, tmp_path):
    """README "Your own loop", as written, plays a whole game of Pong on the bare emulator."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Your own loop", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 12 and "runs/demo/bundle" in code
    script = code.replace("runs/demo/bundle", str(bundle)) + "print(ale.getEpisodeFrameNumber())\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().splitlines()[-1]) > 1000  # a game of Pong, to its end
