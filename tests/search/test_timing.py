"""The measured latency a search reports (`search.timing`): the agent beside its teacher in one
sitting, on a fake clock (`measure_here` replaced), with the budget's verdict."""

import json
from pathlib import Path

import pytest

from a2d_edge.hw.lut import LatencyTable
from a2d_edge.search import timing
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.finish import measured_at_end
from a2d_edge.search.start import teacher_latency
from a2d_edge.utils.fingerprint import this_host

SHIPPED = Path("latency_tables/amd-epyc-2c-avx2-onnxruntime-fp32-fast.json")


@pytest.fixture
def clock(monkeypatch):
    """measure_here on a fake clock: the agent reads 0.2 (settle), 0.10, 0.12, 0.11, 0.10,
    0.10 ms; the teacher 0.9, 0.30, 0.33, 0.36, 0.30, 0.30; every call logged."""
    readings = {"A": iter([0.2, 0.10, 0.12, 0.11, 0.10, 0.10]),
                "T": iter([0.9, 0.30, 0.33, 0.36, 0.30, 0.30])}  # fmt: skip
    calls: list[tuple[str, int | None]] = []

    def measure_here(table, arch, n_actions=None):
        name = arch if isinstance(arch, str) else arch["name"]
        calls.append((name, n_actions))
        return next(readings[name])

    monkeypatch.setattr(timing, "measure_here", measure_here)
    monkeypatch.setattr("a2d_edge.sources.checkpoint.load_checkpoint", lambda spec: {"arch": "T"})
    return calls


class Table:
    path = "t.json"


def test_the_agent_is_timed_beside_its_teacher(clock, capsys):
    got = timing.measured_beside_teacher(Table(), "A", "zoo:x", 4, budget_ms=0.08)  # type: ignore[arg-type]
    assert len(clock) == 2 * 6 and {n for _, n in clock} == {4}  # the game's head, 1 + 5 rounds
    assert got["measured_ms"] == 0.10 and got["measured_median_ms"] == 0.10
    m = got["measured"]
    assert m["rounds"] == 5 and m["settle_rounds"] == 1 and m["table"] == "t.json"
    assert m["agent"]["spread"] == pytest.approx(0.2) and m["teacher"]["fastest_ms"] == 0.30
    # per round 1/3, 0.12/0.33, 0.11/0.36, 1/3, 1/3: the median is 1/3
    assert m["ratio"] == pytest.approx(1 / 3)
    # 0.10 against 0.08: 25% above, beyond a spread of 20%: one warning line naming both
    assert m["judgement"]["status"] == "over budget"
    out = capsys.readouterr().out.strip()
    assert out.startswith("warning:") and "0.100 ms" in out and "0.080 ms" in out
    assert "\n" not in out
    line = timing.describe_measured(m)
    assert "0.100 ms (median 0.100, spread 20%, 5 rounds)" in line and "ratio 0.33x" in line


def test_within_the_spread_is_noise_and_no_teacher_no_ratio(clock, capsys):
    got = timing.measured_beside_teacher(Table(), "A", "", 6, budget_ms=0.09)  # type: ignore[arg-type]
    m = got["measured"]
    assert "teacher" not in m and "ratio" not in m and len(clock) == 6
    assert m["judgement"]["status"] == "within noise"  # 11.1% above, spread 20%
    assert "within noise" in capsys.readouterr().out


def test_search_end_times_only_on_this_hosts_table(clock, tmp_path):
    here, there = tmp_path / "here.json", tmp_path / "there.json"
    for path, device in [(here, this_host().to_dict()), (there, {"cpu": "X", "slug": "x-1c"})]:
        data = json.loads(SHIPPED.read_text())
        data["device"] = device
        path.write_text(json.dumps(data))
    assert measured_at_end(SearchConfig(lut=str(there), run_hz=0), "A", 6, 0.2) == {}
    assert measured_at_end(SearchConfig(teacher="zoo:x"), "A", 6, None) == {}  # no table
    assert clock == []
    # this host's table: timed (its settings only: never recalibrated for a timing)
    got = measured_at_end(SearchConfig(lut=str(here), run_hz=0, teacher="zoo:x"), "A", 6, 0.2)
    assert got["measured_ms"] == 0.10 and got["measured"]["judgement"]["status"] == "within budget"


def test_budget_of_the_teacher_is_its_fastest_round(clock, tmp_path):
    data = json.loads(SHIPPED.read_text())
    data["device"] = this_host().to_dict()
    path = tmp_path / "here.json"
    path.write_text(json.dumps(data))
    ms, how = teacher_latency(LatencyTable.load(path), "zoo:x")
    assert ms == 0.30 and "fastest of 5 rounds; median 0.300 ms, spread 20%" in how


def test_a_zoo_card_times_the_agent_beside_its_teacher(clock, tmp_path):
    from tools.publish_zoo import search_card

    data = json.loads(SHIPPED.read_text())
    data["device"] = this_host().to_dict()
    here = tmp_path / "here.json"
    here.write_text(json.dumps(data))
    run = tmp_path / "run"
    run.mkdir()
    result = {"env_id": "ALE/Pong-v5", "arch": {"name": "A"}, "latency": {}, "mflops": 1.0,
              "teacher": "zoo:x"}  # fmt: skip
    (run / "result.json").write_text(json.dumps(result))
    card = search_card(run, [str(here)])["search"]["measured_here"]["here.json"]
    assert card["ms"] == 0.10 and card["median_ms"] == 0.10 and card["rounds"] == 5
    assert card["x_teacher"] == pytest.approx(1 / 3)
    assert {n for _, n in clock} == {6}  # Pong's head


def test_budget_of_teacher_keeps_the_teacher_it_took(clock, tmp_path, capsys):
    from a2d_edge.search.start import resolve_budget

    data = json.loads(SHIPPED.read_text())
    data["device"] = this_host().to_dict()
    path = tmp_path / "here.json"
    path.write_text(json.dumps(data))
    cfg = SearchConfig(lut=str(path), run_hz=0, teacher="zoo:x", budget_of_teacher=0.5,
                       recalibrate=False)  # fmt: skip
    got = resolve_budget(cfg)
    assert got.latency_budget_ms == pytest.approx(0.15) and got.budget_teacher_ms == 0.30
    line = capsys.readouterr().out
    assert "0.5 x the teacher's 0.300 ms" in line and "median 0.300 ms, spread 20%" in line
