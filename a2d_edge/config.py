"""Dataclass configs: fields carry their help text; a YAML/JSON file and CLI flags override them.

A settings class may be composed of groups (`group(EnvSettings)`): its flags and its files stay
flat (`--population`, `population: 24`), so a field name is unique across a composition
(`flat_fields` checks it), `to_dict` flattens and `build_config` distributes. A `hidden` field
is accepted as a flag and in files but kept out of `--help` (listed once in its epilog)."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import textwrap
import typing
from collections.abc import Callable, Collection
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
    hidden: bool = False,
) -> Any:
    """A dataclass field with help text; `flag=False` keeps it out of the CLI; a number must lie
    in [low, high], and above `above` (strictly), where those are given. `cli`: the flag's name
    when it is not `--field-name`; `parse`: turns the flag's text (or a file's string) into the
    field's value. `hidden`: accepted, but not shown in `--help` (only named in its epilog)."""
    meta = {"help": help, "flag": flag, "choices": choices, "low": low, "high": high,
            "above": above, "cli": cli, "parse": parse, "metavar": metavar,
            "hidden": hidden}  # fmt: skip
    return dataclasses.field(default=default, metadata=meta)


def copy_field(
    cls: type,
    name: str,
    *,
    hidden: bool = False,
    default: Any = dataclasses.MISSING,
    help: str | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """Field `name` of the flat class `cls` (its default, help, range, choices), for a settings
    group; `hidden`, `default`, `help` and `choices` may differ."""
    f = next((f for f in dataclasses.fields(cls) if f.name == name), None)
    if f is None:
        raise TypeError(f"{cls.__name__} has no field {name!r}")
    meta = {**f.metadata, "hidden": hidden}
    if help is not None:
        meta["help"] = help
    if choices is not None:
        meta["choices"] = choices
    value = f.default if default is dataclasses.MISSING else default
    return dataclasses.field(default=value, metadata=meta)


GROUP = {"group": True}
"""Metadata of a field holding a settings group, `field(default_factory=EnvSettings,
metadata=GROUP)`: the group's fields are the composition's own, flat."""
HIDDEN_GROUP = {"group": True, "hidden": True}
"""A group whose fields are all hidden in this composition."""


def _groups(cls: type) -> list[tuple[dataclasses.Field[Any], type]]:
    types = _field_types(cls)
    return [(f, types[f.name]) for f in dataclasses.fields(cls) if f.metadata.get("group")]


def flat_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    """Every setting of a (composed) settings class by its flat name, groups walked in order;
    a name twice in one composition is a TypeError."""
    return dict(_flat_fields(cls))


@functools.cache
def _flat_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    out: dict[str, dataclasses.Field[Any]] = {}
    types = _field_types(cls)
    for f in dataclasses.fields(cls):
        inner = _flat_fields(types[f.name]) if f.metadata.get("group") else {f.name: f}
        for name, g in inner.items():
            if name in out:
                raise TypeError(f"{cls.__name__}: setting {name!r} is in two of its groups")
            out[name] = g
    return out


def hidden_names(cls: type) -> set[str]:
    """The settings of a class that `--help` does not show (their own or their group's mark)."""
    types = _field_types(cls)
    out: set[str] = set()
    for f in dataclasses.fields(cls):
        if f.metadata.get("group"):
            inner = flat_fields(types[f.name])
            out |= set(inner) if f.metadata.get("hidden") else hidden_names(types[f.name])
        elif f.metadata.get("hidden"):
            out.add(f.name)
    return out


def _flag_name(f: dataclasses.Field[Any]) -> str:
    return "--" + (f.metadata.get("cli") or f.name.replace("_", "-"))


def as_flat(cfg: Any) -> Any:
    """The flat config the library reads: a composed settings object's `flat()`, else itself."""
    flat = getattr(cfg, "flat", None)
    return flat() if callable(flat) else cfg


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


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    """The class's resolved annotations (cached: they are read for every flag of every parser;
    never mutate the result)."""
    return typing.get_type_hints(cls)


def _flat_types(cls: type) -> dict[str, Any]:
    types = dict(_field_types(cls))
    for _, sub in _groups(cls):
        types.update(_flat_types(sub))
    return types


def add_config_args(
    parser: argparse.ArgumentParser,
    cls: type,
    skip: Collection[str] = (),
    quiet: bool = False,
) -> list[str]:
    """One `--field-name` flag per field (default None, so only given flags override); the
    hidden ones are accepted but named only in the parser's epilog. `quiet`: every flag hidden
    and none named (another command's flags, parsed only to be refused in one line). Returns
    the settings that got a flag."""
    types = _flat_types(cls)
    hidden_set = hidden_names(cls)
    hidden, added = [], []
    for f in flat_fields(cls).values():
        if not f.metadata.get("flag", True) or f.name in skip:
            continue
        name = _flag_name(f)
        tp = types[f.name]
        shown = f.default if f.default not in ("", None, frozenset()) else "none"
        help_text = f"{f.metadata.get('help', '')} (default: {shown})"
        added.append(f.name)
        if quiet or f.name in hidden_set:
            if not quiet:
                hidden.append(name)
            help_text = argparse.SUPPRESS
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
    if hidden:
        text = "also accepted (as flags and in --config files): " + ", ".join(hidden)
        text = textwrap.fill(text, 78, break_on_hyphens=False)
        parser.epilog = f"{parser.epilog}\n{text}" if parser.epilog else text
    return added


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
    """Defaults, then each layer of overrides in order (None values are skipped); a composed
    class takes flat layers and hands each group its own settings."""
    flat = flat_fields(cls)
    for layer in layers:
        for key, value in layer.items():
            if value is not None and key not in flat:
                raise A2DError(f"unknown setting {key!r} for {cls.__name__}")
    values: dict[str, Any] = {}
    for g, sub in _groups(cls):
        names = flat_fields(sub)
        values[g.name] = build_config(sub, *({k: v for k, v in layer.items() if k in names}
                                             for layer in layers))  # fmt: skip
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("group")]  # type: ignore[arg-type]
    metas = {f.name: f.metadata for f in fields}
    types = _field_types(typing.cast(type, cls))
    for layer in layers:
        for key, value in layer.items():
            if value is None or key not in metas:
                continue
            parse = metas[key].get("parse")
            values[key] = parse(value) if parse and isinstance(value, str) else _coerce(
                key, value, types[key]
            )  # fmt: skip
    for f in fields:
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
    """The settings as one flat mapping (a composed object's groups flattened in order)."""
    plain = dataclasses.asdict(cfg)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        if f.metadata.get("group"):
            out.update(to_dict(getattr(cfg, f.name)))
        else:
            out[f.name] = plain[f.name]
    return out


def flags_for(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The parsed flags that are settings of `cls` (None: not given)."""
    names = flat_fields(cls)
    return {k: v for k, v in vars(args).items() if k in names}
