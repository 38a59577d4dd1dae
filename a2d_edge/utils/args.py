"""Bounded argparse types and output-path checks shared by the commands (torch-free).

A number outside its range or an output path of the wrong kind is refused in one line before a
command does anything, as a config field's `low` / `high` are (`a2d_edge.config.check_range`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from a2d_edge.errors import A2DError


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are an A2DError, so that `utils.cli.run_cli` says them in
    one line and returns 2 as it does a command's (the usage is for --help)."""

    def error(self, message: str) -> NoReturn:
        raise A2DError(f"{message} (`{self.prog} --help` lists the flags)")


def _int(text: str) -> int:
    """An integer, also spelt 1e6 or 1_000_000."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = 0.5
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    return int(value)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= `low`."""

    def parse(text: str) -> int:
        value = _int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value

    parse.__name__ = f"int >= {low}"
    return parse


def float_at_least(low: float) -> Callable[[str], float]:
    """An argparse type: a finite number >= `low`."""

    def parse(text: str) -> float:
        value = _float(text)
        if not low <= value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be a number of at least {low:g}, not {text}")
        return value

    parse.__name__ = f"float >= {low:g}"
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
non_negative_float = float_at_least(0.0)


def check_out_dir(path: str | Path, flag: str = "--out") -> Path:
    """A folder to write into: refused when it is an existing file (one line, nothing written)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise A2DError(f"{flag} {path} is a file, not a folder: choose a folder to write into")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise A2DError(f"{flag} {path}: {parent} is a file, not a folder")
    return path


def check_out_file(path: str | Path, flag: str) -> Path:
    """A file to write: refused when it is an existing folder or lies under a file."""
    path = Path(path)
    if path.is_dir():
        raise A2DError(f"{flag} {path} is a folder: give the path of a file to write")
    check_out_dir(path.parent, flag)
    return path
