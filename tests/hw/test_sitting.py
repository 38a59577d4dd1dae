"""One honest timing (`hw.sitting`) on a fake clock: settle, rotation, fastest / median /
spread, the drift-free ratio and the budget's verdict, against hand-computed numbers."""

import pytest

from a2d_edge.errors import A2DError
from a2d_edge.hw.sitting import NetTiming, Sitting, judge_budget, spread_of, time_sitting


def fake_clock(readings: dict[str, list[float | None]]):
    """A `measure` that returns each net's next reading and logs the order of the calls."""
    left = {k: iter(v) for k, v in readings.items()}
    calls: list[str] = []

    def measure(net: str) -> float | None:
        calls.append(net)
        return next(left[net])

    return measure, calls


def test_a_sitting_settles_rotates_and_keeps_every_round():
    # the settle round reads 99 ms (a cold start): never counted
    measure, calls = fake_clock({"A": [99.0, 0.10, 0.12, 0.11], "T": [99.0, 0.30, 0.33, 0.36]})
    s = time_sitting(measure, {"agent": "A", "teacher": "T"}, rounds=3, settle=1)
    # settle A T; round 0 A T; round 1 starts one later: T A; round 2 A T
    assert calls == ["A", "T", "A", "T", "T", "A", "A", "T"]
    agent, teacher = s.timed("agent"), s.timed("teacher")
    assert agent is not None and teacher is not None
    assert agent.rounds_ms == (0.10, 0.12, 0.11)
    assert agent.fastest_ms == 0.10 and agent.median_ms == 0.11
    assert agent.spread == pytest.approx((0.12 - 0.10) / 0.10)  # 0.2
    assert teacher.fastest_ms == 0.30 and teacher.median_ms == 0.33
    assert teacher.spread == pytest.approx(0.2)
    ratio = s.ratio("agent", "teacher")
    assert ratio is not None
    # per round 0.10/0.30, 0.12/0.33, 0.11/0.36 = 0.3333, 0.3636, 0.3056: median 1/3
    assert ratio.rounds == pytest.approx((1 / 3, 0.12 / 0.33, 0.11 / 0.36))
    assert ratio.median == pytest.approx(1 / 3)
    assert ratio.spread == pytest.approx((0.12 / 0.33 - 0.11 / 0.36) / (0.11 / 0.36))  # 0.1901
    rec = s.record("agent", "teacher")
    assert rec["rounds"] == 3 and rec["settle_rounds"] == 1
    assert rec["agent"]["fastest_ms"] == 0.10 and rec["teacher"]["median_ms"] == 0.33
    assert rec["ratio"] == pytest.approx(1 / 3) and len(rec["ratio_rounds"]) == 3


def test_a_drift_common_to_both_nets_leaves_the_ratio_alone():
    # the machine runs 2x slower in the second round: both nets' latencies move, the ratio not
    measure, _ = fake_clock({"A": [1.0, 0.1, 0.2, 0.1], "T": [1.0, 0.4, 0.8, 0.4]})
    s = time_sitting(measure, {"agent": "A", "teacher": "T"}, rounds=3)
    ratio = s.ratio("agent", "teacher")
    assert ratio is not None and ratio.median == pytest.approx(0.25)
    assert ratio.spread == pytest.approx(0.0)
    t = s.timed("agent")
    assert t is not None and t.spread == pytest.approx(1.0)  # each alone: 100% apart


def test_a_round_that_cannot_time_a_net_is_left_out():
    measure, _ = fake_clock({"A": [None, 0.2, None, 0.3], "T": [1.0, 1.0, 1.0, 1.0]})
    s = time_sitting(measure, {"a": "A", "t": "T"}, rounds=3)
    a = s.timed("a")
    assert a is not None and a.rounds_ms == (0.2, 0.3)
    ratio = s.ratio("a", "t")
    assert ratio is not None and ratio.rounds == pytest.approx((0.2, 0.3))
    never, _ = fake_clock({"X": [None] * 3})
    assert time_sitting(never, {"x": "X"}, rounds=2).timed("x") is None
    assert Sitting(({"x": None},)).ratio("x", "x") is None


def test_one_slow_round_is_not_the_latency():
    # issue 39: 0.102 ms in one timing after training, 0.071 ms in every other
    t = NetTiming((0.102, 0.071, 0.071, 0.072, 0.071))
    assert t.fastest_ms == 0.071 and t.median_ms == 0.071
    assert judge_budget(t.fastest_ms, 0.079, t.spread).status == "within budget"


@pytest.mark.parametrize(
    ("measured", "budget", "spread", "status"),
    [
        (0.071, 0.079, 0.0, "within budget"),
        (0.079, 0.079, 0.0, "within budget"),  # on the budget is within it
        (0.090, 0.079, 0.2, "within noise"),  # 13.9% above, spread 20%
        (0.100, 0.079, 0.2, "over budget"),  # 26.6% above, spread 20%
        (0.0795, 0.079, 0.0, "over budget"),  # a quiet sitting: any excess is real
    ],
)
def test_the_budget_verdict(measured, budget, spread, status):
    v = judge_budget(measured, budget, spread)
    assert v.status == status and v.warns == (status == "over budget")
    assert "\n" not in v.line
    assert f"{measured:.3f} ms" in v.line and f"{budget:.3f} ms" in v.line  # names both
    if status == "over budget":
        assert v.line.startswith("warning:") and "beyond" in v.line
    if status == "within noise":
        assert "within noise" in v.line and "13.9% above" in v.line and "20.0%" in v.line


def test_bad_inputs_are_one_line_errors():
    measure, _ = fake_clock({"A": []})
    with pytest.raises(A2DError, match="at least 1 round"):
        time_sitting(measure, {"a": "A"}, rounds=0)
    with pytest.raises(A2DError, match="settle"):
        time_sitting(measure, {"a": "A"}, rounds=1, settle=-1)
    with pytest.raises(A2DError, match="budget must be > 0"):
        judge_budget(0.1, 0.0, 0.1)
    with pytest.raises(A2DError, match="no timings"):
        spread_of([])
    assert spread_of([0.5]) == 0.0
