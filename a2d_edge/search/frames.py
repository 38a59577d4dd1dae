"""Teacher-labelled held-out frames: those a supernet's paths are judged on (RUN/frames.npz),
collected, saved and loaded, and their split into BN and judging frames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from a2d_edge.errors import A2DError
from a2d_edge.rl.setup import make_collector
from a2d_edge.rl.teacher import Teacher
from a2d_edge.search.config import SearchConfig
from a2d_edge.utils.io import atomic_write


@dataclass(frozen=True)
class Frames:
    """Teacher-labelled frames: uint8 obs, teacher logits and values."""

    obs: torch.Tensor
    logits: torch.Tensor
    values: torch.Tensor

    def __len__(self) -> int:
        return len(self.obs)

    def split(self, n: int) -> tuple[Frames, Frames]:
        first = Frames(self.obs[:n], self.logits[:n], self.values[:n])
        return first, Frames(self.obs[n:], self.logits[n:], self.values[n:])

    def batches(self, size: int) -> list[torch.Tensor]:
        return [self.obs[i : i + size] for i in range(0, len(self.obs), size)]


def judging_frames(frames: Frames, bn_frames: int, judge_frames: int) -> tuple[Frames, Frames]:
    """The held-out frames a path's BatchNorm statistics are recomputed (and adapted) on, and
    those it is judged on."""
    bn, judge = frames.split(min(bn_frames, len(frames) // 2))
    return bn, judge.split(min(judge_frames, len(judge)))[0]


def collect_frames(cfg: SearchConfig, teacher: Teacher, n: int) -> Frames:
    """n frames the teacher plays, labelled by it (for a supernet without its own): the same
    frames for the same --seed (its actions drawn from a seeded generator, not the global one),
    so a selection from a shipped supernet is reproducible."""
    collector = make_collector(cfg, 10_000_019)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 10_000_019)
            ro = collector.collect(teacher.model, -(-n // collector.num_envs), keep_graph=False)
    finally:
        collector.close()
    assert ro.obs is not None
    obs = ro.obs[:n]
    with torch.no_grad():
        logits, values = teacher.model(obs)
    return Frames(obs.contiguous(), logits.float(), values.float())


def save_frames(path: Path, frames: Frames) -> None:
    def write(f: Any) -> None:
        np.savez_compressed(
            f, obs=frames.obs.numpy(), logits=frames.logits.numpy(), values=frames.values.numpy()
        )

    atomic_write(path, write)


def load_frames(path: Path) -> Frames:
    try:
        with np.load(path) as data:
            obs, logits, values = data["obs"], data["logits"], data["values"]
    except (OSError, KeyError, ValueError) as e:
        raise A2DError(f"corrupt or foreign frames file {path}: {e}") from None
    if obs.dtype != np.uint8 or len(obs) != len(logits) or len(obs) != len(values):
        raise A2DError(f"{path}: frames, logits and values do not match")
    return Frames(torch.from_numpy(obs), torch.from_numpy(logits), torch.from_numpy(values))


def supernet_frames(cfg: SearchConfig, source: Path, teacher: Teacher) -> Frames:
    """The held-out frames beside a reused supernet, else fresh ones the teacher plays."""
    path = source.parent / "frames.npz"
    if path.exists() and source.name == "supernet.pt":
        return load_frames(path)
    print(f"no held-out frames beside {source}: the teacher plays {cfg.holdout_size:,} of them")
    return collect_frames(cfg, teacher, cfg.holdout_size)
