"""Spec schemas. Sections shared by every task (train, evaluate, export, prune) live here once;
a task's spec composes them with its own dataset and model sections."""

from dataclasses import dataclass

from .loader import spec_field


@dataclass
class OptimizerSpec:
    name: str = spec_field("sgd", choices=("sgd", "adam", "adamw"))
    lr: float = spec_field(0.01, min=0.0)
    momentum: float = spec_field(0.9, min=0.0, max=1.0, help="sgd only")
    weight_decay: float = spec_field(5e-5, min=0.0)


@dataclass
class SchedulerSpec:
    name: str = spec_field("cosine", choices=("cosine", "step", "soft_anneal", "constant"))
    warmup_epochs: int = spec_field(0, min=0, help="linear warm-up before cosine/step")
    step_size: int = spec_field(10, min=1, help="step: epochs between decays")
    gamma: float = spec_field(0.1, min=0.0, max=1.0, help="step: decay factor")
    # TAO's soft-start annealing: ramp up over soft_start of the run, hold, then anneal at annealing_start.
    soft_start: float = spec_field(0.1, min=0.0, max=1.0)
    annealing_start: float = spec_field(0.7, min=0.0, max=1.0)
    min_lr_ratio: float = spec_field(0.01, min=0.0, max=1.0, help="lowest lr as a fraction of optimizer.lr")


@dataclass
class TrainSpec:
    num_epochs: int = spec_field(10, min=1)
    batch_size: int = spec_field(32, min=1)
    optimizer: OptimizerSpec = spec_field(OptimizerSpec)
    lr_scheduler: SchedulerSpec = spec_field(SchedulerSpec)
    label_smoothing: float = spec_field(0.0, min=0.0, max=1.0)
    seed: int = spec_field(42, min=0)
    device: str = spec_field("auto", choices=("auto", "cpu", "cuda"))
    amp: bool = spec_field(True, help="mixed precision; used on CUDA only")
    checkpoint_interval: int = spec_field(1, min=1, help="keep checkpoints/epoch_NNN.pth every N epochs")
    resume: bool = spec_field(True, help="continue from checkpoints/latest.pth in the results dir")
    freeze_backbone_epochs: int = spec_field(0, min=0, help="train only the head for the first N epochs")


@dataclass
class EvaluateSpec:
    checkpoint: str | None = spec_field(None, help="model to evaluate when -m is not given")
    batch_size: int = spec_field(32, min=1)
    top_k: int = spec_field(5, min=1)
    split: str = spec_field("test", choices=("train", "val", "test"))


@dataclass
class InferenceSpec:
    checkpoint: str | None = spec_field(None)
    image_dir: str | None = spec_field(None, help="folder of images to predict when -i is not given")
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
class PruneSpec:
    threshold: float = spec_field(0.1, min=0.0, help="-pth")
    normalizer: str = spec_field("max", choices=("max", "L2"), help="-n")
    equalization_criterion: str = spec_field(
        "union", choices=("union", "intersection", "arithmetic_mean", "geometric_mean"), help="-eq"
    )
    granularity: int = spec_field(8, min=1, help="-pg")
    min_num_filters: int = spec_field(16, min=1, help="-nf")
    excluded_layers: list[str] = spec_field([], help="-el")


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
    root: str | None = spec_field(None, help="folder with train/ val/ test/ subfolders of class folders")
    image_root: str | None = spec_field(None, help="alternative: images at IMAGE_ROOT/CLASS/FILE ...")
    train_list: str | None = spec_field(None, help="... listed one CLASS/FILE per line")
    val_list: str | None = spec_field(None)
    test_list: str | None = spec_field(None)
    image_size: int = spec_field(160, min=8)
    mean: list[float] | None = spec_field(None, help="per-channel normalization; default: the backbone's")
    std: list[float] | None = spec_field(None)
    num_workers: int = spec_field(2, min=0)
    on_bad_image: str = spec_field("fail", choices=("fail", "skip"))
    augmentation: AugmentationSpec = spec_field(AugmentationSpec)


@dataclass
class ClassificationModelSpec:
    backbone: str = spec_field("efficientnet_lite0")
    pretrained: str | None = spec_field(None, help="'imagenet', a checkpoint path, or an http(s)/file URL")
    pretrained_sha256: str | None = spec_field(None)
    pruned_model: str | None = spec_field(None, help="a pruned model from `prune`: retrain it")
    dropout: float = spec_field(0.2, min=0.0, max=1.0)


@dataclass
class ClassificationSpec:
    results_dir: str = spec_field("results")
    dataset: ClassificationDatasetSpec = spec_field(ClassificationDatasetSpec)
    model: ClassificationModelSpec = spec_field(ClassificationModelSpec)
    train: TrainSpec = spec_field(TrainSpec)
    evaluate: EvaluateSpec = spec_field(EvaluateSpec)
    inference: InferenceSpec = spec_field(InferenceSpec)
    export: ExportSpec = spec_field(ExportSpec)
    prune: PruneSpec = spec_field(PruneSpec)
