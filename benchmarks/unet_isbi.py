"""UNet on ISBI membranes (../shared/data/isbi_membrane: 20 / 5 / 5, 512x512 grayscale, 0/255 masks), side by side,
everything through the CLI: the ImageNet EfficientNet-Lite0 encoder vs vanilla_unet from scratch (test mIoU,
pixel accuracy, training time, ONNX Runtime latency at 256² and 512²), then the EfficientNet-Lite0 UNet pruned to
--target_macs_ratio (Taylor importance) and retrained, and its INT8 model.

  .venv/bin/python benchmarks/unet_isbi.py [--epochs 40] [--size 256] [--work benchmarks/runs/unet_isbi]
writes benchmarks/results/unet_isbi.json.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "containers" / "cv"), str(ROOT / "containers" / "common")]
DATA = ROOT.parent / "shared" / "data" / "isbi_membrane"
TAO = str(ROOT / ".venv" / "bin" / "tao")


def tao(*args):
    start = time.time()
    result = subprocess.run([TAO, *map(str, args)], env={**os.environ, "TAO_DOCKER_DISABLE": "1", "COLUMNS": "200"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        sys.exit(f"tao {' '.join(map(str, args))} failed:\n{result.stdout}")
    return result.stdout, time.time() - start


def split_folders(work):
    """The published split as image/mask folders of symlinks (TAO's layout)."""
    for split in ("train", "val", "test"):
        for kind in ("images", "masks"):
            folder = work / "data" / split / kind
            folder.mkdir(parents=True, exist_ok=True)
            for stem in (DATA / "splits" / f"{split}.txt").read_text().split():
                link = folder / f"{stem}.png"
                if not link.exists():
                    link.symlink_to(DATA / kind / f"{stem}.png")


def write_spec(work, backbone, size, epochs):
    data = work / "data"
    pretrained = "imagenet" if backbone == "efficientnet_lite0" else "null"
    spec = work / f"{backbone}.yaml"
    spec.write_text(f"""dataset:
  train_images_path: {data}/train/images
  train_masks_path: {data}/train/masks
  val_images_path: {data}/val/images
  val_masks_path: {data}/val/masks
  test_images_path: {data}/test/images
  test_masks_path: {data}/test/masks
  image_width: {size}
  image_height: {size}
  input_image_type: grayscale
  num_workers: 2
  data_class_config:
    target_classes: [{{name: membrane, label_id: 0}}, {{name: cell, label_id: 1}}]
  augmentation: {{horizontal_flip: 0.5, vertical_flip: 0.5, rotation_degrees: 10, crop_and_resize_prob: 0.5,
                 brightness: 0.1, contrast: 0.1}}
model: {{backbone: {backbone}, pretrained: {pretrained}, loss: cross_entropy_dice}}
train: {{num_epochs: {epochs}, batch_size: 4, optimizer: {{name: adamw, lr: 0.002, weight_decay: 0.0001}},
        lr_scheduler: {{name: cosine, warmup_epochs: 2}}, seed: 1}}
evaluate: {{split: test, batch_size: 4}}
export: {{cal_batches: 5, cal_batch_size: 4}}
""")
    return spec


def evaluation(folder):
    metrics = json.loads((folder / "evaluation.json").read_text())
    return {"mIoU": round(metrics["mIoU"], 4), "pixel_accuracy": round(metrics["pixel_accuracy"], 4),
            "fwIoU": round(metrics["fwIoU"], 4)}


def latencies(onnx, size, checkpoint=None):
    """ONNX Runtime b1 latency of the exported model at its size, and (from the checkpoint, re-exported at that
    size for timing only: the network is fully convolutional) at 512²."""
    import tempfile

    import torch

    from tao_cv.engine.checkpoint import model_from_checkpoint, read_checkpoint
    from tao_cv.engine.profile import ort_latencies_ms
    from tao_cv.tasks import ADAPTERS

    result = {f"ort_ms_b1_{size}": round(ort_latencies_ms([onnx], size, 1)[0], 2)}
    if checkpoint is not None and size != 512:
        model = model_from_checkpoint(read_checkpoint(checkpoint), ADAPTERS["unet"].rebuild).eval()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m512.onnx"
            torch.onnx.export(model, (torch.zeros(1, 3, 512, 512),), str(path), opset_version=17, dynamo=False)
            result["ort_ms_b1_512"] = round(ort_latencies_ms([path], 512, 1)[0], 2)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--retrain_epochs", type=int, default=40)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--target_macs_ratio", type=float, default=0.5)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "runs" / "unet_isbi"))
    args = parser.parse_args()
    work = Path(args.work)
    split_folders(work)
    rows = {}
    for backbone in ("efficientnet_lite0", "vanilla_unet"):
        spec = write_spec(work, backbone, args.size, args.epochs)
        _, seconds = tao("unet", "train", "-e", spec, "-r", work / backbone)
        best = work / backbone / "weights" / "best.pth"
        tao("unet", "export", "-m", best, "-o", work / f"{backbone}.onnx")
        tao("unet", "evaluate", "-e", spec, "-m", work / f"{backbone}.onnx", "-r", work / f"eval_{backbone}")
        rows[backbone] = {**evaluation(work / f"eval_{backbone}"), "train_s": round(seconds),
                          **latencies(work / f"{backbone}.onnx", args.size, best)}
        print(backbone, rows[backbone], flush=True)
    spec = work / "efficientnet_lite0.yaml"
    out, _ = tao("unet", "prune", "-m", work / "efficientnet_lite0" / "weights" / "best.pth", "-o",
                 work / "pruned" / "model.pth", "--target_macs_ratio", args.target_macs_ratio, "--criterion", "taylor",
                 "-e", spec)
    report = json.loads((work / "pruned" / "prune_report.json").read_text())
    _, seconds = tao("unet", "train", "-e", spec, "-r", work / "retrain", f"model.pruned_model={work / 'pruned' / 'model.pth'}",
                     "model.pretrained=null", f"train.num_epochs={args.retrain_epochs}")
    retrained = work / "retrain" / "weights" / "best.pth"
    tao("unet", "export", "-m", retrained, "-o", work / "pruned.onnx")
    out_int8, _ = tao("unet", "export", "-m", retrained, "-o", work / "pruned_int8.onnx", "--data_type", "int8", "-e", spec)
    for name in ("pruned", "pruned_int8"):
        tao("unet", "evaluate", "-e", spec, "-m", work / f"{name}.onnx", "-r", work / f"eval_{name}")
        rows[name] = {**evaluation(work / f"eval_{name}"),
                      **latencies(work / f"{name}.onnx", args.size, retrained if name == "pruned" else None)}
    rows["pruned"].update({"macs_ratio": round(report["macs_after"] / report["macs_before"], 3), "retrain_s": round(seconds)})
    rows["pruned_int8"]["agreement"] = out_int8.strip().splitlines()[-1][-120:]
    result = {"command": " ".join(sys.argv), "size": args.size, "epochs": args.epochs, "rows": rows}
    out_file = ROOT / "benchmarks" / "results" / "unet_isbi.json"
    out_file.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
