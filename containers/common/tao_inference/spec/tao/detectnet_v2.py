"""TAO DetectNet_v2 specs (protobuf text): dataset_config, augmentation_config, model_config,
postprocessing_config, evaluation_config, cost_function_config, bbox_rasterizer_config, training_config."""

import math

from . import common, tf1_detection

_CLUSTERING = {"DBSCAN": "dbscan", "NMS": "nms", "HYBRID": "dbscan"}


def tf1(mapper):
    top = mapper.view()
    top.map("random_seed", "train.seed", int)
    tf1_detection.dataset_config(mapper, top.sub("dataset_config"))
    augmentation(mapper, top.sub("augmentation_config"))
    model(mapper, top.sub("model_config"))
    postprocessing(mapper, top.sub("postprocessing_config"))
    evaluation(mapper, top.sub("evaluation_config"))
    cost = top.sub("cost_function_config")
    cost.ignore("target_classes", "our loss weighs each class's covered cells itself (model.positive_weight, "
                                  "model.bbox_loss_weight); the class order is the sorted class names")
    for name in ("enable_autoweighting", "max_objective_weight", "min_objective_weight"):
        cost.ignore(name, "our coverage and box terms have fixed weights (model.bbox_loss_weight)")
    rasterizer(mapper, top.sub("bbox_rasterizer_config"))
    tf1_detection.training_config(mapper, top.sub("training_config"), "pretrained_model_file")
    if top.has("kitti_config"):
        tf1_detection.kitti_config(mapper, top.sub("kitti_config"))
    top.ignore("image_directory_path", "the images are kitti_config's")


def augmentation(mapper, view):
    pre = view.sub("preprocessing")
    tf1_detection.augmentation_size(mapper, pre, "output_image_width", "output_image_height", "output_image_channel")
    for name in ("min_bbox_width", "min_bbox_height"):
        pre.ignore(name, "every box of at least a pixel is trained on")
    for name in ("crop_left", "crop_top", "crop_right", "crop_bottom", "scale_width", "scale_height"):
        pre.ignore_unless(name, (0, 0.0), "fixed crops and scales are not implemented; images are resized")
    pre.ignore("enable_auto_resize", "images are always resized to dataset.image_width x image_height")
    width = float(pre.get("output_image_width", 640) or 640)
    height = float(pre.get("output_image_height", 480) or 480)
    spatial = view.sub("spatial_augmentation")
    spatial.map("hflip_probability", "dataset.augmentation.horizontal_flip", float)
    spatial.map("vflip_probability", "dataset.augmentation.vertical_flip", float)
    if spatial.has("zoom_min") or spatial.has("zoom_max"):
        low, high = float(spatial.get("zoom_min", 1.0)), float(spatial.get("zoom_max", 1.0))
        mapper.put("dataset.augmentation.scale_jitter", round(min(0.9, max(1 - low, high - 1)), 4), spatial.full("zoom_min"))
        mapper.handled(spatial.full("zoom_max"))
    if spatial.has("translate_max_x") or spatial.has("translate_max_y"):
        shift = max(float(spatial.get("translate_max_x", 0)) / width, float(spatial.get("translate_max_y", 0)) / height)
        mapper.put("dataset.augmentation.translate", round(min(0.5, shift), 4), spatial.full("translate_max_x"))
        mapper.handled(spatial.full("translate_max_y"))
    spatial.map("rotate_rad_max", "dataset.augmentation.rotation_degrees", lambda v: round(math.degrees(float(v)), 3))
    spatial.ignore("rotate_probability", "rotation applies to every image, within rotation_degrees")
    colour = view.sub("color_augmentation")
    colour.map("hue_rotation_max", "dataset.augmentation.hue", lambda v: round(min(0.5, float(v) / 360), 4))
    colour.map("saturation_shift_max", "dataset.augmentation.saturation", float)
    colour.map("contrast_scale_max", "dataset.augmentation.contrast", float)
    colour.ignore("contrast_center", "contrast scales around the image mean")
    colour.ignore("color_shift_stddev", "per-channel colour shifts are not implemented; brightness jitter is")


def model(mapper, view):
    common.backbone(view)
    common.pretrained(view, "pretrained_model_file")
    bbox = view.sub("objective_set").sub("bbox")
    bbox.map("scale", "model.bbox_norm", float)
    bbox.ignore_unless("offset", (0.5,), "box distances are measured from the cell centre (offset 0.5)")
    view.sub("objective_set").ignore("cov", "the coverage objective")
    for name in ("use_batch_norm", "all_projections", "freeze_bn", "use_pooling", "load_graph", "dropout_rate"):
        view.ignore(name, "our backbones are torchvision's, built as registered")
    view.ignore_unless("freeze_blocks", (0, [0]), "freezing blocks is not implemented; "
                                                  "train.freeze_backbone_epochs freezes the whole backbone")
    view.sub("training_precision").ignore("backend_floatx", "mixed precision is train.amp (CUDA only)")


def postprocessing(mapper, view):
    """target_class_config {key: CLASS value {clustering_config {...}}} -> postprocessing.per_class.CLASS."""
    per_class = {}
    for name, value, key in view.entries("target_class_config"):
        clustering = (value or {}).get("clustering_config") or {}
        ours = {}
        algorithm = str(clustering.get("clustering_algorithm", "DBSCAN")).upper()
        ours["method"] = _CLUSTERING.get(algorithm, "dbscan")
        for tao, our, convert in (("coverage_threshold", "coverage_threshold", float),
                                  ("dbscan_eps", "eps", float),
                                  ("minimum_bounding_box_height", "minimum_height", float),
                                  ("nms_iou_threshold", "nms_iou", float)):
            if tao in clustering:
                ours[our] = convert(clustering[tao])
        if "dbscan_min_samples" in clustering:
            samples = clustering["dbscan_min_samples"]
            ours["min_samples"] = max(1, int(samples)) if isinstance(samples, (int, float)) else 1
        per_class[str(name).lower()] = ours
        mapper.handled(key)
        for ignored in ("dbscan_confidence_threshold", "nms_confidence_threshold", "clustering_algorithm"):
            if ignored in clustering and not (ignored == "clustering_algorithm" and algorithm in ("DBSCAN", "NMS")):
                mapper.ignore(f"{key}.clustering_config.{ignored}",
                              "a box's confidence is its cluster's best coverage; boxes are shown at "
                              "inference.min_confidence" if ignored != "clustering_algorithm" else
                              "HYBRID is read as DBSCAN")
        if isinstance(clustering.get("dbscan_min_samples"), float) and clustering["dbscan_min_samples"] < 1:
            mapper.note(f"{key}.clustering_config.dbscan_min_samples: TAO's is a coverage-weighted sum "
                        f"({clustering['dbscan_min_samples']}); ours counts candidate boxes: 1")
    if per_class:
        mapper.put("postprocessing.per_class", per_class, view.full("target_class_config"))


def evaluation(mapper, view):
    overlaps = {v for _, v, _ in view.entries("minimum_detection_ground_truth_overlap")}
    if len(overlaps) == 1:
        view.map("minimum_detection_ground_truth_overlap", "evaluate.iou_threshold", lambda v: float(overlaps.pop()))
    elif overlaps:
        view.unsupported("minimum_detection_ground_truth_overlap",
                         f"one IoU per class ({sorted(overlaps)}): ours scores every class at evaluate.iou_threshold")
    view.ignore("evaluation_box_config", "every ground-truth box is scored, whatever its size")
    view.map("average_precision_mode", "evaluate.ap_mode", lambda v: str(v).lower())
    for name in ("validation_period_during_training", "first_validation_epoch"):
        view.ignore(name, "we validate after every epoch (fast at our data sizes)")
    view.ignore("batch_size", "evaluate.batch_size is ours")


def rasterizer(mapper, view):
    """The coverage region: TAO's cov_radius_x/y (radii as fractions of the box's width/height) -> our
    model.coverage_scale, the covered span as a fraction of the box: twice the radius."""
    radii = []
    for _, value, key in view.entries("target_class_config"):
        value = value or {}
        radii += [float(value[k]) for k in ("cov_radius_x", "cov_radius_y") if k in value]
        mapper.handled(key)
        for name in ("cov_center_x", "cov_center_y"):
            if value.get(name, 0.5) != 0.5:
                mapper.unsupported(f"{key}.{name}", "the coverage region is centred on the box")
    if radii:
        scale = min(1.0, max(0.05, 2 * sum(radii) / len(radii)))
        mapper.put("model.coverage_scale", round(scale, 4), view.full("target_class_config"))
        if len(set(radii)) > 1:
            mapper.note(f"{view.full('target_class_config')}: one coverage_scale for every class, from the mean "
                        f"of the radii ({scale:.3f})")
    view.ignore("deadzone_radius", "no dead zone around the coverage region")
