"""ONNX export (dynamic batch) that carries its own contract — class names, input size, normalization —
in the model's metadata and a sidecar JSON, and is checked against PyTorch after writing."""

import json
import warnings

import numpy as np
import torch

from ..errors import UserError
from ..fileio import atomic_path, write_json
from ..engine.predictors import sidecar_path

INPUT_NAME, OUTPUT_NAME = "input", "logits"


def contract(meta, data_type):
    """What a user needs to run the model outside this tool."""
    return {
        "task": meta.get("task", "classification"),
        "backbone": meta["backbone"],
        "class_names": meta["class_names"],
        "image_size": meta["image_size"],
        "mean": list(meta["mean"]),
        "std": list(meta["std"]),
        "data_type": data_type,
        "input": {"name": INPUT_NAME, "shape": ["batch", 3, meta["image_size"], meta["image_size"]],
                  "layout": "NCHW", "color": "RGB"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", len(meta["class_names"])], "meaning": "logits (softmax for probabilities)"},
        "preprocessing": "resize to image_size x image_size, scale pixels to [0, 1], subtract mean, divide by std",
    }


def attach_contract(onnx_path, info):
    """Store the contract in the ONNX metadata (key 'tao_cv') and beside it as OUT.onnx.json."""
    import onnx

    model = onnx.load(str(onnx_path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = "tao_cv", json.dumps(info)
    with atomic_path(onnx_path) as tmp:
        onnx.save(model, str(tmp))
    write_json(sidecar_path(onnx_path), info)


def export_onnx(model, output, info, *, input_hw, output_names=(OUTPUT_NAME,), opset=17, tolerance=1e-4):
    """Write `model` to `output` as ONNX with contract `info`; return the max |ORT - PyTorch| difference over all
    outputs on a random batch (dynamic batch axis)."""
    import onnxruntime as ort

    model = model.cpu().eval()
    example = torch.randn(2, 3, *input_hw, generator=torch.Generator().manual_seed(0))
    axes = {name: {0: "batch"} for name in (INPUT_NAME, *output_names)}
    with atomic_path(output) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: fast, exact for these convolutional graphs, and opset 17 as TAO's images use.
        torch.onnx.export(model, (example,), str(tmp), opset_version=opset, input_names=[INPUT_NAME],
                          output_names=list(output_names), dynamic_axes=axes, dynamo=False)
    attach_contract(output, info)
    with torch.no_grad():
        expected = model(example)
    expected = [t.numpy() for t in (expected if isinstance(expected, (tuple, list)) else [expected])]
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    actual = session.run(None, {INPUT_NAME: example.numpy()})
    diff = max(float(np.abs(a - e).max()) for a, e in zip(actual, expected))
    # Absolute for outputs of order 1; relative to the largest value beyond that (fp32 summation order differs).
    allowed = tolerance * max(1.0, max(float(np.abs(e).max()) for e in expected))
    if diff > allowed:
        raise UserError(f"exported {output} differs from PyTorch by {diff:.2e} (> export.check_tolerance "
                        f"{tolerance:g} x max(1, |output|max) = {allowed:.1e})")
    return diff
