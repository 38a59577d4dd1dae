"""On-device runtime: bundles and the control loop. Imports NO torch (numpy + onnxruntime or
TensorRT only), so a device can run an agent without PyTorch installed."""
