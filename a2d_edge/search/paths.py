"""Which paths of the supernet train on a batch: uniform single paths (SPOS) or the sandwich
rule (the largest, the smallest and random paths; BigNAS / OFA), as op indices per block."""

from __future__ import annotations

import numpy as np
import torch

PATH_RULES = ("uniform", "sandwich")


def largest_path(cost: np.ndarray) -> list[int]:
    """The costliest op of every block ([n_blocks, n_ops] cost: FLOPs or latency)."""
    return [int(i) for i in np.asarray(cost).argmax(axis=1)]


def smallest_path(cost: np.ndarray) -> list[int]:
    return [int(i) for i in np.asarray(cost).argmin(axis=1)]


def random_path(n_blocks: int, n_ops: int, rng: np.random.Generator) -> list[int]:
    return [int(i) for i in rng.integers(0, n_ops, n_blocks)]


def sample_paths(
    rule: str, cost: np.ndarray, n_random: int, rng: np.random.Generator
) -> list[list[int]]:
    """`uniform`: n_random random paths; `sandwich`: largest, smallest, then n_random random."""
    n_blocks, n_ops = np.asarray(cost).shape
    paths = [random_path(n_blocks, n_ops, rng) for _ in range(n_random)]
    if rule == "sandwich":
        return [largest_path(cost), smallest_path(cost), *paths]
    if rule != "uniform":
        raise ValueError(f"path rule must be one of {PATH_RULES}, got {rule!r}")
    return paths


def one_hot(path: list[int], n_ops: int) -> torch.Tensor:
    """[n_blocks, n_ops] block weights that run exactly `path` in the supernet."""
    w = torch.zeros(len(path), n_ops)
    w[torch.arange(len(path)), torch.tensor(path)] = 1.0
    return w
