"""TensorRT engines: built with the Python API where TensorRT and a GPU exist, otherwise the
exact `trtexec` command is written into the bundle for the device to run."""

from __future__ import annotations

from pathlib import Path

from a2d_edge.errors import A2DError

TRTEXEC = "/usr/src/tensorrt/bin/trtexec"  # JetPack 6.x location


def trtexec_command(
    onnx_name: str, engine_name: str, precision: str, obs_shape: tuple[int, ...]
) -> str:
    """The command that builds the engine on the device (TensorRT 10, JetPack 6.x).

    fp16: `--fp16` lets TensorRT pick fp16 kernels; int8: the model already carries explicit
    Q/DQ nodes (TensorRT 10 deprecates implicit calibration), `--int8` enables those kernels and
    `--fp16` the layers left unquantised. Batch 1 of the agent's `obs_shape` (its checkpoint's),
    the shape the control loop runs.
    """
    flags = {"fp16": "--fp16", "int8": "--int8 --fp16"}[precision]
    shape = "x".join(str(d) for d in (1, *obs_shape))
    return (
        f"{TRTEXEC} --onnx={onnx_name} --saveEngine={engine_name} {flags} "
        f"--shapes=frames:{shape} --skipInference"
    )


def build_serialized(
    onnx: bytes, precision: str, input_shape: tuple[int, ...], max_batch: int = 16
) -> bytes:
    """An ONNX graph -> a serialised TensorRT engine (lazy import): fp16 kernels allowed for
    fp16 and int8 (the layers an int8 graph leaves unquantised), int8 kernels for int8 (the
    graph's explicit Q/DQ); a dynamic batch gets the profile batch 1 (optimal) to `max_batch`.
    The exporter and the profiler both build with this, so a table times what ships."""
    try:
        import tensorrt as trt
    except ImportError:
        raise A2DError("TensorRT is not installed here") from None
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx):
        raise A2DError(f"TensorRT could not parse the ONNX graph: {parser.get_error(0)}")
    config = builder.create_builder_config()
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
    first = network.get_input(0)
    if any(d < 0 for d in first.shape):  # a dynamic batch needs an optimisation profile
        profile = builder.create_optimization_profile()
        profile.set_shape(first.name, (1, *input_shape), (1, *input_shape),
                          (max_batch, *input_shape))  # fmt: skip
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise A2DError("TensorRT failed to build the engine")
    return bytes(serialized)


def build_engine(
    onnx_path: Path, engine_path: Path, precision: str, obs_shape: tuple[int, ...]
) -> None:
    """Build and write a bundle's engine (batch 1 to 16 of the agent's `obs_shape`)."""
    engine_path.write_bytes(build_serialized(onnx_path.read_bytes(), precision, obs_shape))


def tensorrt_available() -> bool:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False
