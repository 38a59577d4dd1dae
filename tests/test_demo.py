"""`make demo` takes a shipped table only when its fingerprint is this host's and it is timed
as the demo's run waits; otherwise it says why in one line and profiles this host briefly."""

from __future__ import annotations

import json
from pathlib import Path

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
    calls: list[list[str]] = []
    monkeypatch.setattr("a2d_edge.hw.cli.main", lambda argv: calls.append(argv) or 0)
    # its recalibrated copy
    assert demo.latency_table(tmp_path, 60.0, "edge", "int8") == tmp_path / chosen.name
    assert "using the shipped table" in capsys.readouterr().out
    (argv,) = calls
    assert argv[:2] == ["--recalibrate", str(chosen)] and argv[argv.index("--out") + 1] == str(
        tmp_path / chosen.name
    )


def test_another_hosts_table_is_named_and_this_host_profiled(ctl60, tmp_path, monkeypatch, capsys):
    shipped = tmp_path / "tables"
    shipped.mkdir()
    other = {**this_host().to_dict(), "isa": ["avx2", "avx512_vnni"], "slug": "there-2c-vnni"}
    _ship(ctl60, shipped, "there-onnxruntime-int8-edge-ctl60hz.json", other)
    calls: list[list[str]] = []
    monkeypatch.setattr(demo, "TABLES", shipped)
    monkeypatch.setattr("a2d_edge.hw.cli.main", lambda argv: calls.append(argv) or 0)
    path = demo.latency_table(tmp_path, 60.0, "edge", "int8")
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("no shipped table"))
    assert "there-2c-vnni" in line and this_host().slug in line
    (argv,) = calls
    assert argv[argv.index("--mode") + 1] == "controller" and argv[argv.index("--hz") + 1] == "60"
    assert path.name == f"{this_host().slug}-onnxruntime-int8-edge-ctl60hz.json"


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
    calls: list[list[str]] = []
    monkeypatch.setattr("a2d_edge.hw.cli.main", lambda argv: calls.append(argv) or 0)
    assert demo.latency_table(tmp_path, 0.0, "edge") == tmp_path / w.name
    assert demo.latency_table(tmp_path, 60.0, "edge") == tmp_path / c.name
    assert [argv[1] for argv in calls] == [str(w), str(c)]  # each recalibrated, nothing profiled
    calls.clear()
    demo.latency_table(tmp_path / "none", 0.0, "edge", "int8")  # no warm INT8 table: profiled
    (argv,) = calls
    assert argv[argv.index("--mode") + 1] == "warm" and "--hz" not in argv
    assert argv[argv.index("--precision") + 1] == "int8"


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
