"""The torch-free core that both worker images run: spec files, dataset readers, the ONNX model contract,
preprocessing, every detector's decoder in numpy, metrics, result writers and the evaluate / inference
subcommands. It imports numpy, Pillow, PyYAML, rich and (lazily) onnx, onnxruntime, pycocotools and matplotlib —
never torch, so NVIDIA's TensorRT image (no torch) runs it as the deploy worker."""

__version__ = "0.1.0"
