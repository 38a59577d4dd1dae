"""Experiment files: plain settings plus the reserved keys that make a file a set of runs.

```yaml
command: train                 # train | search | search-rl | distill: the command
games:                         # env ids, or env id -> settings for that game only
  ALE/Pong-v5: {}
  ALE/Breakout-v5: {eval_episodes: 30}
grid: {arch: [nature, resnet20]}   # cartesian product over these settings
seeds: [0, 1, 2]                   # default [0] (or the file's `seed`)
steps: 30000000                # anything else is a setting of every run
```

A file may instead hold named groups of runs, run in file order, each with its own command, grid
and settings over the file's; a value `{run:NAME}` (or `{run:NAME}/agent.pt`) is the folder of
group NAME's run of the same game and seed (a group of one run per game and seed):

```yaml
runs:
  search: {command: search, grid: {budget_of_teacher: [0.5]}}
  select: {command: search, supernet: "{run:search}", grid: {budget_of_teacher: [0.333, 0.2]}}
  baselines: {command: distill, grid: {arch: [nature-thin, nature-quarter]}}
  random: {command: distill, random_archs: 5, budget_of_teacher: 0.333}
```

A distill group with `random_archs: N` (and `random_seed`, default 7) trains N random archs of
its `lut`'s space that fit its budget, drawn when each run starts (`experiments.draws`).

`command: search` with `method: rl` (files from before `a2d search-rl`) is read as
`command: search-rl`, whose runs are searches of `method: rl`.

`a2d train/search/search-rl --config FILE` takes one run from a file without `runs:`: the
file's settings, the overrides of the chosen game (`--env`, else the file's `env`, else the
first game), then the flags; the grid and seeds are `a2d sweep`'s to expand. A file without
reserved keys is a plain settings file.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a2d_edge.config import build_config, read_config_file
from a2d_edge.errors import A2DError

RESERVED = ("command", "games", "grid", "seeds", "runs")
COMMANDS = ("train", "search", "search-rl", "distill")
NOT_IN_GRID = ("env", "seed")
"""Settings the reserved keys own: the game comes from `games`, the seed from `seeds`."""
REF = re.compile(r"^\{run:([A-Za-z0-9._-]+)\}(/.*)?$")
"""`{run:NAME}` or `{run:NAME}/path`: a run folder of an earlier group (same game and seed)."""


@dataclass(frozen=True)
class Group:
    """Runs of one command: the file's settings, then `settings`, over the `grid`'s points."""

    name: str
    """"" for a file without `runs:` (its runs are named without a group folder)."""
    command: str
    settings: dict[str, Any]
    grid: dict[str, list[Any]]
    draws: int = 0
    """`random_archs`: a distill group of that many random archs that fit its budget."""
    draw_seed: int = 7
    """`random_seed`: the RNG seed the random archs are drawn with."""

    def refs(self) -> list[str]:
        """The groups its settings name by `{run:NAME}`."""
        return [m.group(1) for v in self.settings.values() if (m := ref_of(v))]


def ref_of(value: Any) -> re.Match[str] | None:
    return REF.match(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class Experiment:
    path: Path
    command: str | None
    """`train`, `search`, `search-rl` or `distill`; None for a plain settings file."""
    settings: dict[str, Any]
    games: dict[str, dict[str, Any]]
    """env id -> overrides of that game, in file order (empty: the file names no games)."""
    grid: dict[str, list[Any]]
    seeds: tuple[int, ...] | None
    groups: tuple[Group, ...] = ()
    """The file's `runs:` groups, or its one group (named "") of `command` over `grid`."""

    def game_ids(self) -> list[str]:
        return list(self.games) or [str(self.settings.get("env") or _default_env())]


def read_experiment(path: str | Path) -> Experiment:
    """Parse a settings file and check the shape of its reserved keys."""
    path = Path(path)
    data = read_config_file(path)
    settings = {k: v for k, v in data.items() if k not in RESERVED}
    command = data.get("command")
    if command is not None and command not in COMMANDS:
        raise A2DError(f"{path}: command must be one of {', '.join(COMMANDS)}, not {command!r}")
    command = _rl_command(path, command, settings)
    games = _read_games(path, data.get("games"))
    grid = _read_grid(path, data.get("grid"))
    seeds = _read_seeds(path, data.get("seeds"))
    if seeds is not None and "seed" in settings:
        raise A2DError(f"{path}: set either `seed` or `seeds`, not both")
    env = settings.get("env")
    if games and env is not None and env not in games:
        raise A2DError(f"{path}: env {env!r} is not one of its games: {', '.join(games)}")
    if data.get("runs") is not None:
        if grid:
            raise A2DError(f"{path}: with runs:, each group has its own grid (no top-level grid)")
        groups = _read_groups(path, data["runs"], command or "train")
    else:
        groups = (Group("", command or "train", {}, grid),)
    bad = [v for d in (settings, *games.values()) for v in d.values() if ref_of(v)]
    if bad:
        raise A2DError(f"{path}: {bad[0]}: a run reference belongs in a group of runs:")
    return Experiment(path, command, settings, games, grid, seeds, groups)


def _read_groups(path: Path, raw: Any, command: str) -> tuple[Group, ...]:
    if not isinstance(raw, dict) or not raw:
        raise A2DError(f"{path}: runs must be a mapping of group name -> its settings")
    groups: list[Group] = []
    for name, body in raw.items():
        where = f"{path}: runs: {name}"
        if not isinstance(name, str) or safe_name(name) != name:
            raise A2DError(f"{where}: a group name is letters, digits and . _ - only")
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise A2DError(f"{where}: expected a mapping of settings")
        body = {str(k).replace("-", "_"): v for k, v in body.items()}
        own = body.pop("command", command)
        if own not in COMMANDS:
            raise A2DError(f"{where}: command must be one of {', '.join(COMMANDS)}, not {own!r}")
        own = _rl_command(where, own, body)
        grid = _read_grid(path, body.pop("grid", None))
        bad = sorted(set(body) & {*RESERVED, *NOT_IN_GRID})
        if bad:
            raise A2DError(f"{where}: {', '.join(bad)} cannot be set in a group")
        draws, draw_seed = _read_draws(where, str(own), body, grid)
        group = Group(name, str(own), body, grid, draws, draw_seed)
        known = [g.name for g in groups]
        for ref in group.refs():
            if ref not in known:
                raise A2DError(
                    f"{where}: {{run:{ref}}} names no earlier group"
                    + (f" (earlier: {', '.join(known)})" if known else "")
                )
        if any(ref_of(v) for values in grid.values() for v in values):
            raise A2DError(f"{where}: grid: a run reference is a setting, not a grid value")
        groups.append(group)
    return tuple(groups)


def _read_draws(
    where: str, command: str, body: dict[str, Any], grid: dict[str, list[Any]]
) -> tuple[int, int]:
    """A group's `random_archs` / `random_seed`, taken out of its settings."""
    if "random_archs" not in body:
        if "random_seed" in body:
            raise A2DError(f"{where}: random_seed without random_archs")
        return 0, 7
    draws, seed = body.pop("random_archs"), body.pop("random_seed", 7)
    if not _is_int(draws) or draws < 1:
        raise A2DError(f"{where}: random_archs must be an integer >= 1")
    if not _is_int(seed):
        raise A2DError(f"{where}: random_seed must be an integer")
    if command != "distill":
        raise A2DError(f"{where}: random_archs belongs to a group of command: distill")
    if "arch" in body or "arch" in grid:
        raise A2DError(f"{where}: random_archs draws each run's arch: drop arch")
    return int(draws), int(seed)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _rl_command(where: str | Path, command: str | None, settings: dict[str, Any]) -> str | None:
    """`search` with `method: rl` (a file from before `a2d search-rl`) is `search-rl`, whose
    runs are searches of `method: rl` (set in `settings`)."""
    if command == "search" and settings.get("method") == "rl":
        command = "search-rl"
    if command == "search-rl":
        if settings.get("method", "rl") != "rl":
            raise A2DError(f"{where}: command: search-rl is the RL-driven search; the "
                           "distillation search is command: search (drop method)")  # fmt: skip
        settings["method"] = "rl"
    return command


def _read_games(path: Path, raw: Any) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        raw = {g: None for g in raw}
    if not isinstance(raw, dict) or not raw:
        raise A2DError(f"{path}: games must be a list of env ids or a mapping env id -> settings")
    games: dict[str, dict[str, Any]] = {}
    for env, overrides in raw.items():
        if not isinstance(env, str):
            raise A2DError(f"{path}: games: {env!r} is not an env id")
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            raise A2DError(f"{path}: games: {env}: expected a mapping of settings")
        overrides = {str(k).replace("-", "_"): v for k, v in overrides.items()}
        bad = sorted(set(overrides) & {*RESERVED, *NOT_IN_GRID})
        if bad:
            raise A2DError(f"{path}: games: {env}: {', '.join(bad)} cannot be set per game")
        games[env] = overrides
    return games


def _read_grid(path: Path, raw: Any) -> dict[str, list[Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise A2DError(f"{path}: grid must be a mapping of setting -> list of values")
    grid: dict[str, list[Any]] = {}
    for key, values in raw.items():
        key = str(key).replace("-", "_")
        if key in NOT_IN_GRID or key in RESERVED:
            hint = "games" if key == "env" else "seeds" if key == "seed" else "the file's top level"
            raise A2DError(f"{path}: grid: {key} cannot be a grid key (use {hint})")
        if not isinstance(values, list) or not values:
            raise A2DError(f"{path}: grid: {key} must be a non-empty list of values")
        if len({repr(v) for v in values}) != len(values):
            raise A2DError(f"{path}: grid: {key} lists a value twice")
        grid[key] = values
    return grid


def _read_seeds(path: Path, raw: Any) -> tuple[int, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(_is_int(s) for s in raw):
        raise A2DError(f"{path}: seeds must be a non-empty list of integers")
    if len(set(raw)) != len(raw):
        raise A2DError(f"{path}: seeds lists a seed twice")
    return tuple(raw)


def _default_env() -> str:
    from a2d_edge.rl.config import TrainConfig

    return str(next(f.default for f in dataclasses.fields(TrainConfig) if f.name == "env"))


def validate(exp: Experiment, cls: type, group: Group | None = None) -> None:
    """Every game must be an ALE game, and every setting, per-game override and grid value a
    valid setting of `cls` (the command of `group`, default the file's one group)."""
    from a2d_edge.envs import resolve_game

    group = group or exp.groups[0]
    at = f"runs: {group.name}: " if group.name else ""
    own = {k: "." if ref_of(v) else v for k, v in group.settings.items()}  # a folder, later
    for env in exp.games:
        _where(exp, "games: ", lambda e=env: resolve_game(e))
    _where(exp, at, lambda: build_config(cls, exp.settings, own))
    for env, overrides in exp.games.items():
        _where(exp, f"games: {env}: ", lambda o=overrides: build_config(cls, exp.settings, o))
    for key, values in group.grid.items():
        for v in values:
            _where(exp, f"{at}grid: {key}: ", lambda k=key, v=v: build_config(cls, {k: v}))


def _where(exp: Experiment, where: str, check: Any) -> None:
    try:
        check()
    except A2DError as e:
        raise A2DError(f"{exp.path}: {where}{e}") from None


def check_command(exp: Experiment, command: str) -> None:
    if exp.command is not None and exp.command != command:
        raise A2DError(
            f"{exp.path} is an `a2d {exp.command}` experiment, not `a2d {command}`: run it with "
            f"a2d {exp.command} --config {exp.path} (or a2d sweep {exp.path})"
        )


def match_game(exp: Experiment, name: str) -> str:
    """The listed env id that `name` names: the id itself or its short name (`Pong`)."""
    ids = exp.game_ids()
    if name in ids:
        return name
    for env in ids:
        if short_name(env).lower() == name.lower():
            return env
    raise A2DError(f"{exp.path} has no game {name!r}; its games: {', '.join(ids)}")


def settings_layer(path: str | Path, cls: type, command: str, env: str | None) -> dict[str, Any]:
    """The settings of one run of the file, for `a2d train/search --config FILE`: the file's
    settings with the overrides of the chosen game (`env`: the flag's, else the file's, else
    its first game; the layer's `env` is final); grid and seeds are left to the flags."""
    exp = read_experiment(path)
    if exp.groups[0].name:
        raise A2DError(f"{path} holds groups of runs (runs:): run it with a2d sweep {path}")
    check_command(exp, command)
    validate(exp, cls)
    if not exp.games:
        return {**exp.settings, "env": env} if env else dict(exp.settings)
    chosen = match_game(exp, env) if env else exp.settings.get("env") or next(iter(exp.games))
    return {**exp.settings, **exp.games[chosen], "env": chosen}


_SHORT = re.compile(r"^(?:ALE/)?([A-Za-z0-9]+?)(?:NoFrameskip)?-v\d+$")


def short_name(env: str) -> str:
    """`ALE/Pong-v5` -> `Pong`; any other id -> a filesystem-safe spelling of it."""
    m = _SHORT.match(env)
    return m.group(1) if m else safe_name(env)


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", text).strip(".") or "_"


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """`key=value` overrides; values are read as YAML scalars (`false`, `2e5`, `resnet20`)."""
    import yaml

    sets: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise A2DError(f"--set expects key=value, got {item!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        sets[key.strip().replace("-", "_")] = text if value is None else value
    return sets


def parse_shard(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 1
    k, sep, n = text.partition("/")
    try:
        shard = int(k), int(n)
    except ValueError:
        shard = (-1, 0)
    if not sep or not 0 <= shard[0] < shard[1]:
        raise A2DError(f"--shard expects K/N with 0 <= K < N (e.g. 0/2, 1/2), got {text!r}")
    return shard
