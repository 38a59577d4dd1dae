"""The learner's thread count holds inside the block and --threads comes back after, also
when the block raises."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from a2d_edge.utils.threads import learner_threads


@dataclass
class Cfg:
    threads: int = 1
    learner_threads: int = 2


def test_learner_threads_inside_threads_after():
    torch.set_num_threads(1)
    with learner_threads(Cfg()) as n:
        assert n == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
    with learner_threads(Cfg(learner_threads=0)) as n:  # 0: the same as --threads
        assert n == 1 and torch.get_num_threads() == 1


def test_threads_come_back_after_an_error():
    torch.set_num_threads(1)
    with pytest.raises(RuntimeError), learner_threads(Cfg(threads=1, learner_threads=2)):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 1
