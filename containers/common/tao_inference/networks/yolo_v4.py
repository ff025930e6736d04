"""YOLOv4's (and YOLOv4-tiny's) outputs: per prior (tx, ty, tw, th, objectness, class logits); its priors (grid,
stride, anchors per level) are in the contract."""

import numpy as np

from ..errors import UserError
from ..postprocess import decode_yolo, yolo_priors

OUTPUT_NAMES = ("predictions",)


def decoder(info, params, spec):
    h, w = info.input_height, info.input_width
    priors, nms = yolo_priors(params["prior_levels"]), spec.postprocessing

    def decode(outputs):
        if len(outputs[0]) != len(priors):
            raise UserError(f"the model gives {len(outputs[0])} priors' outputs, its contract describes "
                            f"{len(priors)}: re-export it (`tao {info.task} export`)")
        return decode_yolo(outputs[0], priors, h, w, nms.confidence_threshold, nms.clustering_iou_threshold,
                           nms.top_k, nms.max_detections)

    return decode


def confidence(outputs):
    """Per prior and class, sigmoid(objectness) x sigmoid(class logit)."""
    raw = np.asarray(outputs[0], np.float64)
    return 1.0 / (1.0 + np.exp(-raw[..., 4:5])) / (1.0 + np.exp(-raw[..., 5:]))


def confidence_threshold(spec):
    return 0.3


def contract_outputs(info):
    c = info.num_classes
    outputs = [{"name": "predictions", "shape": ["batch", "priors", 5 + c],
                "meaning": "per prior (tx, ty, tw, th, objectness logit, class logits)"}]
    postprocessing = ("priors: decoder.prior_levels, level by level, cells row-major, then the level's anchors; "
                      "score = sigmoid(objectness) x sigmoid(class logit); keep scores > confidence_threshold (top_k); "
                      "centre = (sigmoid(t_xy) x (1 + e) - e / 2 + cell) x stride with e the level's grid_xy_extend, "
                      "size = anchor x exp(t_wh clipped to [-4, 4]); clip to the input, class-wise NMS; boxes are in input "
                      "pixels: scale by original size / input size")
    return outputs, postprocessing
