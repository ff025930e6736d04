"""Run any model kind the toolkit writes — a PyTorch checkpoint, an FP32 or INT8 ONNX file — behind one
call, so evaluate and inference report what the deployed model really does."""

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from .checkpoint import model_from_checkpoint, read_checkpoint
from .device import pick_device


class TorchPredictor:
    def __init__(self, path, build):
        payload = read_checkpoint(path)
        self.meta = {**payload["meta"], "kind": "pytorch"}
        self.device = pick_device("auto")
        self.model = model_from_checkpoint(payload, build).to(self.device).eval()

    @torch.no_grad()
    def __call__(self, batch):
        """The model's output as numpy: one array, or a tuple for multi-output models (e.g. detectors)."""
        outputs = self.model(batch.to(self.device))
        if isinstance(outputs, (tuple, list)):
            return tuple(o.float().cpu().numpy() for o in outputs)
        return outputs.float().cpu().numpy()


class OrtPredictor:
    def __init__(self, path):
        import onnxruntime as ort

        meta = read_onnx_meta(path)
        self.meta = {**meta, "kind": f"onnx-{meta.get('data_type', 'fp32')}"}
        try:
            self.session = ort.InferenceSession(str(path), providers=_providers(ort))
        except Exception as exc:
            raise UserError(f"ONNX Runtime cannot load {path}: {exc}") from None
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch):
        array = batch.numpy() if isinstance(batch, torch.Tensor) else batch
        outputs = self.session.run(None, {self.input_name: np.ascontiguousarray(array, dtype=np.float32)})
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def _providers(ort):
    wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in wanted if p in ort.get_available_providers()]


def sidecar_path(onnx_path):
    return Path(str(onnx_path) + ".json")


def read_onnx_meta(path):
    """The model's contract (classes, input size, normalization): the ONNX metadata, else the sidecar JSON."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} does not exist")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise UserError(f"{path} is not a readable ONNX model ({exc})") from None
    props = {p.key: p.value for p in model.metadata_props}
    if "tao_cv" in props:
        return json.loads(props["tao_cv"])
    if sidecar_path(path).is_file():
        return json.loads(sidecar_path(path).read_text())
    raise UserError(f"{path} carries no class names/preprocessing metadata and has no sidecar {sidecar_path(path)}")


def load_predictor(path, build):
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return OrtPredictor(path)
    if suffix in (".pth", ".pt"):
        return TorchPredictor(path, build)
    raise UserError(f"model {path}: expected a .pth checkpoint or an .onnx file")
