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


def _open(sample):
    try:
        return Image.open(sample["image"]).convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise UserError(f"cannot read image {sample['image']}: {exc}") from None


def mosaic(samples, size, min_ratio):
    """Four samples tiled into one image of `size` (width, height) around a random centre at least `min_ratio` of
    the size from the edges (YOLOv4's mosaic): each image stretched into its quadrant, its boxes with it, clipped
    there; boxes under 2 pixels go. Returns (image, objects)."""
    width, height = size
    cx = int(width * (min_ratio + (1 - 2 * min_ratio) * float(torch.rand(())))) if width > 4 else width // 2
    cy = int(height * (min_ratio + (1 - 2 * min_ratio) * float(torch.rand(())))) if height > 4 else height // 2
    canvas = Image.new("RGB", (width, height))
    objects = []
    quadrants = [(0, 0, cx, cy), (cx, 0, width, cy), (0, cy, cx, height), (cx, cy, width, height)]
    for sample, (x0, y0, x1, y1) in zip(samples, quadrants):
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        image = _open(sample)
        sx, sy = (x1 - x0) / image.width, (y1 - y0) / image.height
        canvas.paste(image.resize((x1 - x0, y1 - y0), Image.BILINEAR), (x0, y0))
        for name, *box in sample["objects"]:
            bx0, by0 = min(max(box[0] * sx + x0, x0), x1), min(max(box[1] * sy + y0, y0), y1)
            bx1, by1 = min(max(box[2] * sx + x0, x0), x1), min(max(box[3] * sy + y0, y0), y1)
            if bx1 - bx0 >= 2 and by1 - by0 >= 2:
                objects.append((name, bx0, by0, bx1, by1))
    return canvas, objects


class DetectionDataset(torch.utils.data.Dataset):
    """(image tensor [3, H, W], {"boxes": [N, 4] x1y1x2y2 in input pixels, "labels": [N]}) per indexed sample; with
    `mosaic_prob`, that share of them a mosaic of four (`mosaic`) at `mosaic_size`."""

    def __init__(self, samples, classes, transform, mosaic_prob=0.0, mosaic_size=None, mosaic_min_ratio=0.2):
        self.samples, self.transform = samples, transform
        self.class_ids = {name: i for i, name in enumerate(classes)}
        self.mosaic_prob, self.mosaic_size, self.mosaic_min_ratio = mosaic_prob, mosaic_size, mosaic_min_ratio

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        sample = self.samples[index]
        if self.mosaic_prob and float(torch.rand(())) < self.mosaic_prob:
            others = torch.randint(len(self.samples), (3,)).tolist()
            image, objects = mosaic([sample, *(self.samples[i] for i in others)], self.mosaic_size,
                                    self.mosaic_min_ratio)
        else:
            image, objects = _open(sample), sample["objects"]
        objects = [o for o in objects if o[0] in self.class_ids]
        boxes = tv_tensors.BoundingBoxes(torch.tensor([o[1:] for o in objects], dtype=torch.float32).reshape(-1, 4),
                                         format="XYXY", canvas_size=(image.height, image.width))
        labels = torch.tensor([self.class_ids[o[0]] for o in objects], dtype=torch.int64)
        image, target = self.transform(image, {"boxes": boxes, "labels": labels})
        return image, {"boxes": target["boxes"].as_subclass(torch.Tensor), "labels": target["labels"]}


def collate(batch):
    images, targets = zip(*batch)
    return torch.stack(images), list(targets)
