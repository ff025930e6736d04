"""COCO instance annotations (Mask R-CNN's data): images, categories, and per object a box and a mask given as
polygons or RLE (compressed or not), read with pycocotools. Every error names the file and the entry.

A sample is plain data (JSON-able, shared by the torch dataset and the evaluation):
    {"image": path, "width": W, "height": H,
     "objects": [{"class": name, "box": [x1, y1, x2, y2], "segmentation": polygons | RLE, "iscrowd": 0 | 1}]}
"""

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..fileio import path_inside, read_text

SPLITS = ("train", "val", "test")


@dataclass
class InstanceData:
    classes: list  # category names, in the training files' category id order
    samples: dict  # split -> [sample]


def rle_string_counts(text):
    """The run lengths of a compressed RLE string (COCO's format: 6-bit characters from '0', 5 data bits and a
    continuation bit each, runs after the second delta-coded), so that a damaged string is an error here and never
    reaches pycocotools' C decoder, which reads it unchecked."""
    counts, position = [], 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise ValueError("it ends inside a run length")
            code = ord(text[position]) - 48
            if not 0 <= code < 64:
                raise ValueError(f"character {text[position]!r} is not of COCO's RLE alphabet")
            value |= (code & 0x1F) << shift
            more = code & 0x20
            position, shift = position + 1, shift + 5
            if not more and code & 0x10:
                value |= -1 << shift
        counts.append(value + counts[-2] if len(counts) > 2 else value)
    return counts


def _segmentation(seg, height, width, where):
    """The annotation's mask as pycocotools takes it, checked: polygons [[x, y, ...], ...] inside the image's
    neighbourhood, or RLE {size, counts} whose runs cover the image exactly."""
    if isinstance(seg, list):
        if not seg or not all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 and
                              all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p) for p in seg):
            raise UserError(f"{where}: segmentation polygons are lists of x, y numbers (at least 3 points each)")
        values = np.asarray([v for p in seg for v in p], np.float64).reshape(-1, 2)
        if not (np.isfinite(values).all() and (values >= -np.float64([width, height])).all() and
                (values <= 2 * np.float64([width, height])).all()):
            raise UserError(f"{where}: a polygon point is not a finite number near the image ({width}x{height})")
        return seg
    if isinstance(seg, dict) and "counts" in seg and "size" in seg:
        if list(seg["size"]) != [height, width]:
            raise UserError(f"{where}: RLE size {seg['size']} is not the image's [height, width] [{height}, {width}]")
        counts = seg["counts"]
        try:
            if isinstance(counts, str):
                counts = rle_string_counts(counts)
            elif not (isinstance(counts, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in counts)):
                raise ValueError("counts must be a string (compressed) or a list of whole run lengths")
        except ValueError as exc:
            raise UserError(f"{where}: RLE counts: {exc}") from None
        if min(counts, default=0) < 0 or sum(counts) != height * width:
            raise UserError(f"{where}: RLE runs must be non-negative and cover the image's {height} x {width} pixels "
                            f"(they sum to {sum(counts)})")
        return seg
    raise UserError(f"{where}: needs a segmentation: polygons [[x1, y1, x2, y2, ...]] or RLE {{size, counts}}")


def to_rle(segmentation, height, width):
    """An annotation's segmentation (polygons, RLE with list or text counts) as pycocotools' compressed RLE."""
    from pycocotools import mask as coco_mask

    if isinstance(segmentation, list):
        return coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
    if isinstance(segmentation["counts"], list):
        return coco_mask.frPyObjects(segmentation, height, width)
    return {"size": segmentation["size"], "counts": segmentation["counts"].encode()}


def decode_mask(segmentation, height, width):
    """An annotation's segmentation as a uint8 mask [H, W] (1 inside)."""
    from pycocotools import mask as coco_mask

    return coco_mask.decode(to_rle(segmentation, height, width))


def encode_mask(mask):
    """A binary mask [H, W] as compressed RLE with text counts (COCO's results format)."""
    from pycocotools import mask as coco_mask

    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def read_coco_instances(annotation_file, image_dir, flag):
    """(category names in id order, samples) of one COCO instance file."""
    annotation_file = Path(annotation_file)
    if not annotation_file.is_file():
        raise UserError(f"{flag}.annotation_file {annotation_file} not found")
    try:
        data = json.loads(read_text(annotation_file, f"{flag}.annotation_file"))
        categories = {c["id"]: str(c["name"]).strip() for c in data["categories"]}
        images = {i["id"]: i for i in data["images"]}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"{annotation_file}: not a COCO instance file ({type(exc).__name__}: {exc}); it needs "
                        "images (id, file_name, width, height), categories (id, name) and annotations") from None
    annotations = data.get("annotations", [])
    if not isinstance(annotations, list):
        raise UserError(f"{annotation_file}: 'annotations' must be a list")
    samples = {}
    for index, (image_id, image) in enumerate(images.items()):
        where = f"{annotation_file}: images[{index}] (id {image_id})"
        if not isinstance(image.get("file_name"), str) or not isinstance(image.get("width"), int) or \
                not isinstance(image.get("height"), int):
            raise UserError(f"{where} needs file_name (text), width and height (whole numbers)")
        path = path_inside(Path(image_dir), image["file_name"], f"{where}.file_name")
        if not path.is_file():
            raise UserError(f"{where}: image {path} not found (file_names are relative to {flag}.image_dir "
                            f"{image_dir})")
        samples[image_id] = {"image": str(path), "width": image["width"], "height": image["height"], "objects": []}
    for index, ann in enumerate(annotations):
        where = f"{annotation_file}: annotations[{index}]"
        try:
            sample, name = samples[ann["image_id"]], categories[ann["category_id"]]
            x, y, w, h = (float(v) for v in ann["bbox"])
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{where} needs image_id, category_id (of listed images and categories) and bbox "
                            "[x, y, width, height]") from None
        if w <= 0 or h <= 0:
            raise UserError(f"{where}: bbox {ann['bbox']} has no area (width and height must be above 0)")
        seg = _segmentation(ann.get("segmentation"), sample["height"], sample["width"], where)
        sample["objects"].append({"class": name, "box": [x, y, x + w, y + h], "segmentation": seg,
                                  "iscrowd": int(bool(ann.get("iscrowd", 0)))})
    ordered = [categories[k] for k in sorted(categories)]
    duplicated = [n for n, c in Counter(ordered).items() if c > 1]
    if duplicated:
        raise UserError(f"{annotation_file}: category name(s) {duplicated} are listed twice; give each one id")
    return ordered, list(samples.values())


def read_split(dataset, split):
    """(categories in order of first appearance, samples) of every source of `dataset.<split>`."""
    categories, samples = [], []
    for number, source in enumerate(getattr(dataset, split)):
        flag = f"dataset.{split}[{number}]"
        if not source.annotation_file or not source.image_dir:
            raise UserError(f"{flag}: give both image_dir and annotation_file (a COCO instance JSON)")
        names, found = read_coco_instances(source.annotation_file, source.image_dir, flag)
        categories += [n for n in names if n not in categories]
        samples += found
    return categories, samples


def check_classes(samples, classes, split):
    """Every object of `samples` is of a known class."""
    known = set(classes)
    for sample in samples:
        for obj in sample["objects"]:
            if obj["class"] not in known:
                raise UserError(f"dataset.{split}: {sample['image']} has an object of category '{obj['class']}', "
                                f"which the training categories {list(classes)} do not have")


def load_instances(dataset, splits=SPLITS):
    """The classes (the training files' categories) and the samples of each split asked for."""
    classes, samples = read_split(dataset, "train")
    if not classes:
        raise UserError("dataset.train: no COCO sources with categories; add {image_dir, annotation_file} entries")
    result = {"train": samples}
    for split in splits:
        if split != "train":
            result[split] = read_split(dataset, split)[1]
            check_classes(result[split], classes, split)
    return InstanceData(classes, result)


def split_samples(dataset, split, classes):
    """The samples of one split, for a model of `classes`."""
    samples = read_split(dataset, split)[1]
    if not samples:
        raise UserError(f"the {split} split has no images: dataset.{split} lists no COCO sources")
    check_classes(samples, classes, split)
    return samples


def summary(samples, classes):
    """Instances per class, crowd regions per class, images with none: dataset_convert's report of a split."""
    instances, crowd = Counter(), Counter()
    for sample in samples:
        for obj in sample["objects"]:
            (crowd if obj["iscrowd"] else instances)[obj["class"]] += 1
    return {"images": len(samples), "empty": sum(1 for s in samples if not s["objects"]),
            "per_class": {name: {"instances": instances[name], "crowd": crowd[name]} for name in classes}}
