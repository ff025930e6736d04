"""What the task skeleton asks of every adapter: no spec key silently ignored, heads that exist, a contract whose
outputs the model really has."""

import pytest
import torch

from conftest import run_tao
from tao_cv.tasks import ADAPTERS
from tao_inference.contract import ModelInfo

INFO = {
    "classification": ModelInfo("classification", "mobilenet_v3_small", ("a", "b"), 64, 64, (0.5,) * 3, (0.5,) * 3,
                                network={"dropout": 0.0}),
    "detectnet_v2": ModelInfo("detectnet_v2", "mobilenet_v3_small", ("a", "b"), 64, 96, (0.5,) * 3, (0.5,) * 3,
                              network={"encoding": {"coverage_scale": 0.6, "bbox_norm": 35.0}}),
    "retinanet": ModelInfo("retinanet", "mobilenet_v3_small", ("a", "b"), 64, 96, (0.5,) * 3, (0.5,) * 3,
                           network={"fpn_channels": 16, "anchor_sizes": [16, 32, 64, 128, 256], "head_norm": "group"}),
    **{name: ModelInfo(name, "mobilenet_v3_small", ("a", "b"), 64, 96, (0.5,) * 3, (0.5,) * 3,
                       network={"anchors": [[[10, 12], [20, 18]]] * levels, "neck_channels": 8,
                                "grid_xy_extend": [0.1] * levels})
       for name, levels in (("yolo_v4", 3), ("yolo_v4_tiny", 2))},
    "ssd": ModelInfo("ssd", "mobilenet_v3_small", ("a", "b"), 64, 96, (0.5,) * 3, (0.5,) * 3,
                     network={"scales": [0.1, 0.3, 0.5, 0.7, 0.9], "aspect_ratios": [2.0], "variances": [0.1, 0.1, 0.2, 0.2],
                              "clip_boxes": False, "extra_channels": 16, "positive_fraction": 0.25}),
    "faster_rcnn": ModelInfo("faster_rcnn", "mobilenet_v3_small", ("a", "b"), 64, 96, (0.5,) * 3, (0.5,) * 3,
                             network={"fpn_channels": 16, "anchor_sizes": [8, 16, 32, 64, 128], "aspect_ratios": [1.0],
                                      "fast_rcnn_mlp_head_dim": 32, "freeze_bn": True, "test_detections_per_image": 7,
                                      "settings": {"box_score_thresh": 0.0}}),
    "unet": ModelInfo("unet", "mobilenet_v3_small", ("bg", "a", "b"), 64, 96, (0.5,) * 3, (0.5,) * 3,
                      network={"decoder_channels": [32, 16, 16, 8, 8]}),
    "mask_rcnn": ModelInfo("mask_rcnn", "mobilenet_v3_small", ("a", "b"), 64, 96, (0.5,) * 3, (0.5,) * 3,
                           network={"fpn_channels": 16, "anchor_sizes": [8, 16, 32, 64, 128], "aspect_ratios": [1.0],
                                    "mrcnn_resolution": 14, "fast_rcnn_mlp_head_dim": 32, "freeze_bn": True,
                                    "test_detections_per_image": 7, "settings": {"box_score_thresh": 0.0}}),
}


@pytest.mark.parametrize("task", list(ADAPTERS))
def test_heads_exist_and_the_contract_names_the_models_outputs(task):
    adapter, info = ADAPTERS[task], INFO[task]
    model = adapter.rebuild(info).eval()
    modules = dict(model.named_modules())
    assert all(name in modules for name in adapter.trained_heads(model))  # freeze_backbone_epochs trains these
    assert adapter.heads(model) and all(any(m is h for m in modules.values()) for h in adapter.heads(model))
    names, outputs, _ = adapter.contract_outputs(info)
    with torch.no_grad():
        produced = model(torch.zeros(2, 3, info.input_height, info.input_width))
    produced = produced if isinstance(produced, tuple) else (produced,)
    assert len(names) == len(outputs) == len(produced)
    for described, tensor in zip(outputs, produced):
        assert len(described["shape"]) == tensor.dim(), described
        for axis, size in enumerate(described["shape"]):
            if isinstance(size, int):  # "batch", "anchors": named dynamic sizes
                assert tensor.shape[axis] == size, (described, tuple(tensor.shape))


@pytest.mark.parametrize("task", ["detectnet_v2", "retinanet"])
def test_a_detector_refuses_label_smoothing_naming_the_key(task, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("train: {label_smoothing: 0.1}\n")
    result = run_tao(task, "train", "-e", spec, "-r", tmp_path / "run", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stdout
    assert f"train.label_smoothing: 0.1 — {task} does not use this key; remove it from the spec" in result.stdout
    assert ADAPTERS["classification"].unused_keys == {}  # classification smooths its labels


def test_the_rcnn_test_time_keys_a_spec_sets_replace_the_checkpoints():
    from tao_cv.tasks.rcnn import torchvision_settings
    from tao_inference.spec.loader import load_spec

    adapter = ADAPTERS["faster_rcnn"]
    schema = adapter.inference.spec_class
    trained = load_spec(schema, None, ["model.test_nms=0.3"]).model
    base = INFO["faster_rcnn"]
    info = base.replace(network={**base.network, "test_detections_per_image": 100,
                                 "settings": torchvision_settings(trained)})
    assert adapter.test_time_info(info, load_spec(schema)) is info  # keys at their defaults keep the trained values
    spec = load_spec(schema, None, ["model.test_rpn_post_nms_topn=100", "model.test_detections_per_image=20"])
    changed = adapter.test_time_info(info, spec)
    assert changed.network["settings"]["rpn_post_nms_top_n_test"] == 100
    assert changed.network["settings"]["box_nms_thresh"] == 0.3 and changed.network["test_detections_per_image"] == 20
    model = adapter.rebuild(changed).eval()
    assert model.net.rpn._post_nms_top_n["testing"] == 100 and model.net.roi_heads.detections_per_img == 20
    assert adapter.contract_outputs(changed)[1][0]["shape"] == ["batch", 20, 4]
