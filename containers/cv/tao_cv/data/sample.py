"""A small deterministic SYNTHETIC classification dataset: filled shapes (glyphs) drawn in random colours,
sizes, positions and rotations on varied noisy gradient backgrounds with distractor strokes.

It exists so the demo and tests need no download; it says nothing about accuracy on real photos.
"""

import json
import math
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tao_inference.errors import UserError
from tao_inference.fileio import make_dirs, write_text

SHAPES = ("circle", "square", "triangle", "cross", "star", "ring")


def _background(rng, size):
    top, bottom = (np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32) for _ in range(2))
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    image = top * (1 - ramp) + bottom * ramp
    image = np.broadcast_to(image, (size, size, 3)).copy()
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 18, image.shape)
    return Image.fromarray(np.clip(image + noise, 0, 255).astype(np.uint8))


def _polygon(cx, cy, radius, points, angle, inner=None):
    coords = []
    for k in range(points * (2 if inner else 1)):
        r = radius if (inner is None or k % 2 == 0) else radius * inner
        theta = angle + k * math.pi / (points if inner else points / 2)
        coords.append((cx + r * math.cos(theta), cy + r * math.sin(theta)))
    return coords


def _draw_glyph(draw, shape, cx, cy, radius, angle, colour):
    box = [cx - radius, cy - radius, cx + radius, cy + radius]
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=max(2, int(radius * 0.3)))
    elif shape == "square":
        draw.polygon(_polygon(cx, cy, radius, 4, angle), fill=colour)
    elif shape == "triangle":
        draw.polygon(_polygon(cx, cy, radius, 3, angle), fill=colour)
    elif shape == "star":
        draw.polygon(_polygon(cx, cy, radius, 5, angle, inner=0.45), fill=colour)
    elif shape == "cross":
        width = max(2, int(radius * 0.35))
        for theta in (angle, angle + math.pi / 2):
            dx, dy = radius * math.cos(theta), radius * math.sin(theta)
            draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=colour, width=width)


def _distractors(draw, rng, width, height, count):
    for _ in range(count):
        draw.line([(rng.randint(0, width), rng.randint(0, height)) for _ in range(2)],
                  fill=tuple(rng.randint(0, 255) for _ in range(3)), width=rng.randint(1, 3))


def draw_shape(shape, size, rng):
    image = _background(rng, size)
    draw = ImageDraw.Draw(image)
    _distractors(draw, rng, size, size, rng.randint(1, 3))
    radius = rng.uniform(0.22, 0.36) * size
    cx, cy = (rng.uniform(radius, size - radius) for _ in range(2))
    _draw_glyph(draw, shape, cx, cy, radius, rng.uniform(0, 2 * math.pi), tuple(rng.randint(0, 255) for _ in range(3)))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.8)))


def draw_scene(size, rng, classes, max_objects=3, mask=None, instance_ids=False):
    """A detection scene: 1..max_objects non-overlapping glyphs; returns (image, [(class, x1, y1, x2, y2)]).
    With `mask` (a PIL "L" image), each glyph is also drawn there in its label id (class index + 1), or with
    `instance_ids` in its number (1 for the first glyph, 2 for the second, ...)."""
    image = _background(rng, size)
    draw = ImageDraw.Draw(image)
    mask_draw = ImageDraw.Draw(mask) if mask is not None else None
    _distractors(draw, rng, size, size, rng.randint(1, 4))
    objects = []
    for _ in range(rng.randint(1, max_objects) * 4):  # tries
        if len(objects) >= max_objects:
            break
        radius = rng.uniform(0.09, 0.2) * size
        cx, cy = (rng.uniform(radius, size - radius) for _ in range(2))
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        if any(box[0] < o[3] and o[1] < box[2] and box[1] < o[4] and o[2] < box[3] for o in objects):
            continue
        shape, angle = rng.choice(classes), rng.uniform(0, 2 * math.pi)
        _draw_glyph(draw, shape, cx, cy, radius, angle, tuple(rng.randint(0, 255) for _ in range(3)))
        if mask_draw is not None:
            _draw_glyph(mask_draw, shape, cx, cy, radius, angle,
                        len(objects) + 1 if instance_ids else classes.index(shape) + 1)
        objects.append((shape, *box))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.6))), objects


README_MARK = "SYNTHETIC"  # the first word of the README each generator writes first: the folder is ours


def claim_output(output_dir, readme):
    """Start a sample folder: refused when it holds files this tool did not write (they would be overwritten)."""
    output_dir = Path(output_dir)
    if output_dir.is_dir() and any(output_dir.iterdir()):
        ours = output_dir / "README.txt"
        if not (ours.is_file() and ours.read_text(errors="replace").startswith(README_MARK)):
            raise UserError(f"-o {output_dir}: the folder holds files generate_sample did not write, which it would "
                            "overwrite; choose a new or empty folder")
    elif output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"-o {output_dir}: is a file, not a directory")
    write_text(output_dir / "README.txt", readme)
    return output_dir


def generate_sample(output_dir, per_class=(60, 20, 20), size=96, classes=SHAPES, seed=0):
    """Write OUTPUT/{train,val,test}/<shape>/NNNN.jpg; returns the number of images per split."""
    output_dir = claim_output(output_dir, f"{README_MARK} sample data generated by `tao classification generate_sample`: "
                              "filled shapes drawn on\nrandom noisy backgrounds. For demos and tests only; not a "
                              "benchmark of real-world accuracy.\n")
    counts = {}
    for split, count in zip(("train", "val", "test"), per_class):
        for class_index, shape in enumerate(classes):
            rng = random.Random(f"{seed}-{split}-{class_index}")
            folder = output_dir / split / shape
            make_dirs(folder)
            for i in range(count):
                draw_shape(shape, size, rng).save(folder / f"{i:04d}.jpg", quality=92)
        counts[split] = count * len(classes)
    return counts


def generate_detection_sample(output_dir, counts=(240, 40, 40), size=160, classes=("circle", "square", "star"), seed=0):
    """Write OUTPUT/{train,val,test}/{images,labels} (KITTI labels) of synthetic scenes; returns images per split."""
    from tao_inference.data.kitti import KittiObject, write_kitti

    output_dir = claim_output(output_dir, f"{README_MARK} detection sample data generated by `generate_sample`: shapes "
                              "(objects, with\nKITTI labels) on random noisy backgrounds. For demos and tests only; "
                              "not a benchmark.\n")
    for split, count in zip(("train", "val", "test"), counts):
        rng = random.Random(f"{seed}-detection-{split}")
        make_dirs(output_dir / split / "images")
        for i in range(count):
            image, objects = draw_scene(size, rng, classes)
            image.save(output_dir / split / "images" / f"{i:04d}.jpg", quality=92)
            write_kitti(output_dir / split / "labels" / f"{i:04d}.txt", [KittiObject(*o) for o in objects])
    return dict(zip(("train", "val", "test"), counts))


SEGMENTATION_CLASSES = ("circle", "square", "triangle")


def generate_segmentation_sample(output_dir, counts=(60, 16, 16), size=96, classes=SEGMENTATION_CLASSES, seed=0):
    """Write OUTPUT/{train,val,test}/{images,masks}: scenes of shapes, and PNG masks of label ids (0 background,
    1.. the shapes in `classes` order); returns images per split."""
    output_dir = claim_output(output_dir, f"{README_MARK} segmentation sample data generated by `tao unet "
                              "generate_sample`: shapes on random\nnoisy backgrounds, masks of label ids 0 (background), "
                              + ", ".join(f"{i + 1} ({c})" for i, c in enumerate(classes)) + ". For demos and tests "
                              "only; not a benchmark.\n")
    for split, count in zip(("train", "val", "test"), counts):
        rng = random.Random(f"{seed}-segmentation-{split}")
        make_dirs(output_dir / split / "images")
        make_dirs(output_dir / split / "masks")
        for i in range(count):
            mask = Image.new("L", (size, size), 0)
            image, _ = draw_scene(size, rng, classes, mask=mask)
            image.save(output_dir / split / "images" / f"{i:04d}.jpg", quality=92)
            mask.save(output_dir / split / "masks" / f"{i:04d}.png")
    return dict(zip(("train", "val", "test"), counts))


INSTANCE_CLASSES = ("circle", "square", "star")


def generate_instance_sample(output_dir, counts=(120, 24, 24), size=128, classes=INSTANCE_CLASSES, seed=0):
    """Write OUTPUT/{train,val,test}/images and OUTPUT/{train,val,test}/annotations.json (COCO instances, masks as
    RLE, boxes tight around them) of synthetic scenes; returns images per split."""
    from tao_inference.data.coco_instances import encode_mask

    output_dir = claim_output(output_dir, f"{README_MARK} instance segmentation sample data generated by `tao mask_rcnn "
                              "generate_sample`: shapes\non random noisy backgrounds, COCO instance annotations "
                              "(RLE masks). For demos and tests only; not a benchmark.\n")
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(classes)]
    for split, count in zip(("train", "val", "test"), counts):
        rng = random.Random(f"{seed}-instances-{split}")
        make_dirs(output_dir / split / "images")
        images, annotations = [], []
        for i in range(count):
            mask = Image.new("L", (size, size), 0)
            image, objects = draw_scene(size, rng, classes, mask=mask, instance_ids=True)
            name = f"{i:04d}.jpg"
            image.save(output_dir / split / "images" / name, quality=92)
            images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
            ids = np.asarray(mask)
            for number, (shape, *_) in enumerate(objects, start=1):
                ys, xs = np.nonzero(ids == number)
                if not len(xs):
                    continue
                x1, y1 = int(xs.min()), int(ys.min())
                annotations.append({"id": len(annotations) + 1, "image_id": i + 1,
                                    "category_id": classes.index(shape) + 1, "iscrowd": 0, "area": int(len(xs)),
                                    "bbox": [x1, y1, int(xs.max()) + 1 - x1, int(ys.max()) + 1 - y1],
                                    "segmentation": encode_mask(ids == number)})
        write_text(output_dir / split / "annotations.json",
                   json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return dict(zip(("train", "val", "test"), counts))
