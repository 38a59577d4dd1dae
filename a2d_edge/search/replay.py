"""Teacher-labelled frames: a ring buffer of uint8 observations with the frozen teacher's logits
and value for each, sampled uniformly; a held-out buffer the weights never train on."""

from __future__ import annotations

import numpy as np
import torch

from a2d_edge.errors import A2DError


def available_memory_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def frame_bytes(obs_shape: tuple[int, ...], n_actions: int) -> int:
    """Bytes one labelled frame takes: the uint8 frame, the teacher's fp32 logits and value."""
    return int(np.prod(obs_shape)) + 4 * (n_actions + 1)


def check_fits(
    frames: int,
    obs_shape: tuple[int, ...],
    n_actions: int,
    available: int | None = None,
    share: float = 0.5,
) -> None:
    """Refuse (one line) a buffer that would take over `share` of the memory available now."""
    need = frames * frame_bytes(obs_shape, n_actions)
    free = available_memory_bytes() if available is None else available
    if free is not None and need > share * free:
        raise A2DError(
            f"a replay of {frames:,} frames needs {need / 2**30:.1f} GiB, over "
            f"{share:.0%} of the {free / 2**30:.1f} GiB available: lower --replay-size"
        )


class LabelledReplay:
    """`capacity` frames, oldest overwritten first. Frames are stored as given (uint8)."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], n_actions: int) -> None:
        if capacity < 1:
            raise A2DError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.obs = np.empty((capacity, *obs_shape), np.uint8)
        self.logits = np.empty((capacity, n_actions), np.float32)
        self.values = np.empty((capacity,), np.float32)
        self.size = 0
        self._next = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, logits: np.ndarray, values: np.ndarray) -> None:
        n = len(obs)
        if not (len(logits) == len(values) == n):
            raise ValueError("obs, logits and values must have the same length")
        idx = (self._next + np.arange(n)) % self.capacity
        self.obs[idx], self.logits[idx], self.values[idx] = obs, logits, values
        self._next = int((self._next + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.size == 0:
            raise ValueError("sampling from an empty replay")
        return rng.integers(0, self.size, n)

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(uint8 frames, teacher logits, teacher values) at `idx`, as tensors."""
        return (
            torch.from_numpy(self.obs[idx]),
            torch.from_numpy(self.logits[idx]),
            torch.from_numpy(self.values[idx]),
        )

    def sample(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        return self.batch(self.indices(n, rng))

    def all(self, limit: int | None = None) -> tuple[torch.Tensor, ...]:
        return self.batch(np.arange(min(self.size, limit or self.size)))
