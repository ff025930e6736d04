"""Mask R-CNN through the real CLI on tiny synthetic COCO instance data: convert, train, evaluate, inference, prune,
retrain, export (FP32, postprocessing in the graph), and the deploy worker (no torch) on the exported model."""

import configparser
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import board_tags, run_tao
from tao_inference.data.coco_instances import decode_mask

pytestmark = pytest.mark.slow

SPEC = """dataset:
  train: [{{image_dir: {root}/data/train/images, annotation_file: {root}/data/train/annotations.json}}]
  val: [{{image_dir: {root}/data/val/images, annotation_file: {root}/data/val/annotations.json}}]
  test: [{{image_dir: {root}/data/test/images, annotation_file: {root}/data/test/annotations.json}}]
  image_width: 64
  image_height: 64
  num_workers: 0
model: {{backbone: resnet18, freeze_bn: false, fpn_channels: 16, fast_rcnn_mlp_head_dim: 32,
        test_detections_per_image: 10, test_score_threshold: 0.0, rpn_post_nms_topn: 100, test_rpn_post_nms_topn: 50}}
train: {{num_epochs: 2, batch_size: 4, optimizer: {{name: adamw, lr: 0.001}}}}
inference: {{min_confidence: 0.0}}
"""


@pytest.fixture(scope="module")
def mask_rcnn_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mask_rcnn")
    run_tao("mask_rcnn", "generate_sample", "-o", root / "data", "--count", "12,4,4", "--image_size", "64")
    spec = root / "spec.yaml"
    spec.write_text(SPEC.format(root=root))
    run_tao("mask_rcnn", "train", "-e", spec, "-r", root / "run")
    return root, spec


def test_convert_train_evaluate_inference(mask_rcnn_run):
    root, spec = mask_rcnn_run
    out = run_tao("mask_rcnn", "dataset_convert", "-d", spec, "-o", root / "converted").stdout
    stats = json.loads((root / "converted" / "statistics.json").read_text())
    test_json = json.loads((root / "data" / "test" / "annotations.json").read_text())
    assert stats["classes"] == ["circle", "square", "star"] and stats["train"]["images"] == 12
    assert sum(c["instances"] for c in stats["test"]["per_class"].values()) == len(test_json["annotations"])
    assert "every image and mask checked" in out
    status = [json.loads(line) for line in (root / "run" / "status.json").read_text().splitlines()]
    assert status[-1]["status"] == "SUCCESS" and "val_mask_AP" in status[-2]["kpi"]
    scalars, images = board_tags(root / "run")
    assert {"val/mask_AP", "val/box_AP", "train/train_loss"} <= scalars and len(images) == 3
    best = root / "run" / "weights" / "best.pth"
    run_tao("mask_rcnn", "evaluate", "-e", spec, "-m", best, "-r", root / "eval")
    metrics = json.loads((root / "eval" / "evaluation.json").read_text())
    assert metrics["num_images"] == 4 and metrics["model_kind"] == "pytorch"
    for kind in ("box", "mask"):
        assert set(metrics[kind]) >= {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "per_class"}
        assert all(0 <= metrics[kind][k] <= 1 for k in ("AP", "AP50", "AR100"))
    assert set(metrics["mask"]["per_class"]) == {"circle", "square", "star"}
    assert (root / "eval" / "pr_curves.png").stat().st_size > 1000

    # inference: one JSON per image at the image's own size, with decodable RLE masks; annotated images
    images = root / "other"
    images.mkdir()
    Image.open(root / "data" / "test" / "images" / "0000.jpg").resize((80, 50)).save(images / "wide.png")
    run_tao("mask_rcnn", "inference", "-e", spec, "-m", best, "-i", images, "-r", root / "inf")
    record = json.loads((root / "inf" / "labels" / "wide.json").read_text())
    assert (record["width"], record["height"]) == (80, 50) and len(record["instances"]) == 10
    for instance in record["instances"]:
        assert instance["label"] in stats["classes"] and 0 <= instance["score"] <= 1
        x1, y1, x2, y2 = instance["bbox"]
        assert 0 <= x1 <= x2 <= 80 and 0 <= y1 <= y2 <= 50
        mask = decode_mask(instance["segmentation"], 50, 80)
        assert mask.shape == (50, 80) and mask.dtype == np.uint8
    assert Image.open(root / "inf" / "images_annotated" / "wide.jpg").size == (80, 50)


def test_bad_annotations_and_int8_are_clear_errors(mask_rcnn_run, tmp_path):
    root, spec = mask_rcnn_run
    broken = json.loads((root / "data" / "val" / "annotations.json").read_text())
    broken["annotations"][1]["segmentation"] = {"size": [3, 3], "counts": "abc"}
    (tmp_path / "val.json").write_text(json.dumps(broken))
    result = run_tao("mask_rcnn", "dataset_convert", "-d", spec, "-o", tmp_path / "c",
                     f"dataset.val=[{{image_dir: {root}/data/val/images, annotation_file: {tmp_path / 'val.json'}}}]",
                     check=False)
    assert result.returncode == 2 and "Traceback" not in result.stdout
    assert f"{tmp_path / 'val.json'}: annotations[1]: RLE size [3, 3] is not the image's" in result.stdout
    result = run_tao("mask_rcnn", "export", "-m", root / "run" / "weights" / "best.pth", "-o", tmp_path / "q.onnx",
                     "--data_type", "int8", "-e", spec, check=False)
    assert result.returncode == 2 and "INT8 export of mask_rcnn is not supported yet" in result.stdout


def test_prune_retrain_export_and_deploy(mask_rcnn_run, tmp_path):
    root, spec = mask_rcnn_run
    best = root / "run" / "weights" / "best.pth"
    run_tao("mask_rcnn", "prune", "-m", best, "-o", tmp_path / "pruned.pth", "-pth", "1.0", "-nf", "8")
    report = json.loads((tmp_path / "prune_report.json").read_text())
    assert report["params_after"] < 0.5 * report["params_before"]  # every group at the -nf floor
    widths = {r["layer"]: r for r in report["layers"]}
    assert widths["net.roi_heads.mask_predictor.mask_fcn_logits"]["after"] == 4  # heads kept: 3 classes + background
    assert all(r["after"] == r["before"] for n, r in widths.items()
               if n.startswith(("net.rpn", "net.roi_heads")) and not n.startswith("net.roi_heads.box_head"))
    assert widths["net.roi_heads.box_head.fc6"]["after"] < widths["net.roi_heads.box_head.fc6"]["before"]
    run_tao("mask_rcnn", "train", "-e", spec, "-r", tmp_path / "retrain",
            f"model.pruned_model={tmp_path / 'pruned.pth'}", "train.num_epochs=1")
    retrained = tmp_path / "retrain" / "weights" / "best.pth"
    run_tao("mask_rcnn", "export", "-m", retrained, "-o", tmp_path / "m.onnx", "--gen_ds_config")
    contract = json.loads((tmp_path / "m.onnx.json").read_text())
    assert contract["input"]["shape"] == [1, 3, 64, 64]
    assert [o["name"] for o in contract["outputs"]] == ["boxes", "scores", "labels", "masks"]
    ds = configparser.ConfigParser()
    ds.read_string((tmp_path / "nvinfer_config.txt").read_text())
    assert ds["property"]["network-type"] == "3" and ds["property"]["output-instance-mask"] == "1"

    no_torch = tmp_path / "no_torch"
    for name in ("torch", "torchvision"):
        (no_torch / name).mkdir(parents=True)
        (no_torch / name / "__init__.py").write_text("raise ImportError('no torch in the deploy worker')\n")
    env = {**os.environ, "PYTHONPATH": f"{no_torch}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run_tao("mask_rcnn", "evaluate", "-e", spec, "-m", retrained, "-r", tmp_path / "pth")
    run_tao("mask_rcnn", "evaluate", "-e", spec, "-m", tmp_path / "m.onnx", "-r", tmp_path / "cv")
    result = subprocess.run([sys.executable, "-m", "tao_deploy", "mask_rcnn", "evaluate", "-e", spec, "-m",
                             tmp_path / "m.onnx", "-r", tmp_path / "deploy"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    pth, cv, deploy = (json.loads((tmp_path / w / "evaluation.json").read_text()) for w in ("pth", "cv", "deploy"))
    assert cv == deploy and cv["model_kind"] == "onnx-fp32"
    assert abs(cv["mask_AP"] - pth["mask_AP"]) < 0.02 and abs(cv["box_AP"] - pth["box_AP"]) < 0.02
    result = subprocess.run([sys.executable, "-m", "tao_deploy", "mask_rcnn", "inference", "-e", spec, "-m",
                             tmp_path / "m.onnx", "-i", root / "data" / "test" / "images", "-r", tmp_path / "dinf"],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((tmp_path / "dinf" / "labels").glob("*.json"))) == 4
    result = subprocess.run([sys.executable, "-m", "tao_deploy", "mask_rcnn", "gen_trt_engine", "-m",
                             tmp_path / "m.onnx", "--max_batch_size", "4"], env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "is exported at a fixed batch of 1" in result.stdout + result.stderr
