"""The weight optimiser: RMSProp as TensorFlow (and so the A2C papers) define it.

PyTorch's `torch.optim.RMSprop` adds epsilon *outside* the square root and starts the running
mean of squared gradients at zero. The A2C/A3C results (and the paper's lr 1e-3, eps 1e-5) come
from TensorFlow's RMSProp, which adds epsilon *inside* the root and starts the mean at one:

    v <- alpha * v + (1 - alpha) * g^2          (v_0 = 1)
    p <- p - lr * g / sqrt(v + eps)

With eps = 1e-5 the torch form damps nothing (1e-5 next to sqrt(v)) while the TF form floors the
denominator at sqrt(1e-5) ~ 3.2e-3, and v_0 = 1 keeps the first updates small instead of
~lr * sign(g) / sqrt(1 - alpha) = 10 * lr. On Pong, A2C with torch's form stayed at uniform policy
entropy and -20.5 for 2 M steps (Stable-Baselines3 reports the same: DLR-RM/stable-baselines3
#110, #1917; its `RMSpropTFLike` exists for this reason).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from a2d_edge.errors import A2DError

OPTIMIZERS = ("rmsprop-tf", "rmsprop")


class RMSpropTF(torch.optim.Optimizer):
    """RMSProp with TensorFlow semantics (no momentum, not centred)."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter] | Iterable[dict[str, object]],
        lr: float = 1e-3,
        alpha: float = 0.99,
        eps: float = 1e-5,
    ) -> None:
        if lr < 0 or not 0 <= alpha < 1 or eps <= 0:
            raise ValueError(f"bad RMSprop settings lr={lr} alpha={alpha} eps={eps}")
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        """One update of every parameter with a gradient, as whole-list (foreach) ops: a
        supernet has hundreds of small tensors, where a per-tensor loop would pay a few
        kernel calls each."""
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            for p in params:
                if "square_avg" not in self.state[p]:
                    self.state[p]["square_avg"] = torch.ones_like(
                        p, memory_format=torch.preserve_format
                    )
            avgs = [self.state[p]["square_avg"] for p in params]
            torch._foreach_mul_(avgs, group["alpha"])
            torch._foreach_addcmul_(avgs, grads, grads, value=1 - group["alpha"])
            denom = torch._foreach_add(avgs, group["eps"])
            torch._foreach_sqrt_(denom)
            torch._foreach_addcdiv_(params, grads, denom, value=-group["lr"])


def make_optimizer(
    kind: str, params: Iterable[torch.nn.Parameter], lr: float, alpha: float, eps: float
) -> torch.optim.Optimizer:
    if kind == "rmsprop-tf":
        return RMSpropTF(params, lr=lr, alpha=alpha, eps=eps)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps)
    raise A2DError(f"unknown optimizer {kind!r} (choose from {', '.join(OPTIMIZERS)})")
