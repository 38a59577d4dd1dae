"""`make demo` takes a shipped table only when its fingerprint is this host's and it is timed
as the demo's run waits; otherwise it says why in one line and profiles this host briefly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import a2d_edge.demo as demo
from a2d_edge.hw.cli import main as profile_main
from a2d_edge.utils.fingerprint import this_host

TINY = ["--backend", "torch", "--preset", "edge", "--repeats", "1", "--warmup", "1", "--quiet"]


@pytest.fixture(scope="module")
def ctl60(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("t") / "x.json"
    assert profile_main([*TINY, "--mode", "controller", "--hz", "60", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def warm(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("t") / "x.json"
    assert profile_main([*TINY, "--out", str(out)]) == 0
    return out


def _fake(monkeypatch) -> tuple[list[tuple[Path, Path]], list[tuple[Any, str, Path]]]:
    """The demo's recalibrations (table, copy) and profiles (settings, preset, out), recorded
    instead of timed."""
    recalibrations: list[tuple[Path, Path]] = []
    profiles: list[tuple[Any, str, Path]] = []
    monkeypatch.setattr(
        "a2d_edge.hw.drift.recalibrate_file",
        lambda path, out, **kw: recalibrations.append((Path(path), Path(out))),
    )
    monkeypatch.setattr(
        "a2d_edge.hw.profiling.profile_table",
        lambda settings, preset, out, **kw: profiles.append((settings, preset, Path(out))),
    )
    return recalibrations, profiles


def _ship(src: Path, folder: Path, name: str, device: dict | None = None) -> Path:
    data = json.loads(src.read_text())
    if device is not None:
        data["device"] = device
    (folder / name).write_text(json.dumps(data))
    return folder / name


def test_a_table_of_this_host_timed_as_the_run_waits_is_used(ctl60, tmp_path, monkeypatch, capsys):
    shipped = tmp_path / "tables"
    shipped.mkdir()
    _ship(ctl60, shipped, "here-onnxruntime-int8-edge.json")  # warm by name, controller inside
    chosen = _ship(ctl60, shipped, "here-onnxruntime-int8-edge-ctl60hz.json")
    monkeypatch.setattr(demo, "TABLES", shipped)
    recalibrations, profiles = _fake(monkeypatch)
    # its recalibrated copy
    assert demo.latency_table(tmp_path, 60.0, "edge", "int8") == tmp_path / chosen.name
    assert "using the shipped table" in capsys.readouterr().out
    assert recalibrations == [(chosen, tmp_path / chosen.name)] and profiles == []


def test_another_hosts_table_is_named_and_this_host_profiled(ctl60, tmp_path, monkeypatch, capsys):
    shipped = tmp_path / "tables"
    shipped.mkdir()
    other = {**this_host().to_dict(), "isa": ["avx2", "avx512_vnni"], "slug": "there-2c-vnni"}
    _ship(ctl60, shipped, "there-onnxruntime-int8-edge-ctl60hz.json", other)
    monkeypatch.setattr(demo, "TABLES", shipped)
    recalibrations, profiles = _fake(monkeypatch)
    path = demo.latency_table(tmp_path, 60.0, "edge", "int8")
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("no shipped table"))
    assert "there-2c-vnni" in line and this_host().slug in line
    assert recalibrations == []  # another host's table is never rescaled here
    ((settings, preset, written),) = profiles
    assert settings.mode == "controller" and settings.pacing.hz == 60
    assert settings.precision == "int8" and preset == "edge"
    assert written == path and path.name == f"{this_host().slug}-onnxruntime-int8-edge-ctl60hz.json"


def test_the_search_takes_the_warm_table_and_the_run_its_controller_twin(
    warm, ctl60, tmp_path, monkeypatch
):
    """The budget is of the model's own cost (warm); the run is judged as it waits (60 Hz)."""
    shipped = tmp_path / "tables"
    shipped.mkdir()
    w = _ship(warm, shipped, "here-onnxruntime-fp32-edge.json")
    c = _ship(ctl60, shipped, "here-onnxruntime-fp32-edge-ctl60hz.json")
    _ship(ctl60, shipped, "here-onnxruntime-int8-edge-ctl60hz.json")  # another precision
    monkeypatch.setattr(demo, "TABLES", shipped)
    recalibrations, profiles = _fake(monkeypatch)
    assert demo.latency_table(tmp_path, 0.0, "edge") == tmp_path / w.name
    assert demo.latency_table(tmp_path, 60.0, "edge") == tmp_path / c.name
    assert [table for table, _ in recalibrations] == [w, c]  # each recalibrated
    assert profiles == []  # nothing profiled
    recalibrations.clear()
    demo.latency_table(tmp_path / "none", 0.0, "edge", "int8")  # no warm INT8 table: profiled
    ((settings, _, _),) = profiles
    assert settings.mode == "warm" and settings.pacing.hz == 0
    assert settings.precision == "int8" and recalibrations == []


def test_the_demo_replaces_only_a_folder_it_made(tmp_path):
    from a2d_edge.errors import A2DError

    mine = tmp_path / "demo"
    demo.fresh_folder(mine)
    (mine / "old.txt").write_text("a past run")
    demo.fresh_folder(mine)  # its own folder: emptied
    assert sorted(p.name for p in mine.iterdir()) == [demo.MARK]
    theirs = tmp_path / "work"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("keep me")
    with pytest.raises(A2DError, match="not a folder a2d-demo made"):
        demo.fresh_folder(theirs)
    assert (theirs / "thesis.tex").read_text() == "keep me"


def test_shipped_tables_are_found_by_the_environment_first(tmp_path, monkeypatch):
    monkeypatch.setenv("A2D_LATENCY_TABLES", str(tmp_path))
    assert demo.shipped_tables() == tmp_path
    monkeypatch.delenv("A2D_LATENCY_TABLES")
    assert (demo.shipped_tables() / "README.md").is_file()  # the checkout's latency_tables/


def test_the_search_runs_as_a2d_search_with_the_demos_flags(tmp_path, monkeypatch, capsys):
    """The demo's search goes through the library (`run_command`) with the settings its former
    `a2d search` command line gave, and says that command line."""
    import argparse

    from a2d_edge.cli import _parser
    from a2d_edge.experiments.commands import Outcome, resolve_settings
    from a2d_edge.search.settings import DistillSearchConfig

    runs: list[tuple[str, Any, Path]] = []
    monkeypatch.setattr(
        "a2d_edge.experiments.commands.run_command",
        lambda command, cfg, run_dir, **kw: runs.append((command, cfg, run_dir)) or Outcome(0, ""),
    )
    args = argparse.Namespace(finish_steps=9000, final_episodes=4, supernet_steps=0)
    demo.search(tmp_path, "zoo:pong", tmp_path / "t.json", 0.4567, args, "zoo:pong-fast")
    flags = ["--env", "ALE/Pong-v5", "--teacher", "zoo:pong", "--lut", str(tmp_path / "t.json"),
             "--latency-budget-ms", "0.4567", "--run-hz", "0", "--no-recalibrate",
             "--finish-steps", "9000", "--teacher-share-steps", "3000", "--population", "12",
             "--generations", "6", "--final-episodes", "4", "--learner-threads", "2",
             "--eval-every", "0", "--supernet", "zoo:pong-fast"]  # fmt: skip
    argv = ["search", *flags, "--out", str(tmp_path / "search")]
    assert f"$ a2d {' '.join(argv)}" in capsys.readouterr().out
    want = resolve_settings(_parser().parse_args(argv), DistillSearchConfig, "search")
    assert runs == [("search", want, tmp_path / "search")]
    demo.search(tmp_path, "zoo:pong", tmp_path / "t.json", 0.4567, args, None)  # none shipped
    assert runs[-1][1].supernet == "" and runs[-1][1].supernet_steps == 30_000


def test_an_int8_export_that_misses_its_bar_falls_back_to_fp32(tmp_path, monkeypatch, capsys):
    from a2d_edge.errors import A2DError

    tried: list[Any] = []

    def export_bundle(spec: str, out: Path, settings: Any) -> dict[str, Any]:
        tried.append(settings)
        if settings.int8:
            raise A2DError("INT8 action agreement 90.0% < 99.0%")
        return {}

    monkeypatch.setattr("a2d_edge.export.bundle.export_bundle", export_bundle)
    monkeypatch.setattr("a2d_edge.export.bundle.describe", lambda manifest, out: ["described"])
    demo.export("zoo:pong", tmp_path / "b", 64, "int8", "the teacher")
    assert [(s.int8, s.frames) for s in tried] == [(True, 64), (False, 64)]
    out = capsys.readouterr().out
    assert "INT8 missed the agreement bar for the teacher: exporting fp32" in out
    tried.clear()
    demo.export("zoo:pong", tmp_path / "b", 256, "fp32", "this agent")
    assert [(s.int8, s.frames) for s in tried] == [(False, 256)]
