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
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        # A graph traced at a fixed batch (Mask R-CNN's per-image loops) runs a larger batch in chunks of it.
        self.fixed_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None
        self.device = "CUDA" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "CPU"

    def __call__(self, batch):
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        step = self.fixed_batch or len(batch)
        if step >= len(batch):
            return tuple(self.session.run(None, {self.input_name: batch}))
        parts = [self.session.run(None, {self.input_name: batch[i:i + step]}) for i in range(0, len(batch), step)]
        return tuple(np.concatenate(outputs) for outputs in zip(*parts))
