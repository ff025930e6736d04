"""Classification: what is specific to it — spec schema, data, model meta, loss, metric — handed to the
shared engine (fit, predictors, pruning, export). Each subcommand is one function taking parsed flags."""

import argparse
import csv
import io
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ..data.classification import (ImageClassificationDataset, check_images, list_images, split_samples)
from ..data.sample import generate_sample
from ..data.transforms import eval_transform, train_transform
from ..engine.checkpoint import model_from_checkpoint, read_checkpoint
from ..engine.device import pick_device
from ..engine.evaluator import classification_metrics, collect_logits
from ..engine.logs import StatusLogger, plot_confusion_matrix
from ..engine.predictors import load_predictor
from ..engine.profile import count_params
from ..engine import distributed
from ..engine.trainer import fit, make_train_loader
from ..errors import UserError
from ..export.int8 import quantize_qdq, tensor_ranges, top1_agreement, write_trt_cache
from ..export.onnx_export import INPUT_NAME, attach_contract, contract, export_onnx
from ..fileio import require_folder, write_json, write_text
from ..models import build_classifier, get_backbone
from ..prune.tao_pruner import classifier_head
from ..spec import dump_spec, load_spec
from ..spec.schemas import ClassificationSpec
from .common import (add_export_parser, add_prune_parser, add_spec_arguments, load_pretrained, prune_command,
                     read_pruned_model)

console = Console(soft_wrap=True)


# ---------------------------------------------------------------- model and data specifics

def rebuild(meta):
    return build_classifier(meta["backbone"], meta["num_classes"], meta.get("dropout", 0.0))


def model_meta(spec, class_names):
    backbone = get_backbone(spec.model.backbone)
    return {
        "task": "classification", "backbone": spec.model.backbone, "num_classes": len(class_names),
        "class_names": list(class_names), "image_size": spec.dataset.image_size,
        "mean": list(spec.dataset.mean or backbone.mean), "std": list(spec.dataset.std or backbone.std),
        "dropout": spec.model.dropout, "pruned": False,
    }


def initial_model(spec, class_names):
    """(model, meta): a pruned model to retrain, or a registry backbone (optionally pretrained)."""
    if spec.model.pruned_model:
        payload = read_pruned_model(spec.model, class_names)
        return model_from_checkpoint(payload, rebuild), {**payload["meta"], "image_size": spec.dataset.image_size}
    model = build_classifier(spec.model.backbone, len(class_names), spec.model.dropout)
    if spec.model.pretrained:
        load_pretrained(model, spec.model)
    return model, model_meta(spec, class_names)


def make_loader(dataset, batch_size, num_workers, device):
    """An evaluation loader: every image once, in order."""
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=num_workers,
                                       pin_memory=device.type == "cuda", persistent_workers=num_workers > 0)


def eval_dataset(samples, meta, on_bad_image):
    transform = eval_transform(meta["image_size"], meta["mean"], meta["std"])
    return ImageClassificationDataset(samples, meta["class_names"], transform, on_bad_image)


# ---------------------------------------------------------------- subcommands

def train(args):
    spec = load_spec(ClassificationSpec, args.experiment_spec, args.overrides)
    results_dir = Path(args.results_dir or spec.results_dir)
    if distributed.is_main():
        dump_spec(spec, results_dir / "experiment.yaml")
    status = StatusLogger(results_dir / "status.json")
    try:
        ds = spec.dataset
        train_samples = check_images(split_samples(ds, "train"), ds.on_bad_image)
        val_samples = check_images(split_samples(ds, "val"), ds.on_bad_image)
        class_names = sorted({label for _, label in train_samples})
        torch.manual_seed(spec.train.seed)  # the new head's initialization is part of the run's seed
        model, meta = initial_model(spec, class_names)
        device = pick_device(spec.train.device)
        train_set = ImageClassificationDataset(
            train_samples, class_names, train_transform(ds.image_size, meta["mean"], meta["std"], ds.augmentation),
            ds.on_bad_image)
        val_loader = make_loader(eval_dataset(val_samples, meta, ds.on_bad_image), spec.evaluate.batch_size,
                                 ds.num_workers, device)
        train_loader = make_train_loader(train_set, spec.train.batch_size, ds.num_workers, spec.train.seed,
                                         pin_memory=device.type == "cuda")
        console.print(f"classification: {len(train_samples)} train / {len(val_samples)} val images, "
                      f"{len(class_names)} classes, {meta['backbone']} on {device}, {count_params(model) / 1e6:.2f} M params")
        criterion = torch.nn.CrossEntropyLoss(label_smoothing=spec.train.label_smoothing)

        def loss_fn(model, images, labels):
            return criterion(model(images), labels)

        def validate(model):
            model.eval()
            logits, targets = collect_logits(lambda x: model(x.to(device)).float().cpu(), val_loader)
            loss = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(targets)).item()
            return {"top1": float((logits.argmax(1) == targets).mean()), "loss": loss}

        head_module = classifier_head(model)
        head = next(n for n, m in model.named_modules() if m is head_module)
        summary = fit(model, train_loader=train_loader, validate=validate, loss_fn=loss_fn, spec=spec.train,
                      results_dir=results_dir, meta=meta, monitor="top1", head=head)
    except BaseException as exc:
        status.write("FAILURE", "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}")
        raise
    console.print(f"Done. best val top-1 {summary['best_top1']:.4f} @ epoch {summary['best_epoch']} "
                  f"→ {summary['best_weights']}")


def _model_path(args, spec_value, flag="-m"):
    path = args.model or spec_value
    if not path:
        raise UserError(f"no model given: pass {flag} MODEL (.pth or .onnx)")
    return path


def evaluate(args):
    spec = load_spec(ClassificationSpec, args.experiment_spec, args.overrides)
    predictor = load_predictor(_model_path(args, spec.evaluate.checkpoint), rebuild)
    meta = predictor.meta
    samples = check_images(split_samples(spec.dataset, spec.evaluate.split), spec.dataset.on_bad_image)
    loader = make_loader(eval_dataset(samples, meta, spec.dataset.on_bad_image), spec.evaluate.batch_size,
                         spec.dataset.num_workers, torch.device("cpu"))
    logits, targets = collect_logits(predictor, loader)
    metrics = classification_metrics(logits, targets, meta["class_names"], spec.evaluate.top_k)
    metrics["model"], metrics["model_kind"] = str(args.model or spec.evaluate.checkpoint), meta["kind"]
    results_dir = Path(args.results_dir or Path(spec.results_dir) / "evaluate")
    write_json(results_dir / "evaluation.json", metrics)
    write_json(results_dir / "confusion_matrix.json",
               {"class_names": metrics["class_names"], "matrix": metrics["confusion_matrix"]})
    plot_confusion_matrix(results_dir / "confusion_matrix.png", metrics["confusion_matrix"], metrics["class_names"])
    topk = next(k for k in metrics if k.startswith("top") and k != "top1")
    table = Table(title=f"{meta['kind']} model on {spec.evaluate.split}: top-1 {metrics['top1']:.4f}  "
                        f"{topk} {metrics[topk]:.4f}  ({metrics['num_images']} images)")
    for column in ("class", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for row in metrics["per_class"]:
        table.add_row(row["class"], f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    console.print(table)
    console.print(f"results → {results_dir}/evaluation.json, confusion_matrix.png")


def inference(args):
    spec = load_spec(ClassificationSpec, args.experiment_spec, args.overrides)
    predictor = load_predictor(_model_path(args, spec.inference.checkpoint), rebuild)
    image_dir = args.image_dir or spec.inference.image_dir
    if not image_dir:
        raise UserError("no images given: pass -i IMAGE_DIR or set inference.image_dir")
    require_folder(image_dir, "-i / inference.image_dir")
    paths = list_images(image_dir)
    if not paths:
        raise UserError(f"no images (.jpg/.jpeg/.png) under {image_dir}")
    meta = predictor.meta
    samples = check_images([(p, meta["class_names"][0]) for p in paths], spec.dataset.on_bad_image)
    loader = make_loader(eval_dataset(samples, meta, spec.dataset.on_bad_image), spec.inference.batch_size,
                         spec.dataset.num_workers, torch.device("cpu"))
    logits, _ = collect_logits(predictor, loader)
    probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "class", "confidence"])
    for (path, _), row in zip(samples, probs):
        writer.writerow([str(path), meta["class_names"][int(row.argmax())], f"{row.max():.5f}"])
    results_dir = Path(args.results_dir or Path(spec.results_dir) / "inference")
    write_text(results_dir / "inference.csv", buffer.getvalue())
    console.print(f"{len(samples)} images → {results_dir / 'inference.csv'}")


def prune(args):
    prune_command(args, rebuild, input_hw=lambda meta: (meta["image_size"],) * 2, schema=ClassificationSpec)


def calibration_batches(image_dir, meta, batches, batch_size):
    """`batches` x `batch_size` preprocessed images, spread evenly over the folder (deterministic)."""
    paths = list_images(image_dir)
    if not paths:
        raise UserError(f"--cal_image_dir: no images (.jpg/.jpeg/.png) under {image_dir}")
    wanted = min(len(paths), batches * batch_size)
    chosen = [paths[i] for i in np.linspace(0, len(paths) - 1, wanted).round().astype(int)]
    samples = check_images([(p, meta["class_names"][0]) for p in chosen], "skip")
    dataset = eval_dataset(samples, meta, "skip")
    images = np.stack([dataset[i][0].numpy() for i in range(len(dataset))])
    return [images[i:i + batch_size] for i in range(0, len(images), batch_size)]


def quantize_checked(fp32, output, batches, export_spec):
    """Quantize; under `auto`, fall back to FP32 first/last layers when INT8 stops agreeing with FP32."""
    fp32_ends = export_spec.int8_fp32_first_last == "always"
    args = (fp32, output, batches, INPUT_NAME, export_spec.calibration_method, export_spec.int8_target)
    quantize_qdq(*args, fp32_ends=fp32_ends)
    agreement = top1_agreement(fp32, output, batches, INPUT_NAME)
    if export_spec.int8_fp32_first_last == "auto" and agreement < export_spec.int8_min_agreement:
        console.print(f"INT8 with every layer quantized agrees with FP32 on {agreement:.1%} of the calibration "
                      f"images (< export.int8_min_agreement {export_spec.int8_min_agreement:.0%}): "
                      "re-quantizing with the first conv and the classifier kept FP32")
        fp32_ends = True
        quantize_qdq(*args, fp32_ends=True)
        agreement = top1_agreement(fp32, output, batches, INPUT_NAME)
    return agreement, fp32_ends


def export(args):
    spec = load_spec(ClassificationSpec, args.experiment_spec, args.overrides)
    payload = read_checkpoint(args.model)
    model = model_from_checkpoint(payload, rebuild).eval()
    meta = payload["meta"]
    output = Path(args.output)
    if args.data_type == "fp32":
        diff = export_onnx(model, output, contract(meta, "fp32"), input_hw=(meta["image_size"],) * 2,
                           opset=spec.export.opset, tolerance=spec.export.check_tolerance)
        console.print(f"ONNX (fp32, opset {spec.export.opset}) → {output}  (max |ORT - PyTorch| = {diff:.1e}); "
                      f"contract → {output}.json")
        return
    cal_dir = args.cal_image_dir or (spec.dataset.root and str(Path(spec.dataset.root) / "train"))
    if not cal_dir:
        raise UserError("--data_type int8 needs calibration images: pass --cal_image_dir DIR")
    require_folder(cal_dir, "--cal_image_dir")
    batches = calibration_batches(cal_dir, meta, args.batches or spec.export.cal_batches,
                                  args.batch_size or spec.export.cal_batch_size)
    fp32 = output.with_name(output.stem + "_fp32.onnx")
    diff = export_onnx(model, fp32, contract(meta, "fp32"), input_hw=(meta["image_size"],) * 2,
                       opset=spec.export.opset, tolerance=spec.export.check_tolerance)
    agreement, fp32_ends = quantize_checked(fp32, output, batches, spec.export)
    attach_contract(output, contract(meta, "int8"))
    console.print(f"ONNX fp32 → {fp32} (max |ORT - PyTorch| = {diff:.1e}); INT8 Q/DQ → {output} "
                  f"({sum(len(b) for b in batches)} calibration images from {cal_dir}); INT8 agrees with FP32 on "
                  f"{agreement:.1%} of them{' (first conv and classifier kept FP32)' if fp32_ends else ''}")
    if args.cal_cache_file:
        amax = tensor_ranges(fp32, batches, INPUT_NAME, spec.export.calibration_method)
        write_trt_cache(args.cal_cache_file, amax)
        console.print(f"TensorRT calibration cache ({len(amax)} tensors) → {args.cal_cache_file}")


def generate(args):
    per_class = [int(x) for x in args.per_class.split(",")]
    if len(per_class) != 3 or min(per_class) < 1:
        raise UserError(f"--per_class '{args.per_class}': expected three positive counts TRAIN,VAL,TEST (e.g. 40,12,12)")
    counts = generate_sample(args.output_dir, per_class, args.image_size, seed=args.seed)
    console.print(f"synthetic sample data → {args.output_dir} ({counts})")


# ---------------------------------------------------------------- command line

def add_subcommands(subparsers):
    p = subparsers.add_parser("train", help="train or fine-tune from a spec")
    add_spec_arguments(p)
    distributed.add_arguments(p)
    p.set_defaults(run=train)

    p = subparsers.add_parser("evaluate", help="accuracy, per-class metrics, confusion matrix")
    add_spec_arguments(p)
    p.add_argument("-m", "--model", help=".pth checkpoint or .onnx (FP32 or INT8) model")
    p.set_defaults(run=evaluate)

    p = subparsers.add_parser("inference", help="predict a folder of images into a CSV")
    add_spec_arguments(p)
    p.add_argument("-m", "--model", help=".pth checkpoint or .onnx model")
    p.add_argument("-i", "--image_dir", help="folder of images")
    p.set_defaults(run=inference)

    add_prune_parser(subparsers, prune)
    add_export_parser(subparsers, export)

    p = subparsers.add_parser("generate_sample", help="write a small SYNTHETIC dataset (shapes) for demos and tests")
    p.add_argument("-o", "--output_dir", required=True)
    p.add_argument("--per_class", default="60,20,20", help="images per class in train,val,test")
    p.add_argument("--image_size", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=generate)


def build_parser(prog="tao classification"):
    parser = argparse.ArgumentParser(prog=prog, description="Image classification.")
    add_subcommands(parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND"))
    return parser
