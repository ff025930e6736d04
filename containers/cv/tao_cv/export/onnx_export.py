"""ONNX export (dynamic batch) that carries its own contract (tao_inference.contract) in the model's metadata and
a sidecar JSON, and is checked against PyTorch after writing."""

import warnings

import numpy as np
import torch

from tao_inference.errors import UserError
from tao_inference.contract import attach_contract
from tao_inference.fileio import atomic_path

INPUT_NAME = "input"


def export_onnx(model, output, contract, *, input_hw, output_names, opset=17, tolerance=1e-4, batch=None):
    """Write `model` to `output` as ONNX with `contract`; return the max |ORT - PyTorch| difference over all
    outputs on a random batch, an error beyond `tolerance` (None: reported only, as for a quantized graph, whose
    integer kernels round differently). The batch axis is dynamic unless `batch` fixes it."""
    import onnxruntime as ort

    model = model.cpu().eval()
    example = torch.randn(batch or 2, 3, *input_hw, generator=torch.Generator().manual_seed(0))
    axes = None if batch else {name: {0: "batch"} for name in (INPUT_NAME, *output_names)}
    with atomic_path(output) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: fast, exact for these convolutional graphs, and opset 17 as TAO's images use.
        torch.onnx.export(model, (example,), str(tmp), opset_version=opset, input_names=[INPUT_NAME],
                          output_names=list(output_names), dynamic_axes=axes, dynamo=False)
    attach_contract(output, contract)
    with torch.no_grad():
        expected = model(example)
    expected = [t.numpy() for t in (expected if isinstance(expected, (tuple, list)) else [expected])]
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    actual = session.run(None, {INPUT_NAME: example.numpy()})
    diff = max(float(np.abs(a - e).max()) for a, e in zip(actual, expected))
    # Absolute for outputs of order 1; relative to the largest value beyond that (fp32 summation order differs).
    allowed = (tolerance or 0.0) * max(1.0, max(float(np.abs(e).max()) for e in expected))
    if tolerance is not None and diff > allowed:
        raise UserError(f"exported {output} differs from PyTorch by {diff:.2e} (> export.check_tolerance "
                        f"{tolerance:g} x max(1, |output|max) = {allowed:.1e})")
    return diff
