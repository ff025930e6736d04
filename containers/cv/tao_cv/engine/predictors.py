"""A checkpoint as a predictor (the interface of `tao_inference.runtime`), so evaluate and inference run the same
code for a .pth as for the deployed ONNX model; `model_opener` picks the right one by file type."""

from pathlib import Path

import numpy as np
import torch

from tao_inference.commands import check_task
from tao_inference.errors import UserError
from tao_inference.runtime import OnnxPredictor
from .checkpoint import model_from_checkpoint, read_checkpoint
from .device import pick_device


class TorchPredictor:
    """A network being trained (validation) or read from a checkpoint."""

    def __init__(self, model, info, decoder):
        self.model, self.info, self.decoder, self.kind = model, info, decoder, "pytorch"
        self.device = next(model.parameters()).device

    @torch.no_grad()
    def __call__(self, batch):
        outputs = self.model(torch.as_tensor(np.asarray(batch, dtype=np.float32)).to(self.device))
        outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        return tuple(o.float().cpu().numpy() for o in outputs)


def model_opener(adapter):
    """`open(path, spec) -> predictor` for .pth checkpoints (PyTorch; with the test-time settings `spec` sets, as
    export takes them) and .onnx models (ONNX Runtime: their settings are in the graph)."""

    def open_model(path, spec=None):
        suffix = Path(path).suffix.lower()
        if suffix == ".onnx":
            return OnnxPredictor(path)
        if suffix not in (".pth", ".pt"):
            raise UserError(f"model {path}: expected a .pth checkpoint or an .onnx file")
        payload = read_checkpoint(path)
        check_task(adapter.name, payload["info"], path)
        if spec is not None:
            payload = {**payload, "info": adapter.test_time_info(payload["info"], spec)}
        model = model_from_checkpoint(payload, adapter.rebuild).to(pick_device("auto")).eval()
        return TorchPredictor(model, payload["info"], adapter.decoder_params(model, payload["info"]))

    return open_model
