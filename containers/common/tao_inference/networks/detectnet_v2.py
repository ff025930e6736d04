"""DetectNet_v2's outputs: per class a coverage map (sigmoid) and the cell's distances to the box edges."""

import dataclasses

import numpy as np

from ..errors import UserError
from ..postprocess import decode_detectnet_v2
from ..spec.schemas import ClusteringSpec

STRIDE = 16
OUTPUT_NAMES = ("coverage", "bbox")


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
        result.append({**dataclasses.asdict(spec.postprocessing.default), **overrides})
    return result


def suggested_per_class(train_samples, image_sizes, input_height, keep_fraction=0.5):
    """`postprocessing.per_class` from the training boxes: per class, `minimum_height` at `keep_fraction` of the
    1st-percentile box height at the network's input size. Boxes that low are almost never objects of that class,
    and a grid detector's stray candidates are mostly small (on BCCD: fewer platelet boxes, mAP +0.2 pt)."""
    heights = {}
    for sample in train_samples:
        scale = input_height / image_sizes[sample["image"]][1]
        for name, _, y1, _, y2 in sample["objects"]:
            heights.setdefault(name, []).append((y2 - y1) * scale)
    return {name: {"minimum_height": round(keep_fraction * float(np.percentile(values, 1)), 1)}
            for name, values in sorted(heights.items())}


def decoder_params(info):
    return {"stride": STRIDE, "bbox_norm": info.network["encoding"]["bbox_norm"]}


def decoder(info, params, spec):
    params = params or decoder_params(info)
    clustering = clustering_per_class(spec, info.class_names)
    return lambda outputs: decode_detectnet_v2(outputs[0], outputs[1], params["stride"], params["bbox_norm"], clustering)


def confidence(outputs):
    return np.asarray(outputs[0])


def confidence_threshold(spec):
    return spec.postprocessing.default.coverage_threshold


def contract_outputs(info):
    h, w, c = info.input_height // STRIDE, info.input_width // STRIDE, info.num_classes
    outputs = [
        {"name": "coverage", "shape": ["batch", c, h, w],
         "meaning": "per class, the probability (sigmoid applied) that an object is centred around this 16x16 cell"},
        {"name": "bbox", "shape": ["batch", 4 * c, h, w],
         "meaning": "for class k, channels 4k..4k+3: distances left, top, right, bottom from the cell centre "
                    "((col + 0.5) * stride, (row + 0.5) * stride) to the box edges, divided by decoder.bbox_norm"}]
    postprocessing = ("per class: cells with coverage > coverage_threshold give candidate boxes (x1 = cx - left * "
                      "bbox_norm, y1 = cy - top * bbox_norm, x2 = cx + right * bbox_norm, y2 = cy + bottom * bbox_norm); "
                      "keep the best-covered of overlapping candidates (NMS) or cluster them (DBSCAN on 1 - IoU, "
                      "coverage-weighted mean box); boxes are in input pixels: scale x by original_width / "
                      "input_width and y by original_height / input_height")
    return outputs, postprocessing
