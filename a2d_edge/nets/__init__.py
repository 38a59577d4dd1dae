"""Agent networks: arch specs as data, one builder for all of them."""

from __future__ import annotations

from a2d_edge.errors import A2DError
from a2d_edge.nets import backbones as _backbones  # noqa: F401  (registers nature, resnet)
from a2d_edge.nets import space as _space  # noqa: F401  (registers searched)
from a2d_edge.nets.agent import ActorCritic
from a2d_edge.nets.arch import PRESETS, SCHEMA, Arch, family_of, load_arch, validate_arch
from a2d_edge.nets.space import SPACES, SearchSpace, get_space, random_arch, searched_arch


def build_agent(arch: Arch, n_actions: int, in_channels: int = 4) -> ActorCritic:
    """Any valid arch.json dict -> an `ActorCritic` whose forward takes uint8 [N, C, H, W]."""
    validate_arch(arch)
    if not isinstance(n_actions, int) or n_actions < 1:
        raise A2DError(f"n_actions must be a positive integer, got {n_actions!r}")
    features, dim = family_of(arch).build(arch, in_channels)
    return ActorCritic(features, dim, n_actions)


__all__ = [
    "PRESETS",
    "SCHEMA",
    "SPACES",
    "ActorCritic",
    "Arch",
    "SearchSpace",
    "build_agent",
    "get_space",
    "load_arch",
    "random_arch",
    "searched_arch",
    "validate_arch",
]
