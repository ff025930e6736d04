"""TAO RetinaNet specs (protobuf text): retinanet_config, training_config, eval_config, nms_config,
augmentation_config, dataset_config."""

from . import common, tf1_detection

# torchvision's RetinaNet (ours): focal loss alpha 0.25, gamma 2; three aspect ratios 0.5, 1, 2 at every level.
_RATIOS = {0.5, 1.0, 2.0}


def tf1(mapper):
    top = mapper.view()
    top.map("random_seed", "train.seed", int)
    augmentation = top.sub("augmentation_config")
    tf1_detection.ssd_style_augmentation(mapper, augmentation)

    config = top.sub("retinanet_config")
    common.backbone(config)
    config.map("feature_size", "model.fpn_channels", int)
    width = float(augmentation.get("output_width", 640) or 640)
    height = float(augmentation.get("output_height", 480) or 480)
    scales = tf1_detection.numbers(config.get("scales")) if config.has("scales") else None
    if scales:
        if len(scales) >= 5:
            config.map("scales", "model.anchor_sizes", lambda v: [max(1, round(s * min(width, height))) for s in scales[:5]])
            mapper.note(f"{config.full('scales')}: anchor sizes of P3..P7 = scales x the shorter input side "
                        f"({min(width, height):g} px)")
        else:
            config.unsupported("scales", "give at least 5 scales (P3..P7)")
    ratios = tf1_detection.numbers(config.get("aspect_ratios_global")) if config.has("aspect_ratios_global") else None
    if ratios is not None:
        if set(ratios) <= _RATIOS:
            config.ignore("aspect_ratios_global", "our anchors have the ratios 0.5, 1 and 2 at every level")
        else:
            config.unsupported("aspect_ratios_global", f"{ratios}: our anchors have the ratios 0.5, 1, 2")
    config.unsupported("aspect_ratios", "per-level aspect ratios: ours are 0.5, 1, 2 at every level")
    config.ignore("two_boxes_for_ar1", "three scales per level (2^0, 2^1/3, 2^2/3), as the paper")
    config.ignore("clip_boxes", "boxes are clipped to the image at decoding")
    config.ignore("variances", "torchvision's box coder (weights 1, 1, 1, 1)")
    config.ignore("n_kernels", "the head towers have four 3x3 convolutions, as the paper")
    config.ignore("n_anchor_levels", "three anchor scales per level")
    config.ignore_unless("focal_loss_alpha", (0.25,), "the focal loss is torchvision's (alpha 0.25)")
    config.ignore_unless("focal_loss_gamma", (2, 2.0), "the focal loss is torchvision's (gamma 2)")
    config.ignore("loss_loc_weight", "classification and box terms weigh 1:1 (torchvision's RetinaNet)")
    tf1_detection.frozen_layers(config)
    config.ignore("use_batch_norm", "our backbones are torchvision's")
    config.ignore("all_projections", "our backbones are torchvision's")

    tf1_detection.training_config(mapper, top.sub("training_config"), "pretrain_model_path")
    tf1_detection.detector_eval_nms(top, ("postprocessing.score_threshold", "postprocessing.nms_iou",
                                          "postprocessing.max_detections"))
    tf1_detection.dataset_config(mapper, top.sub("dataset_config"))
    if top.has("kitti_config"):
        tf1_detection.kitti_config(mapper, top.sub("kitti_config"))
