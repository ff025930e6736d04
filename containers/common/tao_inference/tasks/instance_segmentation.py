"""Instance segmentation (Mask R-CNN), torch-free: the COCO samples of a split, instances of any predictor
(checkpoint, ONNX, engine) decoded at each image's own size, COCO box and mask AP, the evaluate and inference
outputs.

The model's outputs (the contract; padded to K = model.test_detections_per_image per image, slots past the
detections have score 0): boxes [B, K, 4] (x1, y1, x2, y2, input pixels), scores [B, K], labels [B, K] (class
index), masks [B, K, M, M] (the probability that each pixel of the box's M x M grid is the object's). Decoding a
mask is pasting it: the grid, padded by one cell, resized bilinearly onto the box scaled to the original image,
then thresholded (as torchvision's paste_masks_in_image, and DeepStream's instance-mask parsers do)."""

from pathlib import Path

import numpy as np
from PIL import Image

from ..data.coco_instances import encode_mask, split_samples
from ..data.kitti import KittiObject
from ..fileio import write_json
from ..metrics import coco_instance_metrics
from ..outputs import draw_boxes, save_annotated
from ..plots import plot_pr_curves
from ..preprocess import batches, load_rgb
from .classification import folder_images  # a folder of images is listed the same for every task
from .segmentation import PALETTE

EVALUATE_HELP = "COCO box and mask AP (AP, AP50, AP75, APs/m/l, AR1/10/100), per-class AP, PR curves"
INFERENCE_HELP = "images with coloured masks, boxes and labels; one JSON per image (boxes, scores, RLE masks)"
OUTPUT_NAMES = ("boxes", "scores", "labels", "masks")


def contract_outputs(info):
    k, m = info.network["test_detections_per_image"], info.network["mrcnn_resolution"]
    outputs = [
        {"name": "boxes", "shape": ["batch", k, 4], "meaning": "x1, y1, x2, y2 in input pixels"},
        {"name": "scores", "shape": ["batch", k], "meaning": "detection score; 0 in the slots past the detections"},
        {"name": "labels", "shape": ["batch", k], "meaning": "index into class_names"},
        {"name": "masks", "shape": ["batch", k, m, m], "meaning": "per detection, the probability of each cell of "
                                                                  "its box's M x M grid being the object"}]
    return outputs, ("in the graph: RPN proposals, box decoding, per-class NMS (ONNX NonMaxSuppression), RoIAlign, "
                     "the mask head; outside it: keep score > 0, scale boxes to the image, paste each mask (pad by "
                     "one cell, resize bilinearly onto the box enlarged by (M + 2) / M, threshold)")


def paste_mask(probabilities, box, width, height, threshold):
    """The M x M mask probabilities of one detection as a bool mask [height, width] of the image."""
    m = probabilities.shape[-1]
    padded = np.pad(np.asarray(probabilities, np.float32), 1)
    scale = (m + 2) / m
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half_w, half_h = (box[2] - box[0]) / 2 * scale, (box[3] - box[1]) / 2 * scale
    x0, y0, x1, y1 = int(cx - half_w), int(cy - half_h), int(cx + half_w), int(cy + half_h)
    w, h = max(x1 - x0 + 1, 1), max(y1 - y0 + 1, 1)
    resized = np.asarray(Image.fromarray(padded, mode="F").resize((w, h), Image.BILINEAR)) >= threshold
    mask = np.zeros((height, width), bool)
    left, top, right, bottom = max(x0, 0), max(y0, 0), min(x0 + w, width), min(y0 + h, height)
    if right > left and bottom > top:
        mask[top:bottom, left:right] = resized[top - y0:bottom - y0, left - x0:right - x0]
    return mask


def decode(outputs, info, size, mask_threshold, min_score=0.0):
    """One image's instances: [{"label", "score", "box" (image pixels), "mask" bool [H, W]}], best first."""
    boxes, scores, labels, masks = outputs
    width, height = size
    scale = np.float32([width / info.input_width, height / info.input_height] * 2)
    found = []
    for i in np.flatnonzero((scores > 0) & (scores >= min_score)):
        box = (np.asarray(boxes[i], np.float32) * scale).clip(0, [width, height, width, height])
        found.append({"label": int(labels[i]), "score": float(scores[i]), "box": box.tolist(),
                      "mask": paste_mask(masks[i], box, width, height, mask_threshold)})
    return sorted(found, key=lambda d: -d["score"])


def predict(predictor, paths, batch_size, mask_threshold, min_score=0.0):
    """(path, (width, height), instances) per image."""
    for chunk, images, sizes in batches(list(paths), predictor.info, batch_size):
        outputs = predictor(images)
        for i, (path, size) in enumerate(zip(chunk, sizes)):
            yield path, size, decode(tuple(o[i] for o in outputs), predictor.info, size, mask_threshold, min_score)


def _metrics(predictor, samples, spec):
    classes = predictor.info.class_names
    found = []
    for _, _, instances in predict(predictor, [s["image"] for s in samples], spec.evaluate.batch_size,
                                   spec.evaluate.mask_threshold):
        found.append([{**d, "rle": encode_mask(d.pop("mask"))} for d in instances])
    return coco_instance_metrics(samples, found, classes), found


def validation_metrics(predictor, samples, spec):
    result, _ = _metrics(predictor, samples, spec)
    return {"mask_AP": result["mask"]["AP"], "box_AP": result["box"]["AP"], "mask_AP50": result["mask"]["AP50"]}


def evaluate(predictor, spec, results_dir, model_name, console):
    from rich.table import Table

    classes, split = predictor.info.class_names, spec.evaluate.split
    samples = split_samples(spec.dataset, split, classes)
    result, found = _metrics(predictor, samples, spec)
    shown = spec.inference.min_confidence
    metrics = {"model": model_name, "model_kind": predictor.kind, "split": split, "num_images": len(samples),
               "mask_AP": result["mask"]["AP"], "box_AP": result["box"]["AP"],
               "box": {k: v for k, v in result["box"].items() if k != "pr"},
               "mask": {k: v for k, v in result["mask"].items() if k != "pr"},
               "instances_per_image": float(np.mean([sum(d["score"] >= shown for d in f) for f in found])),
               "ground_truth_per_image": float(np.mean([sum(not o["iscrowd"] for o in s["objects"]) for s in samples])),
               "instances_counted_at": shown}
    write_json(Path(results_dir) / "evaluation.json", metrics)
    plot_pr_curves(Path(results_dir) / "pr_curves.png", {name: {"AP": v["AP"], "recall": np.array(v["recall"]),
                                                                "precision": np.array(v["precision"])}
                                                         for name, v in result["mask"]["pr"].items()})
    table = Table(title=f"{predictor.kind} model on {split} ({len(samples)} images): mask AP {metrics['mask_AP']:.4f}, "
                        f"box AP {metrics['box_AP']:.4f} (COCO, IoU .50:.95)")
    for column in ("", "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100"):
        table.add_column(column, justify="left" if not column else "right")
    for kind in ("box", "mask"):
        table.add_row(kind, *(f"{result[kind][k]:.3f}" for k in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1",
                                                                "AR10", "AR100")))
    console.print(table)
    console.print("per-class mask AP: " + ", ".join(
        f"{name} {'—' if v is None else f'{v:.3f}'}" for name, v in result["mask"]["per_class"].items()))
    console.print(f"{metrics['instances_per_image']:.1f} instances per image at inference.min_confidence {shown} "
                  f"(ground truth: {metrics['ground_truth_per_image']:.1f})")
    console.print(f"results → {results_dir}/evaluation.json, pr_curves.png (mask AP at IoU 0.5)")
    return {"mask_AP": metrics["mask_AP"], "box_AP": metrics["box_AP"], "mask_AP50": result["mask"]["AP50"]}


def split_images(spec, split):
    from ..data.coco_instances import read_split

    return [Path(s["image"]) for s in read_split(spec.dataset, split)[1]]


def draw_instances(image, instances, class_names, alpha):
    """The image with each instance's mask blended in its own colour, its box and `class score`."""
    base = np.asarray(image, dtype=np.float32)
    for number, det in enumerate(instances):
        colour = np.float32(PALETTE[1 + number % (len(PALETTE) - 1)])
        base = np.where(det["mask"][..., None], (1 - alpha) * base + alpha * colour, base)
    result = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    return result, [KittiObject(class_names[d["label"]], *d["box"], score=d["score"]) for d in instances]


def preview(predictor, samples, spec, count):
    """The first `count` samples with their predicted instances drawn (TensorBoard, per epoch)."""
    inf, drawn = spec.inference, []
    for path, _, instances in predict(predictor, [s["image"] for s in samples[:count]], spec.evaluate.batch_size,
                                      inf.mask_threshold, inf.min_confidence):
        image, objects = draw_instances(load_rgb(path), instances, predictor.info.class_names, inf.overlay_alpha)
        drawn.append((Path(path).stem, draw_boxes(image, objects, [d["label"] for d in instances])))
    return drawn


def inference(predictor, spec, paths, results_dir, console):
    results_dir, inf = Path(results_dir), spec.inference
    names, total = predictor.info.class_names, 0
    for path, (width, height), instances in predict(predictor, paths, inf.batch_size, inf.mask_threshold,
                                                    inf.min_confidence):
        path = Path(path)
        record = {"image": str(path), "width": width, "height": height, "instances": [
            {"label": names[d["label"]], "score": round(d["score"], 5), "bbox": [round(v, 2) for v in d["box"]],
             "segmentation": encode_mask(d["mask"])} for d in instances]}
        write_json(results_dir / "labels" / f"{path.stem}.json", record)
        image, objects = draw_instances(load_rgb(path), instances, names, inf.overlay_alpha)
        save_annotated(image, objects, [d["label"] for d in instances],
                       results_dir / "images_annotated" / f"{path.stem}.jpg")
        total += len(instances)
    console.print(f"{total} instances on {len(paths)} images → {results_dir}/labels (JSON: boxes, scores, RLE masks), "
                  "images_annotated/")
    return {"images": len(paths), "instances": total}
