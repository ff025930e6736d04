"""Faster R-CNN's outputs: its postprocessing (proposals, box decoding, per-class NMS) is in the exported graph, so
decoding is keeping the scored slots of the K padded detections (models/rcnn.py)."""

import numpy as np

OUTPUT_NAMES = ("boxes", "scores", "labels")


def decoder(info, params, spec):
    def decode(outputs):
        boxes, scores, labels = (np.asarray(o) for o in outputs)
        kept = scores > 0
        return boxes[kept].astype(np.float32), scores[kept].astype(np.float32), labels[kept].astype(np.int64)

    return decode


def contract_outputs(info):
    k = info.network["test_detections_per_image"]
    outputs = [
        {"name": "boxes", "shape": ["batch", k, 4], "meaning": "x1, y1, x2, y2 in input pixels"},
        {"name": "scores", "shape": ["batch", k], "meaning": "detection score; 0 in the slots past the detections"},
        {"name": "labels", "shape": ["batch", k], "meaning": "index into class_names"}]
    return outputs, ("in the graph: RPN proposals, box decoding, per-class NMS (ONNX NonMaxSuppression), RoIAlign; "
                     "outside it: keep the slots with score > 0; boxes are in input pixels: scale by original size / "
                     "input size")
