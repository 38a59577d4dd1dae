"""An elastic-width Nature CNN: the Nature net's widths as a search space (OFA-style).

The `fast` / `tiny` spaces search ops in a fixed-width trunk; on Breakout the best hand-made
net at a third of the teacher's latency (`nature-half`: convs 16/32/32, fc 256) is a dense
32-channel trunk without depthwise convs, which no arch of those spaces is. A `WidthSpace`
keeps the Nature CNN's layers (8x8/4, 4x4/2, 3x3/1 convs, a flattened fc) and searches the
width of each: `nature-widths` gives each conv 4 widths and the fc 4, so its 4^4 = 256 archs
hold the Nature CNN itself, `nature-half`, `nature-thin` and `nature-quarter` and every net
between. Every arch is a plain `nature`-family arch.json, so the export, the runtime and the
zoo take it as they take the hand-made ones.

`ElasticNature` is its supernet: one set of weights at the widest choice; a narrower arch runs
the first c output channels of each layer (and the first inputs of the next), as OFA's elastic
width does. A path is one choice index per dimension, given as one-hot rows like a `Supernet`'s
block weights, so the distillation loop trains both alike (the sandwich rule: the widest, the
narrowest and random archs per batch).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from a2d_edge.errors import A2DError
from a2d_edge.nets.agent import ActorCritic, _init_weights
from a2d_edge.nets.arch import SCHEMA, Arch
from a2d_edge.nets.ops import out_size

DIMENSIONS = ("conv1", "conv2", "conv3", "hidden")
KERNELS = ((8, 4), (4, 2), (3, 1))  # the Nature CNN's (kernel, stride) per conv, no padding


@dataclass(frozen=True)
class WidthSpace:
    """The width choices of the Nature CNN's three convs and its fc, widest last in each."""

    name: str
    choices: tuple[tuple[int, ...], ...]
    in_channels: int = 4

    def __post_init__(self) -> None:
        if len(self.choices) != len(DIMENSIONS):
            raise A2DError(f"a width space has {len(DIMENSIONS)} dimensions {DIMENSIONS}")
        counts = {len(c) for c in self.choices}
        if len(counts) != 1 or min(counts) < 1:
            raise A2DError("every dimension of a width space needs the same number of choices")
        for c in self.choices:
            if min(c) < 1 or list(c) != sorted(set(c)):
                raise A2DError(f"width choices must be positive and increasing, got {list(c)}")

    @property
    def n_choices(self) -> int:
        return len(self.choices[0])

    @property
    def widest(self) -> tuple[int, ...]:
        return tuple(c[-1] for c in self.choices)

    def widths(self, path: list[int] | tuple[int, ...]) -> tuple[int, ...]:
        return tuple(c[i] for c, i in zip(self.choices, path, strict=True))

    def arch(self, widths: tuple[int, ...] | list[int]) -> Arch:
        """The plain `nature` arch of these widths (conv1, conv2, conv3, hidden)."""
        c1, c2, c3, hidden = (int(w) for w in widths)
        return {"schema": SCHEMA, "family": "nature", "hidden": hidden, "channels": [c1, c2, c3]}

    def widths_of(self, arch: Arch) -> tuple[int, ...]:
        """(conv1, conv2, conv3, hidden) of a nature arch of this space, else a one-line error."""
        if arch.get("family") != "nature":
            raise A2DError(
                f"space {self.name!r} holds nature-family archs, not {arch.get('family')!r}"
            )
        widths = (*arch.get("channels", (32, 64, 64)), arch.get("hidden"))
        if len(widths) != 4 or any(w not in c for w, c in zip(widths, self.choices, strict=True)):
            raise A2DError(f"arch widths {list(widths)} are not in space {self.name!r}: "
                           f"{[list(c) for c in self.choices]}")  # fmt: skip
        return tuple(int(w) for w in widths)

    def contains(self, arch: Arch) -> bool:
        try:
            self.widths_of(arch)
        except A2DError:
            return False
        return True

    def paths(self) -> list[tuple[int, ...]]:
        return list(itertools.product(range(self.n_choices), repeat=len(DIMENSIONS)))

    def random_arch(self, rng: random.Random) -> Arch:
        """`sample` (kept for its callers)."""
        return self.sample(rng)

    # ----- the `nets.spaces.Space` protocol -----
    kind: ClassVar[str] = "widths"
    has_alpha: ClassVar[bool] = False

    def sample(self, rng: random.Random) -> Arch:
        """An arch of the space, each dimension's width drawn uniformly by `rng`."""
        return self.arch(tuple(rng.choice(c) for c in self.choices))

    def size(self) -> int:
        return self.n_choices ** len(DIMENSIONS)

    def candidates(self) -> Iterator[Arch]:
        return iter(self.archs())

    def choice_counts(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.choices)

    def genes(self, arch: Arch) -> tuple[int, ...]:
        return tuple(c.index(w) for c, w in zip(self.choices, self.widths_of(arch), strict=True))

    def from_genes(self, genes: tuple[int, ...] | list[int]) -> Arch:
        return self.arch(self.widths(tuple(genes)))

    def label(self, arch: Arch) -> list[Any]:
        return list(self.widths_of(arch))

    def flops(self, arch: Arch, n_actions: int) -> int:
        return self.widths_flops(self.widths_of(arch), n_actions)

    def spread(self, n: int, seed: int) -> list[Arch]:
        """n distinct archs drawn uniformly (`default_rng(seed)`, a width table's drift archs)."""
        rng = np.random.default_rng(seed)
        paths = self.paths()
        drawn = rng.choice(len(paths), min(n, len(paths)), replace=False)
        return [self.from_genes(paths[int(i)]) for i in drawn]

    def supernet(self, n_actions: int) -> ElasticNature:
        return ElasticNature(self, n_actions)

    def extract(self, supernet: Any, arch: Arch) -> ActorCritic:
        assert isinstance(
            supernet, ElasticNature
        )  # a width space's supernet (the implementation's)
        return supernet.extract(arch)

    def archs(self) -> list[Arch]:
        """Every arch of the space, narrowest first (itertools.product order)."""
        return [self.arch(self.widths(p)) for p in self.paths()]

    def path_costs(self) -> np.ndarray:
        """[dimensions, choices]: each choice's width, a cost that orders the choices (the
        sandwich rule's widest and narrowest paths are its argmax and argmin)."""
        return np.asarray(self.choices, dtype=np.float64)

    def widths_flops(
        self, widths: tuple[int, ...], n_actions: int, input_hw: tuple[int, int] = (84, 84)
    ) -> int:
        """Multiply-adds of the convs, the fc and the two heads (the ops.py convention)."""
        c_in, (h, w) = self.in_channels, input_hw
        total = 0
        for (k, s), c in zip(KERNELS, widths[:3], strict=False):
            h, w = out_size(h, k, s, 0), out_size(w, k, s, 0)
            total += c_in * k * k * c * h * w
            c_in = c
        hidden = widths[3]
        return total + c_in * h * w * hidden + hidden * (n_actions + 1)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "widths", "choices": [list(c) for c in self.choices],
                "dimensions": list(DIMENSIONS), "in_channels": self.in_channels}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any) -> WidthSpace:
        try:
            choices = tuple(tuple(int(v) for v in c) for c in d["choices"])
            return cls(str(d["name"]), choices, int(d.get("in_channels", 4)))
        except (KeyError, TypeError, ValueError) as e:
            raise A2DError(f"malformed width space: {type(e).__name__} {e}") from None


WIDTH_SPACES: dict[str, WidthSpace] = {
    "nature-widths": WidthSpace(
        "nature-widths", ((8, 16, 24, 32), (16, 32, 48, 64), (16, 32, 48, 64), (128, 256, 384, 512))
    ),
}


def get_width_space(name: str) -> WidthSpace:
    if name not in WIDTH_SPACES:
        raise A2DError(f"unknown width space {name!r}; width spaces: {', '.join(WIDTH_SPACES)}")
    return WIDTH_SPACES[name]


def path_from_weights(weights: torch.Tensor) -> list[int]:
    """The choice of each dimension from one-hot rows [dimensions, choices]."""
    w = weights.detach()
    if w.dim() != 2 or not torch.all((w != 0).sum(-1) == 1):
        raise ValueError(
            f"an elastic net runs one width per dimension: one-hot rows, got {tuple(w.shape)}"
        )
    return [int(i) for i in w.argmax(-1).tolist()]


class ElasticTrunk(nn.Module):
    """The widest convs and fc (keyed as `NatureCNN`'s, so a slice loads into one)."""

    def __init__(self, space: WidthSpace, in_size: int) -> None:
        super().__init__()
        c1, c2, c3, hidden = space.widest
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, k, s)
            for c_in, c_out, (k, s) in zip(
                (space.in_channels, c1, c2), (c1, c2, c3), KERNELS, strict=True
            )
        )
        side = in_size
        for k, s in KERNELS:
            side = out_size(side, k, s, 0)
        self.side = side
        self.fc = nn.Linear(c3 * side * side, hidden)


class ElasticNature(nn.Module):
    """Every arch of a `WidthSpace` in one net: the widest weights, sliced per arch."""

    def __init__(self, space: WidthSpace, n_actions: int, in_size: int = 84) -> None:
        super().__init__()
        self.space = space
        self.n_actions = n_actions
        hidden = space.widest[-1]
        self.features = ElasticTrunk(space, in_size)
        self.actor = nn.Linear(hidden, n_actions)
        self.critic = nn.Linear(hidden, 1)
        _init_weights(self)  # type: ignore[arg-type]

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.parameters())

    def arch_parameters(self) -> list[nn.Parameter]:
        return []  # no architecture logits: a width space is searched by judging its archs

    def probabilities(self) -> None:
        return None

    def derive(self) -> Arch:
        raise A2DError(
            f"width space {self.space.name!r} has no architecture logits to derive an arch "
            "from: its archs are judged (--select exhaustive or evolution)"
        )

    def path_costs(self) -> np.ndarray:
        return self.space.path_costs()

    def sliced(self, widths: tuple[int, ...]) -> dict[str, torch.Tensor]:
        """The weights of the arch of `widths`, keyed like `build_agent(space.arch(widths))`'s."""
        c1, c2, c3, hidden = widths
        out: dict[str, torch.Tensor] = {}
        c_in = self.space.in_channels
        for i, c in enumerate((c1, c2, c3)):
            conv = self.features.convs[i]
            assert isinstance(conv, nn.Conv2d) and conv.bias is not None
            out[f"features.convs.{2 * i}.weight"] = conv.weight[:c, :c_in]
            out[f"features.convs.{2 * i}.bias"] = conv.bias[:c]
            c_in = c
        fc = self.features.fc
        side = self.features.side
        w = fc.weight.view(fc.out_features, -1, side, side)[:hidden, :c3]
        out["features.fc.weight"] = w.reshape(hidden, c3 * side * side)
        out["features.fc.bias"] = fc.bias[:hidden]
        out["actor.weight"] = self.actor.weight[:, :hidden]
        out["actor.bias"] = self.actor.bias
        out["critic.weight"] = self.critic.weight[:, :hidden]
        out["critic.bias"] = self.critic.bias
        return out

    def forward(
        self, obs: torch.Tensor, weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.sliced(self.space.widths(path_from_weights(weights)))
        x = obs.float() * (1.0 / 255.0)
        for i, (_, s) in enumerate(KERNELS):
            x = F.relu(
                F.conv2d(
                    x, p[f"features.convs.{2 * i}.weight"], p[f"features.convs.{2 * i}.bias"], s
                )
            )
        h = F.relu(F.linear(x.flatten(1), p["features.fc.weight"], p["features.fc.bias"]))
        value = F.linear(h, p["critic.weight"], p["critic.bias"]).squeeze(-1)
        return F.linear(h, p["actor.weight"], p["actor.bias"]), value

    def timing_forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One forward of the widest arch (the sandwich rule's costliest path): what a probe
        that times the supernet (`bf16_time_ratio`) calls."""
        widest = [self.space.n_choices - 1] * len(DIMENSIONS)
        return self(obs, torch.eye(self.space.n_choices)[widest])

    def extract(self, arch: Arch) -> ActorCritic:
        """A plain agent of `arch` carrying the supernet's weights for its widths."""
        from a2d_edge.nets import build_agent

        agent = build_agent(arch, self.n_actions, self.space.in_channels)
        state = {
            k: v.detach().clone().contiguous()
            for k, v in self.sliced(self.space.widths_of(arch)).items()
        }
        agent.load_state_dict(state)
        return agent
