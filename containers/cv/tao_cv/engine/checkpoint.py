"""Checkpoints: one file holds the weights, the model's `ModelInfo` (what is needed to rebuild, feed and read it)
and, for training checkpoints, the optimizer/scheduler/RNG state to resume. Written atomically.

Loading runs no code from the file: `torch.load(weights_only=True)` reads only tensors and plain data. A pruned
network is stored as data too — its registry name plus the output width of every prunable layer
(`info.network["layer_widths"]`) — and rebuilt by building the registry network and cutting its coupled channel
groups to those widths (`prune.replay_pruning`) before its weights are loaded. Data rather than the module:
nothing to unpickle, and the file stays valid when a layer's code changes (a pickled module breaks on a renamed class). Files that need unpickling code (0.1.0 stored pruned
networks as a pickled module) load only when trusted: `--trust_checkpoint` or TAO_TRUST_CHECKPOINTS=1.
"""

import os
import pickle
import re
from pathlib import Path

import torch
from rich.console import Console

from tao_inference.contract import ModelInfo
from tao_inference.errors import UserError
from tao_inference.fileio import atomic_path
from .qat import QuantizationAware, prepare

FORMAT = "tao_cv.checkpoint/1"
TRUST_ENV = "TAO_TRUST_CHECKPOINTS"
console = Console(stderr=True, soft_wrap=True)


def save_checkpoint(path, model, info, **state):
    if info.pruned:
        from ..prune import layer_widths

        # a QAT network's widths are its float network's (the one the checkpoint is rebuilt from)
        widths = layer_widths(model.float_model if isinstance(model, QuantizationAware) else model)
        info = info.replace(network={**info.network, "layer_widths": widths})
    payload = {"format": FORMAT, "meta": info.to_dict(), "state_dict": model.state_dict(), **state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def trusted():
    return os.environ.get(TRUST_ENV, "") not in ("", "0")


def load_without_code(path, what):
    """torch.load that runs no code from the file; a file that needs it is refused unless trusted (then loaded
    with a warning)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist") from None
    except pickle.UnpicklingError as exc:
        if not trusted():
            named = re.search(r"GLOBAL ([\w.]+)", str(exc))
            raise UserError(f"{path} holds Python objects that only unpickling code can rebuild"
                            f"{f' ({named.group(1)})' if named else ''}, and such code can do anything; if you trust "
                            "where it comes from (a 0.1.0 pruned checkpoint, say), pass --trust_checkpoint (or set "
                            f"{TRUST_ENV}=1)") from None
    except Exception as exc:
        raise UserError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    console.print(f"[yellow]warning:[/] loading {path} with unpickling code ({TRUST_ENV} / --trust_checkpoint): "
                  "it can run code; re-save it with this version (train or prune writes the safe format)")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise UserError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})") from None


def read_checkpoint(path):
    """The checkpoint's payload, with its ModelInfo under "info"."""
    if Path(path).suffix.lower() == ".onnx":
        raise UserError(f"{path} is an ONNX model; this command takes a .pth checkpoint written by train or prune")
    payload = load_without_code(path, "model file")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a checkpoint written by this toolkit (train or prune writes them)")
    return {**payload, "info": ModelInfo.from_dict(payload.get("meta"), source=str(path))}


def model_from_checkpoint(payload, rebuild):
    """The network in `payload` with its weights: `rebuild(info)` (registry) with its recorded prunes replayed and,
    for a QAT checkpoint, its fake quantization inserted again; or, for a trusted 0.1.0 file, the module it stored."""
    from ..prune import replay_pruning

    info = payload["info"]
    model = payload.get("module")
    if model is None:
        model = rebuild(info)
        if info.network.get("layer_widths"):
            replay_pruning(model, info.network["layer_widths"], torch.zeros(1, 3, info.input_height, info.input_width))
        if info.network.get("qat"):
            model = prepare(model, info, info.network["qat"]["activations"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise UserError(f"the checkpoint's weights do not fit a {info.task} {info.backbone} "
                        f"({str(exc).splitlines()[0]})") from None
    return model
