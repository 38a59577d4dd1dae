"""Evaluate a torch agent with the paper's protocol (envs/evaluate.py does the playing)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from a2d_edge.envs import AtariSettings, EvalResult, evaluate_policy
from a2d_edge.errors import A2DError
from a2d_edge.sources.checkpoint import load_agent
from a2d_edge.utils.accel import module_device, to_device


def torch_policy(model: torch.nn.Module, seed: int = 0, greedy: bool = False):  # type: ignore[no-untyped-def]
    """numpy uint8 obs -> numpy actions; samples from pi with its own generator (or argmax)."""
    gen = torch.Generator().manual_seed(seed)
    device = module_device(model)

    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        logits, _ = model(to_device(torch.from_numpy(obs), device))
        logits = logits.float().cpu()
        if greedy:
            return logits.argmax(-1).numpy()
        probs = torch.softmax(logits, -1)
        return torch.multinomial(probs, 1, generator=gen).squeeze(1).numpy()

    return act


def evaluate_agent(
    model: torch.nn.Module,
    env_id: str,
    episodes: int,
    seed: int,
    settings: AtariSettings | None = None,
    greedy: bool = False,
) -> EvalResult:
    was_training = model.training
    model.eval()
    try:
        return evaluate_policy(torch_policy(model, seed, greedy), env_id, episodes, seed, settings)
    finally:
        model.train(was_training)


def evaluate_checkpoint(
    spec: str | Path,
    episodes: int = 30,
    seed: int = 0,
    greedy: bool = False,
    max_frames: int = 0,
) -> EvalResult:
    """`max_frames` > 0 ends each game after that many emulator frames (its score so far
    counts); 0 keeps the agent's own cap (108,000 frames: 30 minutes of play)."""
    if max_frames < 0:
        raise A2DError(f"max_frames must be >= 0, got {max_frames}")
    model, ckpt = load_agent(spec)
    settings = AtariSettings.from_dict(ckpt.get("atari", {}))
    if max_frames:
        settings = dataclasses.replace(settings, max_episode_frames=max_frames)
    return evaluate_agent(model, ckpt["env_id"], episodes, seed, settings, greedy)
