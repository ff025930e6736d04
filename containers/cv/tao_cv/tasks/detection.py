"""What every detector adapter shares: KITTI-style data and its index (`dataset_convert`), the box-aware training
dataset, a new network on a (pretrained) registry backbone, and the synthetic sample. A detector's adapter
(tasks/detectnet_v2.py, tasks/retinanet.py) adds its model, loss, heads and contract."""

from pathlib import Path

import yaml

from rich.console import Console
from rich.table import Table

from tao_inference.contract import ModelInfo
from tao_inference.data.converters import write_kitti_dataset
from tao_inference.data.detection_index import SPLITS, box_statistics, build_index, check_readable, load_source
from tao_inference.errors import UserError
from tao_inference.fileio import write_json, write_text
from tao_inference.spec import load_spec
from tao_inference.status import run_status
from tao_inference.tasks.detection import load_index
from ..data.detection import DetectionDataset, collate, detection_transform
from ..data.sample import generate_detection_sample
from ..models import get_backbone
from .adapter import TaskAdapter, TrainingData, normalization, parse_counts

console = Console(soft_wrap=True)


class DetectionAdapter(TaskAdapter):
    monitor = "mAP"
    sample_counts = ("--count", "240,40,40", "images in train,val,test")
    sample_image_size = 160
    # Detector losses have no label smoothing: a spec that sets it is refused, not silently trained without.
    unused_keys = {"train.label_smoothing": 0.0}

    def network_params(self, spec):
        """The network's own build parameters, from its `model` section."""
        return {}

    def read_data(self, spec):
        index = load_index(spec)
        if not index["val"]:
            raise UserError("no validation images: add dataset.val sources or set dataset.validation_split")
        return TrainingData(index["classes"], index["train"], index["val"])

    def train_dataset(self, spec, info, samples):
        ds = spec.dataset
        transform = detection_transform(info.input_width, info.input_height, info.mean, info.std, ds.augmentation)
        return DetectionDataset(samples, info.class_names, transform), collate

    def model_info(self, spec, class_names):
        ds = spec.dataset
        mean, std = normalization(ds, get_backbone(spec.model.backbone))
        return ModelInfo(task=self.name, backbone=spec.model.backbone, class_names=tuple(class_names),
                         input_height=ds.image_height, input_width=ds.image_width, mean=mean, std=std,
                         network=self.network_params(spec))

    def dataset_convert(self, args):
        spec = load_spec(self.inference.spec_class, args.dataset_spec, args.overrides)
        out = Path(args.output_dir)
        with run_status(out, "dataset conversion") as status:
            index = build_index(spec.dataset, seed=spec.train.seed)
            image_sizes = check_readable(index)
            converted = [s for split in SPLITS for s in getattr(spec.dataset, split) if s.format != "kitti"]
            if converted:  # the KITTI copy of VOC/COCO/YOLO sources (original class names), reusable by any KITTI tool
                samples = {}
                for source in converted:
                    samples.update(load_source(source))
                _, label_dir = write_kitti_dataset(samples, out / "kitti")
                console.print(f"KITTI labels of {len(samples)} converted images → {label_dir}")
            stats = box_statistics(index)
            per_class = self.suggested_per_class(spec, index, image_sizes)
            write_json(out / "index.json", index)
            write_json(out / "statistics.json", {**stats, **({"postprocessing_per_class": per_class} if per_class else {})})
            if per_class:
                write_text(out / "postprocessing.yaml", yaml.safe_dump({"postprocessing": {"per_class": per_class}}))
            status.kpi = {split: len(index[split]) for split in SPLITS}
        table = Table(title=f"dataset_convert: classes {', '.join(index['classes'])}")
        for column in ("split", "class", "boxes", "images", "width min/med/max", "height min/med/max"):
            table.add_column(column, justify="left" if column in ("split", "class") else "right")
        for split in SPLITS:
            images = stats[split]["_images"]
            table.add_row(split, f"({images['images']} images, {images['empty']} empty)", "", "", "", "")
            for name, s in stats[split].items():
                if name != "_images":
                    table.add_row("", name, str(s["boxes"]), str(s["images"]),
                                  f"{s['width_min']}/{s['width_median']}/{s['width_max']}",
                                  f"{s['height_min']}/{s['height_median']}/{s['height_max']}")
        console.print(table)
        console.print(f"index → {out / 'index.json'} (set dataset.index to it), statistics → {out / 'statistics.json'}")
        if per_class:
            console.print(f"per-class postprocessing from the training boxes → {out / 'postprocessing.yaml'} (copy it "
                          "into the spec: " + ", ".join(f"{name} {v}" for name, v in per_class.items()) + ")")

    def suggested_per_class(self, spec, index, image_sizes):
        """A network whose postprocessing has per-class keys suggests them from the training boxes."""
        return None

    def generate(self, args):
        counts = parse_counts(args.count, "--count", "80,20,20")
        result = generate_detection_sample(args.output_dir, counts, args.image_size, seed=args.seed)
        console.print(f"synthetic detection sample data (KITTI) → {args.output_dir} ({result})")

