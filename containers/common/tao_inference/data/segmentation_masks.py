"""Semantic-segmentation data as TAO's UNet reads it: image folders with single-channel PNG masks of the same file
stem; each mask value is a label id mapped through `dataset.data_class_config.target_classes` to a class."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import UserError
from .image_lists import list_images, read_image_list

SPLIT_KEYS = {split: (f"{split}_images_path", f"{split}_masks_path") for split in ("train", "val", "test")}


@dataclass(frozen=True)
class ClassMap:
    names: tuple  # class names, by class index
    lookup: np.ndarray  # [256] label id -> class index, -1 where no target class names it
    weights: tuple  # cross-entropy weight per class
    unmapped: str  # "error" | "background"


def class_map(config):
    """Classes from the target classes: one per mapping class, in the order of their smallest label id (TAO's)."""
    targets = sorted(config.target_classes, key=lambda t: t.label_id)
    if not targets:
        raise UserError("dataset.data_class_config.target_classes is empty: give one {name, label_id} per mask value "
                        "(e.g. [{name: background, label_id: 0}, {name: cell, label_id: 255}])")
    lookup = np.full(256, -1, dtype=np.int64)
    names, weights = [], {}
    for number, target in enumerate(targets):
        if not target.name:
            raise UserError(f"dataset.data_class_config.target_classes[{number}]: give it a name")
        if lookup[target.label_id] >= 0:
            raise UserError(f"dataset.data_class_config.target_classes: label_id {target.label_id} is given twice; "
                            "map it once (several label ids may map to one class through mapping_class)")
        mapped = target.mapping_class or target.name
        if mapped not in names:
            names.append(mapped)
        lookup[target.label_id] = names.index(mapped)
        if target.name == mapped or mapped not in weights:
            weights[mapped] = target.class_weight
    if len(names) < 2:
        raise UserError(f"dataset.data_class_config.target_classes map to one class ({names[0]}): a segmentation "
                        "needs two or more (e.g. background and the object)")
    return ClassMap(tuple(names), lookup, tuple(weights[n] for n in names), config.unmapped_label_ids)


def read_mask(path, classes):
    """The class index of every pixel. 0/255 masks (TAO's binary masks) are divided by 255 when 255 is no label."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("L", "P", "I", "I;16", "1"):
                raise UserError(f"{path}: a mask must be a single-channel PNG of label ids (this one is {image.mode})")
            values = np.asarray(image.convert("L") if image.mode == "1" else image).astype(np.int64)
    except (OSError, UnidentifiedImageError) as exc:
        raise UserError(f"cannot read mask {path}: {exc}") from None
    if values.max(initial=0) > 255:
        raise UserError(f"{path}: mask value {values.max()} is above 255; label ids are 0-255")
    if classes.lookup[255] < 0 and set(np.unique(values)) <= {0, 255}:
        values = values // 255
    ids = classes.lookup[values]
    if (ids < 0).any():
        unknown = sorted(set(np.unique(values[ids < 0]).tolist()))
        if classes.unmapped == "error":
            raise UserError(f"{path}: mask value {unknown[0]} is no target class's label_id ({len(unknown)} such "
                            "value(s)); add it to dataset.data_class_config.target_classes, or set "
                            "dataset.data_class_config.unmapped_label_ids: background")
        ids[ids < 0] = 0
    return ids


def listed_pairs(sources, key):
    """Pairs from list files: line N of image_path with line N of masks_path (TAO's data_source)."""
    pairs = []
    for number, source in enumerate(sources):
        where = f"dataset.{key}[{number}]"
        if not source.image_path or not source.masks_path:
            raise UserError(f"{where}: give both image_path and masks_path (text files listing them)")
        images = read_image_list(source.image_path, f"{where}.image_path")
        masks = read_image_list(source.masks_path, f"{where}.masks_path")
        if len(images) != len(masks):
            raise UserError(f"{where}: {source.image_path} lists {len(images)} images but {source.masks_path} "
                            f"{len(masks)} masks; line N of one must be the mask of line N of the other")
        pairs += list(zip(images, masks))
    return pairs


def split_pairs(dataset_spec, split):
    """[(image path, mask path)] of a split: from its list files, else each image of its folder with the mask of
    the same stem."""
    sources = getattr(dataset_spec, f"{split}_data_sources", None)
    if sources:
        return listed_pairs(sources, f"{split}_data_sources")
    image_key, mask_key = SPLIT_KEYS[split]
    images, masks = getattr(dataset_spec, image_key), getattr(dataset_spec, mask_key)
    if not images:
        raise UserError(f"dataset.{image_key} is not set: the {split} images (and dataset.{mask_key}, their masks)")
    paths = list_images(Path(images)) if Path(images).is_dir() else None
    if paths is None:
        raise UserError(f"dataset.{image_key}: directory {images} does not exist")
    if not paths:
        raise UserError(f"dataset.{image_key}: {images} holds no .jpg/.jpeg/.png images")
    if not masks:
        raise UserError(f"dataset.{mask_key} is not set: the masks of {images}")
    if not Path(masks).is_dir():
        raise UserError(f"dataset.{mask_key}: directory {masks} does not exist")
    by_stem = {p.stem: p for p in Path(masks).iterdir() if p.suffix.lower() == ".png"}
    missing = [p for p in paths if p.stem not in by_stem]
    if missing:
        raise UserError(f"dataset.{mask_key}: no mask {missing[0].stem}.png for {missing[0]} ({len(missing)} image(s) "
                        f"without one in {masks})")
    return [(p, by_stem[p.stem]) for p in paths]


def check_pairs(pairs, classes):
    """Every pair: readable, the same size; the pixels of each class over all masks."""
    counts = np.zeros(len(classes.names), dtype=np.int64)
    for image_path, mask_path in pairs:
        try:
            with Image.open(image_path) as image:
                size = image.size
        except (OSError, UnidentifiedImageError) as exc:
            raise UserError(f"cannot read image {image_path}: {exc}") from None
        ids = read_mask(mask_path, classes)
        if (ids.shape[1], ids.shape[0]) != size:
            raise UserError(f"{mask_path}: the mask is {ids.shape[1]}x{ids.shape[0]}, its image {image_path} is "
                            f"{size[0]}x{size[1]}; a mask must match its image")
        counts += np.bincount(ids.ravel(), minlength=len(classes.names))
    return counts
