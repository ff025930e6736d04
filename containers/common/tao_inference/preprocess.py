"""The one preprocessing of every evaluation and inference, whatever runs the model: resize to the network input
(PIL bilinear), scale to [0, 1], normalize, CHW float32 — exactly what the contract's `preprocessing` says."""

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import UserError


def load_rgb(path):
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise UserError(f"cannot read image {path}: {exc}") from None


def to_input(image, info):
    """A PIL RGB image as the network input [3, H, W] of the model described by `info` (a ModelInfo)."""
    resized = image.resize((info.input_width, info.input_height), Image.BILINEAR)
    array = np.asarray(resized, dtype=np.float32) / 255.0
    array = (array - np.asarray(info.mean, np.float32)) / np.asarray(info.std, np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def batches(paths, info, batch_size):
    """(paths of the batch, images [B, 3, H, W] with each image's original (width, height)) over `paths`."""
    for start in range(0, len(paths), batch_size):
        chunk = paths[start:start + batch_size]
        images = [load_rgb(p) for p in chunk]
        yield chunk, np.stack([to_input(im, info) for im in images]), [im.size for im in images]
