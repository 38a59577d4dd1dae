"""INT8 by ONNX Runtime static quantisation in QDQ format, calibrated on real frames.

Two flavours, because their consumers differ (measured here: ORT CPU ran U8S8 fastest, and a
symmetric S8S8 graph was ~3x slower on ORT CPU while it is what TensorRT requires):
- `cpu`: U8 activations, S8 per-channel weights (ORT CPU's fast path);
- `tensorrt`: symmetric S8 activations and S8 per-channel weights on axis 0 (zero-point 0),
  TensorRT's explicit-quantisation INT8.
The actor and critic heads (the last Gemms) stay fp32: with few calibration frames their
quantised outputs clipped, and they cost nothing.

The `cpu` flavour then gets the graph rewrites of `int8_graph` (uint8 frames straight into the
first QLinearConv, NHWC flatten, quantised pooling, merged heads); TensorRT's S8S8 QDQ graph is
left as the quantiser wrote it (TensorRT takes no uint8 DequantizeLinear).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from a2d_edge.export.int8_graph import REWRITES, rewrite_int8

FLAVOURS = ("cpu", "tensorrt")
DEFAULT_REWRITES: dict[str, tuple[str, ...]] = {"cpu": tuple(REWRITES), "tensorrt": ()}


def head_nodes(model: bytes) -> list[str]:
    """Names of the nodes that produce the graph outputs' Gemms (the actor and critic heads)."""
    import onnx

    graph = onnx.load_from_string(model).graph
    producer = {out: node for node in graph.node for out in node.output}
    heads = []
    for output in graph.output:
        node = producer.get(output.name)
        while node is not None and node.op_type not in ("Gemm", "MatMul"):
            node = producer.get(node.input[0]) if node.input else None
        if node is not None:
            heads.append(node.name)
    return heads


def quantize_int8(
    model: bytes,
    calibration: np.ndarray,
    flavour: str = "cpu",
    input_name: str = "frames",
    rewrites: tuple[str, ...] | None = None,
) -> bytes:
    """Static QDQ quantisation calibrated on `calibration` (MinMax), then the flavour's graph
    rewrites (`rewrites=None`: `DEFAULT_REWRITES[flavour]`; `()`: the plain QDQ graph)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}")
    names = DEFAULT_REWRITES[flavour] if rewrites is None else rewrites
    if flavour == "tensorrt" and names:
        raise ValueError("the tensorrt flavour takes no graph rewrites (they target ORT's CPU EP)")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{input_name: calibration[i : i + 1]} for i in range(len(calibration))])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    symmetric = flavour == "tensorrt"
    with tempfile.TemporaryDirectory() as tmp:
        src, pre, dst = (Path(tmp) / n for n in ("m.onnx", "pre.onnx", "q.onnx"))
        src.write_bytes(model)
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=head_nodes(model),
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={
                "ActivationSymmetric": symmetric,
                "WeightSymmetric": True,
            },
        )
        onnx.checker.check_model(str(dst))
        plain = dst.read_bytes()
    return rewrite_int8(plain, names)[0] if names else plain
