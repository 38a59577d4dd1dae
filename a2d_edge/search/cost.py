"""Cost terms of Eq. 9 (expected FLOPs / latency under the Gumbel block weights), as pure
functions. The budget repair is a table's (`Table.repair`; `hw.lut.repair_to_budget`)."""

from __future__ import annotations

import torch

from a2d_edge.nets.space import SearchSpace


class FlopsTable:
    """FLOPs of every op in every block plus the fixed part, as tensors for the search."""

    def __init__(self, space: SearchSpace, n_actions: int) -> None:
        self.per_op = torch.tensor(space.op_flops(), dtype=torch.float64)  # [blocks, ops]
        self.fixed = float(space.fixed_flops(n_actions))

    def expected(self, weights: torch.Tensor) -> torch.Tensor:
        """sum_b sum_o w[b, o] * FLOPs[b, o] + fixed, differentiable in `weights`."""
        return (weights * self.per_op.to(weights)).sum() + self.fixed

    def minimum(self) -> float:
        return float(self.per_op.min(dim=1).values.sum()) + self.fixed

    def maximum(self) -> float:
        return float(self.per_op.max(dim=1).values.sum()) + self.fixed


def tau_at(step: int, tau0: float, decay: float, every: int) -> float:
    """tau0 * decay ** floor(step / every) (paper: 5, x0.98 every 1e5 steps)."""
    return tau0 * decay ** (step // every)


def alpha_entropy(alpha: torch.Tensor) -> float:
    """Mean over blocks of the entropy of softmax(alpha) (nats); ln 9 = 2.197 at start."""
    logp = torch.log_softmax(alpha.detach().float(), dim=-1)
    return float(-(logp.exp() * logp).sum(-1).mean())


def latency_cost(expected_ms: torch.Tensor, budget_ms: float, weight: float) -> torch.Tensor:
    """weight * max(0, E[lat] / budget - 1) with a budget; weight * E[lat] (ms) without one."""
    if budget_ms > 0:
        return weight * torch.relu(expected_ms / budget_ms - 1.0)
    return weight * expected_ms
