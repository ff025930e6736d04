"""The deploy worker (TensorRT image): builds and runs TensorRT engines from exported ONNX models."""

__version__ = "0.1.0"
