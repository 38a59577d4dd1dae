"""BatchNorm statistics of a derived path, recomputed on its own activations (SPOS): a supernet's
running statistics mix every path's, so a path is judged only after this."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


def bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module,
    batches: Iterable[torch.Tensor],
    forward: Callable[[torch.Tensor], object] | None = None,
) -> int:
    """Reset every BatchNorm's running mean / var and recompute them as the plain average over
    `batches` (momentum None), in train mode without gradients; the model is left in eval mode.
    Only BN buffers change. Returns the frames seen (0 without BN layers)."""
    layers = bn_layers(model)
    if not layers:  # nothing to recompute (a Nature-family net): no forward is run
        model.eval()
        return 0
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    seen = 0
    try:
        for x in batches:
            (forward or model)(x)
            seen += len(x)
    finally:
        for m, mom in zip(layers, momenta, strict=True):
            m.momentum = mom
        model.eval()
    return seen
