"""Architectures as data: the `a2d.arch/1` schema, named presets and validation.

Every net, manual or searched, is an arch.json; one builder (`build_agent`) turns it into a
module. A family registry maps each `family` to its validator and builder, so a new family
(the searched nets of the search space) plugs in without touching this file's callers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from a2d_edge.errors import A2DError
from a2d_edge.utils.io import read_json

SCHEMA = "a2d.arch/1"
Arch = dict[str, Any]

MAX_WIDTH = 16_384
"""The most channels or fc units an arch field may ask for (the Nature CNN's fc is 512)."""
MAX_LAYERS = 1_202
"""The deepest net an arch may describe (He et al.'s deepest CIFAR ResNet)."""
MAX_PARAMS = 2**27
"""Parameters of a net's feature extractor: 512 MiB of fp32 weights, ~2 GiB with the gradients
and optimizer state of training (the Nature CNN has 1.7 M)."""
MAX_ACTIVATIONS = 2**25
"""Feature-map values of one 4x84x84 frame: 128 MiB in fp32, 32 GiB over a batch of 256 (the
Nature CNN has 22 K, ResNet-74 under 3 M)."""


@dataclass(frozen=True)
class Family:
    """How to check an arch dict of one family and build its feature extractor.

    `build(arch, in_channels)` returns (feature module, feature width).
    """

    name: str
    validate: Callable[[Arch], None]
    build: Callable[[Arch, int], tuple[nn.Module, int]]


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> None:
    if family.name in _FAMILIES:
        raise ValueError(f"arch family {family.name!r} registered twice")
    _FAMILIES[family.name] = family


def family_of(arch: Arch) -> Family:
    name = arch.get("family")
    if name not in _FAMILIES:
        raise A2DError(
            f"unknown arch family {name!r}; known families: {', '.join(sorted(_FAMILIES))}"
        )
    return _FAMILIES[name]


PRESETS: dict[str, Arch] = {
    "nature": {"schema": SCHEMA, "family": "nature", "hidden": 512},
    # narrower Nature CNNs: the hand-made baselines of a budgeted search
    "nature-half": {"schema": SCHEMA, "family": "nature", "hidden": 256, "channels": [16, 32, 32]},
    "nature-quarter": {
        "schema": SCHEMA,
        "family": "nature",
        "hidden": 128,
        "channels": [8, 16, 16],
    },
    "nature-thin": {"schema": SCHEMA, "family": "nature", "hidden": 128, "channels": [16, 16, 16]},
    **{
        f"resnet{d}": {
            "schema": SCHEMA,
            "family": "resnet",
            "depth": d,
            "channels": [16, 32, 64],
            "stem_stride": 2,
            "feature_dim": 256,
        }
        for d in (14, 20, 38, 74)
    },
}


def validate_arch(arch: Any) -> Arch:
    """Check schema and family fields; returns the arch unchanged or raises A2DError."""
    if not isinstance(arch, dict):
        raise A2DError(f"an arch must be a JSON object, got {type(arch).__name__}")
    if arch.get("schema") != SCHEMA:
        raise A2DError(f"arch schema must be {SCHEMA!r}, got {arch.get('schema')!r}")
    family_of(arch).validate(arch)
    return arch


def load_arch(spec: str | Arch) -> Arch:
    """A preset name (`nature`, `resnet20`, ...), a path to an arch.json, or an arch dict."""
    if isinstance(spec, dict):
        return validate_arch(copy.deepcopy(spec))
    if spec in PRESETS:
        return copy.deepcopy(PRESETS[spec])
    path = Path(spec)
    if not path.suffix and not path.exists():
        raise A2DError(
            f"unknown arch {spec!r}: use one of {', '.join(PRESETS)} or a path to an arch.json"
        )
    arch = read_json(path, "arch file")
    try:
        return validate_arch(arch)
    except A2DError as e:
        raise A2DError(f"{path}: {e}") from None


def require_int(
    arch: Arch, key: str, allowed: tuple[int, ...] | None = None, high: int | None = None
) -> int:
    value = arch.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise A2DError(f"arch field {key!r} must be a positive integer, got {value!r}")
    if allowed is not None and value not in allowed:
        raise A2DError(f"arch field {key!r} must be one of {allowed}, got {value}")
    check_bound(f"arch field {key!r}", value, high)
    return value


def check_bound(what: str, value: int, high: int | None) -> None:
    """One line when a size field asks for more than fits in memory."""
    if high is not None and value > high:
        raise A2DError(f"{what} is {value:,}; at most {high:,} fits in memory")


def check_size(arch: Arch, params: int, values: int) -> None:
    """Refuse a net too large to hold or run, by its family's count of its parameters and of
    the feature-map values of one frame (analytic: nothing is built or allocated)."""
    name = arch.get("family")
    check_bound(f"a {name} arch's parameter count", params, MAX_PARAMS)
    check_bound(f"a {name} arch's feature-map values per frame", values, MAX_ACTIVATIONS)
