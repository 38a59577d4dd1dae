import pytest

from a2d_edge.rl.schedule import lr_at


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 1e-3), (10_000_000, 1e-3), (20_000_000, 5.5e-4), (30_000_000, 1e-4), (40_000_000, 1e-4)],
)
def test_paper_schedule(step, expected):
    assert lr_at(step, 30_000_000, 1e-3, 1e-4, 10_000_000) == pytest.approx(expected)


def test_short_runs_stay_constant():
    assert lr_at(500, 1000, 1e-3, 1e-4, 10_000_000) == 1e-3
