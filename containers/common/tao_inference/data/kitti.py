"""KITTI object labels as TAO reads them: one `.txt` per image, one object per line, 15 fields

    type truncated occluded alpha x1 y1 x2 y2 h w l x y z rot_y      (a 16th field, score, is allowed)

Class names are lowercased. A box with x1 >= x2 or y1 >= y2 is skipped with a warning naming file and line;
a line that cannot be parsed is an error naming file and line.
"""

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..fileio import read_text, require_folder, write_text

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class KittiObject:
    name: str
    x1: float
    y1: float
    x2: float
    y2: float
    truncated: float = 0.0
    occluded: int = 0
    score: float | None = None

    @property
    def box(self):
        return (self.x1, self.y1, self.x2, self.y2)

    def line(self):
        fields = [self.name, f"{self.truncated:.2f}", str(int(self.occluded)), "0.00",
                  *(f"{v:.2f}" for v in self.box), *(["0.00"] * 7)]
        if self.score is not None:
            fields.append(f"{self.score:.4f}")
        return " ".join(fields)


class DegenerateBoxWarning(UserWarning):
    pass


def parse_kitti(text, source="<labels>"):
    """Objects in KITTI label text; `source` names the file in messages."""
    objects = []
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) not in (15, 16):
            raise UserError(f"{source}:{number}: a KITTI label line has 15 fields (16 with a score), "
                            f"found {len(fields)}: {raw.strip()!r}")
        try:
            truncated, occluded = float(fields[1]), int(float(fields[2]))
            x1, y1, x2, y2 = (float(v) for v in fields[4:8])
            [float(v) for v in fields[8:15]]
            score = float(fields[15]) if len(fields) == 16 else None
        except ValueError:
            raise UserError(f"{source}:{number}: fields 2-15 of a KITTI line must be numbers: {raw.strip()!r}") from None
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            raise UserError(f"{source}:{number}: box coordinates must be finite numbers: {raw.strip()!r}")
        if x1 >= x2 or y1 >= y2:
            warnings.warn(f"{source}:{number}: skipping box with x1>=x2 or y1>=y2 ({x1}, {y1}, {x2}, {y2})",
                          DegenerateBoxWarning, stacklevel=2)
            continue
        objects.append(KittiObject(fields[0].lower(), x1, y1, x2, y2, truncated, occluded, score))
    return objects


def keep_valid(objects, source):
    """Objects whose box has positive width and height; the others are skipped with a warning naming `source`."""
    valid = [o for o in objects if o.x2 > o.x1 and o.y2 > o.y1]
    for o in objects:
        if not (o.x2 > o.x1 and o.y2 > o.y1):
            warnings.warn(f"{source}: skipping {o.name} box with x1>=x2 or y1>=y2 {o.box}", DegenerateBoxWarning, stacklevel=2)
    return valid


def read_kitti(path):
    path = Path(path)
    if not path.is_file():
        raise UserError(f"label file {path} not found")
    return parse_kitti(read_text(path, "label_dir"), source=str(path))


def write_kitti(path, objects):
    write_text(path, "".join(obj.line() + "\n" for obj in objects))


def pair_images_and_labels(image_dir, label_dir):
    """[(image, label_file)] for every image in `image_dir`; an image without a label file is an error listing
    the first few, since a silently missing label teaches the network that the image is empty."""
    image_dir, label_dir = Path(image_dir), Path(label_dir)
    for folder, what in ((image_dir, "image_dir"), (label_dir, "label_dir")):
        require_folder(folder, f"dataset {what}")
    images = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {image_dir}")
    pairs = [(image, label_dir / f"{image.stem}.txt") for image in images]
    missing = [str(label) for _, label in pairs if not label.is_file()]
    if missing:
        raise UserError(f"{len(missing)} image(s) in {image_dir} have no label file in {label_dir}, e.g. "
                        f"{', '.join(missing[:3])} (an image with no objects needs an empty .txt)")
    return pairs
