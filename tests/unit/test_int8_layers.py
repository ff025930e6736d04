import torch
from torch import nn

from tao_cv.export.int8 import first_and_last_layers


def test_first_conv_and_classifier_are_found(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    path = tmp_path / "m.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 8, 8),), str(path), dynamo=False)
    import onnx

    nodes = [n for n in onnx.load(str(path)).graph.node if n.op_type in ("Conv", "Gemm")]
    assert first_and_last_layers(path) == sorted({nodes[0].name, nodes[-1].name})
    assert len(nodes) == 3
