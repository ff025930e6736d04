"""The instance segmentation dataset (torch) over COCO samples (tao_inference.data.coco_instances): per image its
boxes, labels and one mask per instance, augmented together by detection's box-aware v2 transform (the masks as a
`tv_tensors.Mask`: geometric steps move them with the image, nearest-neighbour)."""

import numpy as np
import torch
from torchvision import tv_tensors

from tao_inference.data.coco_instances import decode_mask
from tao_inference.preprocess import load_rgb


class InstanceDataset(torch.utils.data.Dataset):
    """(image [3, H, W], {"boxes" [N, 4] input pixels, "labels" [N] class index, "masks" [N, H, W] uint8})."""

    def __init__(self, samples, classes, transform, skip_crowd=True, max_instances=200):
        self.samples, self.transform = samples, transform
        self.class_ids = {name: i for i, name in enumerate(classes)}
        self.skip_crowd, self.max_instances = skip_crowd, max_instances

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        sample = self.samples[index]
        image = load_rgb(sample["image"])
        h, w = image.height, image.width
        objects = [o for o in sample["objects"] if o["class"] in self.class_ids and not (self.skip_crowd and o["iscrowd"])]
        masks = [decode_mask(o["segmentation"], h, w) for o in objects]
        if len(objects) > self.max_instances:  # TAO's max_num_instances: the largest are kept
            largest = sorted(np.argsort([-int(m.sum()) for m in masks])[:self.max_instances])
            objects, masks = [objects[i] for i in largest], [masks[i] for i in largest]
        boxes = tv_tensors.BoundingBoxes(torch.tensor([o["box"] for o in objects], dtype=torch.float32).reshape(-1, 4),
                                         format="XYXY", canvas_size=(h, w))
        mask_tensor = tv_tensors.Mask(torch.from_numpy(np.stack(masks)) if masks else torch.zeros(0, h, w, dtype=torch.uint8))
        labels = torch.tensor([self.class_ids[o["class"]] for o in objects], dtype=torch.int64)
        image, target = self.transform(image, {"boxes": boxes, "labels": labels, "masks": mask_tensor})
        return image, {"boxes": target["boxes"].as_subclass(torch.Tensor), "labels": target["labels"],
                       "masks": target["masks"].as_subclass(torch.Tensor)}
