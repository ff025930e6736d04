"""Object detection, torch-free and shared by every detector: the dataset index, predictions of any predictor
decoded by the network's numpy decoder (`tao_inference.networks`), mAP, the evaluate and inference outputs, and
the INT8 agreement measure."""

import json
from pathlib import Path

import numpy as np
from rich.table import Table

from .. import networks
from ..data.detection_index import build_index
from ..data.kitti import IMAGE_SUFFIXES, KittiObject, write_kitti
from ..errors import UserError
from ..fileio import read_text, require_folder, write_json
from ..metrics import coco_map, voc_map
from ..outputs import draw_boxes, save_annotated
from ..plots import plot_pr_curves
from ..preprocess import batches, load_rgb

EVALUATE_HELP = "mAP (VOC sample/integrate, COCO), per-class AP, PR curves"
INFERENCE_HELP = "annotated images and KITTI labels for a folder of images"

def load_index(spec):
    """The dataset index: dataset_convert's index.json when `dataset.index` is set, else built from the sources."""
    if spec.dataset.index:
        path = Path(spec.dataset.index)
        if not path.is_file():
            raise UserError(f"dataset.index {path} not found (write it with `dataset_convert`)")
        try:
            index = json.loads(read_text(path, "dataset.index"))
            if not all(isinstance(index.get(k), list) for k in ("classes", "train", "val", "test")):
                raise ValueError("classes/train/val/test lists missing")
        except (json.JSONDecodeError, ValueError, AttributeError) as exc:
            raise UserError(f"dataset.index {path}: not an index written by dataset_convert ({exc}); write it "
                            "again with `dataset_convert`") from None
        return index
    return build_index(spec.dataset, seed=spec.train.seed)


def eval_samples(spec, split):
    samples = load_index(spec)[split]
    if not samples:
        raise UserError(f"the {split} split has no images: dataset.{split} lists no sources")
    return samples


def decoder(predictor, spec):
    """`decode(outputs of one image) -> (boxes, scores, labels)` for the predictor's network."""
    return networks.get(predictor.info.task).decoder(predictor.info, predictor.decoder, spec)


def ground_truth(sample, classes, size, info):
    """The sample's boxes of the model's classes in network-input pixels; those under a pixel after resizing go."""
    ids = {name: i for i, name in enumerate(classes)}
    objects = [o for o in sample["objects"] if o[0] in ids]
    sx, sy = info.input_width / size[0], info.input_height / size[1]
    boxes = np.array([o[1:] for o in objects], np.float32).reshape(-1, 4) * np.float32([sx, sy, sx, sy])
    boxes = boxes.clip(0, np.float32([info.input_width, info.input_height] * 2))
    kept = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
    labels = np.array([ids[o[0]] for o in objects], np.int64)
    return {"boxes": boxes[kept], "labels": labels[kept]}


def predict(predictor, samples, decode, batch_size):
    """(predictions, ground truth, original sizes): per image dicts of boxes/labels(/scores), input pixels."""
    predictions, truth, sizes, info = [], [], [], predictor.info
    by_path = {s["image"]: s for s in samples}
    frame = np.float32([info.input_width, info.input_height] * 2)
    for paths, images, image_sizes in batches([s["image"] for s in samples], info, batch_size):
        outputs = predictor(images)
        for i, (path, size) in enumerate(zip(paths, image_sizes)):
            boxes, scores, labels = decode(tuple(o[i] for o in outputs))
            # Clipped to the input frame here, once: evaluate's boxes are inference's boxes
            boxes = np.asarray(boxes, np.float32).reshape(-1, 4).clip(0, frame)
            predictions.append({"boxes": boxes, "scores": scores, "labels": labels})
            truth.append(ground_truth(by_path[path], info.class_names, size, info))
            sizes.append(size)
    return predictions, truth, sizes


def validation_metrics(predictor, samples, spec):
    predictions, truth, _ = predict(predictor, samples, decoder(predictor, spec), spec.evaluate.batch_size)
    return {"mAP": voc_map(predictions, truth, predictor.info.class_names, spec.evaluate.iou_threshold,
                           spec.evaluate.ap_mode)["mAP"]}


def _ap_table(title, result, classes):
    table = Table(title=title)
    for column in ("class", "AP", "ground-truth boxes"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name in classes:
        v = result["per_class"][name]
        table.add_row(name, "—" if v["AP"] is None else f"{v['AP']:.4f}", str(v["num_gt"]))
    return table


def evaluate(predictor, spec, results_dir, model_name, console):
    samples = eval_samples(spec, spec.evaluate.split)
    classes, ev = predictor.info.class_names, spec.evaluate
    predictions, truth, _ = predict(predictor, samples, decoder(predictor, spec), ev.batch_size)
    result = voc_map(predictions, truth, classes, ev.iou_threshold, ev.ap_mode)
    coco = coco_map(predictions, truth, classes)
    shown = spec.inference.min_confidence
    boxes_per_image = float(np.mean([int((p["scores"] >= shown).sum()) for p in predictions]))
    truth_per_image = float(np.mean([len(t["boxes"]) for t in truth]))
    metrics = {"model": model_name, "model_kind": predictor.kind, "split": ev.split, "num_images": len(samples),
               "iou_threshold": ev.iou_threshold, "ap_mode": ev.ap_mode, "mAP": result["mAP"], **coco,
               "boxes_per_image": boxes_per_image, "ground_truth_per_image": truth_per_image,
               "boxes_counted_at": shown,
               "per_class": {name: {"AP": v["AP"], "num_gt": v["num_gt"]} for name, v in result["per_class"].items()}}
    write_json(results_dir / "evaluation.json", metrics)
    plot_pr_curves(results_dir / "pr_curves.png", result["per_class"])
    console.print(_ap_table(f"{predictor.kind} model on {ev.split} ({len(samples)} images): "
                            f"mAP@{ev.iou_threshold} ({ev.ap_mode}) {result['mAP']:.4f}, "
                            f"COCO mAP@[.5:.95] {coco['mAP_50_95']:.4f}", result, classes))
    console.print(f"{boxes_per_image:.1f} boxes per image at inference.min_confidence {shown} (ground truth: "
                  f"{truth_per_image:.1f}) — what inference draws")
    console.print(f"results → {results_dir}/evaluation.json, pr_curves.png")
    return {"mAP": result["mAP"], "mAP_50_95": coco["mAP_50_95"], "boxes_per_image": boxes_per_image}


def image_paths(folder, flag):
    folder = require_folder(folder, flag)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise UserError(f"{flag}: no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return paths


def folder_images(folder, flag):
    return image_paths(folder, flag)


def split_images(spec, split):
    return [Path(sample["image"]) for sample in eval_samples(spec, split)]


def _objects(pred, info, threshold, image):
    """One image's predictions at `threshold` as KittiObjects in the image's pixels, and their label ids."""
    sx, sy = image.width / info.input_width, image.height / info.input_height
    keep = pred["scores"] >= threshold
    boxes = pred["boxes"][keep] * [sx, sy, sx, sy]
    return [KittiObject(info.class_names[label], x1, y1, x2, y2, score=float(score))
            for (x1, y1, x2, y2), label, score in zip(boxes, pred["labels"][keep], pred["scores"][keep])], \
        pred["labels"][keep]


def preview(predictor, samples, spec, count):
    """The first `count` samples with their predicted boxes drawn (what TensorBoard shows per epoch)."""
    samples = samples[:count]
    predictions, _, _ = predict(predictor, samples, decoder(predictor, spec), spec.evaluate.batch_size)
    drawn = []
    for sample, pred in zip(samples, predictions):
        image = load_rgb(sample["image"])
        objects, labels = _objects(pred, predictor.info, spec.inference.min_confidence, image)
        drawn.append((Path(sample["image"]).stem, draw_boxes(image, objects, labels)))
    return drawn


def inference(predictor, spec, paths, results_dir, console):
    info, threshold = predictor.info, spec.inference.min_confidence
    samples = [{"image": str(p), "objects": []} for p in paths]
    predictions, _, _ = predict(predictor, samples, decoder(predictor, spec), spec.inference.batch_size)
    total = 0
    for path, pred in zip(paths, predictions):
        image = load_rgb(path)
        objects, labels = _objects(pred, info, threshold, image)
        write_kitti(Path(results_dir) / "labels" / f"{path.stem}.txt", objects)
        save_annotated(image, objects, labels, Path(results_dir) / "images_annotated" / f"{path.stem}.jpg")
        total += len(objects)
    console.print(f"{total} boxes on {len(paths)} images → {results_dir}/labels (KITTI), images_annotated/")
    return {"images": len(paths), "boxes": total}


def calibration_paths(spec, cal_dir):
    """--cal_image_dir's images, else the spec's training images (dataset.index or the train sources, lists
    respected)."""
    if cal_dir:
        return image_paths(cal_dir, "--cal_image_dir")
    if not (spec.dataset.index or spec.dataset.train):
        raise UserError("--data_type int8 needs calibration images: pass --cal_image_dir DIR, or -e SPEC whose "
                        "dataset (dataset.index or dataset.train) has training images")
    return [Path(sample["image"]) for sample in load_index(spec)["train"]]


def agreement(spec, info, fp32_outputs, int8_outputs, reference="FP32"):
    """IoU of the positions (cells or anchors, per class) where the `reference` (FP32, or the PyTorch QAT model)
    and the INT8 model are confident; for a graph that outputs its detections (Faster R-CNN), IoU of the two
    models' detections, matched box to box."""
    network = networks.get(info.task)
    threshold = network.confidence_threshold(spec)
    matched = getattr(network, "matched_detections", None)
    both = either = 0
    for a, b in zip(fp32_outputs, int8_outputs):
        if matched:
            pairs, union = matched(a, b, threshold)
        else:
            fp32, int8 = network.confidence(a) > threshold, network.confidence(b) > threshold
            pairs, union = int((fp32 & int8).sum()), int((fp32 | int8).sum())
        both, either = both + pairs, either + union
    measure = "detection IoU (same class, box IoU >= 0.5)" if matched else "confident-output IoU"
    return (both / either if either else 1.0), f"{measure} with {reference}"
