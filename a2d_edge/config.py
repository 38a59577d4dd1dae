"""Dataclass configs: fields carry their help text; a YAML/JSON file and CLI flags override them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from a2d_edge.errors import A2DError

T = TypeVar("T")

RESUME_OVERRIDES = ("threads", "learner_threads", "env_threads", "progress", "device")
"""Settings a resumed run may change: they set speed, not the math."""


def field(
    default: Any,
    help: str,
    flag: bool = True,
    choices: tuple[str, ...] | None = None,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    cli: str | None = None,
    parse: Callable[[str], Any] | None = None,
    metavar: str | None = None,
) -> Any:
    """A dataclass field with help text; `flag=False` keeps it out of the CLI; a number must lie
    in [low, high], and above `above` (strictly), where those are given. `cli`: the flag's name
    when it is not `--field-name`; `parse`: turns the flag's text (or a file's string) into the
    field's value."""
    meta = {"help": help, "flag": flag, "choices": choices, "low": low, "high": high,
            "above": above, "cli": cli, "parse": parse, "metavar": metavar}  # fmt: skip
    return dataclasses.field(default=default, metadata=meta)


def check_range(name: str, value: Any, meta: Any) -> None:
    """One line when a number lies outside its field's range (pure)."""
    low, high, above = meta.get("low"), meta.get("high"), meta.get("above")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if not math.isfinite(value):
        raise A2DError(f"setting {name!r} is {value!r}; it must be a finite number")
    bad = (low is not None and value < low) or (high is not None and value > high) or (
        above is not None and value <= above
    )  # fmt: skip
    if bad:
        parts = [f"> {above:g}" if above is not None else "", f">= {low:g}" if low is not None
                 else "", f"<= {high:g}" if high is not None else ""]  # fmt: skip
        raise A2DError(
            f"setting {name!r} is {value!r}; it must be {' and '.join(p for p in parts if p)}"
        )


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def add_config_args(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One `--field-name` flag per field (default None, so only given flags override)."""
    types = _field_types(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get("flag", True) or f.name in skip:
            continue
        name = "--" + (f.metadata.get("cli") or f.name.replace("_", "-"))
        tp = types[f.name]
        shown = f.default if f.default not in ("", None, frozenset()) else "none"
        help_text = f"{f.metadata.get('help', '')} (default: {shown})"
        if tp is bool:
            parser.add_argument(
                name,
                dest=f.name,
                default=None,
                action=argparse.BooleanOptionalAction,
                help=help_text,
            )
        else:
            converters: dict[Any, Callable[[str], Any]] = {int: _int, float: float, str: str}
            conv = converters.get(tp, str)
            parser.add_argument(
                name,
                dest=f.name,
                default=None,
                type=conv,
                choices=f.metadata.get("choices"),
                metavar=f.metadata.get("metavar"),
                help=help_text,
            )


def _int(text: str) -> int:
    """Integers that also accept 1e6 / 1_000_000 spellings."""
    try:
        return int(text)
    except ValueError:
        value = float(text)
        if not value.is_integer():
            raise argparse.ArgumentTypeError(f"not an integer: {text}") from None
        return int(value)


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise A2DError(f"cannot read config {path}: {e.strerror}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as e:
        raise A2DError(f"config {path} does not parse: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise A2DError(f"config {path} must hold a mapping of field names to values")
    return {k.replace("-", "_"): v for k, v in data.items()}


def build_config(cls: type[T], *layers: dict[str, Any]) -> T:
    """Defaults, then each layer of overrides in order (None values are skipped)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    metas = {f.name: f.metadata for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    types = _field_types(cls)
    values: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                continue
            if key not in names:
                raise A2DError(f"unknown setting {key!r} for {cls.__name__}")
            parse = metas[key].get("parse")
            values[key] = parse(value) if parse and isinstance(value, str) else _coerce(
                key, value, types[key]
            )  # fmt: skip
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        choices = f.metadata.get("choices")
        if choices and f.name in values and values[f.name] not in choices:
            raise A2DError(
                f"setting {f.name!r} is {values[f.name]!r}; choose one of {', '.join(choices)}"
            )
        if f.name in values:
            check_range(f.name, values[f.name], f.metadata)
    return cls(**values)


def _coerce(key: str, value: Any, tp: Any) -> Any:
    try:
        if tp is bool:
            if not isinstance(value, bool):
                raise ValueError
            return value
        if tp is int:
            return _int(str(value))
        if tp is float:
            return float(value)
        if tp is str:
            return str(value)
    except (ValueError, argparse.ArgumentTypeError):
        raise A2DError(f"setting {key!r} expects {tp.__name__}, got {value!r}") from None
    return value


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def flags_for(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The parsed flags that are fields of `cls` (None: not given)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in names}
