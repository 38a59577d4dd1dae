"""Real frames for calibration and verification: the agent playing its own game."""

from __future__ import annotations

import numpy as np
import torch

from a2d_edge.envs import AtariSettings, make_vec_env
from a2d_edge.nets import ActorCritic


@torch.no_grad()
def gather_frames(
    model: ActorCritic,
    env_id: str,
    n: int,
    seed: int = 0,
    settings: AtariSettings | None = None,
    num_envs: int = 8,
    stride: int = 4,
) -> np.ndarray:
    """`n` uint8 observations [n, 4, 84, 84], every `stride`-th step of `num_envs` games played
    by the agent's own (sampled) policy, so they cover what the deployed agent will see."""
    env = make_vec_env(env_id, num_envs, settings or AtariSettings())
    gen = torch.Generator().manual_seed(seed)
    try:
        obs, _ = env.reset(seed=seed)
        out: list[np.ndarray] = []
        step = 0
        while sum(len(o) for o in out) < n:
            logits, _ = model(torch.from_numpy(obs))
            actions = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen).squeeze(1)
            if step % stride == 0:
                out.append(obs.copy())
            obs = env.step(actions.numpy().astype(np.int32))[0]
            step += 1
        return np.concatenate(out)[:n]
    finally:
        env.close()
