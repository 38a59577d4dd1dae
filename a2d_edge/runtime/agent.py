"""`runtime.Agent`: a verified bundle as an object your own loop calls (torch-free).

    from a2d_edge.runtime import Agent

    agent = Agent.load("bundles/pong")          # manifest and every file's sha256 checked
    agent.reset()                               # at the start of each episode
    action = agent.act(screen, prev_screen)     # raw 210x160x3 RGB (or 210x160 grey) screens

The contract of `act`, for a game stepped with the bundle's frame skip (4: one agent step is
four emulator frames with the same action): `frame` is the screen after the step's last
emulator frame, `prev_frame` the one before it (the env max-pools the two, which removes the
Atari's sprite flicker). Without `prev_frame` the frame stands alone: exact for the first
observation after a reset, and what a camera-fed loop that sees one image per step gives.
The bundle's own preprocessing (`runtime.screen`: ALE's grey, max-pool, INTER_AREA to 84x84,
a stack of 4) turns the screens into the model's input, pixel for pixel as the env does.

Callers that already hold the model's (4, 84, 84) stack (the env's observation, as `a2d run`)
use `act_on_stack`; `logits` gives the model's action logits, `choose` turns them into an
action (greedy or sampled, a setting of the agent).
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np

from a2d_edge.errors import A2DError
from a2d_edge.runtime.bundle import Bundle, int8_host_warning, load_bundle
from a2d_edge.runtime.policy import Policy, PolicySpec, load_policy, model_key
from a2d_edge.runtime.screen import ScreenStack


class Agent:
    """A bundle's policy with its preprocessing, greedy or sampled actions and its own RNG.

    Build it with `Agent.load(bundle_dir, ...)`; the constructor takes an already verified
    bundle and a policy (any object with `logits(frames) -> (1, n_actions)`)."""

    def __init__(
        self,
        bundle: Bundle,
        policy: Policy,
        *,
        greedy: bool = False,
        seed: int = 0,
        description: str = "given policy",
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.bundle, self.policy, self.greedy = bundle, policy, greedy
        self.description, self.warnings = description, warnings
        self.rng = random.Random(seed)
        self.screens = ScreenStack.from_manifest(bundle.manifest["preprocessing"])
        self.obs_shape = self.screens.obs_shape
        self.input_shape = (1, *self.obs_shape)

    @classmethod
    def load(
        cls,
        bundle_dir: str | Path,
        *,
        precision: str = "int8",
        backend: str = "ort-cpu",
        threads: int = 1,
        greedy: bool = False,
        seed: int = 0,
    ) -> Agent:
        """Verify the bundle (manifest, every file's sha256) and load its model: `precision`
        int8 falls back to fp32 when the bundle has no INT8 model; `backend` one of
        `policy.BACKENDS`. `warnings` holds a line when an INT8 model runs on a host whose
        instruction set it was not verified on."""
        spec = PolicySpec(backend=backend, precision=precision, threads=threads)
        return cls.from_spec(load_bundle(bundle_dir), spec, greedy=greedy, seed=seed)

    @classmethod
    def from_spec(
        cls, bundle: Bundle, spec: PolicySpec, *, greedy: bool = False, seed: int = 0
    ) -> Agent:
        if spec.precision not in ("int8", "fp32"):
            raise A2DError(f"precision must be int8 or fp32, not {spec.precision!r}")
        if spec.threads < 1:
            raise A2DError(f"threads must be at least 1, not {spec.threads}")
        warning = int8_host_warning(bundle, model_key(bundle, spec))
        policy, what = load_policy(bundle, spec)
        return cls(bundle, policy, greedy=greedy, seed=seed, description=what,
                   warnings=(warning,) if warning else ())  # fmt: skip

    @property
    def n_actions(self) -> int:
        return self.bundle.n_actions

    @property
    def action_meanings(self) -> list[str]:
        return list(self.bundle.manifest["action_meanings"])

    def reset(self) -> None:
        """Forget the frame stack (at the start of an episode); the RNG goes on."""
        self.screens.reset()

    def act(self, frame: np.ndarray, prev_frame: np.ndarray | None = None) -> int:
        """The action for the newest screen (and the one before it, for the max-pool)."""
        return self.act_on_stack(self.observe(frame, prev_frame))

    def observe(self, frame: np.ndarray, prev_frame: np.ndarray | None = None) -> np.ndarray:
        """Push a screen onto the frame stack; returns the model's (1, 4, 84, 84) input (the
        stack's own buffer: read it before the next call)."""
        return self.screens.push(frame, prev_frame)

    def act_on_stack(self, obs: np.ndarray) -> int:
        """The action for a preprocessed uint8 stack, (4, 84, 84) or (1, 4, 84, 84)."""
        return self.choose(self.logits(obs))

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """The model's action logits (n_actions,) for a uint8 stack. The array may be the
        backend's output buffer: copy it to keep it past the next inference."""
        if obs.shape != self.input_shape or obs.dtype != np.uint8:
            if obs.shape == self.obs_shape and obs.dtype == np.uint8:
                obs = obs[None]
            else:
                shape = "x".join(map(str, self.obs_shape))
                raise A2DError(f"the model takes a uint8 {shape} stack (or 1x{shape}), not "
                               f"{obs.dtype} {'x'.join(map(str, obs.shape))}")  # fmt: skip
        return self.policy.logits(obs)[0]

    def choose(self, logits: np.ndarray | list[float]) -> int:
        """argmax (greedy) or a sample from softmax(logits) with the agent's RNG."""
        values = logits if isinstance(logits, list) else logits.tolist()
        return choose_action(values, self.greedy, self.rng)


def choose_action(logits: list[float], greedy: bool, rng: random.Random) -> int:
    """argmax, or a sample from softmax(logits) by inverse CDF.

    Plain Python on a handful of floats: ~1 us, where numpy's `Generator.choice(p=...)` cost
    ~20 us per call (per-call overhead dominates at 6 actions)."""
    top = max(logits)
    if greedy:
        return logits.index(top)
    weights = [math.exp(v - top) for v in logits]
    u = rng.random() * math.fsum(weights)
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        if u < acc:
            return i
    return len(weights) - 1
