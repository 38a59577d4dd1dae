"""benchmarks/table_check.py's pure parts: the held-out error figures and the README's rows."""

import pytest

from benchmarks.table_check import held_out_error, readme_row, validation_figures


def test_held_out_error_hand_computed():
    # relative errors 10%, 5%, 20%, 0%: MAPE 8.75%, three within ±10% (10% itself counts)
    e = held_out_error([110.0, 95.0, 240.0, 50.0], [100.0, 100.0, 200.0, 50.0])
    assert e.mape_pct == pytest.approx(8.75) and e.within_10 == 3 and e.n == 4
    assert str(e) == "8.8% (3/4 within ±10%)"
    # issue 39's stale table: every arch off by more than 10%
    stale = held_out_error([130.0, 60.0], [100.0, 100.0])
    assert stale.within_10 == 0 and stale.mape_pct == pytest.approx(35.0)
    with pytest.raises(ValueError):
        held_out_error([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        held_out_error([], [])


def test_a_tables_own_validation_in_one_row():
    op = {"mode": "warm", "validation": {"corrected": {"mape_pct": 1.8, "within_10pct": 0.95,
                                                       "n": 20}}}  # fmt: skip
    assert validation_figures(op) == "MAPE 1.8%, 19/20 within ±10% (corrected, held out)"
    width = {"validation": {"retimed": {"mape_pct": 0.56, "within_10pct": 1.0, "n": 32}}}
    assert validation_figures(width) == "MAPE 0.6%, 32/32 within ±10% (re-timed whole)"
    assert validation_figures({}) == "no validation record"
    ctl = {**op, "mode": "controller", "controller": {"hz": 60.0}}
    row = readme_row("t.json", ctl, "2026-12-01")
    assert row == ("| `t.json` | controller 60 Hz | MAPE 1.8%, 19/20 within ±10% "
                   "(corrected, held out) | 2026-12-01 |")  # fmt: skip
