"""DetectNet_v2 through the real CLI on tiny synthetic KITTI data: convert, train, evaluate, inference, errors."""

import json

import onnx
import pytest
import yaml

from conftest import board_tags, run_tao

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def detection_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("det")
    run_tao("detectnet_v2", "generate_sample", "-o", root / "data", "--count", "12,4,4", "--image_size", "64")
    spec = root / "spec.yaml"
    spec.write_text(f"""dataset:
  train: [{{format: kitti, image_dir: {root}/data/train/images, label_dir: {root}/data/train/labels}}]
  val: [{{format: kitti, image_dir: {root}/data/val/images, label_dir: {root}/data/val/labels}}]
  test: [{{format: kitti, image_dir: {root}/data/test/images, label_dir: {root}/data/test/labels}}]
  image_width: 64
  image_height: 64
  num_workers: 0
model: {{backbone: resnet18}}
postprocessing:
  default: {{coverage_threshold: 0.2}}
  per_class: {{star: {{method: dbscan}}}}
train: {{num_epochs: 2, batch_size: 4, optimizer: {{name: adamw, lr: 0.002}}}}
evaluate: {{split: test, batch_size: 4}}
""")
    run_tao("detectnet_v2", "dataset_convert", "-d", spec, "-o", root / "converted")
    run_tao("detectnet_v2", "train", "-e", spec, "-r", root / "run", f"dataset.index={root / 'converted' / 'index.json'}")
    return root, spec


def test_convert_train_evaluate_inference(detection_run):
    root, spec = detection_run
    index = json.loads((root / "converted" / "index.json").read_text())
    assert index["classes"] == ["circle", "square", "star"] and [len(index[s]) for s in ("train", "val", "test")] == [12, 4, 4]
    stats = json.loads((root / "converted" / "statistics.json").read_text())
    assert sum(v["boxes"] for k, v in stats["train"].items() if k != "_images") == sum(len(s["objects"]) for s in index["train"])
    # per-class postprocessing suggested from the training boxes (64x64 images at a 64x64 input: heights unscaled)
    suggested = yaml.safe_load((root / "converted" / "postprocessing.yaml").read_text())["postprocessing"]["per_class"]
    heights = sorted(y2 - y1 for s in index["train"] for name, _, y1, _, y2 in s["objects"] if name == "star")
    assert set(suggested) == set(index["classes"])
    assert 0.5 * heights[0] - 0.05 <= suggested["star"]["minimum_height"] <= 0.5 * heights[len(heights) // 2]
    assert stats["postprocessing_per_class"] == suggested
    status = [json.loads(line) for line in (root / "run" / "status.json").read_text().splitlines()]
    assert status[-1]["status"] == "SUCCESS" and "val_mAP" in status[-2]["kpi"]
    scalars, images = board_tags(root / "run")  # train.tensorboard is on by default
    assert {"val/mAP", "train/train_loss", "train/lr"} <= scalars and len(images) == 3
    best = root / "run" / "weights" / "best.pth"

    run_tao("detectnet_v2", "evaluate", "-e", spec, "-m", best, "-r", root / "eval", "evaluate.ap_mode=sample")
    metrics = json.loads((root / "eval" / "evaluation.json").read_text())
    assert metrics["num_images"] == 4 and metrics["ap_mode"] == "sample" and 0.0 <= metrics["mAP"] <= 1.0
    assert 0.0 <= metrics["mAP_50_95"] <= 1.0 and set(metrics["per_class"]) == {"circle", "square", "star"}
    assert (root / "eval" / "pr_curves.png").stat().st_size > 1000
    truth = sum(len(s["objects"]) for s in index["test"]) / 4
    assert metrics["ground_truth_per_image"] == truth and metrics["boxes_per_image"] >= 0

    # inference draws and writes the very boxes evaluate scored: clipped to the image, counted the same way
    run_tao("detectnet_v2", "evaluate", "-e", spec, "-m", best, "-r", root / "eval0", "inference.min_confidence=0.0")
    everything = json.loads((root / "eval0" / "evaluation.json").read_text())["boxes_per_image"]

    run_tao("detectnet_v2", "inference", "-e", spec, "-m", best, "-i", root / "data" / "test" / "images",
            "-r", root / "inf", "inference.min_confidence=0.0")
    labels = sorted((root / "inf" / "labels").glob("*.txt"))
    assert len(labels) == 4 and len(list((root / "inf" / "images_annotated").glob("*.jpg"))) == 4
    for label in labels:  # KITTI lines with a 16th field, the confidence; boxes inside the image
        for line in label.read_text().splitlines():
            fields = line.split()
            assert len(fields) == 16 and fields[0] in index["classes"] and 0.0 <= float(fields[15]) <= 1.0
            x1, y1, x2, y2 = map(float, fields[4:8])
            assert 0 <= x1 <= x2 <= 64 and 0 <= y1 <= y2 <= 64
    assert sum(len(label.read_text().splitlines()) for label in labels) == everything * 4


def test_voc_source_and_user_errors(detection_run, tmp_path):
    root, spec = detection_run
    (tmp_path / "voc").mkdir()
    for image in sorted((root / "data" / "val" / "images").glob("*.jpg")):
        (tmp_path / "voc" / f"{image.stem}.xml").write_text(
            f"<annotation><filename>{image.name}</filename><object><name>RBC</name><bndbox><xmin>1</xmin>"
            "<ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>")
    voc_spec = tmp_path / "voc.yaml"
    voc_spec.write_text(f"dataset:\n  train: [{{format: voc, image_dir: {root}/data/val/images, label_dir: {tmp_path}/voc}}]\n")
    run_tao("detectnet_v2", "dataset_convert", "-d", voc_spec, "-o", tmp_path / "out")
    assert len(list((tmp_path / "out" / "kitti" / "labels").glob("*.txt"))) == 4
    assert "rbc 0.00 0 0.00 1.00 2.00 30.00 40.00" in (tmp_path / "out" / "kitti" / "labels" / "0000.txt").read_text()

    bad = root / "data" / "train" / "labels" / "0003.txt"
    original = bad.read_text()
    try:
        bad.write_text(original + "star 0 0 0 1 2\n")
        result = run_tao("detectnet_v2", "train", "-e", spec, "-r", tmp_path / "r", check=False)
        line = len(original.splitlines()) + 1
        assert result.returncode == 2 and f"0003.txt:{line}: a KITTI label line has 15 fields" in result.stdout
    finally:
        bad.write_text(original)
    result = run_tao("detectnet_v2", "evaluate", "-e", spec, "-m", root / "run" / "weights" / "best.pth",
                     "postprocessing.per_class={star: {eps2: 1}}", check=False)
    assert result.returncode == 2 and "postprocessing.per_class.star.eps2: unknown key" in result.stdout


def test_prune_retrain_export_int8_and_evaluate_onnx(detection_run, tmp_path):
    root, spec = detection_run
    best = root / "run" / "weights" / "best.pth"
    out = run_tao("detectnet_v2", "prune", "-m", best, "-o", tmp_path / "pruned" / "model.pth", "-pth", "0.95", "-nf", "8")
    assert "tao detectnet_v2 train -e SPEC" in out.stdout  # the retrain hint names the checkpoint's own task
    report = json.loads((tmp_path / "pruned" / "prune_report.json").read_text())
    assert report["macs_after"] < report["macs_before"]
    heads = {row["layer"]: row for row in report["layers"] if row["layer"] in ("coverage", "bbox")}
    assert heads["coverage"]["after"] == 3 and heads["bbox"]["after"] == 12  # output heads are never pruned
    index = root / "converted" / "index.json"
    run_tao("detectnet_v2", "train", "-e", spec, "-r", tmp_path / "retrain", f"dataset.index={index}",
            f"model.pruned_model={tmp_path / 'pruned' / 'model.pth'}", "train.num_epochs=1")
    retrained = tmp_path / "retrain" / "weights" / "best.pth"
    run_tao("detectnet_v2", "export", "-m", retrained, "-o", tmp_path / "m.onnx", "-e", spec)
    contract = json.loads((tmp_path / "m.onnx.json").read_text())
    assert [o["name"] for o in contract["outputs"]] == ["coverage", "bbox"] and contract["outputs"][1]["shape"][1] == 12
    assert "postprocessing" in contract and contract["network"]["encoding"]["bbox_norm"] == 35.0
    assert contract["decoder"] == {"stride": 16, "bbox_norm": 35.0}
    run_tao("detectnet_v2", "export", "-m", retrained, "-o", tmp_path / "m_int8.onnx", "-e", spec, "--data_type", "int8",
            "--cal_image_dir", root / "data" / "train" / "images", "--cal_cache_file", tmp_path / "cal.bin",
            "--batches", "2", "--batch_size", "4")
    assert (tmp_path / "cal.bin").read_text().startswith("TRT-")
    for model, kind in ((retrained, "pytorch"), (tmp_path / "m.onnx", "onnx-fp32"), (tmp_path / "m_int8.onnx", "onnx-int8")):
        run_tao("detectnet_v2", "evaluate", "-e", spec, "-m", model, "-r", tmp_path / kind, f"dataset.index={index}")
        metrics = json.loads((tmp_path / kind / "evaluation.json").read_text())
        assert metrics["model_kind"] == kind and 0.0 <= metrics["mAP"] <= 1.0
    fp32, pytorch = (json.loads((tmp_path / k / "evaluation.json").read_text())["mAP"] for k in ("onnx-fp32", "pytorch"))
    assert abs(fp32 - pytorch) < 1e-6  # the exported model detects what the checkpoint detects


def test_offline_augment_writes_images_and_labels(detection_run, tmp_path):
    root, _ = detection_run
    spec = tmp_path / "augment.yaml"
    spec.write_text(f"""dataset: {{image_dir: {root}/data/val/images, label_dir: {root}/data/val/labels}}
spatial: {{rotation: {{angle: 10}}, flip: {{horizontal: true}}}}
color: {{brightness: {{offset: 15}}}}
blur: {{size: 3, std: 0.5}}
""")
    result = run_tao("augment", "-e", spec, "-o", tmp_path / "out")  # TAO's spelling, no subcommand
    assert "augmented 4 images" in result.stdout
    assert len(list((tmp_path / "out" / "images").glob("*.jpg"))) == 4
    labels = sorted((tmp_path / "out" / "labels").glob("*.txt"))
    assert len(labels) == 4 and all(len(line.split()) == 15 for f in labels for line in f.read_text().splitlines())
    result = run_tao("augment", "-e", spec, check=False)
    assert result.returncode == 2 and "pass -o OUTPUT_DIR" in result.stdout


def test_retinanet_shares_the_workflow(detection_run, tmp_path):
    root, _ = detection_run
    spec = tmp_path / "retinanet.yaml"
    spec.write_text((root / "spec.yaml").read_text().split("postprocessing:")[0]
                    + "train: {num_epochs: 1, batch_size: 4, optimizer: {name: adamw, lr: 0.001}}\n"
                    + "evaluate: {split: test, batch_size: 4}\n")
    spec.write_text(spec.read_text().replace("model: {backbone: resnet18}", "model: {backbone: resnet18, fpn_channels: 16}"))
    index = root / "converted" / "index.json"
    # two processes (torchrun, gloo): detection training shares the engine's multi-process path
    out = run_tao("retinanet", "train", "-e", spec, "-r", tmp_path / "run", f"dataset.index={index}",
                  "--nproc_per_node", "2", "train.batch_size=2").stdout
    assert "2 in all" in out and out.count("best val mAP") == 1
    best = tmp_path / "run" / "weights" / "best.pth"
    run_tao("retinanet", "export", "-m", best, "-o", tmp_path / "m.onnx", "-e", spec)
    assert json.loads((tmp_path / "m.onnx.json").read_text())["outputs"][0]["name"] == "cls_logits"
    results = {}
    for model, kind in ((best, "pytorch"), (tmp_path / "m.onnx", "onnx-fp32")):
        run_tao("retinanet", "evaluate", "-e", spec, "-m", model, "-r", tmp_path / kind, f"dataset.index={index}",
                "postprocessing.score_threshold=0.01")
        results[kind] = json.loads((tmp_path / kind / "evaluation.json").read_text())
    # near-threshold scores may reorder by float rounding between ORT and PyTorch: equal up to that
    assert results["pytorch"]["mAP"] == pytest.approx(results["onnx-fp32"]["mAP"], abs=0.02)
    run_tao("retinanet", "inference", "-e", spec, "-m", tmp_path / "m.onnx", "-i", root / "data" / "test" / "images",
            "-r", tmp_path / "inf")
    assert len(list((tmp_path / "inf" / "labels").glob("*.txt"))) == 4


def test_faster_rcnn_shares_the_workflow(detection_run, tmp_path):
    """Faster R-CNN on the same index: train, prune (heads kept) and retrain, export FP32 and INT8 (postprocessing
    in the graph, batch 1; INT8 only in the feature layers), the ONNX models evaluated in both workers as the
    checkpoint is."""
    root, _ = detection_run
    spec = tmp_path / "faster_rcnn.yaml"
    spec.write_text((root / "spec.yaml").read_text().split("postprocessing:")[0].replace(
        "model: {backbone: resnet18}", "model: {backbone: resnet18, fpn_channels: 16, fast_rcnn_mlp_head_dim: 32, "
        "freeze_bn: false, test_detections_per_image: 10, test_score_threshold: 0.0, anchor_sizes: [8, 16, 32, 64, 128]}")
        + "train: {num_epochs: 1, batch_size: 4, optimizer: {name: adamw, lr: 0.001}}\n"
        + "evaluate: {split: test, batch_size: 4}\ninference: {min_confidence: 0.0}\n"
        + "export: {cal_batches: 2, cal_batch_size: 4}\n")
    index = root / "converted" / "index.json"
    run_tao("faster_rcnn", "train", "-e", spec, "-r", tmp_path / "run", f"dataset.index={index}")
    best = tmp_path / "run" / "weights" / "best.pth"
    run_tao("faster_rcnn", "prune", "-m", best, "-o", tmp_path / "pruned.pth", "-pth", "1.0", "-nf", "8")
    report = json.loads((tmp_path / "prune_report.json").read_text())
    widths = {r["layer"]: r for r in report["layers"]}
    assert report["params_after"] < 0.5 * report["params_before"]
    assert widths["net.roi_heads.box_predictor.cls_score"]["after"] == 4  # 3 classes + background, kept
    run_tao("faster_rcnn", "train", "-e", spec, "-r", tmp_path / "retrain", f"dataset.index={index}",
            f"model.pruned_model={tmp_path / 'pruned.pth'}")
    retrained = tmp_path / "retrain" / "weights" / "best.pth"
    run_tao("faster_rcnn", "export", "-m", retrained, "-o", tmp_path / "m.onnx")
    contract = json.loads((tmp_path / "m.onnx.json").read_text())
    assert contract["input"]["shape"] == [1, 3, 64, 64] and [o["name"] for o in contract["outputs"]] == [
        "boxes", "scores", "labels"]
    results = {}
    for model, kind in ((retrained, "pytorch"), (tmp_path / "m.onnx", "onnx-fp32")):
        run_tao("faster_rcnn", "evaluate", "-e", spec, "-m", model, "-r", tmp_path / kind, f"dataset.index={index}")
        results[kind] = json.loads((tmp_path / kind / "evaluation.json").read_text())
    assert results["pytorch"]["mAP"] == pytest.approx(results["onnx-fp32"]["mAP"], abs=0.02)
    assert results["onnx-fp32"]["boxes_per_image"] == 10  # K slots, every one scored (test_score_threshold 0)
    run_tao("deploy", "faster_rcnn", "evaluate", "-e", spec, "-m", tmp_path / "m.onnx", "-r", tmp_path / "deploy",
            f"dataset.index={index}")
    deployed = json.loads((tmp_path / "deploy" / "evaluation.json").read_text())
    assert deployed["mAP"] == results["onnx-fp32"]["mAP"]
    # a test-time key the spec sets replaces the checkpoint's, in the exported graph as in evaluating the checkpoint
    out = run_tao("faster_rcnn", "export", "-m", retrained, "-o", tmp_path / "k4.onnx", "-e", spec,
                  "model.test_detections_per_image=4").stdout
    assert "model.test_detections_per_image 4 (trained with 10)" in out
    assert json.loads((tmp_path / "k4.onnx.json").read_text())["outputs"][0]["shape"] == ["batch", 4, 4]
    for model, kind in ((retrained, "pytorch_k4"), (tmp_path / "k4.onnx", "onnx_k4")):
        run_tao("faster_rcnn", "evaluate", "-e", spec, "-m", model, "-r", tmp_path / kind, f"dataset.index={index}",
                "model.test_detections_per_image=4")
        assert json.loads((tmp_path / kind / "evaluation.json").read_text())["boxes_per_image"] == 4
    out = run_tao("faster_rcnn", "export", "-m", retrained, "-o", tmp_path / "q.onnx", "--data_type", "int8",
                  f"dataset.index={index}", "-e", spec).stdout
    assert "8 calibration images" in out and "detection IoU (same class, box IoU >= 0.5) with FP32" in out
    graph = onnx.load(tmp_path / "q.onnx").graph
    producer = {output: node.name for node in graph.node for output in node.output}
    quantized = [producer.get(node.input[0]) for node in graph.node if node.op_type == "QuantizeLinear"]
    feature_layers = ("/net/backbone/", "/net/rpn/head/", "/net/roi_heads/box_head/", "/net/roi_heads/box_predictor/")
    outside = [name for name in quantized if not name.startswith(feature_layers)]
    assert len(quantized) > 20 and len(outside) == 1 and outside[0].startswith("/net/transform/")  # the image
    assert json.loads((tmp_path / "q.onnx.json").read_text())["data_type"] == "int8"
    run_tao("faster_rcnn", "evaluate", "-e", spec, "-m", tmp_path / "q.onnx", "-r", tmp_path / "int8",
            f"dataset.index={index}")
    run_tao("deploy", "faster_rcnn", "evaluate", "-e", spec, "-m", tmp_path / "q.onnx", "-r", tmp_path / "deploy_int8",
            f"dataset.index={index}")
    int8 = json.loads((tmp_path / "int8" / "evaluation.json").read_text())
    assert int8["model_kind"] == "onnx-int8"
    assert json.loads((tmp_path / "deploy_int8" / "evaluation.json").read_text())["mAP"] == int8["mAP"]


def test_ssd_shares_the_workflow(detection_run, tmp_path):
    """SSD on the same index: train, prune (heads kept), export FP32 and INT8 (raw outputs, default boxes in the
    contract), evaluated as ONNX in both workers as the checkpoint is."""
    root, _ = detection_run
    spec = tmp_path / "ssd.yaml"
    spec.write_text((root / "spec.yaml").read_text().split("postprocessing:")[0].replace(
        "model: {backbone: resnet18}", "model: {backbone: resnet18, extra_channels: 16, scales: [0.1, 0.25, 0.45, 0.65, "
        "0.85]}") + "train: {num_epochs: 1, batch_size: 4, optimizer: {name: adamw, lr: 0.001}}\n"
        + "evaluate: {split: test, batch_size: 4}\nexport: {cal_batches: 2, cal_batch_size: 4}\n")
    index = root / "converted" / "index.json"
    run_tao("ssd", "train", "-e", spec, "-r", tmp_path / "run", f"dataset.index={index}")
    best = tmp_path / "run" / "weights" / "best.pth"
    run_tao("ssd", "prune", "-m", best, "-o", tmp_path / "pruned.pth", "-pth", "1.0", "-nf", "8")
    report = json.loads((tmp_path / "prune_report.json").read_text())
    widths = {r["layer"]: r for r in report["layers"]}
    assert report["params_after"] < 0.5 * report["params_before"]
    assert all(r["after"] == r["before"] for n, r in widths.items() if n.startswith("net.head"))
    run_tao("ssd", "export", "-m", best, "-o", tmp_path / "m.onnx")
    contract = json.loads((tmp_path / "m.onnx.json").read_text())
    assert len(contract["decoder"]["default_boxes"]) == 4 and contract["decoder"]["box_coder_weights"] == [10, 10, 5, 5]
    out = run_tao("ssd", "export", "-m", best, "-o", tmp_path / "q.onnx", "--data_type", "int8",
                  f"dataset.index={index}", "-e", spec).stdout
    assert "confident-output IoU with FP32" in out
    results = {}
    for model, kind in ((best, "pytorch"), (tmp_path / "m.onnx", "onnx-fp32"), (tmp_path / "q.onnx", "onnx-int8")):
        run_tao("ssd", "evaluate", "-e", spec, "-m", model, "-r", tmp_path / kind, f"dataset.index={index}")
        results[kind] = json.loads((tmp_path / kind / "evaluation.json").read_text())
    assert results["pytorch"]["mAP"] == pytest.approx(results["onnx-fp32"]["mAP"], abs=0.02)
    run_tao("deploy", "ssd", "evaluate", "-e", spec, "-m", tmp_path / "q.onnx", "-r", tmp_path / "deploy",
            f"dataset.index={index}")
    assert json.loads((tmp_path / "deploy" / "evaluation.json").read_text())["mAP"] == results["onnx-int8"]["mAP"]


@pytest.mark.parametrize("task", ["yolo_v4", "yolo_v4_tiny"])
def test_yolo_v4_shares_the_workflow(detection_run, tmp_path, task):
    """YOLOv4 (and tiny) on the same index: kmeans anchors into the spec, train with mosaic, prune (output convs
    kept), export FP32 and INT8 (raw outputs, priors in the contract), evaluated in both workers."""
    root, _ = detection_run
    index = root / "converted" / "index.json"
    spec = tmp_path / "yolo.yaml"
    spec.write_text((root / "spec.yaml").read_text().split("postprocessing:")[0].replace(
        "model: {backbone: resnet18}", "model: {backbone: cspdarknet_tiny, neck_channels: 16}")
        + "train: {num_epochs: 1, batch_size: 4, label_smoothing: 0.1, optimizer: {name: adamw, lr: 0.001}}\n"
        + f"evaluate: {{split: test, batch_size: 4}}\nexport: {{cal_batches: 2, cal_batch_size: 4}}\n")
    out = run_tao(task, "kmeans", "-e", spec, "-o", tmp_path / "anchors.yaml", f"dataset.index={index}").stdout
    anchors = yaml.safe_load((tmp_path / "anchors.yaml").read_text())["model"]
    levels = ["mid_anchor_shape", "big_anchor_shape"] if task == "yolo_v4_tiny" else [
        "small_anchor_shape", "mid_anchor_shape", "big_anchor_shape"]
    assert list(anchors) == levels and all(len(a) == 3 for a in anchors.values()) and "mean best IoU" in out
    areas = [w * h for key in levels for w, h in anchors[key]]
    assert areas == sorted(areas)  # the smallest shapes go to the finest level
    overrides = [f"model.{key}={value}" for key, value in anchors.items()]
    run_tao(task, "train", "-e", spec, "-r", tmp_path / "run", f"dataset.index={index}",
            "dataset.augmentation.mosaic_prob=0.5", *overrides)
    best = tmp_path / "run" / "weights" / "best.pth"
    run_tao(task, "prune", "-m", best, "-o", tmp_path / "pruned.pth", "-pth", "1.0", "-nf", "8")
    report = json.loads((tmp_path / "prune_report.json").read_text())
    widths = {r["layer"]: r for r in report["layers"]}
    assert report["params_after"] < 0.5 * report["params_before"]
    assert all(widths[f"heads.{i}.1"]["after"] == 3 * (5 + 3) for i in range(len(levels)))  # anchors x (5 + classes)
    run_tao(task, "export", "-m", best, "-o", tmp_path / "m.onnx", "--gen_ds_config")
    nvinfer = (tmp_path / "nvinfer_config.txt").read_text()  # raw outputs: tensor meta, decoded as the contract says
    assert "network-type=100" in nvinfer and "output-blob-names=predictions" in nvinfer
    contract = json.loads((tmp_path / "m.onnx.json").read_text())
    assert [level["anchors"] for level in contract["decoder"]["prior_levels"]] == [anchors[k] for k in levels]
    out = run_tao(task, "export", "-m", best, "-o", tmp_path / "q.onnx", "--data_type", "int8",
                  f"dataset.index={index}", "-e", spec).stdout
    assert "confident-output IoU with FP32" in out
    results = {}
    for model, kind in ((best, "pytorch"), (tmp_path / "m.onnx", "onnx-fp32"), (tmp_path / "q.onnx", "onnx-int8")):
        run_tao(task, "evaluate", "-e", spec, "-m", model, "-r", tmp_path / kind, f"dataset.index={index}")
        results[kind] = json.loads((tmp_path / kind / "evaluation.json").read_text())
    assert results["pytorch"]["mAP"] == pytest.approx(results["onnx-fp32"]["mAP"], abs=0.02)
    run_tao("deploy", task, "evaluate", "-e", spec, "-m", tmp_path / "q.onnx", "-r", tmp_path / "deploy",
            f"dataset.index={index}")
    assert json.loads((tmp_path / "deploy" / "evaluation.json").read_text())["mAP"] == results["onnx-int8"]["mAP"]
    if task == "yolo_v4_tiny":  # QAT on the pruned detector: its Q/DQ graph evaluated like any other
        run_tao(task, "train", "-e", spec, "-r", tmp_path / "qat", f"dataset.index={index}", *overrides,
                f"model.pruned_model={tmp_path / 'pruned.pth'}", "train.enable_qat=true")
        out = run_tao(task, "export", "-m", tmp_path / "qat" / "weights" / "best.pth", "-o", tmp_path / "qat.onnx",
                      "--data_type", "int8", f"dataset.index={index}", "-e", spec).stdout
        assert "no calibration" in out and "confident-output IoU with the PyTorch QAT model" in out
        run_tao(task, "evaluate", "-e", spec, "-m", tmp_path / "qat.onnx", "-r", tmp_path / "qat_eval",
                f"dataset.index={index}")
        assert json.loads((tmp_path / "qat_eval" / "evaluation.json").read_text())["model_kind"] == "onnx-int8"
