"""Classification, torch-free: the samples of a split, predictions of any predictor (checkpoint, ONNX, engine),
metrics, the evaluate and inference outputs, and the INT8 agreement measure."""

from pathlib import Path

import numpy as np
from rich.table import Table

from ..data.image_lists import check_images, list_images, split_samples
from ..errors import UserError
from ..fileio import require_folder, write_json
from ..metrics import classification_metrics, cross_entropy
from ..outputs import write_predictions_csv
from ..plots import plot_confusion_matrix
from ..preprocess import batches

EVALUATE_HELP = "accuracy, per-class metrics, confusion matrix"
INFERENCE_HELP = "predict a folder of images into a CSV"

def eval_samples(spec, split):
    """[(path, class name)] of one split, unreadable images reported (and skipped with on_bad_image: skip)."""
    return check_images(split_samples(spec.dataset, split), spec.dataset.on_bad_image)


def class_ids(samples, class_names):
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({label for _, label in samples if label not in index})
    if unknown:
        raise UserError(f"classes {unknown} are not among the model's classes {list(class_names)}")
    return np.array([index[label] for _, label in samples], dtype=np.int64)


def predict_logits(predictor, paths, batch_size):
    outputs = [predictor(images)[0] for _, images, _ in batches(list(paths), predictor.info, batch_size)]
    return np.concatenate(outputs).astype(np.float32)


def validation_metrics(predictor, samples, spec):
    """What training monitors: top-1, and the loss that breaks ties between epochs of equal top-1."""
    logits = predict_logits(predictor, [p for p, _ in samples], spec.evaluate.batch_size)
    targets = class_ids(samples, predictor.info.class_names)
    return {"top1": float((logits.argmax(1) == targets).mean()), "loss": cross_entropy(logits, targets)}


def evaluate(predictor, spec, results_dir, model_name, console):
    samples = eval_samples(spec, spec.evaluate.split)
    info = predictor.info
    if spec.evaluate.top_k > info.num_classes:
        console.print(f"note: evaluate.top_k {spec.evaluate.top_k} is more than the model's {info.num_classes} "
                      f"classes (top-{spec.evaluate.top_k} would always be 1.0): reporting top-{info.num_classes}; "
                      f"set evaluate.top_k={min(info.num_classes - 1, 5) or 1} for a measure that can miss")
    logits = predict_logits(predictor, [p for p, _ in samples], spec.evaluate.batch_size)
    metrics = classification_metrics(logits, class_ids(samples, info.class_names), info.class_names,
                                     spec.evaluate.top_k)
    metrics["model"], metrics["model_kind"] = model_name, predictor.kind
    write_json(results_dir / "evaluation.json", metrics)
    write_json(results_dir / "confusion_matrix.json",
               {"class_names": metrics["class_names"], "matrix": metrics["confusion_matrix"]})
    plot_confusion_matrix(results_dir / "confusion_matrix.png", metrics["confusion_matrix"], metrics["class_names"])
    topk = next(k for k in metrics if k.startswith("top") and k != "top1")
    table = Table(title=f"{predictor.kind} model on {spec.evaluate.split}: top-1 {metrics['top1']:.4f}  "
                        f"{topk} {metrics[topk]:.4f}  ({metrics['num_images']} images)")
    for column in ("class", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for row in metrics["per_class"]:
        table.add_row(row["class"], f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                      str(row["support"]))
    console.print(table)
    console.print(f"results → {results_dir}/evaluation.json, confusion_matrix.png")
    return {"top1": metrics["top1"], topk: metrics[topk]}


def folder_images(folder, flag):
    paths = list_images(require_folder(folder, flag))
    if not paths:
        raise UserError(f"{flag}: no images (.jpg/.jpeg/.png) under {folder}")
    return paths


def split_images(spec, split):
    return [path for path, _ in split_samples(spec.dataset, split)]


def inference(predictor, spec, paths, results_dir, console):
    paths = [p for p, _ in check_images([(p, "") for p in paths], spec.dataset.on_bad_image)]
    logits = predict_logits(predictor, paths, spec.inference.batch_size).astype(np.float64)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    names = predictor.info.class_names
    write_predictions_csv(Path(results_dir) / "inference.csv",
                          [(p, names[int(row.argmax())], float(row.max())) for p, row in zip(paths, probs)])
    console.print(f"{len(paths)} images → {Path(results_dir) / 'inference.csv'}")
    return {"images": len(paths)}


def calibration_paths(spec, cal_dir):
    """--cal_image_dir's images, else the spec's training images (its train/ folder or train_list)."""
    if cal_dir:
        return folder_images(cal_dir, "--cal_image_dir")
    if not (spec.dataset.root or spec.dataset.train_list or spec.dataset.train_dir):
        raise UserError("--data_type int8 needs calibration images: pass --cal_image_dir DIR, or -e SPEC whose "
                        "dataset (dataset.root or dataset.train_list) has training images")
    return split_images(spec, "train")


def agreement(spec, info, fp32_outputs, int8_outputs, reference="FP32"):
    """How often the INT8 model's top-1 class is the `reference` model's (FP32, or the PyTorch QAT model), over the
    calibration batches."""
    same = [np.argmax(a[0], 1) == np.argmax(b[0], 1) for a, b in zip(fp32_outputs, int8_outputs)]
    return float(np.concatenate(same).mean()), f"of the calibration images get {reference}'s top-1 class"
