from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from a2d_edge.cli import main


@pytest.fixture(scope="session")
def bundle(tiny_agent_ckpt, tmp_path_factory) -> Path:
    """A verified fp32 + INT8 bundle of the tiny Pong agent, shared by the runtime tests."""
    out = tmp_path_factory.mktemp("rb") / "bundle"
    argv = ["export", str(tiny_agent_ckpt), "--out", str(out), "--int8", "--frames", "32"]
    assert main(argv) == 0
    return out


class ScreenEnv:
    """An ale-py env that steps one emulator frame at a time and shows its raw RGB screen: what
    a device's own loop sees. Same game, seed and no-op start as `make_vec_env` with the same
    settings, so four of its frames are one step of the agent's env."""

    def __init__(self, env_id: str, settings) -> None:  # type: ignore[no-untyped-def]
        from ale_py.vector_env import AtariVectorEnv

        from a2d_edge.envs import resolve_game
        from a2d_edge.envs.atari import SCREEN_SHAPE

        self.env = AtariVectorEnv(resolve_game(env_id), 1, num_threads=1, frameskip=1,
                                  noop_max=settings.noop_max,
                                  repeat_action_probability=settings.repeat_action_probability,
                                  max_num_frames_per_episode=settings.max_episode_frames,
                                  reward_clipping=False, autoreset_mode="SameStep",
                                  img_height=SCREEN_SHAPE[0], img_width=SCREEN_SHAPE[1],
                                  stack_num=1, grayscale=False, maxpool=False)  # fmt: skip
        self.frame_skip = settings.frame_skip

    def reset(self, seed: int) -> np.ndarray:
        return self.env.reset(seed=seed)[0][0, 0].copy()

    def step(self, action: int) -> tuple[list[np.ndarray], bool]:
        """One agent step (frame-skip emulator frames): their screens, and whether the game
        ended in them."""
        screens, ended = [], False
        for _ in range(self.frame_skip):
            obs, _, term, trunc, _ = self.env.step(np.array([action], dtype=np.int32))
            screens.append(obs[0, 0].copy())
            ended = ended or bool(term[0] or trunc[0])
        return screens, ended

    def close(self) -> None:
        self.env.close()


@pytest.fixture
def screen_env():
    made: list[ScreenEnv] = []

    def make(env_id: str, settings) -> ScreenEnv:  # type: ignore[no-untyped-def]
        made.append(ScreenEnv(env_id, settings))
        return made[-1]

    yield make
    for env in made:
        env.close()
