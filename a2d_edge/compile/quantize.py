"""INT8 by ONNX Runtime static quantisation in QDQ format, calibrated on real frames, with the
recipe (activation / weight types) chosen for the CPU that will run it.

Which recipe is exact and fast depends on the instruction set (ORT's quantisation guide, and
measured here: BENCHMARKS.md "INT8 by target ISA"):
- `u8s8`: U8 activations, S8 per-channel weights. On x86 with VNNI (AVX-512 VNNI, AVX-VNNI,
  AMX) ORT's int8 GEMM accumulates u8 x s8 products in int32: exact, and ORT CPU's fastest.
- `u8s8-rr`: the same with 7-bit weights (`reduce_range`). Without VNNI, ORT's AVX2 / AVX-512
  kernels use VPMADDUBSW, which adds two u8 x s8 products into a *saturating* int16: 2 x 255 x
  127 overflows it, and the uint8 frames into the first conv do (an AVX2 EPYC flipped 6.6% of
  zoo:pong's greedy actions). With |w| <= 63 the pair sum stays below 2^15.
- `u8u8`: U8 activations and weights, which ORT's AVX2 path widens to int16 first (no
  saturation, ORT's other advice for such CPUs).
- (S8 activations, ORT's default QDQ recipe, were tried and dropped: on x86 ORT shifts them
  to u8 and computes what `u8s8` does, 1.3x slower, and the uint8 frames and the NHWC flatten
  leave it mixed-type convs that ORT runs in fp32.)
ARM's int8 kernels (NEON widening multiplies, SDOT/UDOT, I8MM) sum exactly in int32 whatever
the recipe, so arm64 takes `u8s8`, whose uint8 activations the frames already are.
- `tensorrt`: symmetric S8 activations and S8 per-channel weights (zero-point 0), TensorRT's
  explicit-quantisation INT8; no graph rewrites (TensorRT takes no uint8 DequantizeLinear).
The actor and critic heads (the last Gemms) stay fp32: with few calibration frames their
quantised outputs clipped, and they cost nothing.

The ORT recipes then get the graph rewrites of `int8_graph` (uint8 frames straight into the
first QLinearConv, NHWC flatten, quantised pooling, merged heads).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from a2d_edge.compile.int8_graph import REWRITES, rewrite_int8
from a2d_edge.errors import A2DError


@dataclass(frozen=True)
class Int8Recipe:
    name: str
    activations: str  # "uint8" | "int8"
    weights: str  # "int8" | "uint8"
    reduce_range: bool = False  # 7-bit weights
    symmetric_activations: bool = False
    rewrites: tuple[str, ...] = tuple(REWRITES)
    summary: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "activations": self.activations,
            "weights": f"{self.weights} per-channel" + (", 7-bit" if self.reduce_range else ""),
            "symmetric_activations": self.symmetric_activations,
            "calibration": "MinMax",
            "fp32": "actor and critic heads",
            "summary": self.summary,
        }


RECIPES: dict[str, Int8Recipe] = {
    r.name: r
    for r in (
        Int8Recipe("u8s8", "uint8", "int8",
                   summary="U8 activations, S8 weights: exact and fastest where the CPU has VNNI"),
        Int8Recipe("u8s8-rr", "uint8", "int8", reduce_range=True,
                   summary="U8 activations, 7-bit S8 weights: no int16 saturation without VNNI"),
        Int8Recipe("u8u8", "uint8", "uint8",
                   summary="U8 activations and weights: widened to int16, no saturation"),
        Int8Recipe("tensorrt", "int8", "int8", symmetric_activations=True, rewrites=(),
                   summary="symmetric S8S8 (zero-point 0): TensorRT's explicit quantisation"),
    )
}  # fmt: skip
FLAVOURS = tuple(RECIPES)  # the names `quantize_int8` takes
# The recipe per INT8 kernel class (utils.fingerprint.INT8_TARGETS): measured on both x86 hosts
# (BENCHMARKS.md "INT8 by target ISA"); arm64 follows ORT's guide (no saturation on ARM), not
# measured here for want of an ARM machine.
TARGET_RECIPES = {
    "x86-vnni": "u8s8",
    "x86-avx2": "u8s8-rr",
    "arm64": "u8s8",
    "tensorrt": "tensorrt",
}
TARGETS = ("host", *TARGET_RECIPES)


def resolve_target(target: str = "host") -> str:
    """`host` -> this machine's INT8 kernel class; a named class is checked and returned."""
    from a2d_edge.utils.fingerprint import int8_target, this_host

    if target == "host":
        return int8_target(this_host())
    if target not in TARGET_RECIPES:
        raise A2DError(f"unknown INT8 target {target!r}; targets: {', '.join(TARGETS)}")
    return target


def recipe_for(target: str = "host") -> Int8Recipe:
    """The INT8 recipe for a target (`host`: this machine's)."""
    return RECIPES[TARGET_RECIPES[resolve_target(target)]]


def get_recipe(name: str | Int8Recipe) -> Int8Recipe:
    if isinstance(name, Int8Recipe):
        return name
    if name not in RECIPES:
        raise A2DError(f"unknown INT8 recipe {name!r}; recipes: {', '.join(RECIPES)}")
    return RECIPES[name]


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
    recipe: str | Int8Recipe = "u8s8",
    input_name: str = "frames",
    rewrites: tuple[str, ...] | None = None,
) -> bytes:
    """Static QDQ quantisation calibrated on `calibration` (MinMax) by `recipe`, then its graph
    rewrites (`rewrites=None`: the recipe's own; `()`: the plain QDQ graph)."""
    import onnx
    import onnxruntime
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    onnxruntime.set_default_logger_severity(3)  # the pre-processing's clean-up notices: errors only
    r = get_recipe(recipe)
    names = r.rewrites if rewrites is None else rewrites
    if names and not r.rewrites:
        raise ValueError(f"the {r.name} recipe takes no graph rewrites (they target ORT's CPU EP)")
    qtype = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{input_name: calibration[i : i + 1]} for i in range(len(calibration))])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

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
            reduce_range=r.reduce_range,
            activation_type=qtype[r.activations],
            weight_type=qtype[r.weights],
            nodes_to_exclude=head_nodes(model),
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={
                "ActivationSymmetric": r.symmetric_activations,
                "WeightSymmetric": r.weights == "int8",
            },
        )
        onnx.checker.check_model(str(dst))
        plain = dst.read_bytes()
    return rewrite_int8(plain, names)[0] if names else plain
