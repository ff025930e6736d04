"""TAO FasterRCNN specs (protobuf text): dataset_config, augmentation_config (preprocessing, spatial, color),
model_config, training_config, inference_config, evaluation_config.

TAO's FasterRCNN has one RPN level at stride 16 with N anchor scales; ours an FPN with one anchor size per level
P2-P6: TAO's scales are spread over the five levels (geometric, from the smallest to the largest), and the run says
so."""

from . import common, tf1_detection

_BOX_CODER_STD = {"x": 10.0, "y": 10.0, "w": 5.0, "h": 5.0}  # torchvision's RoI box coder weights


def _anchor_sizes(scales):
    low, high = min(scales), max(scales)
    return [round(low * (high / low) ** (i / 4)) for i in range(5)] if high > low else [round(low)] * 5


def _augmentation(mapper, view):
    pre = view.sub("preprocessing")
    pre.map("output_image_width", "dataset.image_width", int)
    pre.map("output_image_height", "dataset.image_height", int)
    pre.ignore_unless("output_image_channel", (3,), "ours trains on RGB (3 channels)")
    for key in ("min_bbox_width", "min_bbox_height"):
        pre.ignore(key, "boxes under a pixel after resizing are dropped")
    spatial = view.sub("spatial_augmentation")
    spatial.map("hflip_probability", "dataset.augmentation.horizontal_flip", float)
    spatial.map("vflip_probability", "dataset.augmentation.vertical_flip", float)
    zoom = [float(spatial.get(k, 1.0)) for k in ("zoom_min", "zoom_max")]
    if spatial.has("zoom_min") or spatial.has("zoom_max"):
        mapper.put("dataset.augmentation.scale_jitter", round(min(0.9, max(1 - zoom[0], zoom[1] - 1)), 4),
                   spatial.full("zoom_max" if spatial.has("zoom_max") else "zoom_min"))
        for key in ("zoom_min", "zoom_max"):
            mapper.handled(spatial.full(key))
    width = float(pre.get("output_image_width", 640) or 640)
    height = float(pre.get("output_image_height", 480) or 480)
    shift = max(float(spatial.get("translate_max_x", 0)) / width, float(spatial.get("translate_max_y", 0)) / height)
    if spatial.has("translate_max_x") or spatial.has("translate_max_y"):
        mapper.put("dataset.augmentation.translate", round(min(0.5, shift), 4), spatial.full("translate_max_x"))
        for key in ("translate_max_x", "translate_max_y"):
            mapper.handled(spatial.full(key))
    color = view.sub("color_augmentation")
    color.map("hue_rotation_max", "dataset.augmentation.hue", lambda v: round(min(0.5, float(v) / 360), 4))
    color.map("saturation_shift_max", "dataset.augmentation.saturation", float)
    color.map("contrast_scale_max", "dataset.augmentation.contrast", float)
    color.ignore("contrast_center", "contrast is scaled around the image's mean (torchvision)")


def _model(mapper, view):
    common.backbone(view)
    anchors = view.sub("anchor_box_config")
    raw = anchors.get("scale")
    scales = [float(s) for s in (raw if isinstance(raw, list) else [raw])] if anchors.has("scale") else []
    if scales:
        anchors.map("scale", "model.anchor_sizes", lambda v: _anchor_sizes(scales))
        mapper.note(f"{anchors.full('scale')}: TAO's one-level anchor scales {scales} spread over our FPN levels "
                    f"P2..P6 as {_anchor_sizes(scales)}")
    if anchors.has("ratio"):
        ratios = anchors.get("ratio")
        anchors.map("ratio", "model.aspect_ratios", lambda v: [float(r) for r in (ratios if isinstance(ratios, list)
                                                                                  else [ratios])])
    view.map("freeze_bn", "model.freeze_bn", bool)
    view.ignore("freeze_blocks", "blocks are not frozen (the backbone trains; train.freeze_backbone_epochs freezes "
                                 "all of it for a while)")
    view.map("roi_mini_batch", "model.num_sampled_rois", int)
    view.ignore("rpn_stride", "the FPN's RPN runs at strides 4-64")
    for key in ("use_bias", "all_projections", "use_pooling", "dropout_rate", "drop_connect_rate", "activation"):
        view.ignore(key, "our backbones are the registered networks as they are")
    pooling = view.sub("roi_pooling_config")
    pooling.ignore_unless("pool_size", (7,), "RoIAlign to 7 x 7 (torchvision's box head)")
    pooling.ignore_unless("pool_size_2x", (False,), "RoIAlign to 7 x 7 directly")
    image = view.sub("input_image_config")
    image.ignore_unless("image_type", ("RGB",), "ours trains on RGB images")
    image.ignore("image_channel_order", "images are fed as RGB, normalized with the backbone's mean/std")
    image.ignore("image_channel_mean", "images are normalized with the backbone's mean/std")
    image.ignore("image_scaling_factor", "pixels are scaled to [0, 1] and normalized")
    image.ignore("max_objects_num_per_image", "no limit on the boxes per image")
    size = image.sub("size_height_width")
    size.map("height", "dataset.image_height", int)
    size.map("width", "dataset.image_width", int)
    size.ignore("min", "the input is resized to dataset.image_width x image_height")
    size.ignore("max", "the input is resized to dataset.image_width x image_height")


def _training(mapper, view):
    view.map("batch_size_per_gpu", "train.batch_size", int)
    view.map("num_epochs", "train.num_epochs", int)
    view.map("checkpoint_interval", "train.checkpoint_interval", int)
    common.pretrained(view, "pretrained_weights")
    view.ignore_unless("enable_augmentation", (True,), "the spec's augmentation always applies in training")
    view.ignore("output_model", "weights go to RESULTS_DIR/weights (best.pth, last.pth)")
    common.training_switches(view)
    view.unsupported("resume_from_model", "resume continues from RESULTS_DIR/checkpoints/latest.pth (train.resume)")
    view.map("rpn_min_overlap", "model.rpn_negative_overlap", float)
    view.map("rpn_max_overlap", "model.rpn_positive_overlap", float)
    view.ignore_unless("classifier_min_overlap", (0, 0.0), "every RoI below the foreground threshold is background")
    if view.has("classifier_max_overlap"):
        value = float(view.get("classifier_max_overlap"))
        mapper.put("model.fg_thresh", value, view.full("classifier_max_overlap"))
        mapper.put("model.bg_thresh_hi", value, view.full("classifier_max_overlap"))
    view.ignore("gt_as_roi", "torchvision adds the ground-truth boxes to the proposals in training")
    view.ignore_unless("std_scaling", (1, 1.0), "the RPN's box coder is torchvision's (weights 1)")
    std = {str(k): float(v) for k, v, _ in view.entries("classifier_regr_std")}
    if std and std != _BOX_CODER_STD:
        view.unsupported("classifier_regr_std", f"{std}: the RoI box coder weights are torchvision's {_BOX_CODER_STD}")
    elif std:
        view.ignore("classifier_regr_std", f"torchvision's RoI box coder weights are the same {_BOX_CODER_STD}")
    view.map("rpn_mini_batch", "model.rpn_batch_size_per_im", int)
    view.map("rpn_pre_nms_top_N", "model.rpn_pre_nms_topn", int)
    view.map("rpn_nms_max_boxes", "model.rpn_post_nms_topn", int)
    view.map("rpn_nms_overlap_threshold", "model.rpn_nms_threshold", float)
    view.map("lambda_rpn_regr", "model.rpn_box_loss_weight", float)
    view.map("lambda_cls_regr", "model.fast_rcnn_box_loss_weight", float)
    for key in ("lambda_rpn_class", "lambda_cls_class"):
        view.ignore_unless(key, (1, 1.0), "the classification terms weigh 1 (torchvision's)")
    common.regularizer(view.sub("regularizer"))
    for key in ("kernel_regularizer_type", "kernel_regularizer_weight", "bias_regularizer_type",
                "bias_regularizer_weight"):
        view.ignore(key, "weight decay comes from regularizer (L2) as our optimizer.weight_decay")
    common.optimizer(view.sub("optimizer"))
    schedule = view.sub("learning_rate").sub("soft_start")
    if schedule.node:
        epochs = view.get("num_epochs")
        mapper.put("train.lr_scheduler.name", "multistep", schedule.key)
        schedule.map("base_lr", "train.optimizer.lr", float)
        schedule.ignore("start_lr", "the warm-up ramps linearly from near 0 to the base learning rate")
        schedule.map("soft_start", "train.lr_scheduler.warmup_epochs", lambda v: common.warmup_epochs(v, epochs))
        points = schedule.get("annealing_points")
        schedule.map("annealing_points", "train.lr_scheduler.milestones",
                     lambda v: [float(p) for p in (points if isinstance(points, list) else [points])])
        schedule.map("annealing_divider", "train.lr_scheduler.gamma", lambda v: 1.0 / float(v))
    for name in view.sub("learning_rate").names():
        if name != "soft_start":
            view.sub("learning_rate").unsupported(name, f"schedule {name!r}: ours maps soft_start")


# test-time keys: evaluation_config's and inference_config's; the exported graph holds one set (ours, model.test_*)
_TEST_TIME = {"rpn_pre_nms_top_N": ("model.test_rpn_pre_nms_topn", int),
              "rpn_nms_max_boxes": ("model.test_rpn_post_nms_topn", int),
              "object_confidence_thres": ("model.test_score_threshold", float),
              "classifier_nms_max_boxes": ("model.test_detections_per_image", int),
              "classifier_nms_overlap_threshold": ("model.test_nms", float)}


def _test_time(mapper, evaluation, inference):
    """model.test_* from evaluation_config (the metric you see); inference_config's values are the same, or noted as
    replaced by them (one exported graph serves both)."""
    for key, (ours, kind) in _TEST_TIME.items():
        source = evaluation if evaluation.has(key) else inference
        source.map(key, ours, kind)
        other = inference if source is evaluation else evaluation
        if other.has(key) and other is not source:
            if kind(other.get(key)) == kind(source.get(key)):
                other.ignore(key, f"the same as {source.full(key)}")
            else:
                other.ignore(key, f"replaced by {source.full(key)} ({source.get(key)}): the exported graph holds one "
                                  "set of test-time settings")
    for view, section in ((evaluation, "evaluate"), (inference, "inference")):
        view.map("batch_size", f"{section}.batch_size", int)
        view.ignore("rpn_nms_overlap_threshold", "one RPN NMS threshold for training and test (training_config's)")
        view.ignore("model", "-m names the model to run (TAO's .tlt files cannot be read)")
        for key in ("nms_score_bits", "trt_evaluation", "trt_inference", "validation_period_during_training"):
            view.ignore(key, "TensorRT/TensorFlow-specific, or we validate every epoch")


def tf1(mapper):
    top = mapper.view()
    top.map("random_seed", "train.seed", int)
    top.ignore("enc_key", "models are not encrypted")
    top.ignore("verbose", "our logs are always the same")
    tf1_detection.dataset_config(mapper, top.sub("dataset_config"))
    _augmentation(mapper, top.sub("augmentation_config"))
    _model(mapper, top.sub("model_config"))
    _training(mapper, top.sub("training_config"))
    inference, evaluation = top.sub("inference_config"), top.sub("evaluation_config")
    _test_time(mapper, evaluation, inference)
    inference.map("bbox_visualize_threshold", "inference.min_confidence", float)
    inference.map("images_dir", "inference.image_dir")
    for key in ("detection_image_output_dir", "labels_dump_dir"):
        inference.ignore(key, "inference writes RESULTS_DIR/images_annotated and labels")
    evaluation.map("use_voc07_11point_metric", "evaluate.ap_mode", lambda v: "sample" if v else "integrate")
    evaluation.map("gt_matching_iou_threshold", "evaluate.iou_threshold", float)
