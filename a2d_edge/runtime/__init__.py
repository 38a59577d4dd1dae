"""On-device runtime: bundles, the embedding API and the control loop. Imports NO torch (numpy +
onnxruntime or TensorRT only), so a device can run an agent without PyTorch installed.

`Agent` is the public way to use a bundle from any loop (`runtime.agent`); `a2d run` is one
such loop (`runtime.loop`)."""

from a2d_edge.runtime.agent import Agent

__all__ = ["Agent"]
