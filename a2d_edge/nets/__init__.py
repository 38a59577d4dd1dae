"""Agent networks: arch specs as data, one builder for all of them."""

from __future__ import annotations

from typing import Any

from a2d_edge.errors import A2DError
from a2d_edge.nets import backbones as _backbones  # noqa: F401  (registers nature, resnet)
from a2d_edge.nets import searched as _searched  # noqa: F401  (registers searched)
from a2d_edge.nets.agent import ActorCritic, QActorCritic
from a2d_edge.nets.arch import PRESETS, SCHEMA, Arch, family_of, load_arch, validate_arch
from a2d_edge.nets.space import SPACES, SearchSpace, get_space, random_arch, searched_arch

Head = dict[str, Any]
"""An agent's head (`agent.pt`'s "head"): absent or {"kind": "actor-critic"} for a policy and a
value head, {"kind": "q", "temperature": τ} for a value-based agent read as a policy."""


def build_agent(
    arch: Arch, n_actions: int, in_channels: int = 4, head: Head | None = None
) -> ActorCritic:
    """Any valid arch.json dict -> an `ActorCritic` whose forward takes uint8 [N, C, H, W]."""
    validate_arch(arch)
    if not isinstance(n_actions, int) or n_actions < 1:
        raise A2DError(f"n_actions must be a positive integer, got {n_actions!r}")
    temperature = q_temperature(head)
    features, dim = family_of(arch).build(arch, in_channels)
    if temperature is not None:
        return QActorCritic(features, dim, n_actions, temperature)
    return ActorCritic(features, dim, n_actions)


def q_temperature(head: Head | None) -> float | None:
    """The softmax temperature of a value-based head, None for an actor-critic one."""
    if head is None or (isinstance(head, dict) and head.get("kind") == "actor-critic"):
        return None
    if not isinstance(head, dict) or head.get("kind") != "q":
        raise A2DError(f"unknown agent head {head!r}: 'actor-critic' or 'q'")
    t = head.get("temperature")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < float("inf"):
        raise A2DError(f"a value-based head needs a positive temperature, got {t!r}")
    return float(t)


__all__ = [
    "PRESETS",
    "SCHEMA",
    "SPACES",
    "ActorCritic",
    "Arch",
    "Head",
    "QActorCritic",
    "SearchSpace",
    "build_agent",
    "get_space",
    "load_arch",
    "q_temperature",
    "random_arch",
    "searched_arch",
    "validate_arch",
]
