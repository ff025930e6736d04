"""RetinaNet (torchvision) as a detection network: model, loss, decoding and export contract.
The subcommands themselves are the shared ones in tasks/detection.py."""

import sys

import numpy as np
import torch

from ..engine import distributed
from ..models.retinanet import RetinaNetDetector, decode
from ..spec.schemas import RetinaNetSpec
from . import detection

name = "retinanet"
description = "RetinaNet object detection (torchvision; FPN on any registered backbone; KITTI labels, VOC/COCO/YOLO converted)."
spec_class = RetinaNetSpec
output_names = ("cls_logits", "bbox_regression")


def meta(spec):
    return {"fpn_channels": spec.model.fpn_channels, "anchor_sizes": list(spec.model.anchor_sizes),
            "head_norm": spec.model.head_norm}


def build(meta, classifier):
    return RetinaNetDetector(meta["backbone"], meta["num_classes"], meta["image_height"], meta["image_width"],
                             classifier, meta["fpn_channels"], tuple(meta["anchor_sizes"]), meta["head_norm"])


def rebuild(meta):
    return build(meta, None)


def heads(model):
    """Layers whose outputs are never pruned: the two output convolutions and, with a GroupNorm head, the tower
    convolutions too (GroupNorm needs its channel count to stay a multiple of its groups)."""
    head = model.net.head
    kept = [head.classification_head.cls_logits, head.regression_head.bbox_reg]
    for branch in (head.classification_head, head.regression_head):
        kept += [m for block in branch.conv if any(isinstance(x, torch.nn.GroupNorm) for x in block.modules())
                 for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    return kept


def loss(spec, meta):
    # `model` may be DistributedDataParallel: its forward (which syncs gradients) runs, the loss is the detector's.
    return lambda model, images, targets: distributed.unwrap(model).loss(model(images), targets)


def decoder(spec, meta):
    """Decoding needs the anchors and box coder of this input size, not the trained weights: a fresh model gives
    them, so an ONNX model decodes exactly as its checkpoint did."""
    reference = rebuild(meta)
    anchors, coder, post = reference.anchors(), reference.net.box_coder, spec.postprocessing
    return lambda outputs: decode(outputs[0], outputs[1], anchors, coder, meta["image_height"], meta["image_width"],
                                  post.score_threshold, post.nms_iou, post.top_k, post.max_detections)


def confidence(outputs):
    return 1.0 / (1.0 + np.exp(-np.asarray(outputs[0], dtype=np.float64)))


def confidence_threshold(spec):
    return 0.3


def meta_for_contract(meta):
    return {"fpn_channels": meta["fpn_channels"], "anchor_sizes": meta["anchor_sizes"], "head_norm": meta["head_norm"]}


def contract_outputs(meta):
    c = meta["num_classes"]
    outputs = [
        {"name": "cls_logits", "shape": ["batch", "anchors", c], "meaning": "per anchor and class, a logit (sigmoid)"},
        {"name": "bbox_regression", "shape": ["batch", "anchors", 4],
         "meaning": "per anchor, (dx, dy, dw, dh) against the anchor, torchvision BoxCoder weights (1, 1, 1, 1)"}]
    postprocessing = ("anchors: levels P3-P7 (strides 8-128) of the input, base sizes anchor_sizes x (2^0, 2^(1/3), "
                      "2^(2/3)), aspect ratios 0.5, 1, 2, in torchvision AnchorGenerator order; scores = sigmoid(cls_logits); "
                      "keep scores > score_threshold (top_k), decode boxes with the anchors, clip, class-wise NMS; "
                      "boxes are in input pixels: scale by original size / input size")
    return outputs, postprocessing


def build_parser(prog=None):
    return detection.build_parser(sys.modules[__name__])
