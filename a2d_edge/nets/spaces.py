"""What a search needs of a space and of its supernet, whichever the space (ops or widths).

A `Space` is a searchable set of plain archs: `nets.space.SearchSpace` (one op per block of a
fixed trunk) and `nets.widths.WidthSpace` (the width of each layer of the Nature CNN) implement
it. A `SupernetNet` holds every arch of a space in one module: an op `Supernet`, an
`ElasticNature`. `SPACES` names every preset of both kinds; `space_from_dict` reads the space
record of an arch.json, a table or a checkpoint (an op space has no `kind` key).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from a2d_edge.errors import A2DError
from a2d_edge.nets.agent import ActorCritic
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.space import SPACES as OP_SPACES
from a2d_edge.nets.space import SearchSpace
from a2d_edge.nets.widths import WIDTH_SPACES, WidthSpace

Genes = tuple[int, ...]
"""An arch as one choice index per position (a block's op, a dimension's width)."""


class SupernetNet(Protocol):
    """Every arch of a space in one module (an op `Supernet`, an `ElasticNature`)."""

    n_actions: int

    @property
    def space(self) -> Space: ...

    def __call__(self, obs: torch.Tensor, path: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and values of the path given as [positions, choices] weights (one-hot: one
        path; soft rows only where the space has_alpha)."""
        ...

    def weight_parameters(self) -> list[nn.Parameter]:
        """What the distillation / A2C weight steps optimise (never alpha)."""
        ...

    def arch_parameters(self) -> list[nn.Parameter]:
        """The architecture logits ([] for a space without them)."""
        ...

    def probabilities(self) -> torch.Tensor | None:
        """softmax(alpha) [positions, choices], or None without alpha."""
        ...

    def derive(self) -> Arch:
        """The argmax arch (A2DError where the space has no alpha)."""
        ...

    def path_costs(self) -> np.ndarray | list[list[int]]:
        """[positions, choices]: orders each position's choices (the sandwich rule's largest
        and smallest paths are its argmax / argmin)."""
        ...

    def timing_forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The forward a bf16 probe times (one path)."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any: ...


class Space(Protocol):
    """A searchable set of plain archs: what the search, the tables and the zoo need of it.
    Implementations: `nets.space.SearchSpace` (ops), `nets.widths.WidthSpace` (widths).

    `kind` ("ops" | "widths", the key of SPACE_KINDS) and `has_alpha` (its supernet has
    architecture logits: gradient selection, the RL search) are class attributes."""

    @property
    def name(self) -> str: ...

    @property
    def in_channels(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def has_alpha(self) -> bool: ...

    def sample(self, rng: random.Random) -> Arch:
        """One arch, each position drawn uniformly by `rng` (the RNG use of `random_arch`, so
        random baselines repeat exactly)."""
        ...

    def size(self) -> int:
        """How many archs the space holds (7**5, 9**14, 4**4 ...)."""
        ...

    def candidates(self) -> Iterator[Arch]:
        """Every arch, in the canonical (itertools.product) order; only where size() is small."""
        ...

    def choice_counts(self) -> tuple[int, ...]:
        """Choices per position ([n_ops] * n_blocks; [4, 4, 4, 4])."""
        ...

    def genes(self, arch: Arch) -> Genes:
        """`arch` as choice indices (A2DError when not contains(arch))."""
        ...

    def from_genes(self, genes: Genes) -> Arch:
        """The arch.json of `genes` (a valid `searched` / `nature` arch)."""
        ...

    def label(self, arch: Arch) -> list[Any]:
        """search.json's words for an arch: its op names, or its widths."""
        ...

    def contains(self, arch: Arch) -> bool:
        """Whether `arch` is an arch of this space (family and shape)."""
        ...

    def flops(self, arch: Arch, n_actions: int) -> int:
        """Analytic multiply-adds at batch 1 (ops.py convention)."""
        ...

    def spread(self, n: int, seed: int) -> list[Arch]:
        """n archs spread over the space's cost range (a table's drift and fit sample)."""
        ...

    def supernet(self, n_actions: int) -> SupernetNet:
        """A fresh supernet of the space."""
        ...

    def extract(self, supernet: Any, arch: Arch) -> ActorCritic:
        """A plain agent of `arch` carrying `supernet`'s weights for it (BN statistics as
        stored: the selection recomputes them)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The record in arch.json / tables / checkpoints (an op space has no 'kind' key, a
        width space has kind: widths)."""
        ...


SPACES: dict[str, Space] = {**OP_SPACES, **WIDTH_SPACES}
SPACE_KINDS: dict[str, type[SearchSpace] | type[WidthSpace]] = {
    SearchSpace.kind: SearchSpace,
    WidthSpace.kind: WidthSpace,
}


def get_space(name: str) -> Space:
    """The preset `name` of either kind, else a one-line error listing them all."""
    if name not in SPACES:
        raise A2DError(f"unknown search space {name!r}; spaces: {', '.join(SPACES)}")
    return SPACES[name]


def space_from_dict(d: Any) -> Space:
    """The space of a record (`Space.to_dict`): by its `kind` key, ops without one."""
    kind = d.get("kind", SearchSpace.kind) if isinstance(d, dict) else SearchSpace.kind
    if kind not in SPACE_KINDS:
        raise A2DError(f"unknown space kind {kind!r}; kinds: {', '.join(SPACE_KINDS)}")
    return SPACE_KINDS[kind].from_dict(d)
