"""Which flags each method / mode of each command uses: a flag given where it does nothing is
refused in one line before anything runs or is written (torch-free: `a2d run` and
`a2d-profile` use it on a runtime install).

Each command has one table of `Mode`s: a way the command can run (`--select
evolution`, `--hz` above 0), whether the chosen settings run it, and the settings only it uses.
A setting no mode lists is used by every run of the command. A given setting that the table
lists is used when one of its modes holds; `misapplied` names the others and the modes that
would use them. "Given" means set on the command line or in a `--config` file (not defaulted).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from a2d_edge.errors import A2DError


@dataclass(frozen=True)
class Mode:
    """A way a command runs (`says`, in the user's words), and the settings only it uses."""

    says: str
    holds: Callable[[Any], bool]
    settings: tuple[str, ...]


# ----- a2d search / search-rl / distill (search/settings.py), a2d train (TrainConfig) -----
# Each command takes only its own groups' settings; another command's is refused by the modes
# `elsewhere` makes. The modes here judge settings within one command (read on the flat config).

A2C = ("rollout", "gamma", "lr", "lr_final", "lr_constant_steps", "optimizer",
       "rmsprop_alpha", "rmsprop_eps", "ent_coef", "value_coef", "max_grad_norm", "advantage",
       "distill")  # fmt: skip
"""What an A2C update reads (rl/objective.py, rl/optim.py): on `a2d search` only the
--finish-a2c-steps retrain does (reward_clip, life_loss_terminal and device also reach its
distillation collector)."""
SUPERNET_TRAINING = ("supernet_steps", "supernet_frames_per_update", "paths", "random_paths")
EVOLUTION = ("population", "generations", "rerank_top", "rerank_adapt_steps")
GRADIENT = ("select_warmup", "select_tau", "alpha_lr", "alpha_beta1", "latency_weight")
TARGET_RUN = ("run_hz", "run_spin_ms", "run_prewarm", "recalibrate")
"""How the agent will run (which of the --lut table's twins judges it), and whether this host's
table is recalibrated to the sitting first."""


def _common(a2c: Callable[[Any], bool], a2c_says: str) -> tuple[Mode, ...]:
    """The modes of the training fields every A2C command shares (`a2c_says`: when an A2C
    update runs at all, "" where it always does)."""
    also = f" ({a2c_says})" if a2c_says else ""
    return (
        *((Mode(a2c_says, a2c, A2C),) if a2c_says else ()),
        Mode(f"distillation from a --teacher (--distill not none){also}",
             lambda c: a2c(c) and c.distill_mode() != "none", ("distill_actor_weight",)),
        Mode(f"--distill actor-critic (a --teacher's critic){also}",
             lambda c: a2c(c) and c.distill_mode() == "actor-critic", ("distill_critic_weight",)),
        Mode("--eval-every above 0", lambda c: c.eval_every > 0, ("eval_episodes",)),
    )  # fmt: skip


_LUT = Mode("--lut", lambda c: bool(c.lut), TARGET_RUN)

SEARCH: tuple[Mode, ...] = (
    *_common(lambda c: c.finish_a2c_steps > 0, "--finish-a2c-steps above 0"),
    Mode("a search without --supernet", lambda c: not c.supernet, SUPERNET_TRAINING),
    Mode("--select evolution", lambda c: c.select == "evolution", EVOLUTION),
    Mode("--select gradient", lambda c: c.select == "gradient", GRADIENT),
    _LUT,
)  # fmt: skip
"""`a2d search`: the distillation-driven search."""

SEARCH_RL: tuple[Mode, ...] = (*_common(lambda c: True, ""), _LUT)
"""`a2d search-rl`: the paper's RL-driven DNAS."""

DISTILL: tuple[Mode, ...] = (
    Mode("--eval-every above 0", lambda c: c.eval_every > 0, ("eval_episodes",)),
    _LUT,
)
"""`a2d distill`: the finish alone (no supernet, no selection, no A2C retrain)."""

TRAIN: tuple[Mode, ...] = _common(lambda c: True, "")


def elsewhere(users: dict[str, str]) -> tuple[Mode, ...]:
    """Modes that never hold, for settings another command takes (setting -> `a2d search-rl`):
    given to this one, they are refused in one line that names where they belong."""
    by: dict[str, list[str]] = {}
    for name, says in users.items():
        by.setdefault(says, []).append(name)
    return tuple(Mode(says, lambda c: False, tuple(names)) for says, names in by.items())


# ----- a2d export (ExportSettings) -----

EXPORT: tuple[Mode, ...] = (
    Mode("--int8", lambda s: bool(s.int8), ("target", "int8_recipe")),
    Mode("--int8 or --tensorrt int8", lambda s: bool(s.int8) or s.tensorrt == "int8",
         ("min_agreement", "tie_margin")),
)  # fmt: skip

# ----- a2d run (RunSettings, PolicySpec) -----

RUN: tuple[Mode, ...] = (
    Mode("--hz above 0 (a paced loop waits for its ticks)", lambda s: s.hz > 0,
         ("spin_ms", "prewarm")),
    Mode("an ONNX Runtime --backend (a TensorRT engine has its own precision and threads)",
         lambda s: s.backend != "tensorrt", ("precision", "threads")),
)  # fmt: skip

# ----- a2d-profile (its argparse namespace) -----


def _profiles(a: Any) -> bool:
    return not (a.recalibrate or a.refit)


PROFILE: tuple[Mode, ...] = (
    Mode("a profile (not --recalibrate / --refit)", _profiles,
         ("backend", "precision", "preset", "threads", "actions", "mode", "validate", "resume",
          "quiet", "burst")),
    Mode("--recalibrate", lambda a: bool(a.recalibrate), ("archs",)),
    Mode("a profile or --recalibrate", lambda a: not a.refit or a.recalibrate,
         ("repeats", "warmup")),
    Mode("--validate N or --recalibrate",
         lambda a: bool(a.recalibrate) or (_profiles(a) and a.validate > 0), ("seed",)),
    Mode("--mode controller", lambda a: _profiles(a) and a.mode == "controller",
         ("hz", "spin_ms", "prewarm")),
    Mode("--precision int8", lambda a: _profiles(a) and a.precision == "int8", ("int8_recipe",)),
    Mode("no --recalibrate", lambda a: not a.recalibrate, ("refit",)),
)  # fmt: skip


MODES: dict[str, tuple[Mode, ...]] = {
    "train": TRAIN, "search": SEARCH, "search-rl": SEARCH_RL, "distill": DISTILL, "export": EXPORT,
    "run": RUN,
    "a2d-profile": PROFILE,
}  # fmt: skip
"""Each command's table."""


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def misapplied(modes: Sequence[Mode], settings: Any, given: Iterable[str]) -> dict[str, list[str]]:
    """Given settings that no holding mode uses -> the modes that would (pure)."""
    users: dict[str, list[Mode]] = {}
    for mode in modes:
        for name in mode.settings:
            users.setdefault(name, []).append(mode)
    return {
        name: [m.says for m in users[name]]
        for name in sorted(set(given))
        if name in users and not any(m.holds(settings) for m in users[name])
    }


def check_applies(modes: Sequence[Mode], settings: Any, given: Iterable[str]) -> None:
    """One line naming every given flag the chosen method / mode does not use, and the modes
    that use them; nothing when all apply."""
    unused = misapplied(modes, settings, given)
    if not unused:
        return
    by_modes: dict[str, list[str]] = {}
    for name, says in unused.items():
        by_modes.setdefault(" or ".join(dict.fromkeys(says)), []).append(flag(name))
    parts = [f"{', '.join(flags)} {'is' if len(flags) == 1 else 'are'} for {says}"
             for says, flags in by_modes.items()]  # fmt: skip
    them = "it" if len(unused) == 1 else "them"
    raise A2DError(
        f"{'; '.join(parts)}, not what this run is: drop {them} or choose that mode (nothing "
        "was run)"
    )


def given_settings(
    args: argparse.Namespace, names: Collection[str], layer: Collection[str] = ()
) -> set[str]:
    """The settings a user gave: flags that are not None (`add_config_args` defaults them to
    None) and the keys of a config file's layer."""
    return {k for k, v in vars(args).items() if k in names and v is not None} | set(layer)


_UNSET = object()


def given_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> frozenset[str]:
    """The destinations `argv` sets on a parser whose flags have real defaults: argparse only
    fills a default into a namespace that lacks the name, so a second parse into a namespace
    pre-filled with a marker leaves the marker where nothing was given."""
    names = vars(parser.parse_args(argv))
    probe = parser.parse_args(argv, argparse.Namespace(**dict.fromkeys(names, _UNSET)))
    return frozenset(k for k, v in vars(probe).items() if v is not _UNSET)
