"""Candidate ops of the search space: one registry, one builder signature, analytic FLOPs.

Every op is built as `builder(c_in, c_out, stride) -> nn.Module` and costs
`flops(c_in, c_out, stride, h, w)` multiply-adds for an input of h x w (batch 1).

FLOPs convention (the deployed net's cost): multiply-adds of convolutions and linear layers,
one multiply-add = one flop, as fvcore counts them. BatchNorm is folded into the preceding
conv at export, so it costs nothing; ReLU and residual additions are not multiply-adds and cost
nothing. (fvcore adds BatchNorm on top and already counts residual adds as 0; the tests check
that our number equals fvcore's total minus its batch_norm entry, for every op of every preset.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from a2d_edge.errors import A2DError

Builder = Callable[[int, int, int], nn.Module]
FlopsFn = Callable[[int, int, int, int, int], int]


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def conv_flops(c_in: int, c_out: int, k: int, stride: int, h: int, w: int, groups: int = 1) -> int:
    """Multiply-adds of a k x k conv with 'same' padding (k // 2)."""
    ho, wo = out_size(h, k, stride, k // 2), out_size(w, k, stride, k // 2)
    return (c_in // groups) * k * k * c_out * ho * wo


@dataclass(frozen=True)
class OpDef:
    name: str
    build: Builder
    flops: FlopsFn


class OpRegistry:
    """Named candidate ops; rejects duplicates and lists the valid names on a miss."""

    def __init__(self) -> None:
        self._ops: dict[str, OpDef] = {}

    def register(self, op: OpDef) -> None:
        if op.name in self._ops:
            raise ValueError(f"op {op.name!r} registered twice")
        self._ops[op.name] = op

    def __getitem__(self, name: str) -> OpDef:
        if name not in self._ops:
            raise A2DError(f"unknown op {name!r}; valid ops: {', '.join(self._ops)}")
        return self._ops[name]

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def names(self) -> list[str]:
        return list(self._ops)


OPS = OpRegistry()


class ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (if e > 1), k x k depthwise, 1x1 linear projection;
    residual when the shape is kept."""

    def __init__(self, c_in: int, c_out: int, stride: int, k: int, expansion: int) -> None:
        super().__init__()
        hidden = c_in * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(ConvBNReLU(c_in, hidden, 1, 1))
        layers += [
            ConvBNReLU(hidden, hidden, k, stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


def _ir_flops(k: int, e: int) -> FlopsFn:
    def flops(c_in: int, c_out: int, stride: int, h: int, w: int) -> int:
        hidden = c_in * e
        total = conv_flops(c_in, hidden, 1, 1, h, w) if e != 1 else 0
        total += conv_flops(hidden, hidden, k, stride, h, w, groups=hidden)
        ho, wo = out_size(h, k, stride, k // 2), out_size(w, k, stride, k // 2)
        return total + conv_flops(hidden, c_out, 1, 1, ho, wo)

    return flops


class Skip(nn.Module):
    """Identity, or a 1x1 conv-BN projection where stride or width changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.proj: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.proj = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def _skip_flops(c_in: int, c_out: int, stride: int, h: int, w: int) -> int:
    if stride == 1 and c_in == c_out:
        return 0
    return c_in * c_out * out_size(h, 1, stride, 0) * out_size(w, 1, stride, 0)


def _conv_op(k: int) -> OpDef:
    return OpDef(
        f"conv_k{k}",
        lambda c_in, c_out, stride: ConvBNReLU(c_in, c_out, k, stride),
        lambda c_in, c_out, stride, h, w: conv_flops(c_in, c_out, k, stride, h, w),
    )


def _ir_op(k: int, e: int) -> OpDef:
    return OpDef(
        f"ir_k{k}_e{e}",
        lambda c_in, c_out, stride: InvertedResidual(c_in, c_out, stride, k, e),
        _ir_flops(k, e),
    )


for _op in (
    _conv_op(3),
    _conv_op(5),
    *(_ir_op(k, e) for k in (3, 5) for e in (1, 3, 5)),
    OpDef("skip", Skip, _skip_flops),
):
    OPS.register(_op)
