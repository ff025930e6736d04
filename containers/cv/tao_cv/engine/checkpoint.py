"""Checkpoints: one file holds the weights, what is needed to rebuild the network, and (for training
checkpoints) the optimizer/scheduler/RNG state to resume. Written atomically.

An unpruned network is rebuilt from its registry name (`meta['backbone']`); a pruned one has layer widths
no registry knows, so its module is stored whole (`module`) — load such files only from trusted sources.
"""

from pathlib import Path

import torch

from ..errors import UserError
from ..fileio import atomic_path

FORMAT = "tao_cv.checkpoint/1"


def save_checkpoint(path, model, meta, **state):
    payload = {"format": FORMAT, "meta": dict(meta), "state_dict": model.state_dict(), **state}
    if meta.get("pruned"):
        payload["module"] = model
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path):
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
    return payload


def model_from_checkpoint(payload, build):
    """The network in `payload`: the stored module (pruned) or `build(meta)` (registry), with its weights."""
    model = payload.get("module") or build(payload["meta"])
    model.load_state_dict(payload["state_dict"])
    return model
