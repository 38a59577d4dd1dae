"""The A2D supernet: a mixed op per block with architecture logits alpha (Eq. 10-11).

`soft` mode (the paper): each block outputs sum_i GS(alpha)_i * O_i(x), every candidate runs.
`hard` mode: straight-through Gumbel, only the sampled op runs forward; its output is scaled by
the one-hot weight (value 1) whose gradient is the soft weights' (Jang et al. 2017), so alpha
still learns. Sampling is separate from the forward: `sample_gumbel` draws the noise once, the
caller turns it into block weights with `gumbel_weights(alpha, noise, tau, hard)` and passes
the weights to `forward`, so a rollout and its update can share one sampled architecture.

Alpha holds logits (log alpha of Eq. 11); softmax(alpha) are the op probabilities.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from a2d_edge.nets.agent import ActorCritic, _init_weights
from a2d_edge.nets.arch import Arch
from a2d_edge.nets.ops import OPS, ConvBNReLU
from a2d_edge.nets.space import SearchSpace, head_features, searched_arch


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
    """A plain agent of `arch` carrying the supernet's weights for its ops."""
    from a2d_edge.nets import build_agent

    agent = build_agent(arch, supernet.n_actions, supernet.space.in_channels)
    agent.load_state_dict(supernet.derived_state_dict(arch))
    return agent
