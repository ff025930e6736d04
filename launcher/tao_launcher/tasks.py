"""The task table: which tasks exist, their subcommands, and the worker that runs them.

Plain data, so `tao --help` works on a host without the worker installed.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Task:
    name: str
    summary: str
    worker: str  # the worker package/image folder under containers/
    subcommands: dict = field(default_factory=dict)  # name -> one-line summary
    default_subcommand: str | None = None  # `tao <task> -flags` means this subcommand (TAO's `tao augment -e`)


# Every detection network offers the same subcommands (one shared task module in the worker).
DETECTION_SUBCOMMANDS = {
    "dataset_convert": "Validate data, box statistics, write the training index: -d SPEC -o OUT_DIR",
    "train": "Train from a spec: -e SPEC [-r RESULTS_DIR] [key=value ...]",
    "evaluate": "mAP (VOC 11-point/integrate, COCO), per-class AP, PR curves: -e SPEC -m MODEL",
    "inference": "Annotated images + KITTI labels: -e SPEC -m MODEL [-i IMAGE_DIR]",
    "prune": "TAO-style threshold pruning (output heads kept): -m MODEL -o OUT [-pth 0.1] ...",
    "export": "ONNX export with the decoding contract, optional INT8: -m MODEL -o OUT.onnx [--data_type int8]",
    "generate_sample": "Write a small synthetic KITTI detection dataset: -o DIR",
}

TASKS = {
    task.name: task
    for task in [
        Task(
            name="classification",
            summary="Image classification (folders or split lists of images).",
            worker="cv",
            subcommands={
                "train": "Train or fine-tune from a spec: -e SPEC [-r RESULTS_DIR] [key=value ...]",
                "evaluate": "Accuracy, per-class metrics, confusion matrix: -e SPEC -m MODEL(.pth|.onnx)",
                "inference": "Predict a folder of images into a CSV: -e SPEC -m MODEL [-i IMAGE_DIR]",
                "prune": "TAO-style threshold pruning: -m MODEL -o OUT [-pth 0.1] [-n max|L2] [-eq union] ...",
                "export": "ONNX export, optional INT8 calibration: -m MODEL -o OUT.onnx [--data_type int8] ...",
                "generate_sample": "Write a small synthetic dataset for demos and tests: -o DIR",
            },
        ),
        Task(
            name="detectnet_v2",
            summary="Object detection, TAO's DetectNet_v2 grid detector (KITTI labels; VOC/COCO/YOLO converted).",
            worker="cv",
            subcommands=DETECTION_SUBCOMMANDS,
        ),
        Task(
            name="retinanet",
            summary="Object detection, RetinaNet (torchvision) with an FPN on a registered backbone, same data and flags.",
            worker="cv",
            subcommands=DETECTION_SUBCOMMANDS,
        ),
        Task(
            name="augment",
            summary="Offline augmentation of KITTI detection data: rotation (box refinement), shear, flip, "
                    "translation, hue/saturation, contrast, brightness, blur.",
            worker="cv",
            subcommands={"generate": "Augment every image, write images + adjusted KITTI labels: -e SPEC [-o OUT_DIR]"},
            default_subcommand="generate",
        ),
    ]
}

WORKER_MODULES = {"cv": "tao_cv"}
