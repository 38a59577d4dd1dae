"""Compile a torch module for a target: ONNX, INT8 QDQ by the target ISA's recipe with the graph
rewrites, TensorRT engines. One layer below both the exporter (`export/`, which checks and
bundles what it makes) and the profiler (`hw/`, which times it), so a latency table times what
a bundle ships by construction. Heavy imports (onnx, onnxruntime's quantiser, tensorrt) live
inside the functions."""
