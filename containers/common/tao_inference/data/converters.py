"""Other detection label formats → KITTI (TAO's detection format): Pascal VOC XML, COCO JSON, YOLO txt.

Each reader returns {image_path: [KittiObject]}; `write_kitti_dataset` writes OUT/images (hard links, or copies
across file systems) and OUT/labels/<stem>.txt. Malformed input is a UserError naming the file (and line/entry).
"""

import dataclasses
import json
import math
import os
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from PIL import Image

from ..errors import UserError
from ..fileio import make_dirs, path_inside, read_text, require_folder
from .kitti import IMAGE_SUFFIXES, KittiObject, keep_valid, write_kitti


def _images_by_stem(image_dir):
    image_dir = require_folder(image_dir, "image_dir")
    return {p.stem: p for p in sorted(image_dir.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def read_voc(annotation_dir, image_dir, names=None):
    """VOC XML files (`object/name`, `object/bndbox/{xmin,ymin,xmax,ymax}`, `object/truncated`, `object/difficult`).
    `names`: optional list of annotation stems to read (e.g. a VOC ImageSets/Main/*.txt split)."""
    annotation_dir = Path(annotation_dir)
    images = _images_by_stem(image_dir)
    files = [annotation_dir / f"{n}.xml" for n in names] if names is not None else sorted(annotation_dir.glob("*.xml"))
    if not files:
        raise UserError(f"label_dir {annotation_dir}: no VOC .xml annotations there")
    result = {}
    for xml_file in files:
        if not xml_file.is_file():
            raise UserError(f"VOC annotation {xml_file} not found")
        try:
            root = ElementTree.parse(xml_file).getroot()
        except ElementTree.ParseError as exc:
            raise UserError(f"{xml_file}: not valid XML ({exc})") from None
        filename = Path(root.findtext("filename") or xml_file.stem)
        image = images.get(filename.stem) or images.get(xml_file.stem)
        if image is None:
            raise UserError(f"{xml_file}: its image {filename.name} is not in {image_dir}")
        objects = []
        for index, obj in enumerate(root.iter("object")):
            name = (obj.findtext("name") or "").strip().lower()
            if not name or len(name.split()) != 1:
                raise UserError(f"{xml_file}: object {index} needs a <name> of one word (the class), got {name!r}")
            box = obj.find("bndbox")
            try:
                x1, y1, x2, y2 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            except (AttributeError, TypeError, ValueError):
                raise UserError(f"{xml_file}: object {index} ({name}) has no numeric bndbox/xmin..ymax") from None
            try:
                truncated = float(obj.findtext("truncated") or 0)
                difficult = int(float(obj.findtext("difficult") or 0))
            except ValueError:
                raise UserError(f"{xml_file}: object {index} ({name}): <truncated> and <difficult> are numbers (0 or "
                                f"1), got {obj.findtext('truncated')!r} / {obj.findtext('difficult')!r}") from None
            if not all(math.isfinite(v) for v in (x1, y1, x2, y2, truncated)):
                raise UserError(f"{xml_file}: object {index} ({name}) has a non-finite coordinate")
            objects.append(KittiObject(name, x1, y1, x2, y2, truncated=truncated, occluded=difficult))
        result[image] = keep_valid(objects, xml_file)
    return result


def read_coco(annotation_file, image_dir):
    """COCO detection JSON: `images` (id, file_name), `annotations` (image_id, category_id, bbox [x, y, w, h]),
    `categories` (id, name). Crowd annotations are skipped, as COCO's own evaluation ignores them."""
    annotation_file = Path(annotation_file)
    try:
        data = json.loads(read_text(annotation_file, "label_file"))
        categories = {c["id"]: c["name"].strip().lower() for c in data["categories"]}
        image_files = {i["id"]: i["file_name"] for i in data["images"]}
    except FileNotFoundError:
        raise UserError(f"COCO annotation file {annotation_file} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"{annotation_file}: not a COCO detection file ({type(exc).__name__}: {exc}); it needs "
                        "images (id, file_name) and categories (id, name: text)") from None
    if not isinstance(data.get("annotations", []), list):
        raise UserError(f"{annotation_file}: 'annotations' must be a list of {{image_id, category_id, bbox}}")
    image_dir = Path(image_dir)
    for index, (image_id, name) in enumerate(image_files.items()):
        if not isinstance(name, str) or not name:
            raise UserError(f"{annotation_file}: images[{index}] (id {image_id}) needs a file_name (text)")
        image_files[image_id] = path_inside(image_dir, name, f"{annotation_file}: images[{index}].file_name")
    result = {path: [] for path in image_files.values()}
    for index, ann in enumerate(data.get("annotations", [])):
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            image, name = image_files[ann["image_id"]], categories[ann["category_id"]]
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{annotation_file}: annotations[{index}] needs image_id, category_id and bbox "
                            "[x, y, width, height] that refer to listed images and categories") from None
        if not ann.get("iscrowd", 0):
            result[image].append(KittiObject(name, x, y, x + w, y + h))
    result = {image: keep_valid(objects, f"{annotation_file} ({image.name})") for image, objects in result.items()}
    missing = [str(p) for p in result if not p.is_file()]
    if missing:
        raise UserError(f"{annotation_file}: {len(missing)} listed image(s) not found, e.g. {missing[0]}")
    return result


def read_yolo(label_dir, image_dir, class_names):
    """YOLO txt: `class_index cx cy w h` per line, normalized to the image size (read from the image)."""
    label_dir = Path(label_dir)
    result = {}
    for stem, image in _images_by_stem(image_dir).items():
        label = label_dir / f"{stem}.txt"
        objects = []
        if label.is_file():
            with Image.open(image) as img:
                width, height = img.size
            for number, line in enumerate(read_text(label, "label_dir").splitlines(), start=1):
                fields = line.split()
                if not fields:
                    continue
                try:
                    index, cx, cy, w, h = int(fields[0]), *(float(v) for v in fields[1:5])
                    if not 0 <= index < len(class_names) or len(fields) != 5:
                        raise IndexError
                except (ValueError, IndexError):
                    raise UserError(f"{label}:{number}: a YOLO line is `class_index cx cy w h` with 0 <= class_index < "
                                    f"{len(class_names)} (dataset class_names): {line.strip()!r}") from None
                if not all(0.0 <= v <= 1.0 for v in (cx, cy, w, h)):
                    raise UserError(f"{label}:{number}: YOLO coordinates are fractions of the image (0 to 1), got "
                                    f"{line.strip()!r}; pixel values need converting")
                name = class_names[index]
                objects.append(KittiObject(name.lower(), (cx - w / 2) * width, (cy - h / 2) * height,
                                           (cx + w / 2) * width, (cy + h / 2) * height))
        result[image] = keep_valid(objects, label)
    return result


def write_kitti_dataset(samples, out_dir):
    """Write OUT/images and OUT/labels for {image: [KittiObject]}; returns (image_dir, label_dir)."""
    image_dir, label_dir = Path(out_dir) / "images", Path(out_dir) / "labels"
    make_dirs(image_dir)
    for image, objects in samples.items():
        target = image_dir / image.name
        if not target.exists():
            try:
                os.link(image, target)
            except OSError:
                shutil.copy2(image, target)
        # a KITTI class name is one field: `traffic light` is written `traffic_light`
        write_kitti(label_dir / f"{image.stem}.txt", [dataclasses.replace(o, name="_".join(o.name.split()))
                                                      for o in objects])
    return image_dir, label_dir
