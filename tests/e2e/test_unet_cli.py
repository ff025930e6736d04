"""UNet through the real CLI on tiny synthetic segmentation data: convert, train, evaluate, inference, prune,
retrain, export (FP32 + INT8 + DeepStream config), and the deploy worker on the exported models."""

import configparser
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import board_tags, run_tao

pytestmark = pytest.mark.slow

SPEC = """dataset:
  train_images_path: {root}/data/train/images
  train_masks_path: {root}/data/train/masks
  val_images_path: {root}/data/val/images
  val_masks_path: {root}/data/val/masks
  test_images_path: {root}/data/test/images
  test_masks_path: {root}/data/test/masks
  image_width: 64
  image_height: 64
  num_workers: 0
  data_class_config:
    target_classes:
      - {{name: background, label_id: 0}}
      - {{name: circle, label_id: 1}}
      - {{name: square, label_id: 2, class_weight: 2.0}}
      - {{name: triangle, label_id: 3}}
model: {{backbone: resnet18, loss: cross_entropy_dice}}
train: {{num_epochs: 2, batch_size: 8, optimizer: {{name: adamw, lr: 0.003}}}}
export: {{cal_batches: 2, cal_batch_size: 4}}
"""


@pytest.fixture(scope="module")
def unet_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("unet")
    run_tao("unet", "generate_sample", "-o", root / "data", "--count", "16,6,6", "--image_size", "64")
    spec = root / "spec.yaml"
    spec.write_text(SPEC.format(root=root))
    run_tao("unet", "train", "-e", spec, "-r", root / "run")
    return root, spec


def test_convert_train_evaluate_inference(unet_run):
    root, spec = unet_run
    out = run_tao("unet", "dataset_convert", "-d", spec, "-o", root / "converted").stdout
    stats = json.loads((root / "converted" / "statistics.json").read_text())
    assert stats["classes"] == ["background", "circle", "square", "triangle"] and stats["train"]["images"] == 16
    assert sum(stats["test"]["pixels"].values()) == 6 * 64 * 64 and "background" in out
    status = [json.loads(line) for line in (root / "run" / "status.json").read_text().splitlines()]
    assert status[-1]["status"] == "SUCCESS" and "val_mIoU" in status[-2]["kpi"]
    scalars, images = board_tags(root / "run")
    assert {"val/mIoU", "train/train_loss", "train/lr"} <= scalars and len(images) == 3
    best = root / "run" / "weights" / "best.pth"
    run_tao("unet", "evaluate", "-e", spec, "-m", best, "-r", root / "eval")
    metrics = json.loads((root / "eval" / "evaluation.json").read_text())
    assert metrics["num_images"] == 6 and 0 <= metrics["mIoU"] <= 1 and 0 <= metrics["pixel_accuracy"] <= 1
    assert [r["class"] for r in metrics["per_class"]] == stats["classes"]
    assert sum(r["pixels"] for r in metrics["per_class"]) == 6 * 64 * 64
    assert (root / "eval" / "confusion_matrix.png").stat().st_size > 1000

    # inference: class-id masks at each image's own size, overlays
    images = root / "other"
    images.mkdir()
    Image.open(root / "data" / "test" / "images" / "0000.jpg").resize((80, 50)).save(images / "wide.png")
    run_tao("unet", "inference", "-e", spec, "-m", best, "-i", images, "-r", root / "inf")
    mask = np.asarray(Image.open(root / "inf" / "mask_labels" / "wide.png"))
    assert mask.shape == (50, 80) and mask.max() <= 3
    assert Image.open(root / "inf" / "vis_overlay" / "wide.png").size == (80, 50)

    # a mask value no class names: an error naming it and the file
    bad = root / "data" / "val" / "masks" / "0001.png"
    original = bad.read_bytes()
    try:
        values = np.asarray(Image.open(bad)).copy()
        values[0, 0] = 9
        Image.fromarray(values).save(bad)
        result = run_tao("unet", "evaluate", "-e", spec, "-m", best, "evaluate.split=val", "-r", root / "e2", check=False)
        assert result.returncode == 2 and "0001.png: mask value 9 is no target class's label_id" in result.stdout
    finally:
        bad.write_bytes(original)


def test_prune_retrain_export_int8_and_deploy(unet_run, tmp_path):
    root, spec = unet_run
    best = root / "run" / "weights" / "best.pth"
    run_tao("unet", "prune", "-m", best, "-o", tmp_path / "pruned.pth", "--target_macs_ratio", "0.6", "-nf", "8")
    report = json.loads((tmp_path / "prune_report.json").read_text())
    assert report["macs_after"] <= 0.62 * report["macs_before"]
    assert next(r for r in report["layers"] if r["layer"] == "head")["after"] == 4  # the output head is kept
    run_tao("unet", "train", "-e", spec, "-r", tmp_path / "retrain", f"model.pruned_model={tmp_path / 'pruned.pth'}",
            "train.num_epochs=1")
    retrained = tmp_path / "retrain" / "weights" / "best.pth"
    run_tao("unet", "export", "-m", retrained, "-o", tmp_path / "m.onnx", "--gen_ds_config")
    ds = configparser.ConfigParser()
    ds.read_string((tmp_path / "nvinfer_config.txt").read_text())
    assert ds["property"]["network-type"] == "2" and ds["property"]["num-detected-classes"] == "4"
    out = run_tao("unet", "export", "-m", retrained, "-o", tmp_path / "m_int8.onnx", "--data_type", "int8",
                  "-e", spec).stdout
    assert "of the calibration pixels get FP32's class" in out
    no_torch = tmp_path / "no_torch"
    for name in ("torch", "torchvision"):
        (no_torch / name).mkdir(parents=True)
        (no_torch / name / "__init__.py").write_text("raise ImportError('no torch in the deploy worker')\n")
    env = {**os.environ, "PYTHONPATH": f"{no_torch}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for model in ("m.onnx", "m_int8.onnx"):
        run_tao("unet", "evaluate", "-e", spec, "-m", tmp_path / model, "-r", tmp_path / f"cv_{model}")
        result = subprocess.run([sys.executable, "-m", "tao_deploy", "unet", "evaluate", "-e", spec, "-m",
                                 tmp_path / model, "-r", tmp_path / f"deploy_{model}"], env=env, capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        cv, deploy = (json.loads((tmp_path / f"{w}_{model}" / "evaluation.json").read_text()) for w in ("cv", "deploy"))
        assert cv == deploy and cv["model_kind"] == ("onnx-int8" if "int8" in model else "onnx-fp32")
    result = subprocess.run([sys.executable, "-m", "tao_deploy", "unet", "inference", "-e", spec, "-m",
                             tmp_path / "m_int8.onnx", "-i", root / "data" / "test" / "images", "-r", tmp_path / "dinf"],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0 and len(list((tmp_path / "dinf" / "mask_labels").glob("*.png"))) == 6
