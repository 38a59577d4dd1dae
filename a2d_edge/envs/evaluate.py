"""The paper's test protocol: mean raw score of full episodes with no-op starts (torch-free)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from a2d_edge.envs.atari import AtariSettings, EpisodeTracker, make_vec_env

Policy = Callable[[np.ndarray], np.ndarray]
"""uint8 observations [N, 4, 84, 84] -> integer actions [N]."""


@dataclass(frozen=True)
class EvalResult:
    scores: tuple[float, ...]
    lengths: tuple[int, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores))

    def to_dict(self) -> dict[str, float | int | list[float]]:
        return {
            "mean": self.mean,
            "std": self.std,
            "episodes": len(self.scores),
            "scores": list(self.scores),
        }


def evaluate_policy(
    policy: Policy,
    env_id: str,
    episodes: int = 30,
    seed: int = 0,
    settings: AtariSettings | None = None,
    max_parallel: int = 32,
) -> EvalResult:
    """Play `episodes` whole games (raw score, no reward clipping, no life-loss terminals).

    Each env instance plays exactly one game, so short games are not over-sampled; the games
    run in parallel waves of at most `max_parallel` envs, env i of the run seeded `seed + i`.
    """
    if episodes < 1:
        raise ValueError("episodes must be >= 1")
    base = settings or AtariSettings()
    settings = AtariSettings(
        frame_skip=base.frame_skip,
        noop_max=base.noop_max,
        repeat_action_probability=base.repeat_action_probability,
        max_episode_frames=base.max_episode_frames,
        reward_clipping=False,
        life_loss_terminal=False,
    )
    scores: list[float] = []
    lengths: list[int] = []
    waves = math.ceil(episodes / max_parallel)
    for w in range(waves):
        n = min(max_parallel, episodes - w * max_parallel)
        s, ln = _play_wave(policy, env_id, n, seed + w * max_parallel, settings)
        scores += s
        lengths += ln
    return EvalResult(tuple(scores), tuple(lengths))


def _play_wave(
    policy: Policy, env_id: str, n: int, seed: int, settings: AtariSettings
) -> tuple[list[float], list[int]]:
    env = make_vec_env(env_id, n, settings)
    try:
        obs, info = env.reset(seed=seed)
        tracker = EpisodeTracker(n)
        tracker.reset(info["episode_frame_number"])
        scores: dict[int, tuple[float, int]] = {}
        while len(scores) < n:
            actions = np.asarray(policy(obs), dtype=np.int64)
            obs, rewards, term, trunc, info = env.step(actions)
            for i, score, length in tracker.update(
                rewards.astype(np.float64), term | trunc, info["episode_frame_number"]
            ):
                scores.setdefault(i, (score, length))
        ordered = [scores[i] for i in range(n)]
        return [s for s, _ in ordered], [ln for _, ln in ordered]
    finally:
        env.close()
