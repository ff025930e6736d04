"""What the two-stage detectors' adapters share (tasks/faster_rcnn.py, tasks/mask_rcnn.py): torchvision's R-CNN on
a registered backbone (models/rcnn.py) built from TAO's R-CNN keys, its losses computed inside the forward, the
heads pruning keeps, and a graph exported at batch 1."""

import torch
from rich.console import Console

from tao_inference.errors import UserError
from ..models.rcnn import RCNNDetector, rcnn_loss

console = Console(soft_wrap=True)


# TAO's test-time R-CNN keys (model.test_*) and the torchvision setting each one is in the checkpoint
TEST_TIME_SETTINGS = {"test_rpn_pre_nms_topn": "rpn_pre_nms_top_n_test",
                      "test_rpn_post_nms_topn": "rpn_post_nms_top_n_test", "test_nms": "box_nms_thresh",
                      "test_score_threshold": "box_score_thresh"}


def torchvision_settings(m):
    """torchvision's FasterRCNN / MaskRCNN arguments from TAO's keys (the spec's `model` section)."""
    return {"rpn_pre_nms_top_n_train": m.rpn_pre_nms_topn, "rpn_post_nms_top_n_train": m.rpn_post_nms_topn,
            "rpn_nms_thresh": m.rpn_nms_threshold, "rpn_fg_iou_thresh": m.rpn_positive_overlap,
            "rpn_bg_iou_thresh": m.rpn_negative_overlap, "rpn_batch_size_per_image": m.rpn_batch_size_per_im,
            "rpn_positive_fraction": m.rpn_fg_fraction, "box_fg_iou_thresh": m.fg_thresh,
            "box_bg_iou_thresh": m.bg_thresh_hi, "box_batch_size_per_image": m.num_sampled_rois,
            "box_positive_fraction": m.fg_fraction,
            **{setting: getattr(m, key) for key, setting in TEST_TIME_SETTINGS.items()}}


class TwoStageAdapter:
    """Mixed into a TaskAdapter: `masks` says Mask R-CNN."""
    masks = False
    unused_keys = {"train.label_smoothing": 0.0, "train.distillation.teacher": None}
    forward_takes_targets = True  # torchvision samples proposals and RoIs against the targets inside the forward
    export_batch = 1  # its graph loops over the images of the traced batch: exported at batch 1, run image by image
    # INT8 quantizes the backbone, the FPN and the RPN / box heads' layers; proposals, RoIAlign, box decoding and
    # NMS stay FP32 (8-bit box coordinates would move boxes by pixels).
    int8_modules = ("net.backbone", "net.rpn.head", "net.roi_heads.box_head", "net.roi_heads.box_predictor")

    def network_params(self, spec):
        ds, m = spec.dataset, spec.model
        if ds.image_width % 32 or ds.image_height % 32:
            raise UserError(f"dataset.image_width/image_height {ds.image_width}x{ds.image_height}: the R-CNN's FPN "
                            "needs multiples of 32 (e.g. 320x320)")
        if len(m.anchor_sizes) != 5:
            raise UserError(f"model.anchor_sizes: {m.anchor_sizes} — give five sizes, one per pyramid level P2..P6 "
                            "(e.g. [16, 32, 64, 128, 256])")
        return {"fpn_channels": m.fpn_channels, "anchor_sizes": list(m.anchor_sizes),
                "aspect_ratios": list(m.aspect_ratios), "fast_rcnn_mlp_head_dim": m.fast_rcnn_mlp_head_dim,
                "freeze_bn": m.freeze_bn, "test_detections_per_image": m.test_detections_per_image,
                "settings": torchvision_settings(m)}

    def test_time_info(self, info, spec):
        """The test-time keys the spec sets away from their defaults (proposals scored, NMS, score threshold, K)
        replace the checkpoint's, as TAO's evaluation / inference settings do; a key left at its default keeps the
        trained value."""
        defaults, m, replaced = type(spec.model)(), spec.model, []

        def chosen(key, trained):
            value = getattr(m, key)
            if value == getattr(defaults, key) or value == trained:
                return trained
            replaced.append(f"model.{key} {value} (trained with {trained})")
            return value

        old = info.network["settings"]
        settings = {**old, **{setting: chosen(key, old.get(setting)) for key, setting in TEST_TIME_SETTINGS.items()}}
        k = chosen("test_detections_per_image", info.network["test_detections_per_image"])
        if not replaced:
            return info
        console.print(f"note: the spec's test-time settings replace the checkpoint's: {', '.join(replaced)}")
        return info.replace(network={**info.network, "settings": settings, "test_detections_per_image": k})

    def network(self, info, classifier):
        n = info.network
        return RCNNDetector(info.backbone, info.num_classes, info.input_height, info.input_width, classifier,
                            masks=self.masks, fpn_channels=n["fpn_channels"], anchor_sizes=tuple(n["anchor_sizes"]),
                            aspect_ratios=tuple(n["aspect_ratios"]), mrcnn_resolution=n.get("mrcnn_resolution", 28),
                            fast_rcnn_mlp_head_dim=n["fast_rcnn_mlp_head_dim"], freeze_bn=n["freeze_bn"],
                            detections_per_image=n["test_detections_per_image"], settings=n["settings"])

    def loss(self, spec, info, model):
        m = spec.model
        return rcnn_loss({"loss_rpn_box_reg": m.rpn_box_loss_weight, "loss_box_reg": m.fast_rcnn_box_loss_weight,
                          "loss_mask": getattr(m, "mrcnn_weight_loss_mask", 1.0)})

    def kd_loss(self, spec, info):
        raise UserError(f"train.distillation: {self.name} does not support distillation; remove "
                        "train.distillation.teacher")

    def heads(self, model):
        """Never pruned: the RPN (its proposals are detached, so torch-pruning's trace never reaches it), the box (and
        mask) predictors, the mask head, and the FPN's output convolutions, whose channels every level's RPN and
        RoIAlign read. Pruning works on the backbone, the FPN's lateral convolutions and the box head's hidden
        layers (fc6, fc7: at 300 proposals a third of the MACs, which a 0.5x target cannot leave whole)."""
        net = model.net
        hidden = set(net.roi_heads.box_head.modules())
        return [m for part in (net.rpn, net.roi_heads, net.backbone.fpn.layer_blocks) for m in part.modules()
                if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.ConvTranspose2d)) and m not in hidden]

    def trained_heads(self, model):
        return ["net.rpn", "net.roi_heads", "net.backbone.fpn"]
