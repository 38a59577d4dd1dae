"""Bounded argparse types and output-path checks (utils/args.py)."""

from __future__ import annotations

import argparse

import pytest

from a2d_edge.errors import A2DError
from a2d_edge.utils.args import (
    OneLineParser,
    check_out_dir,
    check_out_file,
    int_at_least,
    non_negative_float,
    positive_int,
)


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("30", 30), ("1e3", 1000), ("2_000", 2000)])
def test_positive_int_reads_integers(text, value):
    assert positive_int(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [("0", "at least 1, not 0"), ("-4", "at least 1, not -4"), ("2.5", "not an integer"),
     ("x", "not an integer"), ("inf", "not an integer")],
)  # fmt: skip
def test_positive_int_refuses(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        positive_int(text)


def test_int_at_least_bounds_from_below():
    assert int_at_least(-2)("-2") == -2
    with pytest.raises(argparse.ArgumentTypeError):
        int_at_least(-2)("-3")


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "x"])
def test_non_negative_float_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError):
        non_negative_float(text)
    assert non_negative_float("0") == 0.0 and non_negative_float("60") == 60.0


def test_one_line_parser_errors_are_a2d_errors():
    p = OneLineParser(prog="x")
    p.add_argument("--n", type=positive_int)
    with pytest.raises(A2DError, match=r"argument --n: must be at least 1, not 0 \(`x --help`"):
        p.parse_args(["--n", "0"])
    with pytest.raises(A2DError, match="unrecognized arguments: --m"):
        p.parse_args(["--m"])


def test_out_paths_of_the_wrong_kind_are_refused(tmp_path):
    (tmp_path / "f").write_text("")
    assert check_out_dir(tmp_path / "new") == tmp_path / "new"
    assert check_out_dir(tmp_path) == tmp_path
    assert check_out_file(tmp_path / "t.json", "--out") == tmp_path / "t.json"
    with pytest.raises(A2DError, match="is a file, not a folder"):
        check_out_dir(tmp_path / "f")
    with pytest.raises(A2DError, match="is a file, not a folder"):
        check_out_dir(tmp_path / "f" / "run")
    with pytest.raises(A2DError, match="is a folder"):
        check_out_file(tmp_path, "--report")
    with pytest.raises(A2DError, match="is a file, not a folder"):
        check_out_file(tmp_path / "f" / "t.json", "--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
