"""Export a trained agent to verified ONNX fp32 / INT8 (QDQ) and TensorRT, as a bundle."""
