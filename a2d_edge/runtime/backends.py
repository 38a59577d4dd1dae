"""Inference sessions for the runtime (torch-free): ONNX Runtime with the CPU, CUDA or
TensorRT execution provider."""

from __future__ import annotations

from typing import Any

from a2d_edge.errors import A2DError

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


def ort_session(
    model: bytes | str,
    threads: int = 1,
    provider: str = "cpu",
    profile: str | None = None,
    optimize: bool = True,
) -> Any:
    """An ORT session: all graph optimisations, sequential, `threads` intra-op threads with
    spinning off (spinning threads pushed p99 up on a shared 2-core machine). `profile`: a
    file prefix for ORT's per-node profile (`session.end_profiling()` returns the file).
    `optimize=False` runs the graph as written: a QDQ model then computes in fp32 between its
    Quantize/Dequantize nodes, the exact arithmetic of int8 kernels that sum in int32."""
    import onnxruntime as ort

    if provider not in PROVIDERS:
        raise A2DError(f"unknown provider {provider!r}; providers: {', '.join(PROVIDERS)}")
    name = PROVIDERS[provider]
    if name not in ort.get_available_providers():
        available = ", ".join(ort.get_available_providers())
        raise A2DError(f"onnxruntime here has no {name} (available: {available})")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only: graph clean-up notices are not the user's business
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    level = ort.GraphOptimizationLevel
    opts.graph_optimization_level = level.ORT_ENABLE_ALL if optimize else level.ORT_DISABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile
    providers = [name] if name == "CPUExecutionProvider" else [name, "CPUExecutionProvider"]
    return ort.InferenceSession(model, opts, providers=providers)
