"""Semantic segmentation, torch-free: the image/mask pairs of a split, class maps of any predictor (checkpoint, ONNX,
engine) at each image's own size, TAO's metrics (per-class precision, recall, F1, IoU; mean and frequency-weighted
IoU; pixel accuracy), the evaluate and inference outputs, and the INT8 pixel agreement."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from rich.table import Table

from ..data.segmentation_masks import class_map, read_mask, split_pairs
from ..errors import UserError
from ..fileio import atomic_path, write_json
from ..plots import plot_confusion_matrix
from ..preprocess import batches
from .classification import folder_images  # a folder of images is listed the same for every task

EVALUATE_HELP = "per-class precision/recall/F1/IoU, mean and frequency-weighted IoU, pixel accuracy"
INFERENCE_HELP = "class masks (mask_labels/) and colour overlays (vis_overlay/) of a folder of images"
# a fixed colour per class index (background first): the same class is the same colour in every image and run
PALETTE = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
           (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128)]


def colour(class_index):
    return PALETTE[class_index % len(PALETTE)]


def eval_samples(spec, split):
    return split_pairs(spec.dataset, split)


def checked_classes(spec, info):
    """The spec's class map, which must name the model's classes in the model's order."""
    classes = class_map(spec.dataset.data_class_config)
    if tuple(classes.names) != tuple(info.class_names):
        raise UserError(f"the spec's classes {list(classes.names)} (dataset.data_class_config) are not the model's "
                        f"{list(info.class_names)}")
    return classes


def predict_class_maps(predictor, paths, batch_size):
    """Per image: the class index of every pixel at the image's own size (argmax at the input, nearest back)."""
    for _, images, sizes in batches(list(paths), predictor.info, batch_size):
        logits = predictor(images)[0]
        for ids, size in zip(logits.argmax(1).astype(np.uint8), sizes):
            yield np.asarray(Image.fromarray(ids).resize(size, Image.NEAREST))


def confusion(predicted, truth, num_classes):
    return np.bincount(truth.ravel() * num_classes + predicted.ravel(), minlength=num_classes ** 2).reshape(
        num_classes, num_classes)


def segmentation_metrics(matrix, class_names):
    """TAO's UNet metrics from the confusion matrix (rows: ground truth, columns: prediction)."""
    matrix = matrix.astype(np.float64)
    tp = np.diag(matrix)
    truth, predicted = matrix.sum(1), matrix.sum(0)
    union = truth + predicted - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(truth > 0, tp / truth, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        iou = np.where(union > 0, tp / union, np.nan)
    present = ~np.isnan(iou)
    frequency = truth / max(truth.sum(), 1)
    return {"mIoU": float(np.nanmean(iou)) if present.any() else 0.0,
            "fwIoU": float(np.nansum(frequency * np.nan_to_num(iou))),
            "pixel_accuracy": float(tp.sum() / max(matrix.sum(), 1)),
            "per_class": [{"class": name, "precision": float(precision[i]), "recall": float(recall[i]),
                           "f1": float(f1[i]), "iou": None if np.isnan(iou[i]) else float(iou[i]),
                           "pixels": int(truth[i])} for i, name in enumerate(class_names)],
            "confusion_matrix": matrix.astype(np.int64).tolist(), "class_names": list(class_names)}


def _matrix(predictor, pairs, spec):
    classes = checked_classes(spec, predictor.info)
    n = len(classes.names)
    matrix = np.zeros((n, n), dtype=np.int64)
    maps = predict_class_maps(predictor, [image for image, _ in pairs], spec.evaluate.batch_size)
    for (_, mask_path), predicted in zip(pairs, maps):
        matrix += confusion(predicted.astype(np.int64), read_mask(mask_path, classes), n)
    return matrix, classes


def validation_metrics(predictor, samples, spec):
    """What training monitors: mean IoU, and pixel accuracy as the tie-breaker's stand-in for a loss."""
    matrix, classes = _matrix(predictor, samples, spec)
    metrics = segmentation_metrics(matrix, classes.names)
    return {"mIoU": metrics["mIoU"], "pixel_accuracy": metrics["pixel_accuracy"], "loss": 1 - metrics["pixel_accuracy"]}


def evaluate(predictor, spec, results_dir, model_name, console):
    pairs = eval_samples(spec, spec.evaluate.split)
    matrix, classes = _matrix(predictor, pairs, spec)
    metrics = {**segmentation_metrics(matrix, classes.names), "num_images": len(pairs), "model": model_name,
               "model_kind": predictor.kind, "split": spec.evaluate.split}
    write_json(Path(results_dir) / "evaluation.json", metrics)
    plot_confusion_matrix(Path(results_dir) / "confusion_matrix.png", matrix, list(classes.names))
    table = Table(title=f"{predictor.kind} model on {spec.evaluate.split}: mIoU {metrics['mIoU']:.4f}  fwIoU "
                        f"{metrics['fwIoU']:.4f}  pixel accuracy {metrics['pixel_accuracy']:.4f}  ({len(pairs)} images)")
    for column in ("class", "precision", "recall", "F1", "IoU", "pixels"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for row in metrics["per_class"]:
        table.add_row(row["class"], f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                      "-" if row["iou"] is None else f"{row['iou']:.3f}", str(row["pixels"]))
    console.print(table)
    console.print(f"results → {results_dir}/evaluation.json, confusion_matrix.png")
    return {"mIoU": metrics["mIoU"], "pixel_accuracy": metrics["pixel_accuracy"]}


def split_images(spec, split):
    return [image for image, _ in split_pairs(spec.dataset, split)]


def overlay(image, ids, class_names, alpha):
    """The image blended with each pixel's class colour (background left as is), and a legend."""
    colours = np.array([colour(i) for i in range(len(class_names))], dtype=np.float32)
    base = np.asarray(image, dtype=np.float32)
    painted = np.where((ids > 0)[..., None], (1 - alpha) * base + alpha * colours[ids], base)
    result = Image.fromarray(painted.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(result)
    for number, name in enumerate(class_names):
        top = 4 + 14 * number
        draw.rectangle([4, top, 14, top + 10], fill=colour(number), outline=(255, 255, 255))
        draw.text((18, top - 1), name, fill=(255, 255, 255))
    return result


def preview(predictor, samples, spec, count):
    """The first `count` (image, mask) samples overlaid with their predicted classes (TensorBoard, per epoch)."""
    from ..preprocess import load_rgb

    paths = [image for image, _ in samples[:count]]
    names = list(predictor.info.class_names)
    return [(Path(path).stem, overlay(load_rgb(path), ids, names, spec.inference.overlay_alpha))
            for path, ids in zip(paths, predict_class_maps(predictor, paths, spec.evaluate.batch_size))]


def inference(predictor, spec, paths, results_dir, console):
    from ..preprocess import load_rgb

    results_dir = Path(results_dir)
    names = list(predictor.info.class_names)
    for path, ids in zip(paths, predict_class_maps(predictor, paths, spec.inference.batch_size)):
        with atomic_path(results_dir / "mask_labels" / f"{Path(path).stem}.png") as tmp:
            Image.fromarray(ids.astype(np.uint8)).save(tmp, format="PNG")
        with atomic_path(results_dir / "vis_overlay" / f"{Path(path).stem}.png") as tmp:
            overlay(load_rgb(path), ids, names, spec.inference.overlay_alpha).save(tmp, format="PNG")
    console.print(f"{len(paths)} images → {results_dir}/mask_labels (class ids, original size), vis_overlay/")
    return {"images": len(paths)}


def calibration_paths(spec, cal_dir):
    if cal_dir:
        return folder_images(cal_dir, "--cal_image_dir")
    if not (spec.dataset.train_images_path or spec.dataset.train_data_sources):
        raise UserError("--data_type int8 needs calibration images: pass --cal_image_dir DIR, or -e SPEC whose "
                        "dataset has training images (train_images_path or train_data_sources)")
    return split_images(spec, "train")


def agreement(spec, info, fp32_outputs, int8_outputs, reference="FP32"):
    """How many pixels the INT8 model gives the `reference` model's class (FP32, or the PyTorch QAT model), over
    the calibration batches."""
    same = [np.argmax(a[0], 1) == np.argmax(b[0], 1) for a, b in zip(fp32_outputs, int8_outputs)]
    return float(np.mean(np.concatenate([s.ravel() for s in same]))), f"of the calibration pixels get {reference}'s class"
