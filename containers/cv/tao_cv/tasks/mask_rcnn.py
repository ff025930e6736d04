"""Mask R-CNN (instance segmentation) as a task adapter: COCO instance data and what only it has (the mask
resolution, dataset_convert); the R-CNN itself is shared with Faster R-CNN (tasks/rcnn.py, models/rcnn.py). Its
evaluation is the torch-free core's (tao_inference.tasks.instance_segmentation)."""

from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.table import Table

from tao_inference.contract import ModelInfo
from tao_inference.data.coco_instances import SPLITS, decode_mask, load_instances, summary
from tao_inference.errors import UserError
from tao_inference.fileio import write_json
from tao_inference.spec import load_spec
from tao_inference.status import run_status
from tao_inference.tasks import TASKS
from tao_inference.tasks.instance_segmentation import OUTPUT_NAMES, contract_outputs
from ..data.detection import collate, detection_transform
from ..data.instances import InstanceDataset
from ..data.sample import INSTANCE_CLASSES, generate_instance_sample
from ..models import get_backbone
from .adapter import TaskAdapter, TrainingData, normalization, parse_counts
from .rcnn import TwoStageAdapter

console = Console(soft_wrap=True)


class MaskRCNNAdapter(TwoStageAdapter, TaskAdapter):
    inference = TASKS["mask_rcnn"]
    monitor = "mask_AP"
    masks = True
    int8_export = False  # not yet: the INT8 agreement of its masks is not built
    sample_counts = ("--count", "120,24,24", "images in train,val,test")
    sample_image_size = 128

    def read_data(self, spec):
        data = load_instances(spec.dataset, ("train", "val"))
        if not data.samples["val"]:
            raise UserError("no validation images: add a dataset.val COCO source ({image_dir, annotation_file})")
        return TrainingData(data.classes, data.samples["train"], data.samples["val"])

    def train_dataset(self, spec, info, samples):
        ds = spec.dataset
        transform = detection_transform(info.input_width, info.input_height, info.mean, info.std, ds.augmentation)
        return InstanceDataset(samples, info.class_names, transform, ds.skip_crowd_during_training,
                               ds.max_num_instances), collate

    def model_info(self, spec, class_names):
        ds, m = spec.dataset, spec.model
        if m.mrcnn_resolution % 2:
            raise UserError(f"model.mrcnn_resolution: {m.mrcnn_resolution} — must be even (the mask head upsamples "
                            "its RoIAlign grid by 2), e.g. 28")
        network = {**self.network_params(spec), "mrcnn_resolution": m.mrcnn_resolution}
        mean, std = normalization(ds, get_backbone(m.backbone))
        return ModelInfo(task=self.name, backbone=m.backbone, class_names=tuple(class_names),
                         input_height=ds.image_height, input_width=ds.image_width, mean=mean, std=std, network=network)

    def contract_outputs(self, info):
        return (OUTPUT_NAMES, *contract_outputs(info))

    def dataset_convert(self, args):
        """Check every COCO source (images there at their stated sizes, every mask decodable) and summarise the
        classes, instances per class and crowd regions per split."""
        spec = load_spec(self.inference.spec_class, args.dataset_spec, args.overrides)
        out = Path(args.output_dir)
        with run_status(out, "dataset conversion") as status:
            data = load_instances(spec.dataset)
            report = {"classes": data.classes}
            for split in SPLITS:
                for sample in data.samples[split]:
                    _check_sample(sample)
                report[split] = summary(data.samples[split], data.classes)
            write_json(out / "statistics.json", report)
            status.kpi = {split: report[split]["images"] for split in SPLITS}
        table = Table(title=f"dataset_convert: classes {', '.join(data.classes)} (every image and mask checked)")
        for column in ("split", "images", "without instances", *data.classes):
            table.add_column(column, justify="left" if column == "split" else "right")
        for split in SPLITS:
            r = report[split]
            table.add_row(split, str(r["images"]), str(r["empty"]), *(
                f"{c['instances']}" + (f" (+{c['crowd']} crowd)" if c["crowd"] else "") for c in r["per_class"].values()))
        console.print(table)
        console.print(f"statistics → {out / 'statistics.json'}")

    def generate(self, args):
        counts = parse_counts(args.count, "--count", "120,24,24")
        result = generate_instance_sample(args.output_dir, counts, args.image_size, seed=args.seed)
        console.print(f"synthetic instance segmentation sample data (COCO) → {args.output_dir} ({result}); classes "
                      f"{', '.join(INSTANCE_CLASSES)}")


def _check_sample(sample):
    try:
        with Image.open(sample["image"]) as image:
            size = image.size
    except OSError as exc:
        raise UserError(f"cannot read image {sample['image']}: {exc}") from None
    if size != (sample["width"], sample["height"]):
        raise UserError(f"{sample['image']} is {size[0]}x{size[1]}, its annotation file says {sample['width']}x"
                        f"{sample['height']}; correct the images[] entry")
    for number, obj in enumerate(sample["objects"]):
        try:
            decode_mask(obj["segmentation"], sample["height"], sample["width"])
        except Exception as exc:
            raise UserError(f"{sample['image']}: instance {number} ({obj['class']}) has a segmentation pycocotools "
                            f"cannot decode ({exc})") from None


ADAPTER = MaskRCNNAdapter()
