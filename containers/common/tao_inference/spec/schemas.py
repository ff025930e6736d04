"""Spec schemas. Sections shared by every task (train, evaluate, export, prune) live here once;
a task's spec composes them with its own dataset and model sections."""

from dataclasses import dataclass

from .loader import spec_field


@dataclass
class OptimizerSpec:
    name: str = spec_field("sgd", choices=("sgd", "adam", "adamw"))
    lr: float = spec_field(0.01, min=1e-10, help="above 0: a rate of 0 trains nothing")
    momentum: float = spec_field(0.9, min=0.0, max=1.0, help="sgd only")
    weight_decay: float = spec_field(5e-5, min=0.0)


@dataclass
class SchedulerSpec:
    name: str = spec_field("cosine", choices=("cosine", "step", "multistep", "soft_anneal", "constant"))
    warmup_epochs: int = spec_field(0, min=0, help="linear warm-up before cosine/step/multistep")
    step_size: int = spec_field(10, min=1, help="step: epochs between decays")
    gamma: float = spec_field(0.1, min=0.0, max=1.0, help="step, multistep: decay factor")
    milestones: list[float] = spec_field([0.8, 0.9], min=0.0, max=1.0, help="multistep: where the lr is multiplied "
                                                                           "by gamma, as fractions of the run")
    # TAO's soft-start annealing: ramp up over soft_start of the run, hold, then anneal at annealing_start.
    soft_start: float = spec_field(0.1, min=0.0, max=1.0)
    annealing_start: float = spec_field(0.7, min=0.0, max=1.0)
    min_lr_ratio: float = spec_field(0.01, min=0.0, max=1.0, help="lowest lr as a fraction of optimizer.lr")


@dataclass
class DistillationSpec:
    teacher: str | None = spec_field(None, path=True, help="a trained checkpoint of the same task and classes (e.g. "
                                                          "the unpruned model): the retrain also learns its outputs")
    alpha: float = spec_field(0.5, min=0.0, max=1.0, help="weight of the teacher's term; 1 - alpha: the labels' loss")
    temperature: float = spec_field(4.0, min=0.1, max=100.0, help="softens the logits of both (classification, "
                                                                  "RetinaNet); DetectNet_v2's coverage is compared as is")


@dataclass
class TrainSpec:
    num_epochs: int = spec_field(10, min=1, max=100_000)
    batch_size: int = spec_field(32, min=1, help="per GPU/process, as TAO's batch_size_per_gpu: one step's global "
                                                 "batch is batch_size x processes; scale optimizer.lr with it "
                                                 "(linear rule, docs/multi_gpu.md)")
    optimizer: OptimizerSpec = spec_field(OptimizerSpec)
    lr_scheduler: SchedulerSpec = spec_field(SchedulerSpec)
    label_smoothing: float = spec_field(0.0, min=0.0, max=1.0)
    seed: int = spec_field(42, min=0)
    device: str = spec_field("auto", choices=("auto", "cpu", "cuda"))
    amp: bool = spec_field(True, help="mixed precision; used on CUDA only")
    checkpoint_interval: int = spec_field(1, min=1, help="keep checkpoints/epoch_NNN.pth every N epochs")
    resume: bool = spec_field(True, help="continue from checkpoints/latest.pth in the results dir")
    freeze_backbone_epochs: int = spec_field(0, min=0, help="train only the head for the first N epochs")
    distillation: DistillationSpec = spec_field(DistillationSpec)
    enable_qat: bool = spec_field(False, help="quantization-aware training (TAO's key): fake INT8 quantization in the "
                                              "forward, per export.int8_target; export writes its Q/DQ graph, no "
                                              "calibration. Typically on the retrain of a pruned model")
    tensorboard: bool = spec_field(True, help="event files under RESULTS_DIR/tensorboard: losses, lr, validation "
                                              "metrics, annotated validation images (detection, segmentation)")
    tensorboard_images: int = spec_field(3, min=0, max=32, help="validation images drawn per epoch in TensorBoard")


@dataclass
class EvaluateSpec:
    checkpoint: str | None = spec_field(None, path=True, help="model to evaluate when -m is not given")
    batch_size: int = spec_field(32, min=1)
    top_k: int = spec_field(5, min=1)
    split: str = spec_field("test", choices=("train", "val", "test"))


@dataclass
class InferenceSpec:
    checkpoint: str | None = spec_field(None, path=True)
    image_dir: str | None = spec_field(None, path=True, help="folder of images to predict when -i is not given")
    batch_size: int = spec_field(32, min=1)


@dataclass
class ExportSpec:
    opset: int = spec_field(17, min=17, max=23)
    check_tolerance: float = spec_field(1e-4, min=0.0, help="max |ORT - PyTorch| accepted after export")
    cal_batches: int = spec_field(10, min=1)
    cal_batch_size: int = spec_field(8, min=1)
    calibration_method: str = spec_field("minmax", choices=("minmax", "entropy", "percentile"))
    int8_target: str = spec_field("onnxruntime", choices=("onnxruntime", "tensorrt"),
                                  help="onnxruntime: uint8 asymmetric activations (fast on CPU); tensorrt: int8 symmetric")
    int8_fp32_first_last: str = spec_field(
        "auto", choices=("auto", "always", "never"),
        help="keep the first conv and the classifier FP32; auto: only if quantizing them drops the INT8/FP32 "
             "top-1 agreement on the calibration images below int8_min_agreement")
    int8_min_agreement: float = spec_field(0.98, min=0.0, max=1.0)


@dataclass
class TrtCalibrationSpec:
    cal_image_dir: list[str] = spec_field([], path=True, help="folders of calibration images (int8 from an FP32 ONNX)")
    cal_cache_file: str | None = spec_field(None, path=True, help="TensorRT calibration cache: read if it exists, "
                                                                 "else written")
    cal_batch_size: int = spec_field(1, min=1)
    cal_batches: int = spec_field(1, min=1)


@dataclass
class TensorRTSpec:
    data_type: str = spec_field("fp32", choices=("fp32", "fp16", "int8"))
    workspace_size: int = spec_field(1024, min=1, help="MB (TAO 5's unit; --max_workspace_size takes GB)")
    min_batch_size: int = spec_field(1, min=1)
    opt_batch_size: int = spec_field(1, min=1)
    max_batch_size: int = spec_field(1, min=1)
    calibration: TrtCalibrationSpec = spec_field(TrtCalibrationSpec)


@dataclass
class GenTrtEngineSpec:
    """TAO 5's gen_trt_engine section (`tao deploy <task> gen_trt_engine`); flags override it."""
    onnx_file: str | None = spec_field(None, path=True, help="when -m is not given")
    trt_engine: str | None = spec_field(None, path=True, help="when --engine_file is not given")
    timing_cache_file: str | None = spec_field(None, path=True, help="TensorRT timing cache, reused across builds")
    tensorrt: TensorRTSpec = spec_field(TensorRTSpec)


@dataclass
class PruneSpec:
    threshold: float = spec_field(0.1, min=0.0, help="-pth")
    normalizer: str = spec_field("max", choices=("max", "L2"), help="-n")
    equalization_criterion: str = spec_field(
        "union", choices=("union", "intersection", "arithmetic_mean", "geometric_mean"), help="-eq"
    )
    granularity: int = spec_field(8, min=1, help="-pg")
    min_num_filters: int = spec_field(16, min=1, help="-nf")
    excluded_layers: list[str] = spec_field([], help="-el")
    criterion: str = spec_field("l2", choices=("l2", "group_l2", "taylor", "bn_scale"),
                                help="--criterion: l2 is TAO's; the others are Torch-Pruning's group importances")


@dataclass
class AugmentationSpec:
    random_resized_crop_scale: list[float] = spec_field([0.6, 1.0], min=0.0, max=1.0)
    horizontal_flip: float = spec_field(0.5, min=0.0, max=1.0)
    vertical_flip: float = spec_field(0.0, min=0.0, max=1.0)
    rotation_degrees: float = spec_field(0.0, min=0.0, max=180.0)
    brightness: float = spec_field(0.2, min=0.0)
    contrast: float = spec_field(0.2, min=0.0)
    saturation: float = spec_field(0.2, min=0.0)
    hue: float = spec_field(0.02, min=0.0, max=0.5)


@dataclass
class ClassificationDatasetSpec:
    root: str | None = spec_field(None, path=True, help="folder with train/ val/ test/ subfolders of class folders")
    image_root: str | None = spec_field(None, path=True, help="alternative: images at IMAGE_ROOT/CLASS/FILE ...")
    train_list: str | None = spec_field(None, path=True, help="... listed one CLASS/FILE per line")
    val_list: str | None = spec_field(None, path=True)
    test_list: str | None = spec_field(None, path=True)
    train_dir: str | None = spec_field(None, path=True, help="a split's own folder of class folders (TAO's "
                                                             "train_dataset_path); wins over dataset.root for it")
    val_dir: str | None = spec_field(None, path=True)
    test_dir: str | None = spec_field(None, path=True)
    image_size: int = spec_field(160, min=8, max=4096)
    mean: list[float] | None = spec_field(None, help="per-channel normalization; default: the backbone's")
    std: list[float] | None = spec_field(None)
    num_workers: int = spec_field(2, min=0)
    on_bad_image: str = spec_field("fail", choices=("fail", "skip"))
    augmentation: AugmentationSpec = spec_field(AugmentationSpec)


@dataclass
class StartingWeightsSpec:
    """Where a network's weights start: the model-section keys every task shares."""
    backbone: str = spec_field("resnet18", help="any registered backbone")
    pretrained: str | None = spec_field(None, path=True, help="'imagenet' (backbones that have it), a checkpoint path, or an "
                                                   "https/file URL")
    pretrained_sha256: str | None = spec_field(None, help="the file's full sha256 (64 hex digits)")
    pretrained_require_sha256: bool = spec_field(False, help="refuse a URL without model.pretrained_sha256")
    pretrained_allow_http: bool = spec_field(False, help="allow a plain http:// URL (refused by default)")
    pruned_model: str | None = spec_field(None, path=True, help="a pruned model from `prune`: retrain it")


@dataclass
class ClassificationModelSpec(StartingWeightsSpec):
    backbone: str = spec_field("efficientnet_lite0")
    dropout: float = spec_field(0.2, min=0.0, max=1.0)


@dataclass
class ClassificationSpec:
    results_dir: str = spec_field("results", path=True)
    dataset: ClassificationDatasetSpec = spec_field(ClassificationDatasetSpec)
    model: ClassificationModelSpec = spec_field(ClassificationModelSpec)
    train: TrainSpec = spec_field(TrainSpec)
    evaluate: EvaluateSpec = spec_field(EvaluateSpec)
    inference: InferenceSpec = spec_field(InferenceSpec)
    export: ExportSpec = spec_field(ExportSpec)
    prune: PruneSpec = spec_field(PruneSpec)
    gen_trt_engine: GenTrtEngineSpec = spec_field(GenTrtEngineSpec)


# ---------------------------------------------------------------- detection (DetectNet_v2)

@dataclass
class DataSourceSpec:
    format: str = spec_field("kitti", choices=("kitti", "voc", "coco", "yolo"))
    image_dir: str | None = spec_field(None, path=True)
    label_dir: str | None = spec_field(None, path=True, help="kitti: .txt per image; voc: .xml per image; yolo: .txt per image")
    label_file: str | None = spec_field(None, path=True, help="coco: the annotation JSON")
    list_file: str | None = spec_field(None, path=True, help="optional: only the image stems listed (one per line)")
    class_names: list[str] = spec_field([], help="yolo: class names by index")


@dataclass
class DetectionAugmentationSpec:
    horizontal_flip: float = spec_field(0.5, min=0.0, max=1.0)
    vertical_flip: float = spec_field(0.0, min=0.0, max=1.0)
    rotation_degrees: float = spec_field(0.0, min=0.0, max=180.0)
    shear_degrees: float = spec_field(0.0, min=0.0, max=45.0)
    translate: float = spec_field(0.0, min=0.0, max=0.5, help="fraction of width/height")
    scale_jitter: float = spec_field(0.0, min=0.0, max=0.9, help="zoom by 1 +- this")
    brightness: float = spec_field(0.1, min=0.0)
    contrast: float = spec_field(0.1, min=0.0)
    saturation: float = spec_field(0.1, min=0.0)
    hue: float = spec_field(0.0, min=0.0, max=0.5)


@dataclass
class DetectionDatasetSpec:
    train: list[DataSourceSpec] = spec_field([])
    val: list[DataSourceSpec] = spec_field([])
    test: list[DataSourceSpec] = spec_field([])
    index: str | None = spec_field(None, path=True, help="index.json written by dataset_convert; used instead of the sources")
    validation_split: float = spec_field(0.0, min=0.0, max=0.9, help="fraction of train held out when val is empty")
    target_class_mapping: dict[str, str] | None = spec_field(None, help="source class -> target class; unmapped classes are dropped")
    image_width: int = spec_field(640, min=32, max=8192)
    image_height: int = spec_field(480, min=32, max=8192)
    mean: list[float] | None = spec_field(None)
    std: list[float] | None = spec_field(None)
    num_workers: int = spec_field(2, min=0)
    augmentation: DetectionAugmentationSpec = spec_field(DetectionAugmentationSpec)


@dataclass
class DetectNetModelSpec(StartingWeightsSpec):
    coverage_scale: float = spec_field(0.6, min=0.05, max=1.0, help="central part of a box marked as covered")
    coverage_shape: str = spec_field("peaked", choices=("peaked", "uniform"),
                                     help="coverage target: peaked at the box centre (one box per object after NMS), "
                                          "or uniform over the covered part (TAO's)")
    bbox_norm: float = spec_field(35.0, min=1.0)
    positive_weight: float = spec_field(10.0, min=1.0, help="weight of covered cells in the coverage loss")
    bbox_loss_weight: float = spec_field(1.0, min=0.0)


@dataclass
class ClusteringSpec:
    coverage_threshold: float = spec_field(0.3, min=0.0, max=1.0)
    method: str = spec_field("nms", choices=("nms", "dbscan"), help="nms: keep the best-covered box; dbscan: TAO's clustering")
    eps: float = spec_field(0.35, min=0.0, max=1.0, help="DBSCAN: neighbour distance in 1 - IoU")
    min_samples: int = spec_field(1, min=1)
    nms_iou: float = spec_field(0.45, min=0.0, max=1.0)
    minimum_height: float = spec_field(0.0, min=0.0, help="drop boxes lower than this (input pixels)")


@dataclass
class PostprocessingSpec:
    default: ClusteringSpec = spec_field(ClusteringSpec)
    per_class: dict[str, dict] | None = spec_field(None, help="class name -> keys of `default` to override for that class")


@dataclass
class DetectionEvaluateSpec:
    checkpoint: str | None = spec_field(None, path=True)
    batch_size: int = spec_field(8, min=1)
    split: str = spec_field("test", choices=("train", "val", "test"))
    iou_threshold: float = spec_field(0.5, min=0.05, max=0.95)
    ap_mode: str = spec_field("integrate", choices=("integrate", "sample"), help="sample: VOC 11-point")


@dataclass
class DetectionInferenceSpec:
    checkpoint: str | None = spec_field(None, path=True)
    image_dir: str | None = spec_field(None, path=True)
    batch_size: int = spec_field(8, min=1)
    min_confidence: float = spec_field(0.3, min=0.0, max=1.0, help="boxes drawn and written at or above this")


@dataclass
class DetectionSpec:
    """The sections every detection network shares; a network's spec adds its `model` and `postprocessing`."""
    results_dir: str = spec_field("results", path=True)
    dataset: DetectionDatasetSpec = spec_field(DetectionDatasetSpec)
    train: TrainSpec = spec_field(TrainSpec)
    evaluate: DetectionEvaluateSpec = spec_field(DetectionEvaluateSpec)
    inference: DetectionInferenceSpec = spec_field(DetectionInferenceSpec)
    export: ExportSpec = spec_field(ExportSpec)
    prune: PruneSpec = spec_field(PruneSpec)
    gen_trt_engine: GenTrtEngineSpec = spec_field(GenTrtEngineSpec)


@dataclass
class DetectNetV2Spec(DetectionSpec):
    model: DetectNetModelSpec = spec_field(DetectNetModelSpec)
    postprocessing: PostprocessingSpec = spec_field(PostprocessingSpec)


# ---------------------------------------------------------------- detection (RetinaNet)

@dataclass
class RetinaNetModelSpec(StartingWeightsSpec):
    backbone: str = spec_field("resnet18", help="any registered backbone (resnet18, efficientnet_lite0, ...): FPN on its stride 8/16/32 features")
    fpn_channels: int = spec_field(128, min=8)
    anchor_sizes: list[int] = spec_field([16, 32, 64, 128, 256], min=1, help="base anchor size of P3..P7 (pixels)")
    head_norm: str = spec_field("group", choices=("none", "group"),
                                help="group: GroupNorm in the head towers, as torchvision's RetinaNet v2 (trains far "
                                     "faster here); none: the original RetinaNet head")


@dataclass
class RetinaNetPostprocessingSpec:
    score_threshold: float = spec_field(0.05, min=0.0, max=1.0)
    nms_iou: float = spec_field(0.5, min=0.0, max=1.0)
    top_k: int = spec_field(1000, min=1, help="candidates kept before NMS")
    max_detections: int = spec_field(300, min=1)


@dataclass
class SSDModelSpec(StartingWeightsSpec):
    backbone: str = spec_field("resnet18", help="any registered backbone: its stride 8/16/32 maps + extra blocks")
    scales: list[float] = spec_field([0.05, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85], min=0.01, max=1.0,
                                     help="TAO's key: default box size per level as a fraction of the input, one "
                                          "more than the levels (the last closes the second ratio-1 box)")
    aspect_ratios_global: list[float] = spec_field([1.0, 2.0, 0.5, 3.0, 1.0 / 3.0], min=0.05,
                                                   help="TAO's key: every level's ratios, each with its reciprocal")
    two_boxes_for_ar1: bool = spec_field(True, help="TAO's key: a second ratio-1 box of scale sqrt(s_k s_k+1)")
    variances: list[float] = spec_field([0.1, 0.1, 0.2, 0.2], min=1e-4, help="TAO's key: box encoding scales")
    clip_boxes: bool = spec_field(False, help="TAO's key: default boxes clipped to the image")
    extra_channels: int = spec_field(128, min=8, help="channels of the extra levels' blocks")
    neg_pos_ratio: float = spec_field(3.0, min=0.1, help="TAO's key: hard negatives per positive in the loss")


@dataclass
class NMSConfigSpec:
    """TAO's nms_config (SSD, YOLOv4)."""
    confidence_threshold: float = spec_field(0.01, min=0.0, max=1.0, help="TAO's nms_config key")
    clustering_iou_threshold: float = spec_field(0.45, min=0.0, max=1.0, help="TAO's nms_config key: NMS IoU")
    top_k: int = spec_field(200, min=1, help="TAO's nms_config key: candidates (SSD: per class) before NMS")
    max_detections: int = spec_field(200, min=1)


@dataclass
class SSDSpec(DetectionSpec):
    model: SSDModelSpec = spec_field(SSDModelSpec)
    postprocessing: NMSConfigSpec = spec_field(NMSConfigSpec)


@dataclass
class YOLOv4ModelSpec(StartingWeightsSpec):
    backbone: str = spec_field("cspdarknet_tiny", help="any registered backbone: its stride 8/16/32 maps (tiny: "
                                                       "16/32) feed the neck")
    small_anchor_shape: list[list[float]] = spec_field([[12, 16], [19, 36], [40, 28]], min=1.0,
                                                       help="TAO's key: (w, h) input pixels at stride 8 (not tiny)")
    mid_anchor_shape: list[list[float]] = spec_field([[36, 75], [76, 55], [72, 146]], min=1.0,
                                                     help="TAO's key: at stride 16")
    big_anchor_shape: list[list[float]] = spec_field([[142, 110], [192, 243], [459, 401]], min=1.0,
                                                     help="TAO's key: at stride 32; `tao yolo_v4 kmeans` computes all")
    neck_channels: int = spec_field(128, min=8, help="the stride-8 (tiny: 16) neck width; doubled per level")
    grid_xy_extend: list[float] = spec_field([0.2, 0.1, 0.05], min=0.0, max=1.0,
                                             help="TAO's small/mid/big_grid_xy_extend (strides 8, 16, 32; tiny: the "
                                                  "last two): YOLOv4's grid sensitivity, the centre sigmoid x 1 + it")
    box_matching_iou: float = spec_field(0.25, min=0.0, max=1.0, help="TAO's key: anchors over this shape IoU "
                                                                      "also predict the box")
    loss_loc_weight: float = spec_field(1.0, min=0.0, help="TAO's key: the CIoU term")
    loss_neg_obj_weights: float = spec_field(1.0, min=0.0, help="TAO's key: objectness of the background")
    loss_class_weights: float = spec_field(1.0, min=0.0, help="TAO's key")
    ignore_iou: float = spec_field(0.5, min=0.0, max=1.0, help="a prior whose box overlaps a ground truth this "
                                                                "much is no negative")


@dataclass
class YOLOAugmentationSpec(DetectionAugmentationSpec):
    mosaic_prob: float = spec_field(0.5, min=0.0, max=1.0, help="TAO's key: chance a training image is a mosaic "
                                                                "of four")
    mosaic_min_ratio: float = spec_field(0.2, min=0.0, max=0.5, help="TAO's key: the mosaic's centre stays this "
                                                                     "far from the edges (fraction)")


@dataclass
class YOLODatasetSpec(DetectionDatasetSpec):
    image_width: int = spec_field(320, min=32, max=8192, help="a multiple of 32")
    image_height: int = spec_field(320, min=32, max=8192)
    augmentation: YOLOAugmentationSpec = spec_field(YOLOAugmentationSpec)


@dataclass
class YOLOv4Spec(DetectionSpec):
    dataset: YOLODatasetSpec = spec_field(YOLODatasetSpec)
    model: YOLOv4ModelSpec = spec_field(YOLOv4ModelSpec)
    postprocessing: NMSConfigSpec = spec_field(NMSConfigSpec)


@dataclass
class RetinaNetSpec(DetectionSpec):
    model: RetinaNetModelSpec = spec_field(RetinaNetModelSpec)
    postprocessing: RetinaNetPostprocessingSpec = spec_field(RetinaNetPostprocessingSpec)


# ---------------------------------------------------------------- semantic segmentation (UNet)

@dataclass
class TargetClassSpec:
    name: str = spec_field("", help="a label name")
    label_id: int = spec_field(0, min=0, max=255, help="the mask pixel value of this label")
    mapping_class: str | None = spec_field(None, help="the class it is trained as (default: its own name)")
    class_weight: float = spec_field(1.0, min=0.0, help="its weight in the cross-entropy")


@dataclass
class DataClassSpec:
    target_classes: list[TargetClassSpec] = spec_field([])
    unmapped_label_ids: str = spec_field("error", choices=("error", "background"),
                                         help="a mask value no target class names: an error naming it and the "
                                              "file, or read as the first class (background)")


@dataclass
class SegmentationAugmentationSpec:
    horizontal_flip: float = spec_field(0.5, min=0.0, max=1.0)
    vertical_flip: float = spec_field(0.0, min=0.0, max=1.0)
    rotation_degrees: float = spec_field(0.0, min=0.0, max=180.0)
    crop_and_resize_prob: float = spec_field(0.0, min=0.0, max=1.0, help="chance of a random crop resized back")
    crop_scale: list[float] = spec_field([0.5, 1.0], min=0.05, max=1.0, help="area fraction of that crop")
    brightness: float = spec_field(0.1, min=0.0)
    contrast: float = spec_field(0.1, min=0.0)
    saturation: float = spec_field(0.0, min=0.0)


@dataclass
class SegmentationSourceSpec:
    image_path: str | None = spec_field(None, path=True, help="a text file listing image paths, one a line")
    masks_path: str | None = spec_field(None, path=True, help="a text file listing their masks, in the same order")


@dataclass
class SegmentationDatasetSpec:
    train_data_sources: list[SegmentationSourceSpec] = spec_field([], help="list files (TAO's data_source), "
                                                                          "used instead of the folders when given")
    val_data_sources: list[SegmentationSourceSpec] = spec_field([])
    test_data_sources: list[SegmentationSourceSpec] = spec_field([])
    train_images_path: str | None = spec_field(None, path=True, help="folder of images (TAO's key)")
    train_masks_path: str | None = spec_field(None, path=True, help="folder of PNG masks, same file stems")
    val_images_path: str | None = spec_field(None, path=True)
    val_masks_path: str | None = spec_field(None, path=True)
    test_images_path: str | None = spec_field(None, path=True)
    test_masks_path: str | None = spec_field(None, path=True)
    image_width: int = spec_field(128, min=16, max=8192, help="the network's input (TAO's model_input_width)")
    image_height: int = spec_field(128, min=16, max=8192)
    input_image_type: str = spec_field("color", choices=("color", "grayscale"),
                                       help="grayscale images are read as three equal channels")
    data_class_config: DataClassSpec = spec_field(DataClassSpec)
    mean: list[float] | None = spec_field(None)
    std: list[float] | None = spec_field(None)
    num_workers: int = spec_field(2, min=0)
    augmentation: SegmentationAugmentationSpec = spec_field(SegmentationAugmentationSpec)


@dataclass
class UNetModelSpec(StartingWeightsSpec):
    backbone: str = spec_field("resnet18", help="a registered backbone (its stride 2-32 feature maps feed the "
                                                "decoder), or vanilla_unet (TAO's plain UNet, no pretrained weights)")
    decoder_channels: list[int] = spec_field([128, 64, 48, 32, 16], min=4, help="per decoder stage, deep to shallow")
    loss: str = spec_field("cross_entropy", choices=("cross_entropy", "cross_entropy_dice"))


@dataclass
class SegmentationEvaluateSpec:
    checkpoint: str | None = spec_field(None, path=True)
    batch_size: int = spec_field(8, min=1)
    split: str = spec_field("test", choices=("train", "val", "test"))


@dataclass
class SegmentationInferenceSpec:
    checkpoint: str | None = spec_field(None, path=True)
    image_dir: str | None = spec_field(None, path=True)
    batch_size: int = spec_field(8, min=1)
    overlay_alpha: float = spec_field(0.5, min=0.0, max=1.0, help="vis_overlay: weight of the class colours")


@dataclass
class UNetSpec:
    results_dir: str = spec_field("results", path=True)
    dataset: SegmentationDatasetSpec = spec_field(SegmentationDatasetSpec)
    model: UNetModelSpec = spec_field(UNetModelSpec)
    train: TrainSpec = spec_field(TrainSpec)
    evaluate: SegmentationEvaluateSpec = spec_field(SegmentationEvaluateSpec)
    inference: SegmentationInferenceSpec = spec_field(SegmentationInferenceSpec)
    export: ExportSpec = spec_field(ExportSpec)
    prune: PruneSpec = spec_field(PruneSpec)
    gen_trt_engine: GenTrtEngineSpec = spec_field(GenTrtEngineSpec)


# ---------------------------------------------------------------- instance segmentation (Mask R-CNN)

@dataclass
class CocoSourceSpec:
    image_dir: str | None = spec_field(None, path=True, help="folder the annotation file's image file_names are in")
    annotation_file: str | None = spec_field(None, path=True, help="COCO instance JSON: polygons or RLE masks")


@dataclass
class InstanceDatasetSpec:
    train: list[CocoSourceSpec] = spec_field([], help="COCO sources; the classes are their categories (by name)")
    val: list[CocoSourceSpec] = spec_field([])
    test: list[CocoSourceSpec] = spec_field([])
    image_width: int = spec_field(320, min=32, max=8192, help="network input; a multiple of 32 (TAO's image_size)")
    image_height: int = spec_field(320, min=32, max=8192)
    skip_crowd_during_training: bool = spec_field(True, help="TAO's key: crowd regions are not trained as instances")
    max_num_instances: int = spec_field(200, min=1, help="TAO's key: instances kept per training image (largest)")
    mean: list[float] | None = spec_field(None)
    std: list[float] | None = spec_field(None)
    num_workers: int = spec_field(2, min=0)
    augmentation: DetectionAugmentationSpec = spec_field(DetectionAugmentationSpec)


@dataclass
class RCNNModelSpec(StartingWeightsSpec):
    """Faster R-CNN's keys (TAO's maskrcnn_config names), which Mask R-CNN's extend."""
    backbone: str = spec_field("resnet18", help="any registered backbone: an FPN on its stride 4-32 feature maps")
    fpn_channels: int = spec_field(128, min=8)
    anchor_sizes: list[int] = spec_field([16, 32, 64, 128, 256], min=1, help="anchor size of P2..P6 (pixels)")
    aspect_ratios: list[float] = spec_field([0.5, 1.0, 2.0], min=0.05, help="anchor height / width")
    freeze_bn: bool = spec_field(True, help="TAO's key: the backbone's BatchNorm keeps its (pretrained) statistics")
    fast_rcnn_mlp_head_dim: int = spec_field(1024, min=16, help="TAO's key: the box head's fully connected width")
    rpn_positive_overlap: float = spec_field(0.7, min=0.0, max=1.0)
    rpn_negative_overlap: float = spec_field(0.3, min=0.0, max=1.0)
    rpn_batch_size_per_im: int = spec_field(256, min=1)
    rpn_fg_fraction: float = spec_field(0.5, min=0.0, max=1.0)
    rpn_pre_nms_topn: int = spec_field(2000, min=1, help="training")
    rpn_post_nms_topn: int = spec_field(1000, min=1, help="training")
    rpn_nms_threshold: float = spec_field(0.7, min=0.0, max=1.0)
    test_rpn_pre_nms_topn: int = spec_field(1000, min=1)
    test_rpn_post_nms_topn: int = spec_field(300, min=1, help="proposals the box head scores per image")
    num_sampled_rois: int = spec_field(512, min=1, help="training RoIs per image")
    fg_fraction: float = spec_field(0.25, min=0.0, max=1.0)
    fg_thresh: float = spec_field(0.5, min=0.0, max=1.0)
    bg_thresh_hi: float = spec_field(0.5, min=0.0, max=1.0)
    test_detections_per_image: int = spec_field(100, min=1, help="the exported outputs' K (padded)")
    test_nms: float = spec_field(0.5, min=0.0, max=1.0)
    test_score_threshold: float = spec_field(0.05, min=0.0, max=1.0, help="detections below it are dropped")
    rpn_box_loss_weight: float = spec_field(1.0, min=0.0)
    fast_rcnn_box_loss_weight: float = spec_field(1.0, min=0.0)


@dataclass
class MaskRCNNModelSpec(RCNNModelSpec):
    mrcnn_resolution: int = spec_field(28, min=8, max=112, help="TAO's key: the mask head's output size (even)")
    mrcnn_weight_loss_mask: float = spec_field(1.0, min=0.0)


@dataclass
class InstanceEvaluateSpec:
    checkpoint: str | None = spec_field(None, path=True)
    batch_size: int = spec_field(4, min=1)
    split: str = spec_field("test", choices=("train", "val", "test"))
    mask_threshold: float = spec_field(0.5, min=0.0, max=1.0, help="a mask pixel is the object's at or above it")


@dataclass
class InstanceInferenceSpec:
    checkpoint: str | None = spec_field(None, path=True)
    image_dir: str | None = spec_field(None, path=True)
    batch_size: int = spec_field(4, min=1)
    min_confidence: float = spec_field(0.5, min=0.0, max=1.0, help="instances drawn and written at or above this")
    mask_threshold: float = spec_field(0.5, min=0.0, max=1.0)
    overlay_alpha: float = spec_field(0.5, min=0.0, max=1.0, help="weight of the instance colours")


@dataclass
class MaskRCNNSpec:
    results_dir: str = spec_field("results", path=True)
    dataset: InstanceDatasetSpec = spec_field(InstanceDatasetSpec)
    model: MaskRCNNModelSpec = spec_field(MaskRCNNModelSpec)
    train: TrainSpec = spec_field(TrainSpec)
    evaluate: InstanceEvaluateSpec = spec_field(InstanceEvaluateSpec)
    inference: InstanceInferenceSpec = spec_field(InstanceInferenceSpec)
    export: ExportSpec = spec_field(ExportSpec)
    prune: PruneSpec = spec_field(PruneSpec)
    gen_trt_engine: GenTrtEngineSpec = spec_field(GenTrtEngineSpec)


@dataclass
class FasterRCNNSpec(DetectionSpec):
    """Faster R-CNN: detection's data and evaluation, the R-CNN keys Mask R-CNN's extend."""
    model: RCNNModelSpec = spec_field(RCNNModelSpec)


# ---------------------------------------------------------------- offline augmentation (tao augment)

@dataclass
class RotationSpec:
    angle: float = spec_field(0.0, min=-180.0, max=180.0, help="degrees, counter-clockwise")
    refine_box: bool = spec_field(True, help="box of the rotated inscribed ellipse instead of the rotated corners")


@dataclass
class ShearSpec:
    shear_ratio_x: float = spec_field(0.0, min=-1.0, max=1.0)
    shear_ratio_y: float = spec_field(0.0, min=-1.0, max=1.0)


@dataclass
class FlipSpec:
    horizontal: bool = spec_field(False)
    vertical: bool = spec_field(False)


@dataclass
class TranslationSpec:
    translate_x: float = spec_field(0.0, help="pixels")
    translate_y: float = spec_field(0.0, help="pixels")


@dataclass
class SpatialSpec:
    rotation: RotationSpec = spec_field(RotationSpec)
    shear: ShearSpec = spec_field(ShearSpec)
    flip: FlipSpec = spec_field(FlipSpec)
    translation: TranslationSpec = spec_field(TranslationSpec)


@dataclass
class HueSaturationSpec:
    hue_rotation_angle: float = spec_field(0.0, min=-360.0, max=360.0, help="degrees")
    saturation_shift: float = spec_field(1.0, min=0.0, help="saturation multiplier")


@dataclass
class ContrastSpec:
    contrast: float = spec_field(0.0, min=-1.0, help="out = (in - center) * (1 + contrast) + center")
    center: float = spec_field(127.5, min=0.0, max=255.0)


@dataclass
class BrightnessSpec:
    offset: float = spec_field(0.0, min=-255.0, max=255.0, help="added to every channel (0-255 scale)")


@dataclass
class ColorSpec:
    hue_saturation: HueSaturationSpec = spec_field(HueSaturationSpec)
    contrast: ContrastSpec = spec_field(ContrastSpec)
    brightness: BrightnessSpec = spec_field(BrightnessSpec)


@dataclass
class BlurSpec:
    size: int = spec_field(0, min=0, help="Gaussian kernel size in pixels (0: no blur)")
    std: float = spec_field(0.0, min=0.0)


@dataclass
class AugmentDatasetSpec:
    image_dir: str | None = spec_field(None, path=True)
    label_dir: str | None = spec_field(None, path=True, help="KITTI labels, one .txt per image")


@dataclass
class AugmentSpec:
    dataset: AugmentDatasetSpec = spec_field(AugmentDatasetSpec)
    output_dir: str | None = spec_field(None, path=True, help="writes OUTPUT/images and OUTPUT/labels (-o overrides)")
    spatial: SpatialSpec = spec_field(SpatialSpec)
    color: ColorSpec = spec_field(ColorSpec)
    blur: BlurSpec = spec_field(BlurSpec)
    image_extension: str = spec_field("keep", choices=("keep", "jpg", "png"))
