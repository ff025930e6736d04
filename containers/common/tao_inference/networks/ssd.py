"""SSD's outputs: per default box a logit for the background and each class, and (dx, dy, dw, dh) against the box,
scaled by TAO's variances (torchvision BoxCoder weights = 1 / variances)."""

import numpy as np

from ..errors import UserError
from ..postprocess import decode_ssd, ssd_default_boxes

OUTPUT_NAMES = ("cls_logits", "bbox_regression")


def decoder(info, params, spec):
    h, w = info.input_height, info.input_width
    anchors = ssd_default_boxes(params["default_boxes"], h, w)
    weights, post = tuple(params["box_coder_weights"]), spec.postprocessing

    def decode(outputs):
        if len(outputs[0]) != len(anchors):
            raise UserError(f"the model gives {len(outputs[0])} default boxes' outputs, its contract describes "
                            f"{len(anchors)}: re-export it (`tao ssd export`)")
        return decode_ssd(outputs[0], outputs[1], anchors, weights, h, w, post.confidence_threshold,
                          post.clustering_iou_threshold, post.top_k, post.max_detections)

    return decode


def confidence(outputs):
    """Per default box and class (background left out), the softmax probability."""
    logits = np.asarray(outputs[0], np.float64)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    return (probs / probs.sum(-1, keepdims=True))[..., 1:]


def confidence_threshold(spec):
    return 0.3


def contract_outputs(info):
    c = info.num_classes
    outputs = [
        {"name": "cls_logits", "shape": ["batch", "anchors", c + 1],
         "meaning": "per default box a logit for the background (index 0) and each class (softmax)"},
        {"name": "bbox_regression", "shape": ["batch", "anchors", 4],
         "meaning": "per default box, (dx, dy, dw, dh) x decoder.box_coder_weights against the box"}]
    postprocessing = ("default boxes: decoder.default_boxes, level by level, cells row-major centred at ((col + 0.5) "
                      "/ grid_w, (row + 0.5) / grid_h) x input size, each cell's (w, h) pairs x input size; softmax "
                      "over the logits; per class, scores > confidence_threshold (its top_k); decode boxes (deltas / "
                      "weights, dw and dh clipped at log(1000/16)), clip to the input, class-wise NMS; boxes are in "
                      "input pixels: scale by original size / input size")
    return outputs, postprocessing
