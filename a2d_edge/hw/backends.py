"""Profiling backends, each three small parts: convert a module, load it into a runner for
the target, and (in timing.py) parse the samples. Heavy imports live inside the functions.

- `torch`: eager PyTorch on the CPU (or CUDA), inference mode.
- `onnxruntime`: ONNX export + ORT CPU EP, all graph optimisations (BatchNorm folded), fp32 or
  INT8 (static QDQ by the export's recipe for this host's ISA, `compile.quantize`).
- `tensorrt`: ONNX -> TensorRT engine (fp16 / int8) on an NVIDIA GPU or Jetson.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from a2d_edge.errors import A2DError
from a2d_edge.hw.timing import Runner


@dataclass(frozen=True)
class Backend:
    name: str
    precisions: tuple[str, ...]
    load: Callable[[nn.Module, torch.Tensor, str, int, str], Runner]  # module, example,
    # precision, threads, INT8 recipe
    versions: Callable[[], dict[str, str]]


def onnx_bytes(module: nn.Module, example: torch.Tensor) -> bytes:
    """One part as its own ONNX graph (input `x`, static batch 1): `compile.onnx.to_onnx`,
    the exporter's own path."""
    from a2d_edge.compile.onnx import to_onnx

    return to_onnx(module, example, input_name="x")


def _torch_load(
    module: nn.Module, example: torch.Tensor, precision: str, threads: int, recipe: str = ""
) -> Runner:
    if precision != "fp32":
        raise A2DError("the torch backend profiles fp32 only")
    torch.set_num_threads(threads)
    module = module.eval()

    def run() -> None:
        with torch.inference_mode():
            module(example)

    return run


def random_calibration(example: torch.Tensor, samples: int = 16) -> np.ndarray:
    """Inputs drawn like `example` (uint8 frames, or non-negative activations): for latency
    profiling the quantised graph matters, not the calibrated ranges."""
    rng = np.random.default_rng(0)
    x = example.numpy()
    if x.dtype == np.uint8:
        return rng.integers(0, 256, (samples, *x.shape[1:]), dtype=np.uint8)
    return rng.standard_normal((samples, *x.shape[1:])).astype(x.dtype).clip(0, None)


def quantize_qdq(model: bytes, example: torch.Tensor, recipe: str = "") -> bytes:
    """The export's own INT8 recipe (compile/quantize.py; "": the one for this host), so tables
    time what ships."""
    from a2d_edge.compile.quantize import quantize_int8, recipe_for

    chosen = recipe or recipe_for("host").name
    return quantize_int8(model, random_calibration(example), chosen, input_name="x")


def _ort_load(
    module: nn.Module, example: torch.Tensor, precision: str, threads: int, recipe: str = ""
) -> Runner:
    model = onnx_bytes(module, example)
    if precision == "int8":
        model = quantize_qdq(model, example, recipe)
    elif precision != "fp32":
        raise A2DError("the onnxruntime backend profiles fp32 or int8")
    from a2d_edge.runtime.backends import ort_session

    sess = ort_session(model, threads)
    feed = {"x": example.numpy()}

    def run() -> None:
        sess.run(None, feed)

    return run


def _trt_load(
    module: nn.Module, example: torch.Tensor, precision: str, threads: int, recipe: str = ""
) -> Runner:
    try:
        import tensorrt as trt
    except ImportError:
        raise A2DError(
            "the tensorrt backend needs TensorRT and an NVIDIA GPU (on a Jetson: JetPack's "
            "python3-libnvinfer); see latency_tables/README.md"
        ) from None
    if not torch.cuda.is_available():
        raise A2DError("the tensorrt backend needs a CUDA device")
    from a2d_edge.compile.tensorrt import build_serialized

    model = onnx_bytes(module, example)
    if precision == "int8":
        model = quantize_qdq(model, example, "tensorrt")  # explicit Q/DQ: TensorRT 10's path
    logger = trt.Logger(trt.Logger.WARNING)
    shape = tuple(example.shape[1:])
    engine = trt.Runtime(logger).deserialize_cuda_engine(build_serialized(model, precision, shape))
    context = engine.create_execution_context()
    tensors = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        shape = tuple(context.get_tensor_shape(name))
        dtype = torch.uint8 if engine.get_tensor_dtype(name) == trt.uint8 else torch.float32
        tensors[name] = torch.zeros(shape, dtype=dtype, device="cuda")
        context.set_tensor_address(name, tensors[name].data_ptr())
    stream = torch.cuda.Stream()

    def run() -> None:
        context.execute_async_v3(stream.cuda_stream)
        stream.synchronize()

    return run


def _torch_versions() -> dict[str, str]:
    return {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _ort_versions() -> dict[str, str]:
    import onnxruntime

    return {**_torch_versions(), "onnxruntime": onnxruntime.__version__}


def _trt_versions() -> dict[str, str]:
    import tensorrt

    return {**_torch_versions(), "tensorrt": tensorrt.__version__}


BACKENDS: dict[str, Backend] = {
    "torch": Backend("torch", ("fp32",), _torch_load, _torch_versions),
    "onnxruntime": Backend("onnxruntime", ("fp32", "int8"), _ort_load, _ort_versions),
    "tensorrt": Backend("tensorrt", ("fp16", "int8", "fp32"), _trt_load, _trt_versions),
}


def get_backend(name: str, precision: str) -> Backend:
    if name not in BACKENDS:
        raise A2DError(f"unknown backend {name!r}; backends: {', '.join(BACKENDS)}")
    backend = BACKENDS[name]
    if precision not in backend.precisions:
        raise A2DError(f"backend {name} profiles {', '.join(backend.precisions)}, not {precision}")
    return backend
