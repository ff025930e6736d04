"""ONNX export with a self-describing contract, and INT8 (Q/DQ ONNX + TensorRT calibration cache)."""
