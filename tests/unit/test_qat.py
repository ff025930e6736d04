"""train.enable_qat: torch.ao's fake quantization on every network with an INT8 export, the deployed structure it
trains, checkpoints that rebuild it, and the Q/DQ ONNX that carries its scales."""

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch.ao.quantization import FakeQuantize

from test_task_adapters import INFO
from tao_cv.engine import qat
from tao_cv.engine.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
from tao_cv.models import build_classifier
from tao_cv.tasks import ADAPTERS
from tao_inference.contract import ModelInfo
from tao_inference.errors import UserError

# Every network with an INT8 export but Faster R-CNN, which torch.fx cannot trace (its INT8 is calibrated; the
# refusal is tested below).
QUANTIZED = [task for task, adapter in ADAPTERS.items() if adapter.int8_export and task != "faster_rcnn"]


def _outputs(model, x):
    with torch.no_grad():
        out = model(x)
    return [t for t in (out if isinstance(out, (tuple, list)) else [out])]


def _steps(model, info, steps=3):
    """A few training steps, so the observers have ranges and the weights moved."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    for _ in range(steps):
        loss = sum(o.square().mean() for o in _outputs_grad(model, torch.randn(2, 3, info.input_height, info.input_width)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _outputs_grad(model, x):
    out = model(x)
    return out if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("task", QUANTIZED)
def test_the_traced_network_is_the_network_and_export_computes_what_eval_does(task):
    torch.manual_seed(0)
    adapter, info = ADAPTERS[task], INFO[task]
    model = adapter.rebuild(info).eval()
    x = torch.randn(2, 3, info.input_height, info.input_width)
    quantized = qat.prepare(model, info, "uint8")
    assert sum(isinstance(m, FakeQuantize) for m in quantized.modules()) > 5
    quantized.network.apply(torch.ao.quantization.disable_fake_quant)
    quantized.eval()
    for traced, original in zip(_outputs(quantized, x), _outputs(model, x)):  # nothing lost in tracing
        assert torch.allclose(traced, original, atol=1e-4, rtol=1e-4)
    quantized.network.apply(torch.ao.quantization.enable_fake_quant)
    quantized.train()
    _steps(quantized, info)
    quantized.eval()
    exported = qat.export_network(quantized)
    for folded, simulated in zip(_outputs(exported, x), _outputs(quantized, x)):
        # BN folding is exact up to float rounding; a rounding tie may move one value by a quantization step
        assert torch.mean((folded - simulated).abs()).item() <= 0.02 * max(1.0, simulated.abs().max().item())
    assert adapter.decoder_params(quantized, info).keys() == adapter.decoder_params(model, info).keys()


def test_eval_freezes_the_learned_ranges():
    info = ModelInfo("classification", "resnet18", ("a", "b"), 32, 32, (0,) * 3, (1,) * 3)
    quantized = qat.prepare(build_classifier("resnet18", 2), info, "uint8")
    _steps(quantized, info)
    quantized.eval()
    scales = [m.scale.clone() for m in quantized.modules() if isinstance(m, FakeQuantize)]
    x = torch.randn(4, 3, 32, 32) * 5  # far outside the ranges seen in training
    first = _outputs(quantized, x)[0]
    assert all(torch.equal(a, m.scale) for a, m in zip(scales, (m for m in quantized.modules()
                                                                if isinstance(m, FakeQuantize))))
    assert torch.equal(first, _outputs(quantized, x)[0])  # evaluating twice measures the same model
    quantized.train()
    _outputs_grad(quantized, torch.randn(2, 3, 32, 32) * 5)
    assert any(not torch.equal(a, m.scale) for a, m in zip(scales, (m for m in quantized.modules()
                                                                    if isinstance(m, FakeQuantize))))


def _onnx(module, path, hw):
    torch.onnx.export(module, (torch.randn(2, 3, *hw),), str(path), opset_version=17, input_names=["input"],
                      output_names=["out"], dynamic_axes={"input": {0: "b"}, "out": {0: "b"}}, dynamo=False)


def test_efficientnet_lite_trains_and_exports_the_structure_int8_kernels_run(tmp_path):
    """ReLU6 and TF-style zero padding: no quantizer between a conv and its ReLU6 in training, the padding shares its
    input's quantizer; in the exported graph ONNX Runtime fuses every convolution into a QLinearConv."""
    info = ModelInfo("classification", "efficientnet_lite0", ("a", "b"), 64, 64, (0,) * 3, (1,) * 3)
    quantized = qat.prepare(build_classifier("efficientnet_lite0", 2), info, "uint8")
    graph = quantized.network
    nodes = {n.name: n for n in graph.graph.nodes}
    for node in nodes.values():
        if node.op == "call_module" and isinstance(graph.get_submodule(node.target), torch.nn.ReLU6):
            assert not isinstance(graph.get_submodule(node.args[0].target), FakeQuantize)
        if node.op == "call_module" and isinstance(graph.get_submodule(node.target), torch.nn.ZeroPad2d) \
                and node.args[0].op == "call_module":
            after = next(iter(node.users))
            assert after.target == node.args[0].target  # one quantizer both sides of the padding
    _steps(quantized, info, steps=5)
    quantized.eval()
    _onnx(qat.export_network(quantized), tmp_path / "qat.onnx", (64, 64))
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    session = ort.InferenceSession(str(tmp_path / "qat.onnx"), options, providers=["CPUExecutionProvider"])
    ops = Counter(n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node)
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in build_classifier("efficientnet_lite0", 2).modules())
    assert ops["QLinearConv"] == convs and ops["Conv"] == ops["FusedConv"] == 0
    x = torch.randn(3, 3, 64, 64)
    expected = _outputs(quantized, x)[0].numpy()
    actual = session.run(None, {"input": x.numpy()})[0]
    last = [n for n in quantized.network.graph.nodes if n.op == "call_module"
            and isinstance(quantized.network.get_submodule(n.target), FakeQuantize)][-1]
    step = float(quantized.network.get_submodule(last.target).scale)  # the logits' quantization step
    assert np.abs(actual - expected).mean() <= 2 * step  # integer kernels round ties their own way


def test_a_pruned_qat_checkpoint_rebuilds_with_its_widths_and_scales(tmp_path):
    from tao_cv.prune import cut, keep_counts, plan, score_groups

    adapter, info = ADAPTERS["classification"], INFO["classification"]
    model = adapter.rebuild(info).eval()
    example = torch.zeros(1, 3, info.input_height, info.input_width)
    scored = score_groups(model, example, heads=adapter.heads(model))
    cut(model, example, scored, keep_counts(plan(scored, threshold=0.5, granularity=8, min_filters=8)))
    info = info.replace(pruned=True, network={**info.network, "qat": {"activations": "uint8"}})
    quantized = qat.prepare(model, info, "uint8")
    _steps(quantized, info)
    quantized.eval()
    save_checkpoint(tmp_path / "qat.pth", quantized, info)
    payload = read_checkpoint(tmp_path / "qat.pth")
    rebuilt = model_from_checkpoint(payload, adapter.rebuild).eval()
    assert isinstance(rebuilt, qat.QuantizationAware) and payload["info"].network["layer_widths"]
    x = torch.randn(2, 3, info.input_height, info.input_width)
    assert torch.equal(_outputs(rebuilt, x)[0], _outputs(quantized, x)[0])


def test_networks_without_int8_or_that_fx_cannot_trace_are_refused_with_the_alternative():
    info = INFO["faster_rcnn"]
    with pytest.raises(UserError, match="torch.fx cannot trace faster_rcnn.*export --data_type int8"):
        qat.prepare(ADAPTERS["faster_rcnn"].rebuild(info), info, "uint8")


def test_tensorrt_activations_are_symmetric_int8(tmp_path):
    info = ModelInfo("classification", "resnet18", ("a", "b"), 32, 32, (0,) * 3, (1,) * 3)
    quantized = qat.prepare(build_classifier("resnet18", 2), info, "int8")
    _steps(quantized, info)
    quantized.eval()
    assert all(int(m.zero_point.abs().max()) == 0 for m in quantized.modules() if isinstance(m, FakeQuantize))
    _onnx(qat.export_network(quantized), tmp_path / "trt.onnx", (32, 32))
    from tao_deploy.tensorrt_engine import asymmetric_activations, is_qdq

    assert is_qdq(tmp_path / "trt.onnx") and not asymmetric_activations(tmp_path / "trt.onnx")
    uint8 = qat.prepare(build_classifier("resnet18", 2), info, "uint8")
    _steps(uint8, info)
    _onnx(qat.export_network(uint8.eval()), tmp_path / "ort.onnx", (32, 32))
    assert asymmetric_activations(tmp_path / "ort.onnx")


def test_a_saturated_relu6_is_dropped_exactly_at_export():
    """A ReLU6 whose outputs reach 6: its quantizer's top level is 6 give or take float rounding, which the
    clamp's removal must tolerate (else ONNX Runtime runs the conv in float)."""
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4), torch.nn.ReLU6(),
                                  torch.nn.Conv2d(4, 2, 1))
    info = ModelInfo("classification", "tiny", ("a", "b"), 8, 8, (0,) * 3, (1,) * 3)
    quantized = qat.prepare(network, info, "uint8")
    for _ in range(5):
        quantized(torch.randn(4, 3, 8, 8) * 100)  # far beyond 6: the quantizer after ReLU6 sees max 6
    quantized.eval()
    exported = qat.export_network(quantized)
    kinds = [type(m).__name__ for m in exported.modules()]
    assert "ReLU6" not in kinds and "Hardtanh" not in kinds
    x = torch.randn(4, 3, 8, 8) * 100
    assert torch.equal(_outputs(exported, x)[0], _outputs(quantized, x)[0])
