"""`tao augment -e SPEC [-o OUT]`: offline augmentation of a KITTI dataset (images + adjusted labels)."""

import argparse
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from rich.console import Console

from ..data.augment import augment_image
from tao_inference.data.kitti import pair_images_and_labels, read_kitti, write_kitti
from tao_inference.errors import UserError
from tao_inference.fileio import atomic_path, refuse_overwriting_inputs
from tao_inference.spec import dump_spec, load_spec
from tao_inference.spec.schemas import AugmentSpec

console = Console(soft_wrap=True)


def generate(args):
    spec = load_spec(AugmentSpec, args.experiment_spec, args.overrides)
    if not spec.dataset.image_dir or not spec.dataset.label_dir:
        raise UserError("augment: set dataset.image_dir and dataset.label_dir (a KITTI dataset)")
    out = Path(args.output_dir or spec.output_dir or "")
    if str(out) in ("", "."):
        raise UserError("augment: pass -o OUTPUT_DIR or set output_dir")
    refuse_overwriting_inputs([out, out / "images", out / "labels"], [spec.dataset.image_dir, spec.dataset.label_dir],
                              "-o / output_dir")
    pairs = pair_images_and_labels(spec.dataset.image_dir, spec.dataset.label_dir)
    boxes_in = boxes_out = 0
    for image_path, label_path in pairs:
        objects = read_kitti(label_path)
        try:
            image = Image.open(image_path).convert("RGB")
        except (OSError, UnidentifiedImageError) as exc:
            raise UserError(f"cannot read image {image_path}: {exc}") from None
        augmented, kept = augment_image(image, objects, spec)
        suffix = image_path.suffix if spec.image_extension == "keep" else f".{spec.image_extension}"
        target = out / "images" / f"{image_path.stem}{suffix}"
        with atomic_path(target) as tmp:
            augmented.save(tmp, format="PNG" if suffix.lower() == ".png" else "JPEG", quality=95)
        write_kitti(out / "labels" / f"{image_path.stem}.txt", kept)
        boxes_in, boxes_out = boxes_in + len(objects), boxes_out + len(kept)
    dump_spec(spec, out / "augment_spec.yaml")
    console.print(f"augmented {len(pairs)} images → {out}/images, labels → {out}/labels "
                  f"({boxes_out}/{boxes_in} boxes kept inside the images)")


def build_parser(prog="tao augment"):
    parser = argparse.ArgumentParser(prog=prog, description="Offline augmentation of KITTI detection data.")
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    p = sub.add_parser("generate", help="augment every image of dataset.image_dir; write images and KITTI labels")
    p.add_argument("-e", "--experiment_spec", required=True, help="augmentation spec YAML")
    p.add_argument("-o", "--output_dir", help="output folder (default: the spec's output_dir)")
    p.add_argument("overrides", nargs="*", help="spec overrides: section.key=value")
    p.set_defaults(run=generate)
    return parser
