"""Result files of inference that every worker writes alike: the classification CSV and annotated images."""

import csv
import io

from PIL import ImageDraw

from .fileio import atomic_path, write_text

PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]


def write_predictions_csv(path, rows):
    """rows: (image path, class name, confidence)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "class", "confidence"])
    writer.writerows([str(p), name, f"{confidence:.5f}"] for p, name, confidence in rows)
    write_text(path, buffer.getvalue())


def draw_boxes(image, objects, label_ids):
    """`image` (PIL RGB, drawn on) with each KittiObject's box and `name score`, one colour per class id."""
    draw = ImageDraw.Draw(image)
    for obj, label in zip(objects, label_ids):
        colour = PALETTE[int(label) % len(PALETTE)]
        draw.rectangle(obj.box, outline=colour, width=2)
        draw.text((obj.x1 + 2, max(0, obj.y1 - 11)), f"{obj.name} {obj.score:.2f}", fill=colour)
    return image


def save_annotated(image, objects, label_ids, path):
    """draw_boxes' image as JPEG."""
    draw_boxes(image, objects, label_ids)
    with atomic_path(path) as tmp:
        image.save(tmp, format="JPEG", quality=92)
