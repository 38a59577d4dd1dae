"""FLOPs as fvcore counts them (one multiply-add = one flop) and parameter counts."""

from __future__ import annotations

import logging

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fvcore_flops(model: nn.Module, input_shape: tuple[int, ...] = (1, 4, 84, 84)) -> int:
    """Total fvcore FLOPs for one forward of a batch of `input_shape` (uint8 frames)."""
    from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(input_shape, dtype=torch.uint8)
        analysis = FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        logging.getLogger("fvcore").setLevel(logging.ERROR)
        return int(analysis.total())
    finally:
        model.train(was_training)
