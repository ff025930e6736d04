"""Does pruning keep its accuracy on a small, hard real transfer set? (issue 18)

Sign digits at --per_class training images per class (10 classes; --val_per_class for validation, picked from
train.txt with a fixed seed), the full test.txt (310 images) for the numbers; ImageNet EfficientNet-Lite0 at 160².
Side by side in one run, all through the real CLI:
  unpruned fine-tune; for each --targets MACs ratio (prune --target_macs_ratio): TAO's L2 pruning + plain retrain,
  + distillation from the unpruned model, and the other criteria (--criteria) + distillation;
  each exported FP32 and INT8 (calibrated on the training split through -e), evaluated with ONNX Runtime on test,
  and timed side by side at batch 1 and 16.
Extra retrain variants (the recipe probe) come from --probes, e.g. `lr0.3` (a third of the rate), `ep2x` (twice
the epochs), `nowarm` (no warm-up), `alpha0.9`, `t1`, each on the first target with --probe_criterion +
distillation (`ep2x_plain`: the same without it).

  .venv/bin/python benchmarks/prune_recovery.py --work benchmarks/runs/prune_recovery
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

from classification_sign_digits import DATA, ROOT, measure_latencies, tao
from tao_cv.engine.profile import cpu_summary


def write_lists(work, per_class, val_per_class, seed):
    """Small train/val lists drawn from train.txt (per class, fixed seed); the published test.txt for test."""
    rng = random.Random(seed)
    by_class = {}
    for line in (DATA / "splits" / "train.txt").read_text().split():
        by_class.setdefault(line.split("/")[0], []).append(line)
    train, val = [], []
    for name in sorted(by_class):
        chosen = rng.sample(sorted(by_class[name]), per_class + val_per_class)
        train += chosen[:per_class]
        val += chosen[per_class:]
    lists = work / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "train.txt").write_text("\n".join(train) + "\n")
    (lists / "val.txt").write_text("\n".join(val) + "\n")
    return lists


def write_spec(work, lists, args):
    spec = work / "spec.yaml"
    spec.write_text(f"""\
dataset:
  image_root: {DATA / 'Dataset'}
  train_list: {lists / 'train.txt'}
  val_list: {lists / 'val.txt'}
  test_list: {DATA / 'splits' / 'test.txt'}
  image_size: 160
  num_workers: 2
model:
  backbone: efficientnet_lite0
  pretrained: imagenet
train:
  num_epochs: {args.epochs}
  batch_size: 16
  seed: {args.seed}
  optimizer: {{name: adamw, lr: {args.lr}, weight_decay: 0.05}}
  lr_scheduler: {{name: cosine, warmup_epochs: 1}}
  label_smoothing: {args.label_smoothing}
evaluate: {{split: test}}
export: {{cal_batches: 10, cal_batch_size: 8}}
""")
    return spec


PROBES = {"lr0.3": lambda a: [f"train.optimizer.lr={a.lr * 0.3:g}"],
          "ep2x": lambda a: [f"train.num_epochs={a.retrain_epochs * 2}"],
          "nowarm": lambda a: ["train.lr_scheduler.warmup_epochs=0"],
          "alpha0.9": lambda a: ["train.distillation.alpha=0.9"],
          "t1": lambda a: ["train.distillation.temperature=1"]}


def export_and_evaluate(spec, work, name, checkpoint):
    """FP32 and INT8 ONNX of `checkpoint`, evaluated on test (a rerun reuses what an earlier run left)."""
    if not (work / f"eval_{name}_int8" / "evaluation.json").is_file():
        tao("export", "-m", checkpoint, "-o", work / f"{name}.onnx")
        tao("export", "-m", checkpoint, "-o", work / f"{name}_int8.onnx", "--data_type", "int8", "-e", spec)
        for key in (name, f"{name}_int8"):
            tao("evaluate", "-e", spec, "-m", work / f"{key}.onnx", "-r", work / f"eval_{key}")
    return {key: {"top1": json.loads((work / f"eval_{key}" / "evaluation.json").read_text())["top1"]}
            for key in (name, f"{name}_int8")}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "runs" / "prune_recovery")
    parser.add_argument("--per_class", type=int, default=20)
    parser.add_argument("--val_per_class", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--retrain_epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--label_smoothing", type=float, default=0.1, help="of every training run (teacher too)")
    parser.add_argument("--targets", default="0.5,0.35")
    parser.add_argument("--criteria", default="taylor,bn_scale")
    parser.add_argument("--plain_criteria", default="", help="criteria also retrained without distillation")
    parser.add_argument("--probes", default="")
    parser.add_argument("--probe_criterion", default="l2")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "prune_recovery.json")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    spec = write_spec(work, write_lists(work, args.per_class, args.val_per_class, seed=0), args)
    start = time.perf_counter()

    unpruned = work / "unpruned" / "weights" / "best.pth"
    if not unpruned.is_file():
        tao("train", "-e", spec, "-r", work / "unpruned")
    results = export_and_evaluate(spec, work, "unpruned", unpruned)
    targets = [float(t) for t in args.targets.split(",")]
    retrain = [f"train.num_epochs={args.retrain_epochs}", "model.pretrained=null"]
    runs = []  # (name, criterion, target, distill, extra overrides)
    for target in targets:
        runs.append((f"l2_{target}_plain", "l2", target, False, []))
        runs.append((f"l2_{target}_kd", "l2", target, True, []))
        runs += [(f"{c}_{target}_kd", c, target, True, []) for c in args.criteria.split(",") if c]
        runs += [(f"{c}_{target}_plain", c, target, False, []) for c in args.plain_criteria.split(",") if c]
    for probe in filter(None, args.probes.split(",")):  # PROBE_plain: the same without distillation
        name, distill = probe.removesuffix("_plain"), not probe.endswith("_plain")
        runs.append((f"{args.probe_criterion}_{targets[0]}_{'kd' if distill else 'plain'}_{name}", args.probe_criterion,
                     targets[0], distill, PROBES[name](args)))
    for name, criterion, target, distill, extra in runs:
        pruned = work / f"pruned_{criterion}_{target}" / "model.pth"
        if not pruned.is_file():
            output, _ = tao("prune", "-m", unpruned, "-o", pruned, "--target_macs_ratio", target, "--criterion",
                            criterion, "-e", spec)
        report = json.loads((pruned.parent / "prune_report.json").read_text())
        best = work / name / "weights" / "best.pth"
        if not best.is_file():
            kd = [f"train.distillation.teacher={unpruned}"] if distill else []
            tao("train", "-e", spec, "-r", work / name, f"model.pruned_model={pruned}", *retrain, *kd, *extra)
        results.update(export_and_evaluate(spec, work, name, best))
        for key in (name, f"{name}_int8"):
            results[key].update(macs_ratio=round(report["macs_after"] / report["macs_before"], 3),
                                pth=round(report["settings"]["pth"], 4))
    measure_latencies(results, {key: work / f"{key}.onnx" for key in results}, 160)
    base = results["unpruned"]
    for key, row in results.items():
        row["speedup_b1"] = round(base["b1_ms"] / row["b1_ms"], 2)
        row["speedup_b16"] = round(base["b16_ms"] / row["b16_ms"], 2)
    summary = {"command": " ".join(sys.argv), "cpu": cpu_summary(), "minutes": round((time.perf_counter() - start) / 60, 1),
               "data": f"sign digits, {args.per_class} train + {args.val_per_class} val per class from train.txt "
                       "(seed 0), test.txt (310)", "seed": args.seed, "label_smoothing": args.label_smoothing, "results": results}
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print("| model | MACs ratio | test top-1 | b1 ms | b16 ms | speed-up b1 / b16 |\n|---|---|---|---|---|---|")
    for key, row in results.items():
        print(f"| {key} | {row.get('macs_ratio', 1.0)} | {row['top1']:.4f} | {row['b1_ms']:.2f} | {row['b16_ms']:.1f} "
              f"| {row['speedup_b1']} / {row['speedup_b16']} |")


if __name__ == "__main__":
    main()
