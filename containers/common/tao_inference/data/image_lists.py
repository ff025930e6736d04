"""Classification samples: `ROOT/<split>/<class>/*.jpg` folders, or an image root plus `CLASS/FILE` list files."""

from pathlib import Path

from PIL import Image, UnidentifiedImageError
from rich.console import Console
from rich.markup import escape

from ..errors import UserError
from ..fileio import path_inside, read_text, require_folder

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png"}
_console = Console(stderr=True)


def list_images(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)


def read_image_list(list_file, flag):
    """Image paths listed one per line (absolute, or relative to the list file's folder); `#` starts a comment."""
    list_file = Path(list_file)
    paths = []
    for number, line in enumerate(read_text(list_file, flag).splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = list_file.parent / entry
        if not path.is_file():
            raise UserError(f"{list_file}:{number}: image {path} does not exist")
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise UserError(f"{list_file}:{number}: {path} is not an image ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        paths.append(path)
    if not paths:
        raise UserError(f"{flag} {list_file}: lists no images")
    return paths


def scan_split_folder(split_dir, key):
    """Samples [(path, class_name)] from `split_dir/<class>/*`."""
    split_dir = require_folder(split_dir, key, expected=f" (expected {split_dir}/<class>/<image>)")
    samples = []
    for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        images = list_images(class_dir)
        if not images:
            _console.print(f"[yellow]warning:[/] {escape(str(class_dir))} holds no images (.jpg/.jpeg/.png): "
                           "not a class of this split")
        samples += [(path, class_dir.name) for path in images]
    if not samples:
        raise UserError(f"{key}: no images (.jpg/.jpeg/.png) under {split_dir}/<class>/")
    return samples


def read_split_list(image_root, list_file, key):
    """Samples from a list file with one `CLASS/FILE` per line, relative to `image_root`."""
    image_root, list_file = Path(image_root), Path(list_file)
    require_folder(image_root, "dataset.image_root")
    samples = []
    for number, line in enumerate(read_text(list_file, key).splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        parts = Path(entry).parts
        if len(parts) < 2:
            raise UserError(f"{list_file}:{number}: '{entry}' is not CLASS/FILE")
        path = path_inside(image_root, entry, f"{list_file}:{number}")
        if not path.is_file():
            raise UserError(f"{list_file}:{number}: image {path} does not exist")
        samples.append((path, parts[0]))
    if not samples:
        raise UserError(f"{list_file}: lists no images")
    return samples


def split_samples(dataset_spec, split):
    """The samples of one split ('train', 'val', 'test') as the dataset spec describes them."""
    own_folder = getattr(dataset_spec, f"{split}_dir", None)
    if own_folder:
        return scan_split_folder(Path(own_folder), f"dataset.{split}_dir")
    if dataset_spec.root and (dataset_spec.image_root or getattr(dataset_spec, f"{split}_list")):
        raise UserError("dataset: set dataset.root (train/ val/ test/ folders) or dataset.image_root with "
                        "dataset.*_list files, not both")
    if dataset_spec.root:
        return scan_split_folder(Path(dataset_spec.root) / split, "dataset.root")
    list_file = getattr(dataset_spec, f"{split}_list")
    if dataset_spec.image_root and list_file:
        return read_split_list(dataset_spec.image_root, list_file, f"dataset.{split}_list")
    raise UserError(
        f"dataset: no {split} data configured — set dataset.root (with {split}/<class>/ inside), "
        f"dataset.{split}_dir (a folder of class folders) or dataset.image_root and dataset.{split}_list"
    )


def check_images(samples, on_bad_image):
    """Open every image's header once; report unreadable files by path, then fail or drop them."""
    good, bad = [], []
    for path, label in samples:
        try:
            with Image.open(path) as image:
                image.verify()
            good.append((path, label))
        except (OSError, UnidentifiedImageError, SyntaxError) as exc:
            bad.append((path, exc))
    if bad and on_bad_image == "fail":
        listing = "\n".join(f"  {path}: {exc}" for path, exc in bad[:10])
        more = f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise UserError(
            f"{len(bad)} unreadable image(s):\n{listing}{more}\n"
            "remove or fix them, or set dataset.on_bad_image=skip to leave them out"
        )
    for path, exc in bad:
        _console.print(f"[yellow]warning:[/] skipping unreadable image {escape(f'{path}: {exc}')}")
    return good
