"""What TAO's TF1 detectors (DetectNet_v2, RetinaNet, and later SSD/YOLO/FasterRCNN) write alike: dataset_config
with its data sources and class mapping, training_config, and the dataset_convert spec (`kitti_config`)."""

from pathlib import Path

from ..loader import host_path_of
from . import common


def kitti_folders(image_directory_path):
    """TAO's tfrecords point at images under image_directory_path; the KITTI labels lie beside them. Returns
    (images, labels, how it was decided), as the spec writes paths (container paths are looked up on the host)."""
    root = Path(image_directory_path)
    here = Path(host_path_of(str(root)))
    for images, labels in (("image_2", "label_2"), ("images", "labels")):
        if (here / images).is_dir() and (here / labels).is_dir():
            return root / images, root / labels, f"{images}/ and {labels}/ found in it"
    for labels in ("labels", "label_2", "label"):
        if (here.parent / labels).is_dir() and here.is_dir():
            return root, root.parent / labels, f"the labels folder {labels}/ beside it"
    return root / "image_2", root / "label_2", "not found here: TAO's KITTI layout (image_2/, label_2/) assumed"


def data_sources(mapper, view, name, split):
    """`data_sources { tfrecords_path image_directory_path | label_directory_path image_directory_path }`."""
    sources = []
    for source in view.subs(name):
        root = source.get("root_path")
        source.ignore("root_path", "joined with the relative paths")
        source.ignore("source_weight", "every source counts once")

        def joined(key):
            path = source.get(key)
            mapper.handled(source.full(key))
            return str(Path(root) / path) if root and not Path(path).is_absolute() else str(path)

        if not source.has("image_directory_path"):
            mapper.unsupported(source.key, "a data source needs image_directory_path")
        elif source.has("label_directory_path"):
            sources.append({"format": "kitti", "image_dir": joined("image_directory_path"),
                            "label_dir": joined("label_directory_path")})
        elif source.has("tfrecords_path"):
            image_dir, label_dir, how = kitti_folders(joined("image_directory_path"))
            mapper.handled(source.full("tfrecords_path"))
            sources.append({"format": "kitti", "image_dir": str(image_dir), "label_dir": str(label_dir)})
            mapper.note(f"{source.full('tfrecords_path')}: TFRecords are not read; the KITTI images and labels they "
                        f"were made from are read instead: {image_dir} and {label_dir} ({how})")
        else:
            mapper.unsupported(source.key, "a data source needs label_directory_path or tfrecords_path")
    if sources:
        mapper.put(f"dataset.{split}", sources, view.full(name))


def dataset_config(mapper, view):
    data_sources(mapper, view, "data_sources", "train")
    for name in ("validation_data_source", "validation_data_sources"):
        data_sources(mapper, view, name, "val")
    mapping = {str(k).lower(): str(v).lower() for k, v, _ in view.entries("target_class_mapping")}
    if mapping:
        view.map("target_class_mapping", "dataset.target_class_mapping", lambda v: mapping)
    if not (view.has("validation_data_source") or view.has("validation_data_sources")):
        if view.has("validation_fold"):
            mapper.put("dataset.validation_split", 0.14, view.full("validation_fold"))
            mapper.note(f"{view.full('validation_fold')}: TAO's validation fold of the TFRecords; ours holds out "
                        "14 % of the training images instead (TAO's default val_split)")
    else:
        view.ignore("validation_fold", "the validation data sources are used")
    view.ignore("image_extension", "images are found by their extension")
    view.ignore("include_difficult_in_training", "every labelled box is used")
    view.ignore_unless("type", ("kitti", "KITTI"), "KITTI labels (VOC/COCO/YOLO: set dataset.train[i].format)")


def kitti_config(mapper, view):
    """The dataset_convert spec: kitti_config {root_directory_path, image_dir_name, label_dir_name, val_split}."""
    root = Path(str(view.get("root_directory_path", "")))
    images = root / str(view.get("image_dir_name", "image_2"))
    labels = root / str(view.get("label_dir_name", "label_2"))
    mapper.put("dataset.train", [{"format": "kitti", "image_dir": str(images), "label_dir": str(labels)}], view.key)
    if view.has("val_split"):
        view.map("val_split", "dataset.validation_split", lambda v: float(v) / 100)
    for name in ("root_directory_path", "image_dir_name", "label_dir_name"):
        mapper.handled(view.full(name))
    for name in ("image_extension", "partition_mode", "num_partitions", "num_shards"):
        view.ignore(name, "no TFRecords are written: dataset_convert checks the data and writes an index")


def training_config(mapper, view, pretrained_key, schedules=()):
    """`schedules`: the learning-rate schedules this network's TAO trainer has beyond soft_start_annealing."""
    view.map("batch_size_per_gpu", "train.batch_size", int)
    view.map("num_epochs", "train.num_epochs", int)
    view.map("checkpoint_interval", "train.checkpoint_interval", int)
    view.map("n_workers", "dataset.num_workers", int)
    common.pretrained(view, pretrained_key)
    schedule = view.sub("learning_rate")
    common.soft_start_annealing(schedule.sub("soft_start_annealing_schedule"))
    if "soft_start_cosine_annealing_schedule" in schedules:
        common.soft_start_cosine(schedule.sub("soft_start_cosine_annealing_schedule"), view.get("num_epochs"))
    for name in schedule.names():
        if name not in ("soft_start_annealing_schedule", *schedules):
            schedule.unsupported(name, f"schedule {name!r}: ours maps soft_start_annealing_schedule")
    common.regularizer(view.sub("regularizer"))
    common.optimizer(view.sub("optimizer"))
    view.ignore("cost_scaling", "mixed precision uses PyTorch's own loss scaling (train.amp, CUDA only)")
    common.training_switches(view)
    view.unsupported("resume_model_path", "resume continues from RESULTS_DIR/checkpoints/latest.pth (train.resume)")


def numbers(text):
    """TAO writes lists as strings: "[1.0, 2.0, 0.5, 3.0, 1.0/3.0]" (fractions included); None if it is not one."""
    items = str(text).strip().strip("[]()").split(",")
    try:
        values = []
        for item in (i.strip() for i in items if i.strip()):
            top, _, bottom = item.partition("/")
            values.append(float(top) / float(bottom) if bottom else float(top))
        return values
    except (ValueError, ZeroDivisionError):
        return None


def ssd_style_augmentation(mapper, view):
    """RetinaNet's and SSD's augmentation_config: the output size, flips and colour (TAO's degrees and factors)."""
    augmentation_size(mapper, view, "output_width", "output_height", "output_channel")
    view.map("random_flip", "dataset.augmentation.horizontal_flip", float)
    view.map("hue", "dataset.augmentation.hue", lambda v: round(min(0.5, float(v) / 360), 4))
    view.map("saturation", "dataset.augmentation.saturation", lambda v: round(max(0.0, float(v) - 1), 4))
    view.map("contrast", "dataset.augmentation.contrast", lambda v: round(max(0.0, float(v) - 1), 4))
    view.map("brightness", "dataset.augmentation.brightness", lambda v: round(float(v) / 255, 4))
    for name in ("random_crop_min_scale", "random_crop_max_scale", "random_crop_min_ar", "random_crop_max_ar",
                 "zoom_out_min_scale", "zoom_out_max_scale"):
        view.ignore(name, "SSD-style random crops and zoom-out are not implemented; use "
                          "dataset.augmentation.scale_jitter / translate")
    view.ignore("image_mean", "images are normalized with the backbone's mean/std")


def detector_eval_nms(top, nms_keys):
    """eval_config (AP mode, IoU, batch) and nms_config, whose three keys go to `nms_keys` (ours, in TAO's order:
    confidence_threshold, clustering_iou_threshold, top_k)."""
    evaluation = top.sub("eval_config")
    evaluation.map("average_precision_mode", "evaluate.ap_mode", lambda v: str(v).lower())
    evaluation.map("matching_iou_threshold", "evaluate.iou_threshold", float)
    evaluation.map("batch_size", "evaluate.batch_size", int)
    evaluation.ignore("validation_period_during_training", "we validate after every epoch")
    nms = top.sub("nms_config")
    for tao_key, ours, kind in zip(("confidence_threshold", "clustering_iou_threshold", "top_k"), nms_keys,
                                   (float, float, int)):
        nms.map(tao_key, ours, kind)
    nms.ignore("force_on_cpu", "our NMS runs in numpy on the CPU")
    nms.ignore("infer_nms_score_bits", "TensorRT-plugin setting")


def frozen_layers(view):
    """freeze_bn / freeze_blocks of a TF1 detector's model section: our backbone's layers train."""
    view.ignore("freeze_bn", "batch norm layers train")
    view.ignore_unless("freeze_blocks", (0, [0]), "freezing blocks is not implemented; "
                                                  "train.freeze_backbone_epochs freezes the whole backbone")


def augmentation_size(mapper, view, width_key, height_key, channel_key):
    view.map(width_key, "dataset.image_width", int)
    view.map(height_key, "dataset.image_height", int)
    view.ignore_unless(channel_key, (3,), "ours trains on RGB (3 channels)")
