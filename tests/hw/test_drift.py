"""Drift handled by the product (`hw.drift`): a table of this host is rescaled to the sitting
before it predicts here (`a2d search --lut`, `a2d run --lut`, `--budget-of-teacher`), a
foreign one never; `--no-recalibrate` keeps it as it is. The device is faked: every arch
timed runs 1.25x its prediction."""

import json
from pathlib import Path

import numpy as np
import pytest

from a2d_edge.hw import drift
from a2d_edge.hw.drift import run_prediction
from a2d_edge.hw.lut import LatencyTable
from a2d_edge.hw.table import load_table
from a2d_edge.nets.space import random_archs
from a2d_edge.runtime.pacing import Pacing
from a2d_edge.search.config import SearchConfig
from a2d_edge.search.prepare import resolve_lut
from a2d_edge.utils.fingerprint import this_host
from tests.hw.test_hosts import lookalike
from tests.hw.test_widthtable import random_width_table

SHIPPED = Path("latency_tables/amd-epyc-2c-avx2-onnxruntime-fp32-fast.json")
SLOWER = 1.25


@pytest.fixture
def device(monkeypatch):
    """A fake device: `measure_archs` returns 1.25x the table's prediction of each arch as it
    stands when timed (so a fit finds scale 1.25, offset 0); counts the archs it timed."""
    timed: list[int] = []
    tables: list = []

    def measure_archs(space, archs, s):
        timed.append(len(archs))
        return np.array([SLOWER * tables[-1].predict(a) * 1000 for a in archs])

    from a2d_edge.hw import profile

    real = profile.recalibrate

    def watching(table, *args, **kwargs):
        tables.append(table)
        return real(table, *args, **kwargs)

    monkeypatch.setattr(profile, "measure_archs", measure_archs)
    monkeypatch.setattr(profile, "recalibrate", watching)
    monkeypatch.setattr(drift, "_DONE", {})
    return timed


def _as(device: dict, dst: Path, src: Path = SHIPPED) -> Path:
    data = json.loads(src.read_text())
    data["device"] = device
    dst.write_text(json.dumps(data))
    return dst


def test_repeats_fit_a_few_seconds_of_ticks():
    assert drift.repeats_for(0) == 60  # warm: 60 calls per arch
    assert drift.repeats_for(60) == 60  # 12 s x 60 Hz / 12 archs
    assert drift.repeats_for(15) == 15  # 12 s x 15 Hz / 12 archs
    assert drift.repeats_for(5) == 15  # never fewer than 15


def test_this_hosts_table_is_recalibrated_automatically_once(device, tmp_path, capsys):
    path = _as(this_host().to_dict(), tmp_path / "here.json")
    arch = random_archs("fast", 1, seed=3)[0]
    shipped = LatencyTable.load(path).predict(arch)
    table = resolve_lut(SearchConfig(lut=str(path), run_hz=0))
    assert device == [drift.ARCHS]
    assert table.predict(arch) == pytest.approx(SLOWER * shipped)
    rec = table.meta["recalibration"]
    assert rec["automatic"] and rec["archs"] == drift.ARCHS
    assert rec["drift_fit"]["scale"] == pytest.approx(SLOWER)
    assert rec["after_in_sample"]["mape_pct"] == pytest.approx(0.0, abs=1e-6)
    line = capsys.readouterr().out.strip()
    assert "recalibrated to this sitting" in line and "\n" not in line
    # a second load in the same process reuses the sitting's fit: nothing timed again
    again = resolve_lut(SearchConfig(lut=str(path), run_hz=0))
    assert device == [drift.ARCHS] and again.predict(arch) == pytest.approx(SLOWER * shipped)
    # --no-recalibrate: the table as it is
    plain = resolve_lut(SearchConfig(lut=str(path), run_hz=0, recalibrate=False))
    assert plain.predict(arch) == pytest.approx(shipped) and "recalibration" not in plain.meta


def test_a_foreign_or_lookalike_table_stays_as_it_is(device, tmp_path, missing_feature):
    arch = random_archs("fast", 1, seed=3)[0]
    for name, host in [("jetson", {"cpu": "ARMv8 Processor", "slug": "jetson-x"}),
                       ("lookalike", lookalike(missing_feature))]:  # fmt: skip
        path = _as(host, tmp_path / f"{name}.json")
        table = resolve_lut(SearchConfig(lut=str(path), run_hz=0))
        assert table.predict(arch) == pytest.approx(LatencyTable.load(path).predict(arch))
        assert "recalibration" not in table.meta
    assert device == []  # nothing timed


def test_a_run_judged_by_this_hosts_table_is_recalibrated(device, tmp_path):
    path = _as(this_host().to_dict(), tmp_path / "here.json")
    arch = random_archs("fast", 1, seed=5)[0]
    shipped = LatencyTable.load(path).predict(arch)
    prediction, warnings = run_prediction(path, arch, Pacing(0), "fp32")
    assert prediction["predicted_ms"] == pytest.approx(SLOWER * shipped) and not warnings
    assert prediction["recalibration"]["drift_fit"]["scale"] == pytest.approx(SLOWER)
    off, _ = run_prediction(path, arch, Pacing(0), "fp32", recalibrate=False)
    assert off["predicted_ms"] == pytest.approx(shipped) and off["recalibration"] is None
    foreign = _as({"cpu": "Other", "slug": "other-1c"}, tmp_path / "other.json")
    there, _ = run_prediction(foreign, arch, Pacing(0), "fp32")
    assert there["recalibration"] is None and device == [drift.ARCHS]


def test_a_run_is_judged_by_a_width_table_too(device, tmp_path):
    """`a2d run --lut` with the width table a width search used: its prediction for the
    bundle's arch, rescaled to the sitting like an op table's."""
    table = random_width_table()
    table.meta = {**table.meta, "device": this_host().to_dict(), "precision": "fp32"}
    path = tmp_path / "w.json"
    table.save(path)
    fastest, arch = load_table(path).fastest()
    prediction, warnings = run_prediction(path, arch, Pacing(0), "fp32")
    assert prediction["predicted_ms"] == pytest.approx(SLOWER * fastest) and not warnings
    assert prediction["recalibration"]["drift_fit"]["scale"] == pytest.approx(SLOWER)


def test_a_width_table_of_this_host_is_rescaled_too(device, tmp_path):
    table = random_width_table()
    table.meta = {**table.meta, "device": this_host().to_dict()}
    path = tmp_path / "w.json"
    table.save(path)
    loaded = load_table(path)
    fastest, arch = loaded.fastest()
    rec = drift.to_this_sitting(loaded, say=False)
    assert rec is not None and device == [drift.ARCHS]
    assert loaded.predict(arch) == pytest.approx(SLOWER * fastest)
    assert loaded.fastest()[0] == pytest.approx(SLOWER * fastest)
    assert arch in loaded.within(SLOWER * fastest * 1.001)
    assert loaded.within(fastest * 1.2) == []  # what fitted as shipped fits no more
    # the rescale is saved with the table and read back
    loaded.save(tmp_path / "w2.json")
    assert load_table(tmp_path / "w2.json").predict(arch) == pytest.approx(SLOWER * fastest)


def test_the_flags_that_turn_it_off():
    from a2d_edge.cli import _parser

    assert _parser().parse_args(["run", "B", "--lut", "T", "--no-recalibrate"]).no_recalibrate
    assert not _parser().parse_args(["run", "B", "--lut", "T"]).no_recalibrate
    args = _parser().parse_args(["search", "--out", "o", "--no-recalibrate"])
    assert args.recalibrate is False  # SearchConfig.recalibrate (search and distill)
    assert _parser().parse_args(["distill", "--out", "o"]).recalibrate is None  # default: on
    assert SearchConfig().recalibrate is True


def test_a2d_profile_recalibrates_a_width_table_too(device, tmp_path, capsys):
    from a2d_edge.hw.cli import main as profile_main

    table = random_width_table()
    table.meta = {**table.meta, "device": this_host().to_dict()}
    table.save(tmp_path / "w.json")
    fastest, arch = table.fastest()
    argv = ["--recalibrate", str(tmp_path / "w.json"), "--out", str(tmp_path / "w2.json")]
    assert profile_main([*argv, "--archs", "5", "--repeats", "3"]) == 0
    assert device == [5] and "median ratio 1.250" in capsys.readouterr().out
    assert load_table(tmp_path / "w2.json").predict(arch) == pytest.approx(SLOWER * fastest)
