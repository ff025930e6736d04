import torch
from torch import nn

from tao_cv.engine.profile import cpu_summary
from tao_cv.export.int8 import first_and_last_layers


def test_first_conv_and_classifier_are_found(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    path = tmp_path / "m.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 8, 8),), str(path), dynamo=False)
    import onnx

    nodes = [n for n in onnx.load(str(path)).graph.node if n.op_type in ("Conv", "Gemm")]
    assert first_and_last_layers(path) == sorted({nodes[0].name, nodes[-1].name})
    assert len(nodes) == 3


def test_cpu_summary_names_the_int8_dot_product_instructions(tmp_path):
    """INT8-over-FP32 ratios depend on VNNI: benchmark results record which the CPU has."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f avx512_vnni\n\n"
                       "processor\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert cpu_summary(cpuinfo) == {"model": "AMD EPYC", "int8_dot_product": "avx512_vnni"}
    cpuinfo.write_text("model name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx2 fma\n")
    assert cpu_summary(cpuinfo)["int8_dot_product"] == "none (AVX2: vpmaddubsw)"
