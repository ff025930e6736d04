"""TAO YOLOv4 / YOLOv4-tiny specs (protobuf text): yolov4_config (or yolov4_tiny_config), training_config,
eval_config, nms_config, augmentation_config, dataset_config."""

import ast

from . import common, tf1_detection

# TAO's colour keys are multiplicative ranges (1.5: x 1/1.5 .. 1.5); ours are torchvision ColorJitter's (+-0.5)
_ANCHOR_KEYS = ("small_anchor_shape", "mid_anchor_shape", "big_anchor_shape")


def _shapes(text):
    """TAO writes anchors as a string: "[(114.94, 60.67), (159.06, 114.59)]" -> [[114.94, 60.67], ...]."""
    try:
        value = ast.literal_eval(str(text))
        return [[float(w), float(h)] for w, h in value]
    except (ValueError, SyntaxError, TypeError):
        return None


def _network(mapper, tiny):
    top = mapper.view()
    top.map("random_seed", "train.seed", int)
    config = top.sub("yolov4_tiny_config" if tiny and top.has("yolov4_tiny_config") else "yolov4_config")
    common.backbone(config)
    for key in _ANCHOR_KEYS[1:] if tiny else _ANCHOR_KEYS:
        if config.has(key):
            shapes = _shapes(config.get(key))
            if shapes:
                config.map(key, f"model.{key}", lambda v, shapes=shapes: shapes)
            else:
                config.unsupported(key, "write the anchors as TAO does: \"[(w, h), (w, h), (w, h)]\"")
    if tiny:
        config.ignore("small_anchor_shape", "YOLOv4-tiny has two levels (mid, big)")
    extend = [config.get(f"{level}_grid_xy_extend") for level in ("small", "mid", "big")]
    if any(v is not None for v in extend):
        defaults = (0.2, 0.1, 0.05)
        values = [float(v) if v is not None else d for v, d in zip(extend, defaults)]
        mapper.put("model.grid_xy_extend", values, config.full("big_grid_xy_extend"))
        for level in ("small", "mid", "big"):
            mapper.handled(config.full(f"{level}_grid_xy_extend"))
    config.map("box_matching_iou", "model.box_matching_iou", float)
    config.map("matching_neutral_box_iou", "model.ignore_iou", float)
    config.map("loss_loc_weight", "model.loss_loc_weight", float)
    config.map("loss_neg_obj_weights", "model.loss_neg_obj_weights", float)
    config.map("loss_class_weights", "model.loss_class_weights", float)
    config.map("label_smoothing", "train.label_smoothing", float)
    config.ignore("arch_conv_blocks", "the neck's blocks are three convolutions each (1x1, 3x3, 1x1)")
    tf1_detection.frozen_layers(config)
    config.ignore("force_relu", "CSPDarknet-tiny uses LeakyReLU(0.1); other backbones keep their activations")
    config.ignore("activation", "CSPDarknet-tiny uses LeakyReLU(0.1); other backbones keep their activations")

    augmentation = top.sub("augmentation_config")
    tf1_detection.augmentation_size(mapper, augmentation, "output_width", "output_height", "output_channel")
    augmentation.map("horizontal_flip", "dataset.augmentation.horizontal_flip", float)
    augmentation.map("vertical_flip", "dataset.augmentation.vertical_flip", float)
    augmentation.map("hue", "dataset.augmentation.hue", lambda v: round(min(0.5, float(v)), 4))
    augmentation.map("saturation", "dataset.augmentation.saturation", lambda v: round(max(0.0, float(v) - 1), 4))
    augmentation.map("exposure", "dataset.augmentation.brightness", lambda v: round(max(0.0, float(v) - 1), 4))
    if augmentation.has("jitter"):
        augmentation.map("jitter", "dataset.augmentation.scale_jitter", lambda v: round(min(0.9, float(v)), 4))
        mapper.note(f"{augmentation.full('jitter')}: TAO's crop jitter is our random zoom (scale_jitter); the "
                    "translation stays at dataset.augmentation.translate")
    augmentation.map("mosaic_prob", "dataset.augmentation.mosaic_prob", float)
    augmentation.map("mosaic_min_ratio", "dataset.augmentation.mosaic_min_ratio", float)
    augmentation.ignore_unless("randomize_input_shape_period", (0,), "multi-scale training is not implemented: "
                                                                      "every step trains at the output size")
    augmentation.ignore("image_mean", "images are normalized with the backbone's mean/std")

    training = top.sub("training_config")
    tf1_detection.training_config(mapper, training, "pretrain_model_path", schedules=("soft_start_cosine_annealing_schedule",))
    tf1_detection.detector_eval_nms(top, ("postprocessing.confidence_threshold",
                                          "postprocessing.clustering_iou_threshold", "postprocessing.top_k"))
    tf1_detection.dataset_config(mapper, top.sub("dataset_config"))
    if top.has("kitti_config"):
        tf1_detection.kitti_config(mapper, top.sub("kitti_config"))


def tf1(mapper):
    _network(mapper, tiny=False)


def tf1_tiny(mapper):
    _network(mapper, tiny=True)
