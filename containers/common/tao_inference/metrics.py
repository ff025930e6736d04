"""Metrics, in numpy. Classification: top-k accuracy, per-class precision/recall/F1, confusion matrix, the
validation loss. Detection: per-class AP at an IoU threshold in TAO's two modes — VOC 11-point (`sample`) and
all-point interpolation (`integrate`) — and COCO mAP@[.5:.95] from pycocotools. Predictions and ground truth
are per-image numpy arrays: boxes [N, 4] (x1, y1, x2, y2), labels [N], scores [N] (predictions only)."""

import contextlib
import io

import numpy as np


def iou(box, boxes):
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def precision_recall(predictions, ground_truth, class_id, iou_threshold=0.5):
    """(precision, recall, num_gt) arrays over predictions of one class sorted by score; each ground-truth box
    matches at most one prediction (the highest-scored one with IoU >= threshold), others are false positives."""
    detections, num_gt, matched = [], 0, {}
    for image, (pred, gt) in enumerate(zip(predictions, ground_truth)):
        gt_boxes = gt["boxes"][gt["labels"] == class_id]
        num_gt += len(gt_boxes)
        matched[image] = np.zeros(len(gt_boxes), bool)
        keep = pred["labels"] == class_id
        detections += [(score, image, box) for score, box in zip(pred["scores"][keep], pred["boxes"][keep])]
    detections.sort(key=lambda d: -d[0])
    tp = np.zeros(len(detections))
    for k, (_, image, box) in enumerate(detections):
        gt_boxes = ground_truth[image]["boxes"][ground_truth[image]["labels"] == class_id]
        if len(gt_boxes):
            overlaps = iou(box, gt_boxes)
            best = int(np.argmax(overlaps))
            if overlaps[best] >= iou_threshold and not matched[image][best]:
                matched[image][best] = True
                tp[k] = 1
    tp_cum, fp_cum = np.cumsum(tp), np.cumsum(1 - tp)
    recall = tp_cum / max(num_gt, 1)
    precision = tp_cum / np.maximum(tp_cum + fp_cum, 1e-9)
    return precision, recall, num_gt


def average_precision(precision, recall, mode="integrate"):
    """VOC AP. `sample`: mean of the max precision at recall >= 0, 0.1, ..., 1 (11 points);
    `integrate`: area under the precision envelope (all points)."""
    if len(precision) == 0:
        return 0.0
    if mode == "sample":
        return float(np.mean([precision[recall >= t].max() if np.any(recall >= t) else 0.0
                              for t in np.linspace(0, 1, 11)]))
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def voc_map(predictions, ground_truth, class_names, iou_threshold=0.5, mode="integrate"):
    """{"mAP": mean over classes with ground truth, "per_class": {name: {"AP", "num_gt", "precision", "recall"}}}."""
    per_class = {}
    for c, name in enumerate(class_names):
        precision, recall, num_gt = precision_recall(predictions, ground_truth, c, iou_threshold)
        per_class[name] = {"AP": average_precision(precision, recall, mode) if num_gt else None, "num_gt": num_gt,
                           "precision": precision, "recall": recall}
    scored = [v["AP"] for v in per_class.values() if v["AP"] is not None]
    return {"mAP": float(np.mean(scored)) if scored else 0.0, "per_class": per_class}


def coco_map(predictions, ground_truth, class_names):
    """COCO mAP@[.5:.95] (and @.5) from pycocotools, on the same boxes."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, results = [], [], []
    for image, (pred, gt) in enumerate(zip(predictions, ground_truth)):
        images.append({"id": image})
        for box, label in zip(gt["boxes"], gt["labels"]):
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append({"id": len(annotations) + 1, "image_id": image, "category_id": int(label),
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
        for box, label, score in zip(pred["boxes"], pred["labels"], pred["scores"]):
            x1, y1, x2, y2 = (float(v) for v in box)
            results.append({"image_id": image, "category_id": int(label), "bbox": [x1, y1, x2 - x1, y2 - y1],
                            "score": float(score)})
    if not annotations or not results:
        return {"mAP_50_95": 0.0, "mAP_50": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {"images": images, "annotations": annotations,
                         "categories": [{"id": i, "name": n} for i, n in enumerate(class_names)]}
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {"mAP_50_95": float(evaluation.stats[0]), "mAP_50": float(evaluation.stats[1])}


COCO_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def coco_instance_metrics(truth, predictions, class_names):
    """COCO box and mask AP (pycocotools' 12 numbers each, per-class AP, and the mask precision-recall curve at
    IoU 0.5 per class) of instance predictions, in original image pixels.

    `truth`: per image {"width", "height", "objects": [{"class", "box" x1y1x2y2, "segmentation", "iscrowd"}]}
    (data/coco_instances.py); `predictions`: per image [{"label" (class index), "score", "box", "rle"}]."""
    from pycocotools import mask as coco_mask
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from .data.coco_instances import to_rle

    ids = {name: i + 1 for i, name in enumerate(class_names)}
    images, annotations, boxes, masks = [], [], [], []
    for image_id, (sample, found) in enumerate(zip(truth, predictions), start=1):
        h, w = sample["height"], sample["width"]
        images.append({"id": image_id, "width": w, "height": h})
        for obj in sample["objects"]:
            rle = to_rle(obj["segmentation"], h, w)
            x1, y1, x2, y2 = obj["box"]
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": ids[obj["class"]],
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": float(coco_mask.area(rle)),
                                "segmentation": rle, "iscrowd": obj["iscrowd"]})
        for det in found:
            x1, y1, x2, y2 = (float(v) for v in det["box"])
            common = {"image_id": image_id, "category_id": int(det["label"]) + 1, "score": float(det["score"])}
            boxes.append({**common, "bbox": [x1, y1, x2 - x1, y2 - y1]})
            masks.append({**common, "segmentation": {"size": det["rle"]["size"], "counts": det["rle"]["counts"]}})
    result = {}
    for kind, found in (("box", boxes), ("mask", masks)):
        if not annotations or not found:
            result[kind] = {**dict.fromkeys(COCO_STATS, 0.0), "per_class": dict.fromkeys(class_names), "pr": {}}
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO()
            gt.dataset = {"images": images, "annotations": annotations,
                          "categories": [{"id": i, "name": n} for n, i in ids.items()]}
            gt.createIndex()
            evaluation = COCOeval(gt, gt.loadRes(found), "bbox" if kind == "box" else "segm")
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        precision = evaluation.eval["precision"]  # [IoU, recall, class, area, max detections]
        per_class, pr = {}, {}
        for k, name in enumerate(class_names):
            p = precision[:, :, k, 0, -1]
            per_class[name] = float(p[p > -1].mean()) if (p > -1).any() else None
            at_50 = precision[0, :, k, 0, -1]
            if (at_50 > -1).any():
                pr[name] = {"recall": evaluation.params.recThrs.tolist(), "precision": at_50.clip(0).tolist(),
                            "AP": float(at_50[at_50 > -1].mean())}
        result[kind] = {**{k: max(0.0, float(v)) for k, v in zip(COCO_STATS, evaluation.stats)},
                        "per_class": per_class, "pr": pr}
    return result


def cross_entropy(logits, targets, label_smoothing=0.0):
    """Mean cross-entropy of logits [N, C] against class ids [N] (torch.nn.functional.cross_entropy's)."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    nll = -log_probs[np.arange(len(targets)), targets]
    return float(((1 - label_smoothing) * nll - label_smoothing * log_probs.mean(1)).mean())


def classification_metrics(logits, targets, class_names, top_k=5):
    n = len(class_names)
    k = min(top_k, n)
    ranked = np.argsort(-logits, axis=1)
    predicted = ranked[:, 0]
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (targets, predicted), 1)
    per_class = []
    for i, name in enumerate(class_names):
        tp, predicted_i, actual_i = matrix[i, i], matrix[:, i].sum(), matrix[i, :].sum()
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / actual_i if actual_i else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append({"class": name, "precision": float(precision), "recall": float(recall), "f1": float(f1),
                          "support": int(actual_i)})
    return {
        "top1": float((predicted == targets).mean()),
        f"top{k}": float((ranked[:, :k] == targets[:, None]).any(axis=1).mean()),
        "num_images": int(len(targets)),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "class_names": list(class_names),
    }
