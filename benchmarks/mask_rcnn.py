"""Mask R-CNN, everything through the CLI, on two data sets:

- `sample`: the generated shapes (`tao mask_rcnn generate_sample`, 240 / 40 / 40 images at 128²);
- `isbi`: real instances made from ../shared/data/isbi_membrane (the 20 / 5 / 5 split): each connected region of
  cell interior (mask value 255, 4-connectivity, at least 30 pixels at 512²) is one instance of class `cell` —
  about 125 per image, touching only through membranes. Written as COCO JSON with RLE masks (needs scipy for the
  labelling; the toolkit itself does not).

Per data set: the EfficientNet-Lite0 (ImageNet) Mask R-CNN trained, evaluated (COCO box and mask AP on the test
split) as .pth and as ONNX, pruned (Taylor importance, -pth) and retrained, and one `tao mask_rcnn benchmark`
table of all three (mask AP, size, latency at batch 1 and 4 on this CPU).

  .venv/bin/python benchmarks/mask_rcnn.py --dataset sample|isbi [--epochs N] [--work DIR]
writes benchmarks/results/mask_rcnn_<dataset>.json and the benchmark table beside it.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "containers" / "cv"), str(ROOT / "containers" / "common")]
ISBI = ROOT.parent / "shared" / "data" / "isbi_membrane"
TAO = str(ROOT / ".venv" / "bin" / "tao")

SETTINGS = {  # per data set: input size, epochs, the model keys that differ
    "sample": {"size": 128, "epochs": 20, "model": "anchor_sizes: [8, 16, 32, 64, 128], test_detections_per_image: 20"},
    "isbi": {"size": 256, "epochs": 60,
             "model": "anchor_sizes: [8, 16, 32, 64, 128], test_detections_per_image: 200, "
                      "test_rpn_pre_nms_topn: 2000, test_rpn_post_nms_topn: 1000"},
}


def tao(*args):
    start = time.time()
    result = subprocess.run([TAO, *map(str, args)], env={**os.environ, "TAO_DOCKER_DISABLE": "1", "COLUMNS": "200"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        sys.exit(f"tao {' '.join(map(str, args))} failed:\n{result.stdout}")
    return result.stdout, time.time() - start


def isbi_instances(data):
    """ISBI's cell regions as COCO instance files, one per split (images linked, not copied)."""
    import numpy as np
    from PIL import Image
    from scipy import ndimage

    from tao_inference.data.coco_instances import encode_mask

    for split in ("train", "val", "test"):
        folder = data / split / "images"
        folder.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for number, stem in enumerate((ISBI / "splits" / f"{split}.txt").read_text().split(), start=1):
            link = folder / f"{stem}.png"
            if not link.exists():
                link.symlink_to(ISBI / "images" / f"{stem}.png")
            cells = np.asarray(Image.open(ISBI / "masks" / f"{stem}.png")) > 127
            labels, count = ndimage.label(cells)  # 4-connectivity: membranes separate the cells
            images.append({"id": number, "file_name": f"{stem}.png", "width": cells.shape[1], "height": cells.shape[0]})
            for region in range(1, count + 1):
                mask = labels == region
                area = int(mask.sum())
                if area < 30:
                    continue
                ys, xs = np.nonzero(mask)
                annotations.append({"id": len(annotations) + 1, "image_id": number, "category_id": 1, "iscrowd": 0,
                                    "area": area, "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                                           int(ys.max() - ys.min() + 1)],
                                    "segmentation": encode_mask(mask)})
        (data / split / "annotations.json").write_text(json.dumps(
            {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "cell"}]}))


def write_spec(work, dataset, size, epochs):
    data = work / "data"
    spec = work / "spec.yaml"
    sources = "\n".join(f"  {split}: [{{image_dir: {data}/{split}/images, annotation_file: {data}/{split}/annotations.json}}]"
                        for split in ("train", "val", "test"))
    spec.write_text(f"""dataset:
{sources}
  image_width: {size}
  image_height: {size}
  max_num_instances: 200
  num_workers: 2
  augmentation: {{horizontal_flip: 0.5, vertical_flip: {0.5 if dataset == 'isbi' else 0.0}, brightness: 0.1,
                 contrast: 0.1, saturation: 0.1}}
model: {{backbone: efficientnet_lite0, pretrained: imagenet, freeze_bn: true, fpn_channels: 64,
        fast_rcnn_mlp_head_dim: 256, {SETTINGS[dataset]['model']}}}
train: {{num_epochs: {epochs}, batch_size: 4, optimizer: {{name: adamw, lr: 0.001, weight_decay: 0.0001}},
        lr_scheduler: {{name: cosine, warmup_epochs: 1}}, seed: 1}}
evaluate: {{split: test, batch_size: 4}}
""")
    return spec


def evaluation(folder):
    metrics = json.loads((folder / "evaluation.json").read_text())
    return {kind: {k: round(metrics[kind][k], 4) for k in ("AP", "AP50", "AP75", "AR100")} for kind in ("box", "mask")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", choices=sorted(SETTINGS), required=True)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--retrain_epochs", type=int)
    parser.add_argument("--pth", type=float, default=0.3, help="the pruning threshold (Taylor importance)")
    parser.add_argument("--work")
    args = parser.parse_args()
    setting = SETTINGS[args.dataset]
    epochs = args.epochs or setting["epochs"]
    work = Path(args.work or ROOT / "benchmarks" / "runs" / f"mask_rcnn_{args.dataset}")
    if args.dataset == "isbi":
        isbi_instances(work / "data")
    elif not (work / "data").is_dir():
        tao("mask_rcnn", "generate_sample", "-o", work / "data", "--count", "240,40,40", "--image_size", setting["size"])
    spec = write_spec(work, args.dataset, setting["size"], epochs)
    out, _ = tao("mask_rcnn", "dataset_convert", "-d", spec, "-o", work / "converted")
    stats = json.loads((work / "converted" / "statistics.json").read_text())
    rows = {}
    shutil.rmtree(work / "train", ignore_errors=True)
    _, train_s = tao("mask_rcnn", "train", "-e", spec, "-r", work / "train")
    best = work / "train" / "weights" / "best.pth"
    tao("mask_rcnn", "export", "-m", best, "-o", work / "model.onnx")
    for name, model in (("pth", best), ("onnx", work / "model.onnx")):
        tao("mask_rcnn", "evaluate", "-e", spec, "-m", model, "-r", work / f"eval_{name}")
        rows[name] = evaluation(work / f"eval_{name}")
    rows["pth"]["train_s"] = round(train_s)
    tao("mask_rcnn", "prune", "-m", best, "-o", work / "pruned" / "model.pth", "-pth", args.pth, "--criterion", "taylor",
        "-e", spec)
    report = json.loads((work / "pruned" / "prune_report.json").read_text())
    shutil.rmtree(work / "retrain", ignore_errors=True)
    _, retrain_s = tao("mask_rcnn", "train", "-e", spec, "-r", work / "retrain",
                       f"model.pruned_model={work / 'pruned' / 'model.pth'}", "model.pretrained=null",
                       f"train.num_epochs={args.retrain_epochs or epochs}")
    retrained = work / "retrain" / "weights" / "best.pth"
    tao("mask_rcnn", "export", "-m", retrained, "-o", work / "pruned.onnx")
    tao("mask_rcnn", "evaluate", "-e", spec, "-m", work / "pruned.onnx", "-r", work / "eval_pruned")
    rows["pruned_onnx"] = {**evaluation(work / "eval_pruned"), "retrain_s": round(retrain_s),
                           "params_ratio": round(report["params_after"] / report["params_before"], 3),
                           "macs_ratio": round(report["macs_after"] / report["macs_before"], 3)}
    table, _ = tao("mask_rcnn", "benchmark", "-e", spec, "-m", best, "-m", work / "model.onnx", "-m",
                   work / "pruned.onnx", "--batch_size", "4", "--runs", "10", "-r", work / "benchmark")
    results = ROOT / "benchmarks" / "results"
    shutil.copy(work / "benchmark" / "benchmark.md", results / f"mask_rcnn_{args.dataset}_benchmark.md")
    from tao_cv.engine.profile import cpu_summary

    result = {"command": " ".join(sys.argv), "cpu": cpu_summary(), "size": setting["size"], "epochs": epochs,
              "data": {split: stats[split] for split in ("train", "val", "test")}, "rows": rows}
    (results / f"mask_rcnn_{args.dataset}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print(table)


if __name__ == "__main__":
    main()
