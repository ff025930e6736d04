"""Classification as a task adapter: folders (or split lists) of class images, a registry classifier, cross-entropy
with label smoothing; its evaluation is the torch-free core's (tao_inference.tasks.classification)."""

import torch
from rich.console import Console

from tao_inference.contract import ModelInfo
from tao_inference.data.image_lists import check_images, split_samples
from tao_inference.errors import UserError
from tao_inference.tasks import TASKS
from ..data.classification import ImageClassificationDataset
from ..data.sample import generate_sample
from ..data.transforms import train_transform
from ..engine.distillation import softmax_kd
from ..models import build_classifier, get_backbone
from ..models.registry import classifier_head
from .adapter import TaskAdapter, TrainingData, normalization, parse_counts

console = Console(soft_wrap=True)


class ClassificationAdapter(TaskAdapter):
    inference = TASKS["classification"]
    monitor = "top1"

    def read_data(self, spec):
        ds = spec.dataset
        train = check_images(split_samples(ds, "train"), ds.on_bad_image)
        val = check_images(split_samples(ds, "val"), ds.on_bad_image)
        classes = sorted({label for _, label in train})
        if len(classes) < 2:
            raise UserError(f"dataset: the training images are of {len(classes)} class ({', '.join(classes)}); a "
                            "classifier needs two or more class folders (or CLASS/ prefixes in train_list)")
        unknown = sorted({label for _, label in val} - set(classes))
        if unknown:
            example = next(path for path, label in val if label == unknown[0])
            raise UserError(f"dataset: class '{unknown[0]}' has validation images (e.g. {example}) but no training "
                            "images; add training images of it, or remove it from the validation set")
        return TrainingData(classes, train, val)

    def train_dataset(self, spec, info, samples):
        ds = spec.dataset
        transform = train_transform(ds.image_size, info.mean, info.std, ds.augmentation)
        return ImageClassificationDataset(samples, info.class_names, transform, ds.on_bad_image), None

    def model_info(self, spec, class_names):
        size = spec.dataset.image_size
        mean, std = normalization(spec.dataset, get_backbone(spec.model.backbone))
        return ModelInfo(task=self.name, backbone=spec.model.backbone, class_names=tuple(class_names),
                         input_height=size, input_width=size, mean=mean, std=std,
                         network={"dropout": spec.model.dropout})

    def build(self, info, spec):
        model = self.rebuild(info)
        self.load_pretrained(model, spec)
        return model

    def rebuild(self, info):
        return build_classifier(info.backbone, info.num_classes, info.network.get("dropout", 0.0))

    def retrain_info(self, pruned_info, spec):
        """A pruned classifier retrains at the spec's image size (it has no size-bound layers)."""
        size = spec.dataset.image_size
        return pruned_info.replace(input_height=size, input_width=size)

    def loss(self, spec, info, model):
        return torch.nn.CrossEntropyLoss(label_smoothing=spec.train.label_smoothing)

    def kd_loss(self, spec, info):
        return softmax_kd

    def heads(self, model):
        return [classifier_head(model)]

    def trained_heads(self, model):
        head = classifier_head(model)
        return [next(n for n, m in model.named_modules() if m is head)]

    def contract_outputs(self, info):
        outputs = [{"name": "logits", "shape": ["batch", info.num_classes],
                    "meaning": "logits (softmax for probabilities)"}]
        return ("logits",), outputs, "softmax; the class is class_names[argmax]"

    def generate(self, args):
        per_class = parse_counts(args.per_class, "--per_class", "40,12,12")
        counts = generate_sample(args.output_dir, per_class, args.image_size, seed=args.seed)
        console.print(f"synthetic sample data → {args.output_dir} ({counts})")


ADAPTER = ClassificationAdapter()
