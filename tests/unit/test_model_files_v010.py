"""Model files written by 0.1.0 (tests/fixtures/v0_1_0) still load — checkpoints, pruned checkpoints (whole
module), FP32 and INT8 ONNX of every task — with their metadata upgraded to ModelInfo and the same outputs."""

from pathlib import Path

import numpy as np
import pytest

from tao_cv.engine.predictors import model_opener
from tao_cv.tasks import ADAPTERS
from tao_inference.contract import CONTRACT_VERSION, ModelInfo, read_contract
from tao_inference.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "v0_1_0"
EXPECTED = np.load(FIXTURES / "expected_outputs.npz")
FILES = sorted({key.split(":")[0] for key in EXPECTED.files})


def task_of(name):
    return "detectnet_v2" if name.startswith("detectnet_v2") else name.split("_")[0]


@pytest.mark.parametrize("name", FILES)
def test_a_010_model_file_loads_with_typed_info_and_gives_the_same_outputs(name, monkeypatch):
    if name.endswith("pruned.pth"):  # a pickled module: loaded only when trusted
        monkeypatch.setenv("TAO_TRUST_CHECKPOINTS", "1")
    task = task_of(name)
    predictor = model_opener(ADAPTERS[task])(FIXTURES / name)
    info = predictor.info
    assert isinstance(info, ModelInfo) and info.task == task and info.version == CONTRACT_VERSION
    assert info.input_height == info.input_width == (32 if task == "classification" else 64)
    # 0.1.0 contracts did not say whether the network was pruned; its checkpoints did
    assert info.pruned == ("pruned" in name and name.endswith(".pth")) and len(info.mean) == len(info.std) == 3
    x = np.random.default_rng(0).standard_normal((2, 3, info.input_height, info.input_width)).astype(np.float32)
    outputs = predictor(x)
    assert len(outputs) == sum(key.startswith(name + ":") for key in EXPECTED.files)
    for i, output in enumerate(outputs):
        np.testing.assert_allclose(output, EXPECTED[f"{name}:{i}"], rtol=1e-4, atol=1e-5)


def test_010_network_parameters_are_upgraded_into_info_network():
    info, contract = read_contract(FIXTURES / "retinanet_mobilenet_v3_small.onnx")
    assert info.network == {"fpn_channels": 8, "anchor_sizes": [8, 16, 32, 64, 128], "head_norm": "group"}
    assert contract["decoder"] == {}  # 0.1.0 recorded no anchors: the decoder computes them
    info, _ = read_contract(FIXTURES / "detectnet_v2_pruned.onnx")
    assert set(info.network) == {"encoding"} and info.network["encoding"]["bbox_norm"] == 35.0


def test_model_info_round_trips_and_refuses_a_mangled_record():
    info = ModelInfo("classification", "resnet18", ("a", "b"), 32, 48, (0.5,) * 3, (0.25,) * 3, network={"dropout": 0.1})
    assert ModelInfo.from_dict(info.to_dict()) == info
    with pytest.raises(UserError, match="m.pth: its model metadata lacks or mangles 'backbone'"):
        ModelInfo.from_dict({"version": 2, "task": "classification"}, source="m.pth")
    with pytest.raises(UserError, match="its model metadata is missing"):
        ModelInfo.from_dict(None, source="m.pth")


def test_a_model_of_another_task_is_refused_before_it_is_built():
    with pytest.raises(UserError, match="is a detectnet_v2 model; run it with `tao detectnet_v2 ...`, not `tao retinanet`"):
        model_opener(ADAPTERS["retinanet"])(FIXTURES / "detectnet_v2_mobilenet_v3_small.pth")


@pytest.mark.parametrize("name", ["classification_pruned.pth", "detectnet_v2_pruned.pth"])
def test_a_010_pruned_checkpoint_needs_trust_and_resaved_it_loads_as_data(name, tmp_path, monkeypatch):
    from tao_cv.engine.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint

    with pytest.raises(UserError, match="only unpickling code can rebuild.*pass --trust_checkpoint"):
        read_checkpoint(FIXTURES / name)
    monkeypatch.setenv("TAO_TRUST_CHECKPOINTS", "1")
    payload = read_checkpoint(FIXTURES / name)
    adapter = ADAPTERS[task_of(name)]
    save_checkpoint(tmp_path / "resaved.pth", model_from_checkpoint(payload, adapter.rebuild), payload["info"])
    monkeypatch.delenv("TAO_TRUST_CHECKPOINTS")
    predictor = model_opener(adapter)(tmp_path / "resaved.pth")  # weights_only: no code, the widths as data
    assert "layer_widths" in predictor.info.network
    x = np.random.default_rng(0).standard_normal((2, 3, predictor.info.input_height, predictor.info.input_width))
    for i, output in enumerate(predictor(x.astype(np.float32))):
        np.testing.assert_allclose(output, EXPECTED[f"{name}:{i}"], rtol=1e-4, atol=1e-5)
