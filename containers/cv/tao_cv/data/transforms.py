"""Image transforms (torchvision.transforms.v2): the training augmentation, and `eval_transform`, the plain-PyTorch
evaluation preprocessing of the benchmarks' reference loop. The toolkit itself evaluates every model kind with
the torch-free core's `tao_inference.preprocess` (PIL resize), which an exported model's contract states."""

import torch
from torchvision.transforms import v2

from tao_inference.errors import UserError


def eval_transform(image_size, mean, std):
    return v2.Compose([
        v2.ToImage(),
        v2.Resize((image_size, image_size), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(mean), list(std)),
    ])


def flips(aug):
    """The random flips an augmentation spec asks for (v2 moves boxes and masks with the image)."""
    return ([v2.RandomHorizontalFlip(aug.horizontal_flip)] if aug.horizontal_flip > 0 else []) + \
        ([v2.RandomVerticalFlip(aug.vertical_flip)] if aug.vertical_flip > 0 else [])


def train_transform(image_size, mean, std, aug):
    scale = aug.random_resized_crop_scale
    if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
        raise UserError(f"dataset.augmentation.random_resized_crop_scale: {scale} — expected [low, high] with "
                        "0 < low <= high <= 1, e.g. [0.6, 1.0]")
    steps = [v2.ToImage(), v2.RandomResizedCrop(image_size, scale=tuple(scale), antialias=True), *flips(aug)]
    if aug.rotation_degrees > 0:
        steps.append(v2.RandomRotation(aug.rotation_degrees))
    if any((aug.brightness, aug.contrast, aug.saturation, aug.hue)):
        steps.append(v2.ColorJitter(aug.brightness, aug.contrast, aug.saturation, aug.hue))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(steps)
