"""Checkpoints: one file holds the weights, the model's `ModelInfo` (what is needed to rebuild, feed and read it)
and, for training checkpoints, the optimizer/scheduler/RNG state to resume. Written atomically.

An unpruned network is rebuilt from its registry name; a pruned one has layer widths no registry knows, so its
module is stored whole (`module`) — load such files only from trusted sources. Files of 0.1.0 (untyped `meta`
dicts) load too: `ModelInfo.from_dict` upgrades them.
"""

from pathlib import Path

import torch

from tao_inference.contract import ModelInfo
from tao_inference.errors import UserError
from tao_inference.fileio import atomic_path

FORMAT = "tao_cv.checkpoint/1"


def save_checkpoint(path, model, info, **state):
    payload = {"format": FORMAT, "meta": info.to_dict(), "state_dict": model.state_dict(), **state}
    if info.pruned:
        payload["module"] = model
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path):
    """The checkpoint's payload, with its ModelInfo under "info"."""
    if Path(path).suffix.lower() == ".onnx":
        raise UserError(f"{path} is an ONNX model; this command takes a .pth checkpoint written by train or prune")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise UserError(f"model file {path} does not exist") from None
    except Exception as exc:
        raise UserError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a checkpoint written by this toolkit (train or prune writes them)")
    return {**payload, "info": ModelInfo.from_dict(payload.get("meta"), source=str(path))}


def model_from_checkpoint(payload, rebuild):
    """The network in `payload`: the stored module (pruned) or `rebuild(info)` (registry), with its weights."""
    model = payload.get("module") or rebuild(payload["info"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise UserError(f"the checkpoint's weights do not fit a {payload['info'].task} {payload['info'].backbone} "
                        f"({str(exc).splitlines()[0]})") from None
    return model
