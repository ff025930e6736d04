"""Mask R-CNN (instance segmentation) as a task adapter: COCO instance data, torchvision's Mask R-CNN with an FPN
on a registered backbone (models/mask_rcnn.py), its own losses (the forward takes the targets). Its evaluation is
the torch-free core's (tao_inference.tasks.instance_segmentation)."""

from pathlib import Path

import torch
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
from ..models import build_classifier, get_backbone
from ..models.mask_rcnn import MaskRCNNDetector, mask_rcnn_loss
from .adapter import TaskAdapter, TrainingData, normalization, parse_counts

console = Console(soft_wrap=True)


def _settings(m):
    """torchvision's MaskRCNN arguments from TAO's maskrcnn_config keys."""
    return {"rpn_pre_nms_top_n_train": m.rpn_pre_nms_topn, "rpn_post_nms_top_n_train": m.rpn_post_nms_topn,
            "rpn_pre_nms_top_n_test": m.test_rpn_pre_nms_topn, "rpn_post_nms_top_n_test": m.test_rpn_post_nms_topn,
            "rpn_nms_thresh": m.rpn_nms_threshold, "rpn_fg_iou_thresh": m.rpn_positive_overlap,
            "rpn_bg_iou_thresh": m.rpn_negative_overlap, "rpn_batch_size_per_image": m.rpn_batch_size_per_im,
            "rpn_positive_fraction": m.rpn_fg_fraction, "box_score_thresh": m.test_score_threshold,
            "box_nms_thresh": m.test_nms, "box_fg_iou_thresh": m.fg_thresh, "box_bg_iou_thresh": m.bg_thresh_hi,
            "box_batch_size_per_image": m.num_sampled_rois, "box_positive_fraction": m.fg_fraction}


class MaskRCNNAdapter(TaskAdapter):
    inference = TASKS["mask_rcnn"]
    monitor = "mask_AP"
    unused_keys = {"train.label_smoothing": 0.0, "train.distillation.teacher": None}
    forward_takes_targets = True  # torchvision samples proposals and RoIs against the targets inside the forward
    export_batch = 1  # its graph loops over the images of the traced batch: exported at batch 1, run image by image
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
        if ds.image_width % 32 or ds.image_height % 32:
            raise UserError(f"dataset.image_width/image_height {ds.image_width}x{ds.image_height}: Mask R-CNN's FPN "
                            "needs multiples of 32 (e.g. 320x320)")
        if len(m.anchor_sizes) != 5:
            raise UserError(f"model.anchor_sizes: {m.anchor_sizes} — give five sizes, one per pyramid level P2..P6 "
                            "(e.g. [16, 32, 64, 128, 256])")
        if m.mrcnn_resolution % 2:
            raise UserError(f"model.mrcnn_resolution: {m.mrcnn_resolution} — must be even (the mask head upsamples "
                            "its RoIAlign grid by 2), e.g. 28")
        mean, std = normalization(ds, get_backbone(m.backbone))
        network = {"fpn_channels": m.fpn_channels, "anchor_sizes": list(m.anchor_sizes),
                   "aspect_ratios": list(m.aspect_ratios), "mrcnn_resolution": m.mrcnn_resolution,
                   "fast_rcnn_mlp_head_dim": m.fast_rcnn_mlp_head_dim, "freeze_bn": m.freeze_bn,
                   "test_detections_per_image": m.test_detections_per_image, "settings": _settings(m)}
        return ModelInfo(task=self.name, backbone=m.backbone, class_names=tuple(class_names),
                         input_height=ds.image_height, input_width=ds.image_width, mean=mean, std=std, network=network)

    def build(self, info, spec):
        classifier = build_classifier(info.backbone, 1, 0.0)
        self.load_pretrained(classifier, spec)
        return self._network(info, classifier)

    def rebuild(self, info):
        return self._network(info, None)

    def _network(self, info, classifier):
        n = info.network
        return MaskRCNNDetector(info.backbone, info.num_classes, info.input_height, info.input_width, classifier,
                                fpn_channels=n["fpn_channels"], anchor_sizes=tuple(n["anchor_sizes"]),
                                aspect_ratios=tuple(n["aspect_ratios"]), mrcnn_resolution=n["mrcnn_resolution"],
                                fast_rcnn_mlp_head_dim=n["fast_rcnn_mlp_head_dim"], freeze_bn=n["freeze_bn"],
                                detections_per_image=n["test_detections_per_image"], settings=n["settings"])

    def loss(self, spec, info, model):
        m = spec.model
        return mask_rcnn_loss({"loss_rpn_box_reg": m.rpn_box_loss_weight, "loss_box_reg": m.fast_rcnn_box_loss_weight,
                               "loss_mask": m.mrcnn_weight_loss_mask})

    def kd_loss(self, spec, info):
        raise UserError("train.distillation: mask_rcnn does not support distillation; remove train.distillation.teacher")

    def heads(self, model):
        """Never pruned: the RPN and RoI heads whole, and the FPN's output convolutions that feed them — pruning
        works on the backbone and the FPN's lateral convolutions."""
        net = model.net
        return [m for part in (net.rpn, net.roi_heads, net.backbone.fpn.layer_blocks) for m in part.modules()
                if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.ConvTranspose2d))]

    def trained_heads(self, model):
        return ["net.rpn", "net.roi_heads", "net.backbone.fpn"]

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
