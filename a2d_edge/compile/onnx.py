"""torch module -> ONNX bytes: the one exporter of the package (legacy TorchScript exporter,
no onnxscript needed, one self-contained file), checked with onnx.checker."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import torch
from torch import nn

OPSET = 18


def to_onnx(
    module: nn.Module,
    example: torch.Tensor,
    input_name: str = "frames",
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = False,
) -> bytes:
    """`module` in eval mode, traced on `example`; `dynamic_batch` makes dim 0 of the input and
    of every named output symbolic (`batch`), as bundles have it."""
    import onnx

    outputs = list(output_names or [])
    axes = {name: {0: "batch"} for name in [input_name, *outputs]} if dynamic_batch else None
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            (example,),
            buf,  # type: ignore[arg-type]
            input_names=[input_name],
            output_names=outputs or None,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data))
    return data
