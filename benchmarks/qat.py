"""Quantization-aware training vs post-training INT8 at equal total epochs (issue 23), through the real CLI.

Two models, each side by side in one run, test top-1 on sign digits' test.txt (310 images) with ONNX Runtime:
  * resnet18 from scratch at 64² on the full sign-digit train split: (a) --epochs float -> calibrated INT8 (PTQ);
    (b) --epochs minus --qat_epochs float, then --qat_epochs of QAT fine-tuning from it (lr x --qat_lr_scale) ->
    its Q/DQ export (no calibration);
  * EfficientNet-Lite0 (ImageNet) fine-tuned on 20 images per class at 160², pruned by TAO's L2 criterion to
    --target_macs_ratio, then retrained --retrain_epochs either plainly -> PTQ (export's `auto` first/last rule,
    and `never`: every layer quantized) or with train.enable_qat -> its Q/DQ export.
Every ONNX model is timed side by side (batch 1 and 16). Writes benchmarks/results/qat.json, prints a table.

  .venv/bin/python benchmarks/qat.py --work benchmarks/runs/qat
"""

import argparse
import json
import sys
import time
from pathlib import Path

from classification_sign_digits import DATA, ROOT, measure_latencies, tao
from prune_recovery import write_lists
from tao_cv.engine.profile import cpu_summary


def spec_text(dataset, model, train, image_size):
    return f"""dataset:
{dataset}
  image_size: {image_size}
  num_workers: 2
model: {model}
train: {train}
evaluate: {{split: test}}
export: {{cal_batches: 10, cal_batch_size: 8}}
"""


def evaluate(spec, work, name, checkpoint, int8_mode=None, export_args=()):
    """Export `checkpoint` (fp32, or int8: PTQ from a float checkpoint, the Q/DQ graph of a QAT one), evaluate on
    test; reuses what an earlier run left."""
    onnx = work / f"{name}.onnx"
    result = work / f"eval_{name}" / "evaluation.json"
    if not result.is_file():
        flags = ["--data_type", "int8", "-e", spec, *export_args] if int8_mode else []
        output, _ = tao("export", "-m", checkpoint, "-o", onnx, *flags)
        tao("evaluate", "-e", spec, "-m", onnx, "-r", work / f"eval_{name}")
        (work / f"export_{name}.txt").write_text(output)
    return {"top1": json.loads(result.read_text())["top1"],
            "export": (work / f"export_{name}.txt").read_text().strip().splitlines()[-1][:300]}


def train(spec, run, *overrides):
    best = run / "weights" / "best.pth"
    if not best.is_file():
        tao("train", "-e", spec, "-r", run, *overrides)
    return best


def resnet18_arm(args, work):
    work.mkdir(parents=True, exist_ok=True)
    splits = DATA / "splits"
    dataset = (f"  image_root: {DATA / 'Dataset'}\n  train_list: {splits / 'train.txt'}\n"
               f"  val_list: {splits / 'val.txt'}\n  test_list: {splits / 'test.txt'}")
    spec = work / "spec.yaml"
    spec.write_text(spec_text(dataset, "{backbone: resnet18}",
                              f"{{num_epochs: {args.epochs}, batch_size: 32, optimizer: {{name: sgd, lr: 0.05, "
                              "weight_decay: 0.0005}, lr_scheduler: {name: cosine, warmup_epochs: 1}}", 64))
    results = {}
    full = train(spec, work / "float")
    results["resnet18_fp32"] = evaluate(spec, work, "resnet18_fp32", full)
    results["resnet18_ptq"] = evaluate(spec, work, "resnet18_ptq", full, int8_mode="ptq")
    shorter = train(spec, work / "float_short", f"train.num_epochs={args.epochs - args.qat_epochs}")
    qat = train(spec, work / "qat", f"model.pruned_model={shorter}", f"train.num_epochs={args.qat_epochs}",
                f"train.optimizer.lr={0.05 * args.qat_lr_scale:g}", "train.lr_scheduler.warmup_epochs=0",
                "train.enable_qat=true")
    results["resnet18_qat"] = evaluate(spec, work, "resnet18_qat", qat, int8_mode="qat")
    return results


def lite0_arm(args, work):
    work.mkdir(parents=True, exist_ok=True)
    lists = write_lists(work, 20, 10, seed=0)
    dataset = (f"  image_root: {DATA / 'Dataset'}\n  train_list: {lists / 'train.txt'}\n"
               f"  val_list: {lists / 'val.txt'}\n  test_list: {DATA / 'splits' / 'test.txt'}")
    spec = work / "spec.yaml"
    spec.write_text(spec_text(dataset, "{backbone: efficientnet_lite0, pretrained: imagenet}",
                              f"{{num_epochs: {args.retrain_epochs}, batch_size: 16, seed: 1, optimizer: {{name: adamw, "
                              "lr: 0.002, weight_decay: 0.05}, lr_scheduler: {name: cosine, warmup_epochs: 1}, "
                              "label_smoothing: 0.1}", 160))
    unpruned = train(spec, work / "unpruned")
    pruned = work / "pruned" / "model.pth"
    if not pruned.is_file():
        tao("prune", "-m", unpruned, "-o", pruned, "--target_macs_ratio", args.target_macs_ratio)
    report = json.loads((pruned.parent / "prune_report.json").read_text())
    retrain = [f"model.pruned_model={pruned}", "model.pretrained=null"]
    plain = train(spec, work / "retrain", *retrain)
    qat = train(spec, work / "retrain_qat", *retrain, "train.enable_qat=true")
    results = {"lite0_unpruned_fp32": evaluate(spec, work, "lite0_unpruned_fp32", unpruned),
               "lite0_pruned_fp32": evaluate(spec, work, "lite0_pruned_fp32", plain),
               "lite0_pruned_ptq": evaluate(spec, work, "lite0_pruned_ptq", plain, int8_mode="ptq"),
               "lite0_pruned_ptq_all_layers": evaluate(spec, work, "lite0_pruned_ptq_all_layers", plain, "ptq",
                                                       ["export.int8_fp32_first_last=never"]),
               "lite0_pruned_qat": evaluate(spec, work, "lite0_pruned_qat", qat, int8_mode="qat")}
    ratio = round(report["macs_after"] / report["macs_before"], 3)
    for key in results:
        if key.startswith("lite0_pruned"):
            results[key]["macs_ratio"] = ratio
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "runs" / "qat")
    parser.add_argument("--epochs", type=int, default=10, help="resnet18: total epochs of both arms")
    parser.add_argument("--qat_epochs", type=int, default=3, help="resnet18: the last epochs, as QAT fine-tuning")
    parser.add_argument("--qat_lr_scale", type=float, default=0.1, help="resnet18: QAT fine-tuning lr / training lr")
    parser.add_argument("--retrain_epochs", type=int, default=15, help="lite0: fine-tune and retrain epochs")
    parser.add_argument("--target_macs_ratio", type=float, default=0.35)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "qat.json")
    args = parser.parse_args()
    work = args.work.resolve()
    start = time.perf_counter()
    results = {}
    arms = {"resnet18": (resnet18_arm, 64), "lite0": (lite0_arm, 160)}
    for name, (arm, size) in arms.items():
        found = arm(args, work / name)
        measure_latencies(found, {key: work / name / f"{key}.onnx" for key in found}, size)
        results.update(found)
    summary = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "cpu": cpu_summary(),
               "minutes": round((time.perf_counter() - start) / 60, 1), "results": results}
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"CPU: {summary['cpu']}\n\n| model | MACs ratio | test top-1 | ORT b1 ms | ORT b16 ms |\n|---|---|---|---|---|")
    for key, row in results.items():
        print(f"| {key} | {row.get('macs_ratio', 1.0)} | {row['top1']:.4f} | {row['b1_ms']:.2f} | {row['b16_ms']:.1f} |")


if __name__ == "__main__":
    main()
