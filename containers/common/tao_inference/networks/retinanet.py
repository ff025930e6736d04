"""RetinaNet's outputs: per anchor a logit per class and (dx, dy, dw, dh) against the anchor."""

import numpy as np

from ..errors import UserError
from ..postprocess import anchor_levels, anchors_from_levels, decode_retinanet, fpn_grids

OUTPUT_NAMES = ("cls_logits", "bbox_regression")


def decoder(info, params, spec):
    """Anchors from the contract (recorded at export), or for 0.1.0 files computed from the anchor sizes."""
    h, w = info.input_height, info.input_width
    levels = (params or {}).get("anchor_levels") or anchor_levels(info.network["anchor_sizes"], fpn_grids(h, w), h, w)
    anchors, post = anchors_from_levels(levels), spec.postprocessing

    def decode(outputs):
        if len(outputs[0]) != len(anchors):
            raise UserError(f"the model gives {len(outputs[0])} anchors' outputs, its contract describes "
                            f"{len(anchors)}: re-export it with this version (`tao retinanet export`)")
        return decode_retinanet(outputs[0], outputs[1], anchors, h, w, post.score_threshold, post.nms_iou,
                                post.top_k, post.max_detections)

    return decode


def confidence(outputs):
    return 1.0 / (1.0 + np.exp(-np.asarray(outputs[0], dtype=np.float64)))


def confidence_threshold(spec):
    return 0.3


def contract_outputs(info):
    c = info.num_classes
    outputs = [
        {"name": "cls_logits", "shape": ["batch", "anchors", c], "meaning": "per anchor and class, a logit (sigmoid)"},
        {"name": "bbox_regression", "shape": ["batch", "anchors", 4],
         "meaning": "per anchor, (dx, dy, dw, dh) against the anchor, torchvision BoxCoder weights (1, 1, 1, 1)"}]
    postprocessing = ("anchors: decoder.anchor_levels, level by level (P3-P7), cells row-major, each cell's anchors "
                      "at (col * stride_x, row * stride_y) + cell_anchors; scores = sigmoid(cls_logits); keep scores > "
                      "score_threshold (top_k), decode boxes against the anchors (dw, dh clipped at log(1000/16)), "
                      "clip to the input, class-wise NMS; boxes are in input pixels: scale by original size / input size")
    return outputs, postprocessing
