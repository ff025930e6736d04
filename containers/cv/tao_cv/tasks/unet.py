"""UNet (semantic segmentation) as a task adapter: image + PNG mask folders (TAO's layout and class config), a
UNet decoder on a registered backbone (or vanilla_unet), weighted cross-entropy (+ dice); its evaluation is the
torch-free core's (tao_inference.tasks.segmentation)."""

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from tao_inference.contract import ModelInfo
from tao_inference.data.segmentation_masks import check_pairs, class_map, split_pairs
from tao_inference.errors import UserError
from tao_inference.fileio import write_json
from tao_inference.spec import load_spec
from tao_inference.status import run_status
from tao_inference.tasks import TASKS
from ..data.sample import generate_segmentation_sample
from ..data.segmentation import SegmentationDataset, segmentation_transform
from ..engine.distillation import softmax_kd
from ..models import build_classifier, get_backbone
from ..models.registry import IMAGENET_MEAN, IMAGENET_STD
from ..models.unet import VANILLA, UNet
from .adapter import TaskAdapter, TrainingData, normalization, parse_counts

console = Console(soft_wrap=True)


def dice_loss(logits, targets):
    """1 - mean soft Dice over the classes (Milletari et al.): it weighs small classes as much as large ones."""
    probs = logits.float().softmax(1)
    one_hot = F.one_hot(targets, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (probs * one_hot).sum((0, 2, 3))
    total = probs.sum((0, 2, 3)) + one_hot.sum((0, 2, 3))
    return 1 - ((2 * inter + 1) / (total + 1)).mean()


class UNetAdapter(TaskAdapter):
    inference = TASKS["unet"]
    monitor = "mIoU"
    unused_keys = {"train.label_smoothing": 0.0}
    sample_counts = ("--count", "60,16,16", "images in train,val,test")
    sample_image_size = 96

    def read_data(self, spec):
        classes = class_map(spec.dataset.data_class_config)
        return TrainingData(list(classes.names), split_pairs(spec.dataset, "train"), split_pairs(spec.dataset, "val"))

    def train_dataset(self, spec, info, samples):
        ds = spec.dataset
        transform = segmentation_transform(info.input_height, info.input_width, info.mean, info.std, ds.augmentation)
        return SegmentationDataset(samples, class_map(ds.data_class_config), transform), None

    def model_info(self, spec, class_names):
        ds, m = spec.dataset, spec.model
        if m.backbone == VANILLA:
            if m.pretrained:
                raise UserError("model.pretrained: vanilla_unet has no pretrained weights; use a registered backbone "
                                "(e.g. efficientnet_lite0 with pretrained: imagenet) or leave it unset")
            mean, std = tuple(ds.mean or IMAGENET_MEAN), tuple(ds.std or IMAGENET_STD)
        else:
            mean, std = normalization(ds, get_backbone(m.backbone))
        return ModelInfo(task=self.name, backbone=m.backbone, class_names=tuple(class_names),
                         input_height=ds.image_height, input_width=ds.image_width, mean=mean, std=std,
                         network={"decoder_channels": list(m.decoder_channels)})

    def build(self, info, spec):
        classifier = None
        if info.backbone != VANILLA:
            classifier = build_classifier(info.backbone, 1, 0.0)
            self.load_pretrained(classifier, spec)
        return UNet(info.backbone, info.num_classes, classifier, tuple(info.network["decoder_channels"]))

    def rebuild(self, info):
        return UNet(info.backbone, info.num_classes, decoder_channels=tuple(info.network["decoder_channels"]))

    def loss(self, spec, info, model):
        weights = torch.tensor(class_map(spec.dataset.data_class_config).weights, dtype=torch.float32)
        with_dice = spec.model.loss == "cross_entropy_dice"

        def loss_fn(outputs, targets):
            loss = F.cross_entropy(outputs.float(), targets, weight=weights.to(outputs.device))
            return loss + dice_loss(outputs, targets) if with_dice else loss

        return loss_fn

    def kd_loss(self, spec, info):
        def pixel_kd(student, teacher, temperature):  # every pixel a distribution over the classes
            c = student.shape[1]
            return softmax_kd(student.permute(0, 2, 3, 1).reshape(-1, c), teacher.permute(0, 2, 3, 1).reshape(-1, c),
                              temperature)

        return pixel_kd

    def heads(self, model):
        return [model.head]

    def trained_heads(self, model):
        return ["decoder", "head"]

    def contract_outputs(self, info):
        outputs = [{"name": "logits", "shape": ["batch", info.num_classes, info.input_height, info.input_width],
                    "meaning": "per pixel and class a logit; the pixel's class is class_names[argmax over axis 1]"}]
        return ("logits",), outputs, ("argmax over the classes; resize the class map to the original image size "
                                      "(nearest neighbour)")

    def dataset_convert(self, args):
        """Check every image/mask pair of every split (sizes, label ids) and report the class pixel frequencies."""
        spec = load_spec(self.inference.spec_class, args.dataset_spec, args.overrides)
        classes = class_map(spec.dataset.data_class_config)
        report = {"classes": list(classes.names)}
        with run_status(args.output_dir, "dataset conversion") as status:
            for split in ("train", "val", "test"):
                if getattr(spec.dataset, f"{split}_images_path") or getattr(spec.dataset, f"{split}_data_sources"):
                    pairs = split_pairs(spec.dataset, split)
                    counts = check_pairs(pairs, classes)
                    report[split] = {"images": len(pairs), "pixels": dict(zip(classes.names, counts.tolist()))}
            write_json(f"{args.output_dir}/statistics.json", report)
            status.kpi = {split: report[split]["images"] for split in ("train", "val", "test") if split in report}
        table = Table(title=f"dataset_convert: classes {', '.join(classes.names)} (every mask checked)")
        for column in ("split", "images", *classes.names):
            table.add_column(column, justify="left" if column == "split" else "right")
        for split in ("train", "val", "test"):
            if split in report:
                total = max(1, sum(report[split]["pixels"].values()))
                table.add_row(split, str(report[split]["images"]),
                              *(f"{100 * report[split]['pixels'][c] / total:.1f} %" for c in classes.names))
        console.print(table)
        console.print(f"statistics → {args.output_dir}/statistics.json")

    def generate(self, args):
        counts = parse_counts(args.count, "--count", "60,16,16")
        result = generate_segmentation_sample(args.output_dir, counts, args.image_size, seed=args.seed)
        console.print(f"synthetic segmentation sample data → {args.output_dir} ({result}); masks: 0 background, "
                      "1 circle, 2 square, 3 triangle")


ADAPTER = UNetAdapter()
