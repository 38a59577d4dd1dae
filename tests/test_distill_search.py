"""benchmarks/distill_search.py's bookkeeping: a resumed series keeps its budgets."""

import json

from benchmarks.distill_search import series_teacher_ms


def test_a_series_keeps_the_teacher_latency_it_started_with(tmp_path):
    lut = "latency_tables/x.json"
    assert series_teacher_ms(tmp_path, lut, "zoo:pong", 0.338) == 0.338
    assert json.loads((tmp_path / "series.json").read_text())["budget_teacher_ms"] == 0.338
    # a later, slower sitting measures 0.415 ms: the budgets stay fractions of 0.338
    assert series_teacher_ms(tmp_path, lut, "zoo:pong", 0.415) == 0.338
    # another table or teacher is another series
    other = tmp_path / "other"
    other.mkdir()
    (other / "series.json").write_text((tmp_path / "series.json").read_text())
    assert series_teacher_ms(other, "latency_tables/y.json", "zoo:pong", 0.2) == 0.2


def test_a_folder_from_before_series_files_uses_its_summary(tmp_path):
    summary = {"table": "t.json", "teacher": "zoo:pong", "teacher_ms": 0.338, "rows": []}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert series_teacher_ms(tmp_path, "t.json", "zoo:pong", 0.4) == 0.338
