"""Atomic writes keep a plain file's permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from a2d_edge.utils.io import atomic_write, read_json, write_json


def test_an_atomic_write_gets_the_mode_of_a_plain_open(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_json(tmp_path / "t.json", {"a": 1})
        (tmp_path / "plain.json").write_text("{}")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "t.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.json").stat().st_mode) == 0o640
    assert read_json(tmp_path / "t.json") == {"a": 1}


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    write_json(path, {"a": 1})

    def broken(f: object) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken)
    assert read_json(path) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]
