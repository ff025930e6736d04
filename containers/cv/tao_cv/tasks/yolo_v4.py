"""YOLOv4 and YOLOv4-tiny as detector adapters (one class, two registered names as TAO has them): TAO's anchor
keys, its loss weights, mosaic augmentation, and `kmeans` — anchor shapes from the training boxes. The model is
models/yolo_v4.py; its decoder the torch-free core's (tao_inference.networks.yolo_v4)."""

from pathlib import Path

import yaml
from PIL import Image
from rich.console import Console
from rich.table import Table

from tao_inference.data.anchors import iou_kmeans
from tao_inference.errors import UserError
from tao_inference.fileio import write_text
from tao_inference.networks import yolo_v4 as network
from tao_inference.spec import load_spec
from tao_inference.spec.schemas import YOLOv4ModelSpec
from tao_inference.tasks import TASKS
from tao_inference.tasks.detection import load_index
from ..data.detection import DetectionDataset, collate, detection_transform
from ..models.yolo_v4 import YOLOv4Detector, yolo_loss
from .detection import DetectionAdapter

console = Console(soft_wrap=True)
ANCHOR_KEYS = ("small_anchor_shape", "mid_anchor_shape", "big_anchor_shape")  # strides 8, 16, 32


class YOLOv4Adapter(DetectionAdapter):
    unused_keys = {"train.distillation.teacher": None}  # label smoothing is TAO's YOLOv4 key: used

    def __init__(self, name, tiny):
        self.inference, self.tiny = TASKS[name], tiny
        if tiny:  # two levels: a stride-8 anchor key set here would be silently unused
            self.unused_keys = {**self.unused_keys, "model.small_anchor_shape": YOLOv4ModelSpec().small_anchor_shape}

    @property
    def anchor_keys(self):
        return ANCHOR_KEYS[1:] if self.tiny else ANCHOR_KEYS

    def network_params(self, spec):
        ds, m = spec.dataset, spec.model
        if ds.image_width % 32 or ds.image_height % 32:
            raise UserError(f"dataset.image_width/image_height {ds.image_width}x{ds.image_height}: YOLOv4 needs "
                            "multiples of 32 (e.g. 320x320)")
        anchors = []
        for key in self.anchor_keys:
            shapes = getattr(m, key)
            if not shapes or any(len(a) != 2 for a in shapes):
                raise UserError(f"model.{key}: {shapes} — give (width, height) pairs in input pixels, e.g. [[12, 16], "
                                f"[19, 36]] (`tao {self.name} kmeans -e SPEC` computes them from the training boxes)")
            anchors.append([[float(w), float(h)] for w, h in shapes])
        extend = list(m.grid_xy_extend)[-len(self.anchor_keys):]
        if len(m.grid_xy_extend) != 3:
            raise UserError(f"model.grid_xy_extend: {list(m.grid_xy_extend)} — give three (strides 8, 16, 32; tiny "
                            "uses the last two), TAO's small/mid/big_grid_xy_extend")
        return {"anchors": anchors, "neck_channels": m.neck_channels, "grid_xy_extend": extend}

    def train_dataset(self, spec, info, samples):
        ds = spec.dataset
        aug = ds.augmentation
        transform = detection_transform(info.input_width, info.input_height, info.mean, info.std, aug)
        return DetectionDataset(samples, info.class_names, transform, aug.mosaic_prob,
                                (info.input_width, info.input_height), aug.mosaic_min_ratio), collate

    def network(self, info, classifier):
        n = info.network
        return YOLOv4Detector(info.backbone, info.num_classes, info.input_height, info.input_width, classifier,
                              anchors=n["anchors"], tiny=self.tiny, neck_channels=n["neck_channels"],
                              grid_xy_extend=n["grid_xy_extend"])

    def loss(self, spec, info, model):
        m = spec.model
        options = dict(matching_iou=m.box_matching_iou, loc_weight=m.loss_loc_weight,
                       neg_obj_weight=m.loss_neg_obj_weights, class_weight=m.loss_class_weights,
                       label_smoothing=spec.train.label_smoothing, ignore_iou=m.ignore_iou)
        return lambda outputs, targets: yolo_loss(model, outputs, targets, **options)

    def kd_loss(self, spec, info):
        raise UserError(f"train.distillation: {self.name} does not support distillation; remove "
                        "train.distillation.teacher")

    def heads(self, model):
        return [head[-1] for head in model.heads]

    def trained_heads(self, model):
        return ["lateral", "reduce", "top_down", "heads"] + ([] if self.tiny else ["down", "bottom_up"])

    def decoder_params(self, model, info):
        return {"prior_levels": model.prior_levels()}

    def contract_outputs(self, info):
        return (network.OUTPUT_NAMES, *network.contract_outputs(info))

    def add_extra_subcommands(self, sub):
        p = sub.add_parser("kmeans", help="anchor shapes from the training boxes (IoU k-means), as spec keys")
        p.add_argument("-e", "--experiment_spec", required=True, help="spec whose dataset lists the training data")
        p.add_argument("-n", "--num_clusters", type=int, help=f"anchors (default {3 * len(self.anchor_keys)})")
        p.add_argument("--max_steps", type=int, default=10000)
        p.add_argument("--min_x", type=float, default=0.0, help="leave out boxes narrower (input pixels)")
        p.add_argument("--min_y", type=float, default=0.0, help="leave out boxes lower (input pixels)")
        p.add_argument("-o", "--output", help="write the anchor keys as a YAML file to merge into the spec")
        p.add_argument("overrides", nargs="*", help="spec overrides: section.key=value")
        p.set_defaults(run=self.kmeans)

    def kmeans(self, args):
        spec = load_spec(self.inference.spec_class, args.experiment_spec, args.overrides)
        levels = len(self.anchor_keys)
        k = args.num_clusters or 3 * levels
        if k < levels or k % levels:
            raise UserError(f"-n {k}: give a multiple of {levels} ({self.name} has {levels} levels, e.g. {3 * levels})")
        ds, shapes = spec.dataset, []
        for sample in load_index(spec)["train"]:
            with Image.open(sample["image"]) as image:
                sx, sy = ds.image_width / image.width, ds.image_height / image.height
            for _, x1, y1, x2, y2 in sample["objects"]:
                w, h = (x2 - x1) * sx, (y2 - y1) * sy
                if w >= max(args.min_x, 1e-3) and h >= max(args.min_y, 1e-3):
                    shapes.append((w, h))
        centres, mean_iou = iou_kmeans(shapes, k, args.max_steps)
        per_level = k // levels
        keys = {key: [[round(float(w), 2), round(float(h), 2)] for w, h in centres[i * per_level:(i + 1) * per_level]]
                for i, key in enumerate(self.anchor_keys)}
        table = Table(title=f"{k} anchors from {len(shapes)} training boxes at {ds.image_width}x{ds.image_height} "
                            f"(mean best IoU {mean_iou:.3f})")
        for column in ("spec key", "anchors (width, height in input pixels)"):
            table.add_column(column)
        for key, value in keys.items():
            table.add_row(f"model.{key}", str(value))
        console.print(table)
        text = yaml.safe_dump({"model": keys}, default_flow_style=None, sort_keys=False)
        if args.output:
            write_text(Path(args.output), text)
            console.print(f"anchor keys → {args.output}")
        else:
            console.print(text.rstrip())


YOLO_V4 = YOLOv4Adapter("yolo_v4", tiny=False)
YOLO_V4_TINY = YOLOv4Adapter("yolo_v4_tiny", tiny=True)
