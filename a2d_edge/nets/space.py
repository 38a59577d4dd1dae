"""The search space as data: presets, per-block shapes, analytic FLOPs, searched nets.

A space is a stem, stages of searchable blocks (count, width, stride of the first block) and the
candidate-op list; the head is global average pooling, fc to `feature_dim`, ReLU, and the actor
and critic heads. The `paper` preset is A2D's (Appendix D): a ResNet-like stem (3x3, stride 2),
3 stages of 5/4/5 blocks with 16/32/64 channels and strides 1/2/2, 9 ops per block: 9^14
architectures, running at 42x42 after the stem. The `edge` preset keeps the blocks and ops but
uses a 5x5 stride-4 stem, so the blocks run at 21x21 and cost about a quarter as much.
The `fast` preset is for CPUs: a 4x4 stride-4 stem at 16 channels (it sees every pixel once;
the Nature CNN's 8x8 stem cost 1.6x more at the same width), 5 blocks (16 channels at 22x22,
then 32 at 11x11 and 64 at 6x6, the later stages opening with stride 2) and a flattening head
(the Nature CNN's, which keeps where things are on the screen: pooling loses the ball), fc 128,
and 7 ops (`FAST_OPS`): 7^5 archs. Depth comes through skips; on a 2-core AVX2 EPYC (ORT fp32)
its archs span ~6x faster than the Nature CNN (all skip) to about its latency (all conv_k5).
The `tiny` preset is `fast` at half width (stem 8, blocks 8 / 16 / 32 channels: a flattened
head of 32 x 6 x 6): `fast`'s fixed parts alone (stem, the stride-2 projections, the head: its
all-skip arch) cost ~1/5 of the Nature CNN on that CPU, so below that only a narrower net fits.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from a2d_edge.errors import A2DError
from a2d_edge.nets.agent import ActorCritic, _init_weights
from a2d_edge.nets.arch import (
    MAX_LAYERS,
    MAX_WIDTH,
    SCHEMA,
    Arch,
    check_bound,
    family_of,
    validate_arch,
)
from a2d_edge.nets.ops import OPS, ConvBNReLU, conv_flops, out_size

PAPER_OPS = (
    "conv_k3", "conv_k5",
    "ir_k3_e1", "ir_k3_e3", "ir_k3_e5", "ir_k5_e1", "ir_k5_e3", "ir_k5_e5",
    "skip",
)  # fmt: skip


# The paper's ops less the x5 expansions: their depthwise convs cost 3-6x a plain conv's
# forward + backward in PyTorch on a CPU (ir_k5_e5 at batch 256: 1.2 s against conv_k5's 0.3 s,
# channels-last, one thread), which a supernet trained on a CPU pays on every path that has one.
FAST_OPS = ("conv_k3", "conv_k5", "ir_k3_e1", "ir_k3_e3", "ir_k5_e1", "ir_k5_e3", "skip")


@dataclass(frozen=True)
class BlockShape:
    """One searchable block: widths, stride and the input it sees (batch 1)."""

    c_in: int
    c_out: int
    stride: int
    h: int
    w: int


@dataclass(frozen=True)
class SearchSpace:
    name: str
    stages: tuple[tuple[int, int, int], ...]  # (blocks, channels, stride of the first block)
    ops: tuple[str, ...] = PAPER_OPS
    stem_channels: int = 16
    stem_kernel: int = 3
    stem_stride: int = 2
    feature_dim: int = 256
    in_channels: int = 4
    head: str = "pool"  # pool: global average pooling before fc; flatten: the whole map

    @property
    def n_blocks(self) -> int:
        return sum(n for n, _, _ in self.stages)

    def stem_size(self, size: int) -> int:
        return out_size(size, self.stem_kernel, self.stem_stride, self.stem_kernel // 2)

    def random_arch(self, rng: random.Random) -> Arch:
        """`sample` (kept for its callers)."""
        return self.sample(rng)

    # ----- the `nets.spaces.Space` protocol -----
    kind: ClassVar[str] = "ops"
    has_alpha: ClassVar[bool] = True

    def sample(self, rng: random.Random) -> Arch:
        """An arch of the space, each block's op drawn uniformly by `rng` (`random_arch`)."""
        return random_arch(self, rng=rng)

    def size(self) -> int:
        return len(self.ops) ** self.n_blocks

    def candidates(self) -> Iterator[Arch]:
        for genes in itertools.product(range(len(self.ops)), repeat=self.n_blocks):
            yield self.from_genes(genes)

    def choice_counts(self) -> tuple[int, ...]:
        return (len(self.ops),) * self.n_blocks

    def genes(self, arch: Arch) -> tuple[int, ...]:
        if not self.contains(arch):
            raise A2DError(f"arch is not of space {self.name!r} (family, blocks or ops differ)")
        return tuple(self.ops.index(op) for op in arch["ops"])

    def from_genes(self, genes: tuple[int, ...] | list[int]) -> Arch:
        return searched_arch(self, [self.ops[i] for i in genes])

    def label(self, arch: Arch) -> list[Any]:
        return list(arch["ops"])

    def contains(self, arch: Arch) -> bool:
        if not isinstance(arch, dict) or arch.get("family") != "searched":
            return False
        try:
            _validate_searched(arch)
        except A2DError:
            return False
        return SearchSpace.from_dict(arch["space"]) == self

    def flops(self, arch: Arch, n_actions: int) -> int:
        return self.arch_flops(arch["ops"], n_actions)

    def spread(self, n: int, seed: int) -> list[Arch]:
        return varied_archs(self, n, seed)

    def supernet(self, n_actions: int) -> Supernet:
        return Supernet(self, n_actions)

    def extract(self, supernet: Any, arch: Arch) -> ActorCritic:
        assert isinstance(supernet, Supernet)  # an op space's supernet (the implementation's)
        return as_agent(supernet, arch)

    def blocks(self, input_hw: tuple[int, int] = (84, 84)) -> list[BlockShape]:
        h, w = (self.stem_size(s) for s in input_hw)
        c = self.stem_channels
        shapes = []
        for n, c_out, first_stride in self.stages:
            for i in range(n):
                stride = first_stride if i == 0 else 1
                shapes.append(BlockShape(c, c_out, stride, h, w))
                h, w = out_size(h, 3, stride, 1), out_size(w, 3, stride, 1)
                c = c_out
        return shapes

    def head_shape(self, input_hw: tuple[int, int] = (84, 84)) -> tuple[int, int, int]:
        """(channels, h, w) of the last block's output, the head's input."""
        last = self.blocks(input_hw)[-1]
        size = (out_size(last.h, 3, last.stride, 1), out_size(last.w, 3, last.stride, 1))
        return last.c_out, *size

    def fc_in(self, input_hw: tuple[int, int] = (84, 84)) -> int:
        c, h, w = self.head_shape(input_hw)
        return c * h * w if self.head == "flatten" else c

    def op_flops(self, input_hw: tuple[int, int] = (84, 84)) -> list[list[int]]:
        """FLOPs of every candidate op in every block: [n_blocks][n_ops]."""
        return [
            [OPS[op].flops(b.c_in, b.c_out, b.stride, b.h, b.w) for op in self.ops]
            for b in self.blocks(input_hw)
        ]

    def fixed_flops(self, n_actions: int, input_hw: tuple[int, int] = (84, 84)) -> int:
        """Stem conv, fc and the two heads: the part every architecture pays."""
        stem = conv_flops(
            self.in_channels, self.stem_channels, self.stem_kernel, self.stem_stride, *input_hw
        )
        return stem + self.fc_in(input_hw) * self.feature_dim + self.feature_dim * (n_actions + 1)

    def arch_flops(
        self, ops: list[str], n_actions: int, input_hw: tuple[int, int] = (84, 84)
    ) -> int:
        table = self.op_flops(input_hw)
        index = {op: i for i, op in enumerate(self.ops)}
        return self.fixed_flops(n_actions, input_hw) + sum(
            row[index[op]] for row, op in zip(table, ops, strict=True)
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.head == "pool":
            del d["head"]  # the default: arch.json and tables written before heads stay equal
        d["stages"] = [list(s) for s in self.stages]
        d["ops"] = list(self.ops)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> SearchSpace:
        try:
            space = cls(
                name=str(d["name"]),
                stages=tuple(tuple(int(v) for v in s) for s in d["stages"]),  # type: ignore[misc]
                ops=tuple(str(o) for o in d["ops"]),
                stem_channels=int(d["stem_channels"]),
                stem_kernel=int(d["stem_kernel"]),
                stem_stride=int(d["stem_stride"]),
                feature_dim=int(d["feature_dim"]),
                in_channels=int(d.get("in_channels", 4)),
                head=str(d.get("head", "pool")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise A2DError(f"malformed search space in arch: {type(e).__name__} {e}") from None
        if any(len(s) != 3 or min(s) < 1 for s in space.stages):
            raise A2DError("search space stages must be [blocks, channels, stride] triples >= 1")
        check_bound("a search space's block count", space.n_blocks, MAX_LAYERS)
        widths = {"stem_channels": space.stem_channels, "feature_dim": space.feature_dim,
                  "in_channels": space.in_channels, "stages' channels": max(
                      (c for _, c, _ in space.stages), default=1)}  # fmt: skip
        for key, width in widths.items():
            check_bound(f"search space field {key!r}", width, MAX_WIDTH)
        if space.head not in HEADS:
            raise A2DError(f"search space head must be one of {HEADS}, got {space.head!r}")
        for op in space.ops:
            OPS[op]  # raises with the valid names
        return space


HEADS = ("pool", "flatten")

_FAST = SearchSpace(
    "fast",
    ((1, 16, 1), (2, 32, 2), (2, 64, 2)),
    ops=FAST_OPS,
    stem_kernel=4,
    stem_stride=4,
    feature_dim=128,
    head="flatten",
)

SPACES: dict[str, SearchSpace] = {
    "paper": SearchSpace("paper", ((5, 16, 1), (4, 32, 2), (5, 64, 2))),
    "edge": SearchSpace("edge", ((5, 16, 1), (4, 32, 2), (5, 64, 2)), stem_kernel=5, stem_stride=4),
    "fast": _FAST,
    "tiny": replace(
        _FAST, name="tiny", stages=((1, 8, 1), (2, 16, 2), (2, 32, 2)), stem_channels=8
    ),
}


def get_space(preset: str) -> SearchSpace:
    if preset not in SPACES:
        raise A2DError(f"unknown search-space preset {preset!r}; presets: {', '.join(SPACES)}")
    return SPACES[preset]


def searched_arch(space: SearchSpace, ops: list[str]) -> Arch:
    arch = {"schema": SCHEMA, "family": "searched", "space": space.to_dict(), "ops": list(ops)}
    _validate_searched(arch)
    return arch


def random_arch(preset: str | SearchSpace, seed: int = 0, rng: random.Random | None = None) -> Arch:
    """A valid arch.json of `preset` (a name or a space), each block's op drawn uniformly by
    `rng` (default: a generator seeded with `seed`, so the arch is deterministic in it)."""
    space = get_space(preset) if isinstance(preset, str) else preset
    rng = rng or random.Random(seed)
    return searched_arch(space, [rng.choice(space.ops) for _ in range(space.n_blocks)])


def random_archs(space: SearchSpace, n: int, seed: int) -> list[Arch]:
    """n archs drawn one after the other from one generator seeded with `seed`."""
    rng = random.Random(seed)
    return [random_arch(space, rng=rng) for _ in range(n)]


def head_features(x: torch.Tensor, fc: nn.Module, flatten: bool) -> torch.Tensor:
    """The space's head on the last map: pool (or flatten), fc to `feature_dim`, ReLU."""
    return torch.relu(fc(x.flatten(1) if flatten else x.mean(dim=(2, 3))))


class SearchedNet(nn.Module):
    """A plain network of the space: stem, one fixed op per block, pooled fc head."""

    def __init__(self, space: SearchSpace, ops: list[str]) -> None:
        super().__init__()
        self.stem = ConvBNReLU(
            space.in_channels, space.stem_channels, space.stem_kernel, space.stem_stride
        )
        self.blocks = nn.Sequential(
            *(
                OPS[op].build(b.c_in, b.c_out, b.stride)
                for op, b in zip(ops, space.blocks(), strict=True)
            )
        )
        self.fc = nn.Linear(space.fc_in(), space.feature_dim)
        self.flatten = space.head == "flatten"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return head_features(self.blocks(self.stem(x)), self.fc, self.flatten)


def _validate_searched(arch: Arch) -> None:
    space = SearchSpace.from_dict(arch.get("space"))
    ops = arch.get("ops")
    if not isinstance(ops, list) or len(ops) != space.n_blocks:
        raise A2DError(f"searched arch needs 'ops': a list of {space.n_blocks} op names")
    bad = [op for op in ops if op not in space.ops]
    if bad:
        raise A2DError(f"ops {bad} are not candidates of space {space.name!r}: {list(space.ops)}")


def varied_archs(space: SearchSpace, n: int, seed: int) -> list[dict[str, Any]]:
    """Random archs spread from the cheapest to the costliest corner of the space: arch i
    draws each block's op with probability ~ exp(beta_i * cost rank), beta_i from -8 to 8, so
    a fit on them also holds for the cheap archs a budgeted search returns."""
    rng = np.random.default_rng(seed)
    flops = np.asarray(space.op_flops(), dtype=np.float64)
    ranks = flops.argsort(axis=1).argsort(axis=1) / (len(space.ops) - 1)  # 0 cheapest .. 1
    betas = np.linspace(-8.0, 8.0, n) if n > 1 else np.zeros(1)
    rng.shuffle(betas)
    archs = []
    for beta in betas:
        ops = []
        for row in ranks:
            p = np.exp(beta * row)
            ops.append(space.ops[int(rng.choice(len(row), p=p / p.sum()))])
        archs.append(searched_arch(space, ops))
    return archs


# ----- the supernet: every arch of a space in one module (A2D Eq. 10-11) -----


def sample_gumbel(shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    u = torch.rand(shape, generator=generator).clamp_(1e-10, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


def gumbel_weights(
    alpha: torch.Tensor, noise: torch.Tensor | None, tau: float, hard: bool
) -> torch.Tensor:
    """softmax((alpha + g) / tau) per block; `hard` gives the straight-through one-hot."""
    logits = alpha if noise is None else alpha + noise
    soft = F.softmax(logits / tau, dim=-1)
    if not hard:
        return soft
    index = soft.argmax(-1, keepdim=True)
    one_hot = torch.zeros_like(soft).scatter_(-1, index, 1.0)
    return one_hot - soft.detach() + soft


class MixedOp(nn.Module):
    def __init__(self, ops: tuple[str, ...], c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.names = ops
        self.ops = nn.ModuleList(OPS[op].build(c_in, c_out, stride) for op in ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if weights.shape != (len(self.ops),):
            raise ValueError(
                f"mixed op has {len(self.ops)} paths, got weights {tuple(weights.shape)}"
            )
        nonzero = (weights.detach() != 0).nonzero().flatten().tolist()
        if len(nonzero) == 1:  # one-hot (hard mode, or a derived path): run only that op
            i = nonzero[0]
            return self.ops[i](x) * weights[i]
        return sum(weights[i] * op(x) for i, op in enumerate(self.ops))  # type: ignore[return-value]


class SupernetFeatures(nn.Module):
    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.stem = ConvBNReLU(
            space.in_channels, space.stem_channels, space.stem_kernel, space.stem_stride
        )
        self.blocks = nn.ModuleList(
            MixedOp(space.ops, b.c_in, b.c_out, b.stride) for b in space.blocks()
        )
        self.fc = nn.Linear(space.fc_in(), space.feature_dim)
        self.flatten = space.head == "flatten"

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block, w in zip(self.blocks, weights, strict=True):
            x = block(x, w)
        return head_features(x, self.fc, self.flatten)


class Supernet(nn.Module):
    """Every architecture of `space` at once, with actor and critic heads."""

    def __init__(self, space: SearchSpace, n_actions: int) -> None:
        super().__init__()
        self.space = space
        self.n_actions = n_actions
        self.features = SupernetFeatures(space)
        self.actor = nn.Linear(space.feature_dim, n_actions)
        self.critic = nn.Linear(space.feature_dim, 1)
        _init_weights(self)  # type: ignore[arg-type]
        self.alpha = nn.Parameter(torch.zeros(space.n_blocks, len(space.ops)))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha]

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if name != "alpha"]

    def path_costs(self) -> list[list[int]]:
        """FLOPs of every op in every block: what orders a path's choices (the sandwich rule's
        largest and smallest paths)."""
        return self.space.op_flops()

    def forward(
        self, obs: torch.Tensor, weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(obs.float() * (1.0 / 255.0), weights)
        return self.actor(h), self.critic(h).squeeze(-1)

    def probabilities(self) -> torch.Tensor:
        return F.softmax(self.alpha.detach(), dim=-1)

    def timing_forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One forward of the argmax path, as a hard-mode step runs one path: what a probe
        that times the supernet (`bf16_time_ratio`) calls."""
        index = self.probabilities().argmax(-1)
        return self(obs, F.one_hot(index, len(self.space.ops)).float())

    def derive(self) -> Arch:
        """The argmax architecture as an arch.json that `build_agent` turns into a plain net."""
        index = self.probabilities().argmax(-1).tolist()
        return searched_arch(self.space, [self.space.ops[i] for i in index])

    def derived_state_dict(self, arch: Arch) -> dict[str, torch.Tensor]:
        """The supernet's weights for `arch`'s ops, keyed like `build_agent(arch)`'s module."""
        out: dict[str, torch.Tensor] = {}
        index = {op: i for i, op in enumerate(self.space.ops)}
        for key, value in self.state_dict().items():
            if key == "alpha":
                continue
            parts = key.split(".")
            if parts[:2] == ["features", "blocks"]:
                block, path = int(parts[2]), int(parts[4])
                if path != index[arch["ops"][block]]:
                    continue
                key = ".".join(["features", "blocks", str(block), *parts[5:]])
            out[key] = value
        return out


def as_agent(supernet: Supernet, arch: Arch) -> ActorCritic:
    """A plain agent of `arch` carrying the supernet's weights for its ops (`build_agent`'s
    net, built here so that the space's module needs no import of the package)."""
    validate_arch(arch)
    features, dim = family_of(arch).build(arch, supernet.space.in_channels)
    agent = ActorCritic(features, dim, supernet.n_actions)
    agent.load_state_dict(supernet.derived_state_dict(arch))
    return agent
