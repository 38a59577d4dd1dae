"""Cost terms of Eq. 9 (expected FLOPs / latency under the Gumbel block weights) and the
budget repair, as pure functions."""

from __future__ import annotations

from collections.abc import Callable

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


def repair_to_budget(
    ops: list[str],
    candidates: tuple[str, ...],
    probs: torch.Tensor,
    latency_us: torch.Tensor,
    fixed_us: float,
    budget_us: float,
    predict_us: Callable[[list[str]], float] | None = None,
) -> tuple[list[str], list[dict[str, object]]]:
    """Swap blocks to cheaper ops until the arch meets the budget.

    Each swap is the one that gives up the least op probability per microsecond saved (so the
    least certain blocks go first). `latency_us` is [n_blocks, n_ops]; `predict_us` (the
    table's corrected prediction) decides when the budget is met, the plain sum otherwise.
    Returns the new ops and the swaps made. The all-cheapest arch must fit the budget.
    """
    index = {op: i for i, op in enumerate(candidates)}
    current = [index[op] for op in ops]

    def total(cur: list[int]) -> float:
        names = [candidates[i] for i in cur]
        if predict_us is not None:
            return predict_us(names)
        return fixed_us + float(sum(latency_us[b, i] for b, i in enumerate(cur)))

    swaps: list[dict[str, object]] = []
    while total(current) > budget_us:
        best: tuple[float, int, int] | None = None
        for b, c in enumerate(current):
            for o in range(len(candidates)):
                saved = float(latency_us[b, c] - latency_us[b, o])
                if saved <= 0:
                    continue
                cost = float(probs[b, c] - probs[b, o]) / saved
                if best is None or cost < best[0]:
                    best = (cost, b, o)
        if best is None:
            raise ValueError("budget unreachable even with the cheapest op in every block")
        _, b, o = best
        swaps.append({"block": b, "from": candidates[current[b]], "to": candidates[o]})
        current[b] = o
    return [candidates[i] for i in current], swaps
