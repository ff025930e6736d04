"""Classification benchmark on ../shared/data/sign_language_digits (split lists; numbers on test.txt).

For one backbone, all in one run on the same machine:
  1. our `tao classification train` (the real CLI) vs a bare PyTorch loop on the same model, batch, data
     pipeline and optimizer, run right before and right after ours: train images/s, ratio ours / bare;
  2. test top-1 of the trained model (ONNX FP32, i.e. as deployed), MACs, ONNX Runtime latency at batch 1 and 16;
  3. TAO-semantic pruning at the smallest -pth whose MACs fall to --target_macs_ratio, then retraining;
     the pruned model's top-1, MACs and latency;
  4. INT8 Q/DQ of the pruned model: top-1 and latency;
  5. with --bare_accuracy, the bare loop trained as long as ours with each seed: both final models' test top-1;
  6. with --ratio_pruner R, the reference the issue's bar was measured with, on the same trained model:
     Torch-Pruning at channel ratio R in every layer (group L2), retrained, exported and timed alongside.
The training and steps 2-6 run once per --seeds value (a different seed moves top-1 by about 1 pt on these 310 test images), each
in WORK/<backbone>/seed<N>; the summary gives mean, min and max over seeds.
Writes benchmarks/results/<backbone>.json (or --out) and prints a markdown table.

  .venv/bin/python benchmarks/classification_sign_digits.py --backbone resnet18 --image_size 64 \
      --epochs 10 --retrain_epochs 5
  .venv/bin/python benchmarks/classification_sign_digits.py --backbone efficientnet_lite0 --pretrained imagenet \
      --image_size 128 --epochs 8 --retrain_epochs 5 --optimizer adamw --lr 0.002
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from statistics import fmean
from pathlib import Path

import torch

from tao_cv.data.classification import ImageClassificationDataset
from tao_inference.data.image_lists import read_split_list
from tao_cv.data.transforms import eval_transform, train_transform
from tao_cv.engine.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
from tao_cv.engine.profile import count_macs, cpu_summary, ort_latencies_ms
from tao_cv.engine.trainer import build_optimizer, build_scheduler
from tao_cv.models.registry import classifier_head
from tao_inference.spec.schemas import AugmentationSpec, OptimizerSpec, SchedulerSpec
from tao_cv.tasks import ADAPTERS

CLASSIFICATION = ADAPTERS["classification"]
rebuild = CLASSIFICATION.rebuild

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sign_language_digits"
TAO = str(Path(sys.executable).parent / "tao")


def tao(*args):
    start = time.perf_counter()
    result = subprocess.run([TAO, "classification", *map(str, args)], env={**os.environ, "TAO_DOCKER_DISABLE": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        sys.exit(f"tao {' '.join(map(str, args))} failed:\n{result.stdout}")
    return result.stdout, time.perf_counter() - start


def training_images_folder(folder):
    """A folder of links to the training split's images: INT8 calibration must not see the test images."""
    folder.mkdir(parents=True, exist_ok=True)
    for line in (DATA / "splits" / "train.txt").read_text().split():
        link = folder / line.replace("/", "_")
        if not link.is_symlink():
            link.symlink_to(DATA / "Dataset" / line)
    return folder


def bare_pytorch_train(args, epochs, seed=0, mix_batch=None, after_step=None):
    """The reference: a plain PyTorch loop on the same model, data pipeline, optimizer and schedule.
    Returns the trained model and its images/s per epoch. Recipe probes (probe_recipe.py) pass
    `mix_batch(x, y) -> (x, y)` (e.g. mixup) and `after_step(model)` (e.g. a weight average's update)."""
    from tao_cv.models import build_classifier

    torch.manual_seed(seed)
    model = build_classifier(args.backbone, 10, 0.2)
    aug = AugmentationSpec(random_resized_crop_scale=[args.crop_scale_min, 1.0], horizontal_flip=args.horizontal_flip,
                           rotation_degrees=args.rotation_degrees, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)
    meta = model_meta_for(args)
    samples = read_split_list(DATA / "Dataset", DATA / "splits" / "train.txt", "train")
    classes = sorted({c for _, c in samples})
    dataset = ImageClassificationDataset(samples, classes, train_transform(args.image_size, meta.mean, meta.std, aug))
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=2,
                                         persistent_workers=True, drop_last=True)
    optimizer = build_optimizer(model.parameters(), OptimizerSpec(name=args.optimizer, lr=args.lr, weight_decay=args.weight_decay))
    scheduler = build_scheduler(optimizer, SchedulerSpec(name="cosine", warmup_epochs=1), len(loader), epochs)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    rates = []
    for _ in range(epochs):
        model.train()
        seen, start = 0, time.perf_counter()
        for x, y in loader:
            if mix_batch is not None:
                x, y = mix_batch(x, y)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            if after_step is not None:
                after_step(model)
            seen += x.shape[0]
        rates.append(seen / (time.perf_counter() - start))
    return model, rates


def bare_test_top1(args, model):
    """Test top-1 of a bare-loop model, in plain PyTorch."""
    meta = model_meta_for(args)
    samples = read_split_list(DATA / "Dataset", DATA / "splits" / "test.txt", "test")
    classes = sorted({c for _, c in samples})
    dataset = ImageClassificationDataset(samples, classes, eval_transform(args.image_size, meta.mean, meta.std))
    correct = 0
    model.eval()
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(dataset, batch_size=64):
            correct += (model(x).argmax(1) == y).sum().item()
    return correct / len(dataset)


def seed_list(text):
    """--seeds: comma-separated integers (argparse names this function when one is not)."""
    return [int(x) for x in text.split(",")]


def model_meta_for(args):
    from tao_inference.spec.schemas import ClassificationSpec

    spec = ClassificationSpec()
    spec.model.backbone, spec.dataset.image_size = args.backbone, args.image_size
    return CLASSIFICATION.model_info(spec, [str(i) for i in range(10)])


def evaluate(spec, model_path, out_dir):
    tao("evaluate", "-e", spec, "-m", model_path, "-r", out_dir)
    return json.loads((Path(out_dir) / "evaluation.json").read_text())["top1"]


def ratio_prune(checkpoint, image_size, ratio, output):
    """The hand-measured reference's pruner: Torch-Pruning with the same channel ratio in every layer, group L2."""
    import torch_pruning as tp

    payload = read_checkpoint(checkpoint)
    model = model_from_checkpoint(payload, rebuild).eval()
    pruner = tp.pruner.MetaPruner(model, torch.zeros(1, 3, image_size, image_size), pruning_ratio=ratio,
                                  importance=tp.importance.GroupMagnitudeImportance(p=2),
                                  ignored_layers=[classifier_head(model)])
    pruner.step()
    output.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(output, model, payload["info"].replace(pruned=True))


def retrain_export_evaluate(args, spec, work, name, pruned_checkpoint, seed):
    """Retrain a pruned checkpoint, export it FP32 and INT8, evaluate both: {name: ..., name_int8: ...}."""
    tao("train", "-e", spec, "-r", work / f"{name}_retrain", f"model.pruned_model={pruned_checkpoint}",
        "model.pretrained=null", f"train.num_epochs={args.retrain_epochs}", f"train.seed={seed}",
        f"train.optimizer.name={args.retrain_optimizer}", f"train.optimizer.lr={args.retrain_lr}")
    retrained = work / f"{name}_retrain" / "weights" / "best.pth"
    macs = count_macs(model_from_checkpoint(read_checkpoint(retrained), rebuild), args.image_size)
    tao("export", "-m", retrained, "-o", work / f"{name}.onnx")
    tao("export", "-m", retrained, "-o", work / f"{name}_int8.onnx", "--data_type", "int8",
        "--cal_image_dir", training_images_folder(work.parent / "cal_images"), "--cal_cache_file",
        work / f"{name}_cal.bin", "-e", spec)
    return {key: {"top1": evaluate(spec, work / f"{key}.onnx", work / f"eval_{key}"), "macs": macs}
            for key in (name, f"{name}_int8")}


def measure_latencies(result, models, image_size):
    """ORT latency of `models` ({result key: ONNX path}) at batch 1 and 16, measured side by side (round-robin)."""
    for batch, rounds, runs in ((1, 10, 10), (16, 10, 4)):
        for key, ms in zip(models, ort_latencies_ms(list(models.values()), image_size, batch, rounds=rounds,
                                                      runs_per_round=runs)):
            result[key][f"b{batch}_ms"] = round(ms, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--pretrained", default=None)
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--retrain_epochs", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--weight_decay", type=float, default=0.0005)
    parser.add_argument("--label_smoothing", type=float, default=0.0, help="train.label_smoothing (bare loop too)")
    parser.add_argument("--seeds", type=seed_list, default=[42],
                        help="comma-separated train.seed values: one full run (training, prune, retrain, INT8) per seed")
    parser.add_argument("--out", default=None, help="results file name under benchmarks/results (default <backbone>.json)")
    parser.add_argument("--retrain_optimizer", default=None, help="optimizer of the retrain (default: --optimizer)")
    parser.add_argument("--retrain_lr", type=float, default=None, help="learning rate of the retrain (default: --lr)")
    parser.add_argument("--target_macs_ratio", type=float, default=0.27)
    parser.add_argument("--crop_scale_min", type=float, default=0.8, help="random resized crop scale [MIN, 1]")
    parser.add_argument("--rotation_degrees", type=float, default=0.0)
    parser.add_argument("--horizontal_flip", type=float, default=0.0, help="probability of a mirrored training image")
    parser.add_argument("--granularity", type=int, default=8,
                        help="prune -pg: channels kept per layer are a multiple of it (16 suits ORT's INT8 kernels)")
    parser.add_argument("--min_filters", type=int, default=16, help="prune -nf: the fewest filters a layer keeps")
    parser.add_argument("--ratio_pruner", type=float, default=0.0,
                        help="also prune each trained model with Torch-Pruning at this channel ratio in every layer "
                             "(group L2: the hand-measured reference), retrain and measure it side by side")
    parser.add_argument("--bare_epochs", type=int, default=3)
    parser.add_argument("--bare_accuracy", action="store_true",
                        help="also train the bare loop --epochs long per seed and compare its test top-1 with ours")
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "runs"))
    parser.add_argument("--reuse_training", action="store_true",
                        help="reuse the unpruned model of a previous run in --work; prune, retrain and measure again")
    args = parser.parse_args()
    args.retrain_optimizer = args.retrain_optimizer or args.optimizer
    args.retrain_lr = args.retrain_lr or args.lr
    if not DATA.is_dir():
        sys.exit(f"{DATA} not found: this benchmark needs ../shared/data/sign_language_digits")
    work = Path(args.work) / args.backbone
    spec = work / "spec.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(f"""\
dataset:
  image_root: {DATA / 'Dataset'}
  train_list: {DATA / 'splits' / 'train.txt'}
  val_list: {DATA / 'splits' / 'val.txt'}
  test_list: {DATA / 'splits' / 'test.txt'}
  image_size: {args.image_size}
  num_workers: 2
  augmentation: {{random_resized_crop_scale: [{args.crop_scale_min}, 1.0], rotation_degrees: {args.rotation_degrees}, horizontal_flip: {args.horizontal_flip}, brightness: 0.0, contrast: 0.0, saturation: 0.0, hue: 0.0}}
model: {{backbone: {args.backbone}, pretrained: {args.pretrained or 'null'}}}
train:
  num_epochs: {args.epochs}
  batch_size: {args.batch_size}
  optimizer: {{name: {args.optimizer}, lr: {args.lr}, weight_decay: {args.weight_decay}}}
  lr_scheduler: {{name: cosine, warmup_epochs: 1}}
  label_smoothing: {args.label_smoothing}
  resume: false
evaluate: {{split: test, batch_size: 64}}
export: {{cal_batches: 8, cal_batch_size: 16}}
""")
    result = {"backbone": args.backbone, "pretrained": args.pretrained, "image_size": args.image_size,
              "epochs": args.epochs, "retrain_epochs": args.retrain_epochs,
              "retrain_optimizer": args.retrain_optimizer, "retrain_lr": args.retrain_lr,
              "batch_size": args.batch_size, "optimizer": args.optimizer, "lr": args.lr, "weight_decay": args.weight_decay,
              "label_smoothing": args.label_smoothing,
              "seeds": args.seeds,
              "command": " ".join([Path(sys.executable).name, *sys.argv]), "threads": torch.get_num_threads(),
              "cpu": cpu_summary()}
    out = ROOT / "benchmarks" / "results" / (args.out or f"{args.backbone}.json")
    if args.reuse_training:  # keep the unpruned models and their training figures; redo everything after them
        result["train"] = json.loads(out.read_text())["train"]
    result["runs"] = []
    for index, seed in enumerate(args.seeds):
        run_dir = work / f"seed{seed}"
        if index == 0 and not args.reuse_training:
            # The throughput comparison: the bare loop right before and right after our training, so that the
            # shared machine's drift (±15 % over minutes) hits both sides alike.
            bare_before = bare_pytorch_train(args, args.bare_epochs)[1][1:]
            seconds = train_unpruned(spec, run_dir, seed)
            result["train"] = throughput(run_dir, seconds, bare_before, bare_pytorch_train(args, args.bare_epochs)[1][1:])
        elif not args.reuse_training:
            train_unpruned(spec, run_dir, seed)
        result["runs"].append(prune_retrain_measure(args, spec, run_dir, seed))
        if args.bare_accuracy:  # does our train reach what a bare loop reaches? Both: the final epoch's weights
            tao("evaluate", "-e", spec, "-m", run_dir / "unpruned" / "weights" / "last.pth", "-r", run_dir / "eval_last")
            result["runs"][-1]["last_epoch_top1"] = {
                "ours": json.loads((run_dir / "eval_last" / "evaluation.json").read_text())["top1"],
                "bare_pytorch": bare_test_top1(args, bare_pytorch_train(args, args.epochs, seed)[0])}
    result["summary"] = summarize(result["runs"])

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"\n| {args.backbone} seed | unpruned top-1 | pruned top-1 (MACs, b16 speed-up) | INT8 top-1 (b16 over FP32) |"
          "\n|---|---|---|---|")
    for run in result["runs"]:
        print(f"| {run['seed']} | {run['unpruned']['top1']:.4f} | {run['pruned']['top1']:.4f} "
              f"({run['pruned']['macs'] / run['unpruned']['macs']:.3f}x, {run['pruned']['speedup_b16_vs_unpruned']}x) | "
              f"{run['int8']['top1']:.4f} ({run['int8']['speedup_b16_vs_pruned_fp32']}x) |")
        if "ratio_pruned" in run:
            ratio, int8 = run["ratio_pruned"], run["ratio_pruned_int8"]
            print(f"| {run['seed']} (ratio pruner) | | {ratio['top1']:.4f} ({ratio['macs'] / run['unpruned']['macs']:.3f}x, "
                  f"{ratio['speedup_b16_vs_unpruned']}x) | {int8['top1']:.4f} ({int8['speedup_b16_vs_pruned_fp32']}x) |")
    print(f"summary (mean, min, max over seeds): {json.dumps(result['summary'])}")
    print(f"train img/s ours {result['train']['ours_images_per_s']} vs bare {result['train']['bare_images_per_s']} "
          f"(ratio {result['train']['ratio']})")


def train_unpruned(spec, run_dir, seed):
    _, seconds = tao("train", "-e", spec, "-r", run_dir / "unpruned", f"train.seed={seed}")
    return seconds


def throughput(run_dir, seconds, bare_before, bare_after):
    """Our train's images/s (from its log) against the bare loop's per-epoch rates before and after it."""
    log = list(csv.DictReader((run_dir / "unpruned" / "training_log.csv").open()))
    ours = [float(r["images_per_s"]) for r in log][1:]  # first epoch pays worker start-up in both loops
    train = {"ours_images_per_s": round(fmean(ours), 2), "bare_images_per_s": round(fmean(bare_before + bare_after), 2),
             "wall_s": round(seconds, 1), "bare_before_images_per_s": round(fmean(bare_before), 2),
             "bare_after_images_per_s": round(fmean(bare_after), 2)}
    train["ratio"] = round(train["ours_images_per_s"] / train["bare_images_per_s"], 3)
    return train


def prune_retrain_measure(args, spec, work, seed):
    """Steps 2-4 for one trained model in work/unpruned: its top-1, then prune, retrain, INT8 and latencies."""
    result = {"seed": seed}
    log = list(csv.DictReader((work / "unpruned" / "training_log.csv").open()))
    val = [float(r["val_top1"]) for r in log]
    result["epochs_to_best_val"] = val.index(max(val)) + 1
    result["val_top1_per_epoch"] = val

    best = work / "unpruned" / "weights" / "best.pth"
    tao("export", "-m", best, "-o", work / "unpruned.onnx")
    base_macs = count_macs(model_from_checkpoint(read_checkpoint(best), rebuild), args.image_size)
    result["unpruned"] = {"top1": evaluate(spec, work / "unpruned.onnx", work / "eval_unpruned"), "macs": base_macs}

    tao("prune", "-m", best, "-o", work / "pruned" / "model.pth", "--target_macs_ratio", args.target_macs_ratio,
        "-pg", args.granularity, "-nf", args.min_filters)
    target = json.loads((work / "pruned" / "prune_report.json").read_text())["target"]
    result["prune"] = {"pth": target["pth"], "pg": args.granularity, "nf": args.min_filters,
                       "macs_ratio": target["macs_ratio"]}
    tao_pruned = retrain_export_evaluate(args, spec, work, "pruned", work / "pruned" / "model.pth", seed)
    result.update(pruned=tao_pruned["pruned"], int8=tao_pruned["pruned_int8"])
    models = {"unpruned": work / "unpruned.onnx", "pruned": work / "pruned.onnx", "int8": work / "pruned_int8.onnx"}
    if args.ratio_pruner:
        ratio_prune(best, args.image_size, args.ratio_pruner, work / "ratio_pruned" / "model.pth")
        result.update(retrain_export_evaluate(args, spec, work, "ratio_pruned", work / "ratio_pruned" / "model.pth", seed))
        models.update({key: work / f"{key}.onnx" for key in ("ratio_pruned", "ratio_pruned_int8")})
    measure_latencies(result, models, args.image_size)
    for key in list(models)[1:]:
        result[key]["speedup_b16_vs_unpruned"] = round(result["unpruned"]["b16_ms"] / result[key]["b16_ms"], 2)
    for fp32, int8 in (("pruned", "int8"), ("ratio_pruned", "ratio_pruned_int8")):
        if int8 in result:
            result[int8]["speedup_b16_vs_pruned_fp32"] = round(result[fp32]["b16_ms"] / result[int8]["b16_ms"], 2)
    return result


def summarize(runs):
    """Mean, min and max over seeds of what the targets compare: one seed moves top-1 by about 1 pt here."""
    figures = {
        "unpruned_top1": [r["unpruned"]["top1"] for r in runs],
        "pruned_top1": [r["pruned"]["top1"] for r in runs],
        "int8_top1": [r["int8"]["top1"] for r in runs],
        "pruned_loss_pt": [100 * (r["unpruned"]["top1"] - r["pruned"]["top1"]) for r in runs],
        "int8_loss_pt": [100 * (r["pruned"]["top1"] - r["int8"]["top1"]) for r in runs],
        "pruned_macs_ratio": [r["pruned"]["macs"] / r["unpruned"]["macs"] for r in runs],
        "pruned_speedup_b16": [r["pruned"]["speedup_b16_vs_unpruned"] for r in runs],
        "int8_speedup_b16_over_fp32": [r["int8"]["speedup_b16_vs_pruned_fp32"] for r in runs],
    }
    if "last_epoch_top1" in runs[0]:
        figures.update({f"last_epoch_top1_{who}": [r["last_epoch_top1"][who] for r in runs]
                        for who in ("ours", "bare_pytorch")})
    if "ratio_pruned" in runs[0]:  # the reference pruner, on the same trained models
        figures.update({
            "ratio_pruned_top1": [r["ratio_pruned"]["top1"] for r in runs],
            "ratio_pruned_int8_top1": [r["ratio_pruned_int8"]["top1"] for r in runs],
            "ratio_pruned_macs_ratio": [r["ratio_pruned"]["macs"] / r["unpruned"]["macs"] for r in runs],
            "ratio_pruned_speedup_b16": [r["ratio_pruned"]["speedup_b16_vs_unpruned"] for r in runs],
            "ratio_int8_speedup_b16_over_fp32": [r["ratio_pruned_int8"]["speedup_b16_vs_pruned_fp32"] for r in runs],
        })
    return {key: {"mean": round(fmean(v), 4), "min": round(min(v), 4), "max": round(max(v), 4)}
            for key, v in figures.items()}


if __name__ == "__main__":
    main()
