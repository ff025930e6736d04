"""Running an exported model with ONNX Runtime (CUDA when available, else CPU) behind the predictor interface
every evaluate / inference uses:

    predictor.info     ModelInfo: task, classes, input size, normalization
    predictor.kind     what runs it: "pytorch", "onnx-fp32", "onnx-int8", ...
    predictor.decoder  the parameters a detector's decoder needs (its anchors, stride); {} for classifiers
    predictor(batch)   numpy [B, 3, H, W] float32 -> tuple of numpy outputs
"""

import numpy as np

from .contract import read_contract
from .errors import UserError


class OnnxPredictor:
    def __init__(self, path):
        import onnxruntime as ort

        self.info, contract = read_contract(path)
        self.kind = f"onnx-{contract.get('data_type', 'fp32')}"
        self.decoder = contract.get("decoder") or {}
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        try:
            self.session = ort.InferenceSession(str(path), providers=providers)
        except Exception as exc:
            raise UserError(f"ONNX Runtime cannot load {path}: {exc}") from None
        self.input_name = self.session.get_inputs()[0].name
        self.device = "CUDA" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "CPU"

    def __call__(self, batch):
        return tuple(self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)}))
