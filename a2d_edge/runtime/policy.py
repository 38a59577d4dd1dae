"""Policies over bundle models, torch-free: ONNX Runtime (CPU / CUDA / TensorRT EP) or a
native TensorRT engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from a2d_edge.config import field as setting
from a2d_edge.errors import A2DError
from a2d_edge.runtime.backends import ort_session
from a2d_edge.runtime.bundle import Bundle


class Policy(Protocol):
    def logits(self, frames: np.ndarray) -> np.ndarray: ...


class OrtPolicy:
    """One ORT session; a step runs it on the uint8 frames.

    On the CPU provider the step goes through an IOBinding: the frames are bound in place and
    the logits land in a preallocated buffer, which skips `run`'s per-call name lookups and
    output allocation (about half of a step's overhead outside the inference). The returned
    array is that buffer: read it before the next step.
    """

    def __init__(
        self, model: str, threads: int = 1, provider: str = "cpu", bind: bool = True
    ) -> None:
        self.session = ort_session(model, threads, provider)
        self.input = self.session.get_inputs()[0].name
        self.binding: Any = None
        self._out: np.ndarray | None = None
        if bind and provider == "cpu":
            self.binding = self.session.io_binding()

    def logits(self, frames: np.ndarray) -> np.ndarray:
        if self.binding is None:
            return self.session.run(["logits"], {self.input: frames})[0]  # type: ignore[no-any-return]
        if self._out is None or self._out.shape[0] != frames.shape[0]:
            self._bind_output(frames.shape[0])
        self.binding.bind_cpu_input(self.input, frames)
        self.session.run_with_iobinding(self.binding)
        assert self._out is not None
        return self._out

    def _bind_output(self, batch: int) -> None:
        import onnxruntime as ort

        outputs = {o.name: o for o in self.session.get_outputs()}
        n_actions = outputs["logits"].shape[-1]
        self._out = np.empty((batch, int(n_actions)), dtype=np.float32)
        value = ort.OrtValue.ortvalue_from_numpy(self._out)
        self.binding.bind_ortvalue_output("logits", value)


class TensorRTPolicy:  # pragma: no cover - needs TensorRT and a GPU (tests marked trt)
    """A serialized TensorRT engine run through the CUDA runtime (cuda-python), no torch."""

    def __init__(self, engine_path: str, input_shape: tuple[int, ...]) -> None:
        try:
            import tensorrt as trt
            from cuda.bindings import runtime as cudart
        except ImportError:
            raise A2DError(
                "native TensorRT needs the tensorrt and cuda-python packages (JetPack: "
                "python3-libnvinfer, pip install cuda-python); or use --backend ort-tensorrt"
            ) from None
        self.trt, self.cudart = trt, cudart
        logger = trt.Logger(trt.Logger.WARNING)
        with open(engine_path, "rb") as f:
            self.engine = trt.Runtime(logger).deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise A2DError(f"{engine_path} is not a TensorRT engine for this GPU / version")
        self.context = self.engine.create_execution_context()
        self.context.set_input_shape("frames", (1, *input_shape))  # the manifest's, batch 1
        _, self.stream = cudart.cudaStreamCreate()
        self.buffers: dict[str, tuple[Any, np.ndarray]] = {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            shape = tuple(self.context.get_tensor_shape(name))
            host = np.zeros(shape, dtype=trt.nptype(self.engine.get_tensor_dtype(name)))
            _, dev = cudart.cudaMalloc(host.nbytes)
            self.context.set_tensor_address(name, dev)
            self.buffers[name] = (dev, host)

    def logits(self, frames: np.ndarray) -> np.ndarray:
        cudart = self.cudart
        kind = cudart.cudaMemcpyKind
        dev, host = self.buffers["frames"]
        host[...] = frames
        cudart.cudaMemcpyAsync(dev, host.ctypes.data, host.nbytes, kind.cudaMemcpyHostToDevice,
                               self.stream)  # fmt: skip
        self.context.execute_async_v3(self.stream)
        dev, host = self.buffers["logits"]
        cudart.cudaMemcpyAsync(host.ctypes.data, dev, host.nbytes, kind.cudaMemcpyDeviceToHost,
                               self.stream)  # fmt: skip
        cudart.cudaStreamSynchronize(self.stream)
        return host


BACKENDS = ("ort-cpu", "ort-cuda", "ort-tensorrt", "tensorrt")


@dataclass(frozen=True)
class PolicySpec:
    backend: str = setting(
        "ort-cpu",
        "ONNX Runtime on the CPU, CUDA or TensorRT EP, or a native TensorRT engine",
        choices=BACKENDS,
    )
    precision: str = setting(
        "int8",
        "model to run (int8 falls back to fp32 if the bundle has none)",
        choices=("int8", "fp32"),
    )
    threads: int = setting(1, "inference intra-op threads", low=1)


def model_key(bundle: Bundle, spec: PolicySpec) -> str:
    """The manifest's `models` key that `load_policy` runs for `spec`."""
    models = bundle.manifest["models"]
    if spec.backend == "tensorrt":
        return next((k for k in models if k.startswith("tensorrt-")), "")
    return spec.precision if spec.precision in models else "fp32"


def load_policy(bundle: Bundle, spec: PolicySpec) -> tuple[Policy, str]:
    """The policy and a description of what runs (backend, model file)."""
    if spec.backend not in BACKENDS:
        raise A2DError(f"unknown backend {spec.backend!r}; backends: {', '.join(BACKENDS)}")
    models = bundle.manifest["models"]
    if spec.backend == "tensorrt":
        engines = [k for k in models if k.startswith("tensorrt-")]
        if not engines:
            raise A2DError(
                f"bundle {bundle.root} has no TensorRT engine: run its build_engine.sh on the "
                "device (deploy/jetson/README.md)"
            )
        path = bundle.root / models[engines[0]]
        shape = tuple(int(d) for d in bundle.manifest["input"]["shape"][1:])
        return TensorRTPolicy(str(path), shape), f"tensorrt {path.name}"
    path = bundle.model_path(model_key(bundle, spec))
    provider = spec.backend.removeprefix("ort-")
    return OrtPolicy(str(path), spec.threads, provider), f"onnxruntime {provider} {path.name}"
