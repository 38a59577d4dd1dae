"""FLOPs as fvcore counts them (one multiply-add = one flop) and parameter counts."""

from __future__ import annotations

import logging

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fvcore_flops(
    model: nn.Module, input_shape: tuple[int, ...] = (1, 4, 84, 84), batchnorm: bool = True
) -> int:
    """Total fvcore FLOPs for one forward of a batch of `input_shape` (uint8 frames).

    `batchnorm=False` leaves out fvcore's BatchNorm entry: the deployed net's count (BN folded
    into the convs at export), the convention of the search space's analytic FLOPs."""
    from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(input_shape, dtype=torch.uint8)
        analysis = FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        logging.getLogger("fvcore").setLevel(logging.ERROR)
        bn = 0 if batchnorm else analysis.by_operator().get("batch_norm", 0)
        return int(analysis.total() - bn)
    finally:
        model.train(was_training)
