"""Faster R-CNN's outputs: its postprocessing (proposals, box decoding, per-class NMS) is in the exported graph, so
decoding is keeping the scored slots of the K padded detections (models/rcnn.py)."""

import numpy as np

from ..postprocess import iou_matrix

OUTPUT_NAMES = ("boxes", "scores", "labels")


def decoder(info, params, spec):
    def decode(outputs):
        boxes, scores, labels = (np.asarray(o) for o in outputs)
        kept = scores > 0
        return boxes[kept].astype(np.float32), scores[kept].astype(np.float32), labels[kept].astype(np.int64)

    return decode


def confidence_threshold(spec):
    return 0.3


def matched_detections(reference, other, threshold, iou_threshold=0.5):
    """(pairs, union: the detections of either model, a pair counted once) over a batch, of the detections scored
    above `threshold`, paired greedily by score, same class, box IoU >= `iou_threshold`. The graph's output slots
    are ranked detections, not positions that line up between two models (as the others' anchors and cells do)."""
    pairs = detections = 0
    for boxes_a, scores_a, labels_a, boxes_b, scores_b, labels_b in zip(*reference, *other):
        a, b = scores_a > threshold, scores_b > threshold
        boxes_a, labels_a = boxes_a[a], labels_a[a]
        order = np.argsort(-scores_b[b], kind="stable")
        boxes_b, labels_b = boxes_b[b][order], labels_b[b][order]
        overlap = iou_matrix(boxes_b, boxes_a) * (labels_b[:, None] == labels_a[None, :])
        free = np.ones(len(boxes_a), bool)
        for row in overlap:
            candidates = np.where(free, row, 0.0)
            if candidates.size and candidates.max() >= iou_threshold:
                free[candidates.argmax()] = False
                pairs += 1
        detections += len(boxes_a) + len(boxes_b)
    return pairs, detections - pairs


def contract_outputs(info):
    k = info.network["test_detections_per_image"]
    outputs = [
        {"name": "boxes", "shape": ["batch", k, 4], "meaning": "x1, y1, x2, y2 in input pixels"},
        {"name": "scores", "shape": ["batch", k], "meaning": "detection score; 0 in the slots past the detections"},
        {"name": "labels", "shape": ["batch", k], "meaning": "index into class_names"}]
    return outputs, ("in the graph: RPN proposals, box decoding, per-class NMS (ONNX NonMaxSuppression), RoIAlign; "
                     "outside it: keep the slots with score > 0; boxes are in input pixels: scale by original size / "
                     "input size")
