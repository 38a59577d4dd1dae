import math

import pytest

from a2d_edge.rl.schedule import annealed_lr, lr_at


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 1e-3), (10_000_000, 1e-3), (20_000_000, 5.5e-4), (30_000_000, 1e-4), (40_000_000, 1e-4)],
)
def test_paper_schedule(step, expected):
    assert lr_at(step, 30_000_000, 1e-3, 1e-4, 10_000_000) == pytest.approx(expected)


def test_short_runs_stay_constant():
    assert lr_at(500, 1000, 1e-3, 1e-4, 10_000_000) == 1e-3


def test_finish_lr_schedules_by_hand():
    assert annealed_lr(0, 100, 1e-3, "constant") == annealed_lr(99, 100, 1e-3, "constant") == 1e-3
    assert annealed_lr(0, 100, 1e-3, "linear") == 1e-3
    assert annealed_lr(25, 100, 1e-3, "linear") == pytest.approx(7.5e-4)
    assert annealed_lr(100, 100, 1e-3, "linear") == annealed_lr(150, 100, 1e-3, "linear") == 0.0
    assert annealed_lr(0, 100, 1e-3, "cosine") == pytest.approx(1e-3)
    assert annealed_lr(50, 100, 1e-3, "cosine") == pytest.approx(5e-4)
    assert annealed_lr(25, 100, 1e-3, "cosine") == pytest.approx(1e-3 * (1 + math.sqrt(0.5)) / 2)
    assert annealed_lr(100, 100, 1e-3, "cosine") == pytest.approx(0.0, abs=1e-12)
    assert annealed_lr(7, 0, 1e-3, "linear") == 1e-3  # no steps: nothing to decay over
    with pytest.raises(ValueError, match="schedule"):
        annealed_lr(0, 100, 1e-3, "step")
