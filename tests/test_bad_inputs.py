"""Bad inputs a user can give (issue 39's list and their kin): each ends in one line and a
non-zero exit, and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from a2d_edge.cli import main
from a2d_edge.hw.cli import main as profile_main


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` and its bytes (None for a folder)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}  # fmt: skip


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder holding a file, a folder and an oversized arch.json, as the working directory."""
    (tmp_path / "file").write_text("mine\n")
    (tmp_path / "folder").mkdir()
    big = {"schema": "a2d.arch/1", "family": "nature", "hidden": 1_000_000_000}
    (tmp_path / "big.json").write_text(json.dumps(big))
    monkeypatch.chdir(tmp_path)
    return tmp_path


A2D = [
    (["eval", "zoo:pong", "--episodes", "0"], "--episodes: must be at least 1, not 0"),
    (["eval", "zoo:pong", "--episodes", "-3"], "--episodes: must be at least 1, not -3"),
    (["eval", "zoo:pong", "--seed", "-1"], "--seed: must be at least 0"),
    (["train", "--out", "file", "--steps", "80"], "--out file is a file, not a folder"),
    (["train", "--out", "file/run", "--steps", "80"], "file is a file, not a folder"),
    (["search", "--teacher", "zoo:pong", "--out", "file"], "--out file is a file"),
    (["train", "--arch", "big.json", "--out", "run"],
     "arch field 'hidden' is 1,000,000,000; at most 16,384 fits in memory"),
    (["arch-info", "big.json"], "arch field 'hidden' is 1,000,000,000"),
    (["arch-info", "nature", "--actions", "0"], "--actions: must be at least 1"),
    (["search", "--preset", "edge", "--steps", "3000", "--flops-weight", "1000", "--out", "run"],
     "--flops-weight, --steps are for a2d search-rl"),
    (["train", "--num-envs", "0", "--out", "run"], "'num_envs' is 0; it must be >= 1"),
    (["train", "--steps", "2.5", "--out", "run"], "not an integer"),
    (["train", "--lr", "nan", "--out", "run"], "'lr' is nan; it must be a finite number"),
    (["search-rl", "--tau", "inf", "--out", "run"], "'tau' is inf; it must be a"),
    (["run", "bundle", "--hz", "inf"], "'hz' is inf; it must be a finite number"),
    (["export", "zoo:pong", "--out", "file"], "--out file is a file, not a folder"),
    (["export", "zoo:pong", "--frames", "0", "--out", "bundle"], "'frames' is 0"),
    (["run", "bundle", "--hz", "-1"], "'hz' is -1.0; it must be >= 0"),
    (["run", "bundle", "--report", "folder"], "--report folder is a folder"),
    (["run", "bundle", "--no-recalibrate"], "--no-recalibrate is for --lut"),
    (["run", "bundle", "--record", "file/v.gif"], "file is a file, not a folder"),
    (["sweep", "configs/table1.yaml", "--out", "file"], "--out file is a file"),
    (["sweep", "configs/table1.yaml", "--out", "s", "--seeds", "-1"], "--seeds: must be at least"),
    (["report", "folder", "--out", "file"], "--out file is a file"),
]  # fmt: skip

PROFILE = [
    (["--threads", "0"], "--threads: must be at least 1, not 0"),
    (["--threads", "-2"], "--threads: must be at least 1, not -2"),
    (["--repeats", "0"], "--repeats: must be at least 1"),
    (["--warmup", "-1"], "--warmup: must be at least 0"),
    (["--actions", "0"], "--actions: must be at least 1"),
    (["--mode", "controller", "--hz", "-60"], "--hz: must be a number of at least 0"),
    (["--mode", "controller", "--hz", "inf"], "--hz: must be a number of at least 0"),
    (["--validate", "-4"], "--validate: must be at least 0"),
    (["--preset", "tiny", "--validate", "1"], "--validate N fits on half of N archs"),
    (["--recalibrate", "t.json", "--archs", "0"], "--archs: must be at least 1"),
    (["--out", "folder"], "--out folder is a folder"),
    (["--out", "file/t.json"], "file is a file, not a folder"),
]  # fmt: skip


def _one_line(err: str, message: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err, err


@pytest.mark.parametrize(("argv", "message"), A2D)
def test_a2d_bad_input_is_one_line_and_writes_nothing(argv, message, workdir, capsys):
    before = _tree(workdir)
    assert main(argv) == 2
    _one_line(capsys.readouterr().err, message)
    assert _tree(workdir) == before


@pytest.mark.parametrize(("argv", "message"), PROFILE)
def test_a2d_profile_bad_input_is_one_line_and_writes_nothing(argv, message, workdir, capsys):
    before = _tree(workdir)
    assert profile_main(argv) == 2
    _one_line(capsys.readouterr().err, message)
    assert _tree(workdir) == before
