"""The `searched` arch family: a user's searched arch.json checked for size, and built into a
plain `SearchedNet` of its space (`nets.space`)."""

from __future__ import annotations

from torch import nn

from a2d_edge.errors import A2DError
from a2d_edge.nets.arch import Arch, Family, check_size, register_family
from a2d_edge.nets.ops import OPS, out_size
from a2d_edge.nets.space import SearchedNet, SearchSpace, _validate_searched


def _validate_searched_size(arch: Arch) -> None:
    """A user's searched arch: its fields, then its size (nets of a preset space are small)."""
    _validate_searched(arch)
    space = SearchSpace.from_dict(arch["space"])
    check_size(arch, *_searched_size(space, arch["ops"]))


def _searched_size(space: SearchSpace, ops: list[str]) -> tuple[int, int]:
    """(weights, feature-map values of one frame), bounded from above: a conv's weights are its
    multiply-adds over its output positions (an inverted residual's fewer), and a block holds
    at most its input, an expansion x5 of it twice and its output."""
    side = space.stem_size(84)
    params = space.in_channels * space.stem_kernel**2 * space.stem_channels
    values = space.stem_channels * side * side
    for op, b in zip(ops, space.blocks(), strict=True):
        ho, wo = out_size(b.h, 3, b.stride, 1), out_size(b.w, 3, b.stride, 1)
        params += OPS[op].flops(b.c_in, b.c_out, b.stride, b.h, b.w) // max(1, ho * wo)
        values += b.c_in * b.h * b.w * (1 + 2 * 5) + b.c_out * ho * wo
    return params + space.fc_in() * space.feature_dim, values + space.feature_dim


def _build_searched(arch: Arch, in_channels: int) -> tuple[nn.Module, int]:
    space = SearchSpace.from_dict(arch["space"])
    if in_channels != space.in_channels:
        raise A2DError(f"space takes {space.in_channels} input channels, got {in_channels}")
    return SearchedNet(space, arch["ops"]), space.feature_dim


register_family(Family("searched", _validate_searched_size, _build_searched))
