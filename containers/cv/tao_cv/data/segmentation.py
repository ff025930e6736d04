"""The segmentation dataset (torch): image + class mask pairs, augmented together with torchvision v2 (the mask as a
`tv_tensors.Mask`: geometric steps move it with the image, nearest-neighbour; colour steps touch the image only)."""

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from tao_inference.data.segmentation_masks import read_mask
from tao_inference.errors import UserError
from tao_inference.preprocess import load_rgb
from .transforms import flips


def segmentation_transform(height, width, mean, std, aug):
    scale = aug.crop_scale
    if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
        raise UserError(f"dataset.augmentation.crop_scale: {scale} — expected [low, high] with 0 < low <= high <= 1")
    steps = []
    if aug.crop_and_resize_prob > 0:
        steps.append(v2.RandomApply([v2.RandomResizedCrop((height, width), scale=tuple(scale), antialias=True)],
                                    p=aug.crop_and_resize_prob))
    steps += [v2.Resize((height, width), antialias=True), *flips(aug)]
    if aug.rotation_degrees > 0:
        steps.append(v2.RandomRotation(aug.rotation_degrees))
    if any((aug.brightness, aug.contrast, aug.saturation)):
        steps.append(v2.ColorJitter(aug.brightness, aug.contrast, aug.saturation))
    steps += [v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
              v2.Normalize(list(mean), list(std))]
    return v2.Compose(steps)


class SegmentationDataset(torch.utils.data.Dataset):
    def __init__(self, pairs, classes, transform):
        self.pairs, self.classes, self.transform = list(pairs), classes, transform

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, i):
        image_path, mask_path = self.pairs[i]
        image = tv_tensors.Image(torch.from_numpy(np.asarray(load_rgb(image_path)).copy()).permute(2, 0, 1))
        mask = tv_tensors.Mask(torch.from_numpy(read_mask(mask_path, self.classes))[None])
        image, mask = self.transform(image, mask)
        return image, mask[0].long()
