"""Torch's intra-op thread count for the heavy part of a step (an update, a selection), put back
after: the envs and the acting forwards run on --threads, the learner on --learner-threads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol


class HasThreads(Protocol):
    @property
    def threads(self) -> int: ...

    @property
    def learner_threads(self) -> int: ...


@contextlib.contextmanager
def learner_threads(cfg: HasThreads) -> Iterator[int]:
    """`cfg.learner_threads` (0: `cfg.threads`) torch threads inside, `cfg.threads` after."""
    import torch

    n = cfg.learner_threads or cfg.threads
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(cfg.threads)
