"""Env ids, the paper's preprocessing, and vector-env construction.

Preprocessing (paper / rl-zoo v4 protocol), all inside ale-py's C++ `AtariVectorEnv`:
frame skip 4 with max-pool over the last two frames, 84x84 grayscale, stack of 4, up to 30
no-op starts, FIRE on reset where the game needs it. Sticky actions default to 0 (ALE v5 ids
would default to 0.25; we follow the paper and rl-zoo's v4 settings instead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from a2d_edge.errors import A2DError

OBS_SHAPE = (4, 84, 84)
_ID_RE = re.compile(r"^(?:ALE/)?([A-Za-z0-9_]+?)(?:NoFrameskip)?(?:-v\d+)?$")


@cache
def _rom_ids() -> tuple[str, ...]:
    from ale_py import roms

    return tuple(sorted(roms.get_all_rom_ids()))


def _snake(name: str) -> str:
    if "_" in name or name.islower():
        return name.lower()
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return re.sub(r"(?<=[a-z])(\d+[a-z])$", r"_\1", snake)  # TicTacToe3d -> tic_tac_toe_3d


def _camel(rom: str) -> str:
    return "".join(part.capitalize() for part in rom.split("_"))


def resolve_game(env_id: str) -> str:
    """`ALE/Pong-v5`, `PongNoFrameskip-v4`, `Pong` or `pong` -> the ALE ROM name `pong`."""
    m = _ID_RE.match(env_id.strip())
    rom = _snake(m.group(1)) if m else ""
    if rom not in _rom_ids():
        raise A2DError(
            f"unknown env id {env_id!r}: no ALE game {rom or env_id!r}; "
            "run `a2d envs` to list the valid ids (e.g. ALE/Pong-v5, ALE/Breakout-v5)"
        )
    return rom


def list_env_ids() -> list[str]:
    return [f"ALE/{_camel(rom)}-v5" for rom in _rom_ids()]


@dataclass(frozen=True)
class AtariSettings:
    """Preprocessing and episode settings shared by training, evaluation and the runtime."""

    frame_skip: int = 4
    noop_max: int = 30
    repeat_action_probability: float = 0.0
    max_episode_frames: int = 108_000
    reward_clipping: bool = False
    life_loss_terminal: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AtariSettings:
        """The env fields of a stored `to_dict()` (training-only clipping/life-loss dropped:
        evaluation and deployment never use them)."""
        keep = ("frame_skip", "noop_max", "repeat_action_probability", "max_episode_frames")
        return cls(**{k: d[k] for k in keep if k in d})

    def to_dict(self) -> dict[str, float | int | bool | list[int]]:
        return {
            "frame_skip": self.frame_skip,
            "noop_max": self.noop_max,
            "repeat_action_probability": self.repeat_action_probability,
            "max_episode_frames": self.max_episode_frames,
            "reward_clipping": self.reward_clipping,
            "life_loss_terminal": self.life_loss_terminal,
            "obs_shape": list(OBS_SHAPE),
            "grayscale": True,
            "maxpool": True,
        }


SCREEN_SHAPE = (210, 160, 3)  # the emulator's RGB screen


def make_vec_env(env_id: str, num_envs: int, settings: AtariSettings, num_threads: int = 1,  # type: ignore[no-untyped-def]
                 screen: bool = False):  # fmt: skip
    """A `ale_py.vector_env.AtariVectorEnv` that auto-resets in the same step.

    Rewards come back raw: clipping (when training asks for it) is done by the caller, so raw
    episode scores can be logged. A life loss shows as `terminated` when `life_loss_terminal`.
    `screen`: observations are the full RGB screen ([N, 1, 210, 160, 3]) instead of the
    agent's 84x84 grayscale stack; the same seed and actions play the same game (a viewer).
    """
    from ale_py.vector_env import AtariVectorEnv

    if num_envs < 1:
        raise A2DError(f"num_envs must be >= 1, got {num_envs}")
    return AtariVectorEnv(
        resolve_game(env_id),
        num_envs,
        num_threads=num_threads,
        frameskip=settings.frame_skip,
        noop_max=settings.noop_max,
        repeat_action_probability=settings.repeat_action_probability,
        max_num_frames_per_episode=settings.max_episode_frames,
        reward_clipping=False,
        life_loss_info=settings.life_loss_terminal,
        episodic_life=False,
        autoreset_mode="SameStep",
        img_height=SCREEN_SHAPE[0] if screen else OBS_SHAPE[1],
        img_width=SCREEN_SHAPE[1] if screen else OBS_SHAPE[2],
        stack_num=1 if screen else OBS_SHAPE[0],
        grayscale=not screen,
        maxpool=True,
    )


def action_meanings(env_id: str) -> list[str]:
    env = make_vec_env(env_id, 1, AtariSettings())
    try:
        return [a.name for a in env.ale.get_action_set()]
    finally:
        env.close()


class EpisodeTracker:
    """Raw (unclipped) score of whole games, across life losses and same-step auto-resets.

    A game ended when a step is done and the env's `episode_frame_number` went backwards: that
    is robust to life-loss terminals and to games without lives.
    """

    def __init__(self, num_envs: int) -> None:
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self._frames = np.zeros(num_envs, dtype=np.int64)

    def reset(self, frame_numbers: np.ndarray) -> None:
        """Start tracking after `env.reset()`."""
        self.returns[:] = 0.0
        self.lengths[:] = 0
        self._frames = frame_numbers.astype(np.int64)

    def update(
        self, rewards: np.ndarray, dones: np.ndarray, frame_numbers: np.ndarray
    ) -> list[tuple[int, float, int]]:
        """Feed one step; returns (env index, score, length) for every game that just ended.

        `dones` is terminated | truncated of that step; a life-loss terminal keeps counting the
        frame number, a real game over restarts it.
        """
        self.returns += rewards
        self.lengths += 1
        ended = np.flatnonzero(dones & (frame_numbers < self._frames))
        finished = [(int(i), float(self.returns[i]), int(self.lengths[i])) for i in ended]
        self.returns[ended] = 0.0
        self.lengths[ended] = 0
        self._frames = frame_numbers.astype(np.int64)
        return finished
