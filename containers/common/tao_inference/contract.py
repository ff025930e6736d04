"""What a model file says about itself — the same record in a checkpoint's metadata and an exported ONNX model's
contract: task, network, classes, input size, normalization, the network's own build parameters. Versioned: files
written by 0.1.0 (version 1: per-task keys such as `image_size` vs `image_width`/`image_height`) are upgraded on read.
"""

import dataclasses
import json
from pathlib import Path

from .errors import UserError

CONTRACT_VERSION = 2
METADATA_KEY = "tao_cv"  # the ONNX metadata_props key holding the contract (JSON)
# 0.1.0 wrote these beside the network's own parameters; everything else in its meta belongs to the network.
_V1_COMMON = {"task", "backbone", "num_classes", "class_names", "image_size", "image_width", "image_height", "mean",
              "std", "pruned", "kind", "data_type", "input", "output", "outputs", "preprocessing", "postprocessing",
              "stride"}


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What is needed to rebuild, feed and read a model, whatever file holds it."""
    task: str
    backbone: str
    class_names: tuple
    input_height: int
    input_width: int
    mean: tuple
    std: tuple
    pruned: bool = False
    network: dict = dataclasses.field(default_factory=dict)  # the network's build parameters (dropout, encoding, ...)
    version: int = CONTRACT_VERSION

    @property
    def num_classes(self):
        return len(self.class_names)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return {**dataclasses.asdict(self), "class_names": list(self.class_names), "mean": list(self.mean),
                "std": list(self.std)}

    @classmethod
    def from_dict(cls, data, source="model file"):
        """From a checkpoint's `meta` or a contract, of this version or 0.1.0's."""
        if not isinstance(data, dict):
            raise UserError(f"{source}: its model metadata is missing; it was not written by this toolkit")
        if data.get("version", 1) == 1:
            data = _upgrade_v1(data)
        try:
            return cls(task=data["task"], backbone=data["backbone"], class_names=tuple(data["class_names"]),
                       input_height=int(data["input_height"]), input_width=int(data["input_width"]),
                       mean=tuple(data["mean"]), std=tuple(data["std"]), pruned=bool(data.get("pruned", False)),
                       network=dict(data.get("network") or {}), version=CONTRACT_VERSION)
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{source}: its model metadata lacks or mangles {exc}; it was not written by this "
                            "toolkit (or is damaged)") from None


def _upgrade_v1(data):
    size = data.get("image_size")
    network = {k: v for k, v in data.items() if k not in _V1_COMMON}
    return {**data, "task": data.get("task", "classification"),
            "input_height": data.get("image_height", size), "input_width": data.get("image_width", size),
            "network": network}


def sidecar_path(onnx_path):
    return Path(str(onnx_path) + ".json")


def make_contract(info, data_type, outputs, decoder=None, postprocessing="", batch=None):
    """The ONNX contract: the model's info plus how to feed it and read its outputs (`decoder`: the parameters a
    detector's decoder needs, e.g. its anchors, so that no framework is needed to decode; `batch`: a fixed batch
    size, else dynamic)."""
    h, w = info.input_height, info.input_width
    return {**info.to_dict(), "data_type": data_type,
            "input": {"name": "input", "shape": [batch or "batch", 3, h, w], "layout": "NCHW", "color": "RGB"},
            "outputs": outputs,
            "preprocessing": f"resize to {w}x{h} (width x height, bilinear), scale pixels to [0, 1], subtract mean, "
                             "divide by std",
            "decoder": decoder or {}, "postprocessing": postprocessing}


def read_contract(path):
    """(ModelInfo, contract dict) of an ONNX model: its metadata, else its sidecar JSON; 0.1.0's upgraded."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} does not exist")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise UserError(f"{path} is not a readable ONNX model ({exc})") from None
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY in props:
        contract = json.loads(props[METADATA_KEY])
    elif sidecar_path(path).is_file():
        contract = json.loads(sidecar_path(path).read_text())
    else:
        raise UserError(f"{path} carries no class names/preprocessing metadata and has no sidecar {sidecar_path(path)}")
    info = ModelInfo.from_dict(contract, source=str(path))
    if contract.get("version", 1) == 1:
        contract = {**contract, **info.to_dict(), "decoder": {}}
    return info, contract


def attach_contract(onnx_path, contract):
    """Store the contract in the ONNX metadata (key 'tao_cv') and beside it as OUT.onnx.json."""
    import onnx

    from .fileio import atomic_path, write_json

    model = onnx.load(str(onnx_path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(contract)
    with atomic_path(onnx_path) as tmp:
        onnx.save(model, str(tmp))
    write_json(sidecar_path(onnx_path), contract)
