"""DetectNet_v2 (TAO's grid detector) as a detection network: model, loss, decoding and export contract.
The subcommands themselves are the shared ones in tasks/detection.py."""

import dataclasses
import sys

import numpy as np

from ..errors import UserError
from ..models.detectnet_v2 import ClusteringSpec as Clustering
from ..models.detectnet_v2 import DetectNetV2, TargetEncoding, decode, detectnet_loss
from ..spec.schemas import ClusteringSpec, DetectNetV2Spec
from . import detection

name = "detectnet_v2"
description = "DetectNet_v2 object detection (KITTI labels; VOC/COCO/YOLO converted)."
spec_class = DetectNetV2Spec
output_names = ("coverage", "bbox")


def meta(spec):
    return {"encoding": dataclasses.asdict(TargetEncoding(spec.model.coverage_scale, spec.model.bbox_norm))}


def build(meta, classifier):
    return DetectNetV2(meta["backbone"], meta["num_classes"], classifier)


def rebuild(meta):
    return DetectNetV2(meta["backbone"], meta["num_classes"])


def heads(model):
    return [model.coverage, model.bbox]


def loss(spec, meta):
    encoding = TargetEncoding(**meta["encoding"])

    def loss_fn(model, images, targets):
        return detectnet_loss(model(images), targets, encoding, bbox_weight=spec.model.bbox_loss_weight,
                              positive_weight=spec.model.positive_weight)

    return loss_fn


def clustering_per_class(spec, classes):
    """The postprocessing parameters of each class: `default` with that class's `per_class` overrides."""
    fields = {f.name for f in dataclasses.fields(ClusteringSpec)}
    per_class = spec.postprocessing.per_class or {}
    unknown = set(per_class) - set(classes)
    if unknown:
        raise UserError(f"postprocessing.per_class.{sorted(unknown)[0]}: not a class; classes: {', '.join(classes)}")
    result = []
    for class_name in classes:
        overrides = per_class.get(class_name) or {}
        bad = set(overrides) - fields
        if bad:
            raise UserError(f"postprocessing.per_class.{class_name}.{sorted(bad)[0]}: unknown key; keys: "
                            f"{', '.join(sorted(fields))}")
        result.append(Clustering(**{**dataclasses.asdict(spec.postprocessing.default), **overrides}))
    return result


def decoder(spec, meta):
    encoding, clustering = TargetEncoding(**meta["encoding"]), clustering_per_class(spec, meta["class_names"])
    return lambda outputs: decode(outputs[0], outputs[1], encoding, clustering)


def confidence(outputs):
    return np.asarray(outputs[0])


def confidence_threshold(spec):
    return spec.postprocessing.default.coverage_threshold


def meta_for_contract(meta):
    return {"encoding": meta["encoding"], "stride": 16}


def contract_outputs(meta):
    h, w, c = meta["image_height"] // 16, meta["image_width"] // 16, meta["num_classes"]
    outputs = [
        {"name": "coverage", "shape": ["batch", c, h, w],
         "meaning": "per class, the probability (sigmoid applied) that an object is centred around this 16x16 cell"},
        {"name": "bbox", "shape": ["batch", 4 * c, h, w],
         "meaning": "for class k, channels 4k..4k+3: distances left, top, right, bottom from the cell centre "
                    "((col + 0.5) * 16, (row + 0.5) * 16) to the box edges, divided by encoding.bbox_norm"}]
    postprocessing = ("per class: cells with coverage > coverage_threshold give candidate boxes (x1 = cx - left * "
                      "bbox_norm, y1 = cy - top * bbox_norm, x2 = cx + right * bbox_norm, y2 = cy + bottom * bbox_norm); "
                      "keep the best-covered of overlapping candidates (NMS) or cluster them (DBSCAN on 1 - IoU, "
                      "coverage-weighted mean box); boxes are in input pixels: scale x by original_width / "
                      "image_width and y by original_height / image_height")
    return outputs, postprocessing


def build_parser(prog=None):
    return detection.build_parser(sys.modules[__name__])
