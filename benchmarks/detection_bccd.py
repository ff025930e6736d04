"""Detection benchmark on ../shared/data/bccd (Pascal VOC; its published train/val/test split; numbers on test).

For one network, all in one run, through the real `tao <network>` CLI:
  1. dataset_convert (VOC -> KITTI + index), train (or reuse a finished training run with --unpruned_run);
  2. export to ONNX and evaluate the ONNX model on test: mAP@0.5 (VOC integrate) per class and overall,
     COCO mAP@[.5:.95];
  3. the unpruned model's INT8 Q/DQ export, evaluated (--add_unpruned_int8: only this, into a finished run's results);
  4. TAO-semantic pruning at the smallest -pth whose MACs fall to --target_macs_ratio, retraining, export,
     evaluation of the pruned FP32 and its INT8 Q/DQ model;
  5. ONNX Runtime latency of unpruned / unpruned INT8 / pruned / pruned INT8 at batch 1 and 8, timed side by side.
Writes benchmarks/results/bccd_<network>.json and prints a markdown table.

  .venv/bin/python benchmarks/detection_bccd.py --network detectnet_v2 --backbone efficientnet_lite0 \
      --pretrained imagenet --width 480 --height 368 --epochs 20 --retrain_epochs 5

YOLOv4 / YOLOv4-tiny get their anchors from `tao yolo_v4 kmeans` on the training boxes first; Faster R-CNN (its
graph is exported at batch 1) is timed at batch 1 only. YOLOv4 and Faster R-CNN need input sides that are multiples
of 32 (e.g. --width 480 --height 352 for all, to compare alike).
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from tao_cv.engine.checkpoint import model_from_checkpoint, read_checkpoint
from tao_cv.engine.profile import count_macs, cpu_summary, ort_latencies_ms

ROOT = Path(__file__).resolve().parents[1]
BCCD = ROOT.parent / "shared" / "data" / "bccd" / "BCCD"
TAO = str(Path(sys.executable).parent / "tao")


def tao(network, *args):
    start = time.perf_counter()
    result = subprocess.run([TAO, network, *map(str, args)], env={**os.environ, "TAO_DOCKER_DISABLE": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        sys.exit(f"tao {network} {' '.join(map(str, args))} failed:\n{result.stdout}")
    return result.stdout, time.perf_counter() - start


def evaluate(network, spec, model, out, index):
    tao(network, "evaluate", "-e", spec, "-m", model, "-r", out, f"dataset.index={index}")
    metrics = json.loads((Path(out) / "evaluation.json").read_text())
    return {"mAP_50": round(metrics["mAP"], 4), "coco_mAP_50_95": round(metrics["mAP_50_95"], 4),
            "per_class_AP_50": {k: round(v["AP"], 4) for k, v in metrics["per_class"].items()},
            "boxes_per_image": round(metrics["boxes_per_image"], 2),
            "ground_truth_per_image": round(metrics["ground_truth_per_image"], 2)}


NETWORKS = ("detectnet_v2", "retinanet", "yolo_v4", "yolo_v4_tiny", "ssd", "faster_rcnn")
POSTPROCESSING = {  # each network's own section, at the settings mAP is measured with
    "detectnet_v2": "postprocessing: {default: {coverage_threshold: 0.3, method: nms, nms_iou: 0.4}}",
    "retinanet": "postprocessing: {score_threshold: 0.05, nms_iou: 0.5}",
    "yolo_v4": "postprocessing: {confidence_threshold: 0.01, clustering_iou_threshold: 0.5, top_k: 200}",
    "yolo_v4_tiny": "postprocessing: {confidence_threshold: 0.01, clustering_iou_threshold: 0.5, top_k: 200}",
    "ssd": "postprocessing: {confidence_threshold: 0.01, clustering_iou_threshold: 0.5, top_k: 200}",
    "faster_rcnn": "",
}


def unpruned_int8(network, spec, work, best, index):
    """The unpruned model's INT8 Q/DQ export (calibrated on the training split), evaluated."""
    tao(network, "export", "-m", best, "-o", work / "unpruned_int8.onnx", "-e", spec, "--data_type", "int8",
        f"dataset.index={index}")
    return evaluate(network, spec, work / "unpruned_int8.onnx", work / "eval_unpruned_int8", index)


def model_keys(args):
    """The `model` keys beyond backbone and weights that this run sets."""
    if args.network in ("retinanet", "faster_rcnn"):
        return f", fpn_channels: {args.fpn_channels}"
    if args.network == "detectnet_v2":
        return f", coverage_shape: {args.coverage_shape}"
    return ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="detectnet_v2", choices=NETWORKS)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--pretrained", default=None)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=368)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--retrain_epochs", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--target_macs_ratio", type=float, default=0.5)
    parser.add_argument("--fpn_channels", type=int, default=128, help="retinanet: FPN and head width")
    parser.add_argument("--coverage_shape", default="peaked", help="detectnet_v2: model.coverage_shape")
    parser.add_argument("--unpruned_only", action="store_true", help="stop after evaluating the unpruned model")
    parser.add_argument("--add_unpruned_int8", action="store_true",
                        help="to a finished run's results file, add only the unpruned model's INT8 row")
    parser.add_argument("--tag", default="", help="suffix of the run's folder and results file (bccd_<network>_<tag>)")
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "runs"))
    parser.add_argument("--unpruned_run", help="a finished `train` results dir of the same settings: measure from there")
    args = parser.parse_args()
    if not BCCD.is_dir():
        sys.exit(f"{BCCD} not found: this benchmark needs ../shared/data/bccd")
    from tao_cv.tasks import ADAPTERS

    net = ADAPTERS[args.network]
    name = f"bccd_{args.network}" + (f"_{args.tag}" if args.tag else "")
    work = Path(args.work) / name
    out = ROOT / "benchmarks" / "results" / f"{name}.json"
    if args.add_unpruned_int8:  # latency: detection_table.py times it with the others
        result = json.loads(out.read_text())
        result["unpruned_int8"] = {**unpruned_int8(args.network, work / "spec.yaml", work, work / "unpruned" / "weights"
                                                   / "best.pth", work / "converted" / "index.json"),
                                   "macs": result["unpruned"]["macs"]}
        result["onnx"]["unpruned_int8"] = str(work / "unpruned_int8.onnx")
        out.write_text(json.dumps(result, indent=2) + "\n")
        return
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "spec.yaml"
    source = (f"{{format: voc, image_dir: {BCCD / 'JPEGImages'}, label_dir: {BCCD / 'Annotations'}, "
              f"list_file: {BCCD / 'ImageSets' / 'Main'}/SPLIT.txt}}")
    post, extra_model = POSTPROCESSING[args.network], model_keys(args)
    spec.write_text(f"""dataset:
  train: [{source.replace('SPLIT', 'train')}]
  val: [{source.replace('SPLIT', 'val')}]
  test: [{source.replace('SPLIT', 'test')}]
  image_width: {args.width}
  image_height: {args.height}
  num_workers: 2
  augmentation: {{horizontal_flip: 0.5, vertical_flip: 0.5, brightness: 0.1, contrast: 0.1, saturation: 0.1}}
model: {{backbone: {args.backbone}, pretrained: {args.pretrained or 'null'}{extra_model}}}
{post}
train: {{num_epochs: {args.epochs}, batch_size: {args.batch_size}, optimizer: {{name: adamw, lr: {args.lr}, weight_decay: 0.0001}}, lr_scheduler: {{name: cosine, warmup_epochs: 1}}, resume: false}}
evaluate: {{split: test, batch_size: 8}}
export: {{cal_batches: 8, cal_batch_size: 8}}
""")
    result = {"network": args.network, "backbone": args.backbone, "pretrained": args.pretrained,
              "input": [args.width, args.height], "epochs": args.epochs, "retrain_epochs": args.retrain_epochs,
              "command": " ".join([Path(sys.executable).name, *sys.argv]), "threads": torch.get_num_threads(),
              "cpu": cpu_summary()}
    tao(args.network, "dataset_convert", "-d", spec, "-o", work / "converted")
    index = work / "converted" / "index.json"
    if args.network.startswith("yolo_v4"):  # anchors from the training boxes, into the spec
        tao(args.network, "kmeans", "-e", spec, "-o", work / "anchors.yaml", f"dataset.index={index}")
        import yaml

        written = yaml.safe_load(spec.read_text())
        written["model"].update(yaml.safe_load((work / "anchors.yaml").read_text())["model"])
        spec.write_text(yaml.safe_dump(written, sort_keys=False))
        result["anchors"] = yaml.safe_load((work / "anchors.yaml").read_text())["model"]
    unpruned_run = Path(args.unpruned_run) if args.unpruned_run else work / "unpruned"
    if not args.unpruned_run:
        _, seconds = tao(args.network, "train", "-e", spec, "-r", unpruned_run, f"dataset.index={index}")
        result["train_wall_s"] = round(seconds, 1)
    log = list(csv.DictReader((unpruned_run / "training_log.csv").open()))
    result["val_mAP_per_epoch"] = [float(r["val_mAP"]) for r in log]
    result["train_seconds_per_epoch"] = [float(r["seconds"]) for r in log]
    best = unpruned_run / "weights" / "best.pth"
    hw = (args.height, args.width)

    tao(args.network, "export", "-m", best, "-o", work / "unpruned.onnx", "-e", spec)
    result["unpruned"] = {**evaluate(args.network, spec, work / "unpruned.onnx", work / "eval_unpruned", index),
                          "macs": count_macs(model_from_checkpoint(read_checkpoint(best), net.rebuild), hw)}
    if net.int8_export:
        result["unpruned_int8"] = {**unpruned_int8(args.network, spec, work, best, index),
                                   "macs": result["unpruned"]["macs"]}
    if args.unpruned_only:
        print(json.dumps(result, indent=2))
        return
    tao(args.network, "prune", "-m", best, "-o", work / "pruned" / "model.pth", "--target_macs_ratio",
        args.target_macs_ratio)
    result["prune"] = json.loads((work / "pruned" / "prune_report.json").read_text())["target"]
    tao(args.network, "train", "-e", spec, "-r", work / "retrain", f"dataset.index={index}",
        f"model.pruned_model={work / 'pruned' / 'model.pth'}", "model.pretrained=null",
        f"train.num_epochs={args.retrain_epochs}")
    retrained = work / "retrain" / "weights" / "best.pth"
    tao(args.network, "export", "-m", retrained, "-o", work / "pruned.onnx", "-e", spec)
    pruned_macs = count_macs(model_from_checkpoint(read_checkpoint(retrained), net.rebuild), hw)
    result["pruned"] = {**evaluate(args.network, spec, work / "pruned.onnx", work / "eval_pruned", index),
                        "macs": pruned_macs}
    keys, paths = ["unpruned", "pruned"], [work / "unpruned.onnx", work / "pruned.onnx"]
    if net.int8_export:
        keys.insert(1, "unpruned_int8")
        paths.insert(1, work / "unpruned_int8.onnx")
        tao(args.network, "export", "-m", retrained, "-o", work / "pruned_int8.onnx", "-e", spec, "--data_type", "int8",
            f"dataset.index={index}")  # calibrated on the training split
        result["int8"] = {**evaluate(args.network, spec, work / "pruned_int8.onnx", work / "eval_int8", index),
                          "macs": pruned_macs}
        keys.append("int8")
        paths.append(work / "pruned_int8.onnx")
    batches = ((1, 6, 5),) if net.export_batch else ((1, 6, 5), (8, 6, 2))  # a batch-1 graph is timed at 1
    for batch, rounds, runs in batches:
        for key, ms in zip(keys, ort_latencies_ms(paths, hw, batch, rounds, runs)):
            result[key][f"b{batch}_ms"] = round(ms, 2)
    reference = "b1_ms" if net.export_batch else "b8_ms"
    for key in keys[1:]:
        result[key][f"speedup_{reference[:2]}_vs_unpruned"] = round(result["unpruned"][reference] / result[key][reference], 2)
    result["onnx"] = {key: str(path) for key, path in zip(keys, paths)}  # for detection_table.py's side-by-side timing
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"\n| {args.network} | mAP@0.5 | RBC | WBC | Platelets | COCO mAP | MACs | ORT b1 ms | ORT b8 ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key in keys:
        r, ap = result[key], result[key]["per_class_AP_50"]
        b8 = f"{r['b8_ms']:.1f}" if "b8_ms" in r else "—"
        print(f"| {key} | {r['mAP_50']:.3f} | {ap.get('rbc', 0):.3f} | {ap.get('wbc', 0):.3f} | "
              f"{ap.get('platelets', 0):.3f} | {r['coco_mAP_50_95']:.3f} | {r['macs'] / 1e9:.2f} G | "
              f"{r['b1_ms']:.1f} | {b8} |")


if __name__ == "__main__":
    main()
