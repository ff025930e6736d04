"""The box-aware detection dataset (torchvision v2 transforms) over the index of `tao_inference.data.detection_index`."""

import torch
from PIL import Image, UnidentifiedImageError
from torchvision import tv_tensors
from torchvision.transforms import v2

from tao_inference.errors import UserError
from .transforms import flips


def detection_transform(width, height, mean, std, aug=None):
    """Resize to the network input (boxes follow), optional box-aware augmentation, normalize."""
    steps = [v2.ToImage()]
    if aug is not None:
        if aug.translate > 0 or aug.scale_jitter > 0 or aug.rotation_degrees > 0 or aug.shear_degrees > 0:
            steps.append(v2.RandomAffine(degrees=aug.rotation_degrees, translate=(aug.translate, aug.translate),
                                         scale=(1 - aug.scale_jitter, 1 + aug.scale_jitter), shear=aug.shear_degrees))
        steps += flips(aug)
        if any((aug.brightness, aug.contrast, aug.saturation, aug.hue)):
            steps.append(v2.ColorJitter(aug.brightness, aug.contrast, aug.saturation, aug.hue))
    steps += [v2.Resize((height, width), antialias=True), v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes(min_size=1),
              v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(steps)


class DetectionDataset(torch.utils.data.Dataset):
    """(image tensor [3, H, W], {"boxes": [N, 4] x1y1x2y2 in input pixels, "labels": [N]}) per indexed sample."""

    def __init__(self, samples, classes, transform):
        self.samples, self.transform = samples, transform
        self.class_ids = {name: i for i, name in enumerate(classes)}

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        sample = self.samples[index]
        try:
            image = Image.open(sample["image"]).convert("RGB")
        except (OSError, UnidentifiedImageError) as exc:
            raise UserError(f"cannot read image {sample['image']}: {exc}") from None
        objects = [o for o in sample["objects"] if o[0] in self.class_ids]
        boxes = tv_tensors.BoundingBoxes(torch.tensor([o[1:] for o in objects], dtype=torch.float32).reshape(-1, 4),
                                         format="XYXY", canvas_size=(image.height, image.width))
        labels = torch.tensor([self.class_ids[o[0]] for o in objects], dtype=torch.int64)
        image, target = self.transform(image, {"boxes": boxes, "labels": labels})
        return image, {"boxes": target["boxes"].as_subclass(torch.Tensor), "labels": target["labels"]}


def collate(batch):
    images, targets = zip(*batch)
    return torch.stack(images), list(targets)
