"""TAO SSD specs (protobuf text): ssd_config, training_config, eval_config, nms_config, augmentation_config,
dataset_config."""

from . import common, tf1_detection


def tf1(mapper):
    top = mapper.view()
    top.map("random_seed", "train.seed", int)
    tf1_detection.ssd_style_augmentation(mapper, top.sub("augmentation_config"))
    config = top.sub("ssd_config")
    common.backbone(config)
    for key in ("scales", "aspect_ratios_global", "variances"):
        if config.has(key):
            values = tf1_detection.numbers(config.get(key))
            if values:
                config.map(key, f"model.{key}", lambda v, values=values: [round(x, 6) for x in values])
            else:
                config.unsupported(key, "write it as TAO does: \"[1.0, 2.0, 0.5]\"")
    config.map("two_boxes_for_ar1", "model.two_boxes_for_ar1", bool)
    config.map("clip_boxes", "model.clip_boxes", bool)
    config.map("neg_pos_ratio", "model.neg_pos_ratio", float)
    config.unsupported("aspect_ratios", "per-level aspect ratios: ours are aspect_ratios_global at every level")
    config.unsupported("steps", "default boxes are centred on their feature-map cells (no explicit steps)")
    config.unsupported("offsets", "default boxes are centred on their feature-map cells (offset 0.5)")
    config.ignore_unless("alpha", (1, 1.0), "the box and class terms weigh 1:1 (torchvision's SSD loss)")
    tf1_detection.frozen_layers(config)
    config.ignore("use_batch_norm", "our backbones are torchvision's")
    config.ignore("all_projections", "our backbones are torchvision's")
    config.ignore("arch_conv_blocks", "the extra levels are a 1x1 and a stride-2 3x3 convolution each")
    tf1_detection.training_config(mapper, top.sub("training_config"), "pretrain_model_path")
    tf1_detection.detector_eval_nms(top, ("postprocessing.confidence_threshold",
                                          "postprocessing.clustering_iou_threshold", "postprocessing.top_k"))
    tf1_detection.dataset_config(mapper, top.sub("dataset_config"))
    if top.has("kitti_config"):
        tf1_detection.kitti_config(mapper, top.sub("kitti_config"))
