"""The classification dataset (torch) over the samples of `tao_inference.data.image_lists`."""

import torch

from tao_inference.errors import UserError
from tao_inference.preprocess import load_rgb


class ImageClassificationDataset(torch.utils.data.Dataset):
    def __init__(self, samples, class_names, transform, on_bad_image="fail"):
        index = {name: i for i, name in enumerate(class_names)}
        unknown = sorted({label for _, label in samples if label not in index})
        if unknown:
            raise UserError(f"classes {unknown} are not among the training classes {class_names}")
        self.samples = [(path, index[label]) for path, label in samples]
        self.class_names = list(class_names)
        self.transform = transform
        self.on_bad_image = on_bad_image

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        try:
            image = load_rgb(path)
        except UserError:  # passed the header check but cannot be decoded
            if self.on_bad_image == "fail":
                raise
            return self[(i + 1) % len(self)]
        return self.transform(image), label
