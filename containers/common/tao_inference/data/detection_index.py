"""The detection index: label sources (KITTI, or VOC/COCO/YOLO converted on the fly), class mapping, the index
that `dataset_convert` writes and every subcommand reads, box statistics."""

import random
import warnings
import statistics
from collections import Counter
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..errors import UserError
from ..fileio import read_text
from .converters import read_coco, read_voc, read_yolo
from .kitti import KittiObject, pair_images_and_labels, read_kitti

SPLITS = ("train", "val", "test")


def _stems(list_file):
    return [line.strip() for line in read_text(list_file, "list_file").splitlines() if line.strip()]


def load_source(source):
    """{image: [KittiObject]} of one `dataset.<split>` entry (a DataSourceSpec)."""
    names = _stems(source.list_file) if source.list_file else None
    if source.format == "kitti":
        samples = {image: read_kitti(label) for image, label in pair_images_and_labels(source.image_dir, source.label_dir)}
    elif source.format == "voc":
        samples = read_voc(source.label_dir, source.image_dir, names)
    elif source.format == "coco":
        samples = read_coco(source.label_file, source.image_dir)
    else:
        samples = read_yolo(source.label_dir, source.image_dir, source.class_names)
    if names is not None and source.format != "voc":
        wanted = set(names)
        samples = {image: objects for image, objects in samples.items() if image.stem in wanted}
        missing = sorted(wanted - {image.stem for image in samples})
        if missing:
            raise UserError(f"list_file {source.list_file}: {len(missing)} listed image(s) not in {source.image_dir}, "
                            f"e.g. '{missing[0]}'; fix the list or add the images")
    # KITTI's DontCare boxes mark regions to ignore, not a class to learn
    return {image: [o for o in objects if o.name != "dontcare"] for image, objects in samples.items()}


def map_classes(samples, mapping):
    """Apply `target_class_mapping` (source class -> target class, many to one). With a mapping, objects of
    classes it does not name are dropped; without one, classes stay as they are."""
    if not mapping:
        return samples
    mapping = {k.lower(): v.lower() for k, v in mapping.items()}
    return {image: [KittiObject(mapping[o.name], *o.box, o.truncated, o.occluded) for o in objects if o.name in mapping]
            for image, objects in samples.items()}


def build_index(dataset_spec, seed=42):
    """{"classes": [...], "train"/"val"/"test": [{"image", "objects": [[class, x1, y1, x2, y2], ...]}]}."""
    splits = {}
    for split in SPLITS:
        merged = {}
        for source in getattr(dataset_spec, split):
            merged.update(load_source(source))
        splits[split] = map_classes(merged, dataset_spec.target_class_mapping)
        if merged and dataset_spec.target_class_mapping and not any(splits[split].values()) and any(merged.values()):
            found = sorted({o.name for objects in merged.values() for o in objects})
            raise UserError(f"dataset.target_class_mapping maps none of the classes of dataset.{split} "
                            f"({', '.join(found[:8])}), so it would train on no boxes; its keys are "
                            f"{', '.join(sorted(dataset_spec.target_class_mapping))} — fix their spelling")
    if not splits["train"]:
        raise UserError("dataset.train lists no images: give at least one source (format, image_dir, label_dir)")
    if not splits["val"] and dataset_spec.validation_split > 0:
        images = sorted(splits["train"])
        random.Random(seed).shuffle(images)
        held_out = images[: max(1, round(len(images) * dataset_spec.validation_split))]
        splits["val"] = {image: splits["train"].pop(image) for image in held_out}
    classes = sorted({o.name for split in splits.values() for objects in split.values() for o in objects})
    if dataset_spec.target_class_mapping:
        classes = sorted(set(v.lower() for v in dataset_spec.target_class_mapping.values()))
    index = {"classes": classes}
    for split, samples in splits.items():
        index[split] = [{"image": str(image), "objects": [[o.name, *o.box] for o in objects]}
                        for image, objects in sorted(samples.items())]
    return index


def box_statistics(index):
    """Per split and class: box count and width/height min/median/max (pixels of the original images)."""
    table = {}
    for split in SPLITS:
        sizes = {}
        for sample in index[split]:
            for name, x1, y1, x2, y2 in sample["objects"]:
                sizes.setdefault(name, []).append((x2 - x1, y2 - y1))
        table[split] = {
            name: {"boxes": len(wh), "images": sum(1 for s in index[split] if any(o[0] == name for o in s["objects"])),
                   **{f"{axis}_{stat}": round(fn([v[i] for v in wh]), 1)
                      for i, axis in enumerate(("width", "height"))
                      for stat, fn in (("min", min), ("median", statistics.median), ("max", max))}}
            for name, wh in sorted(sizes.items())}
        table[split]["_images"] = {"images": len(index[split]),
                                   "empty": sum(1 for s in index[split] if not s["objects"])}
    return table


def check_readable(index):
    """Open every image once; unreadable ones are listed by path, boxes wholly outside their image are warned of
    (training crops them away; a label that misses its image is a labelling mistake worth seeing).
    Returns {image path: (width, height)}."""
    bad, sizes = [], {}
    for split in SPLITS:
        for sample in index[split]:
            try:
                with Image.open(sample["image"]) as img:
                    img.verify()
                    width, height = img.size
            except (OSError, UnidentifiedImageError) as exc:
                bad.append(f"{sample['image']} ({type(exc).__name__})")
                continue
            sizes[sample["image"]] = (width, height)
            for name, x1, y1, x2, y2 in sample["objects"]:
                if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
                    warnings.warn(f"{sample['image']}: the {name} box ({x1}, {y1}, {x2}, {y2}) lies wholly outside "
                                  f"the {width}x{height} image; it is learnt from nowhere — check its label")
    if bad:
        raise UserError(f"{len(bad)} unreadable image(s): {'; '.join(bad[:5])}")
    return sizes


def class_counts(samples):
    return Counter(o[0] for s in samples for o in s["objects"])
