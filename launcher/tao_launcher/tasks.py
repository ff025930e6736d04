"""The task table of each TAO 5 group — `tao model | deploy | dataset <task> <subcommand>` — with the worker that
runs them. Plain data, so `tao --help` works on a host without the workers installed; a test checks it against
the workers' own registries (tests/unit/test_launcher.py), so the two cannot drift.
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
    "benchmark": "One table across formats (.pth, ONNX FP32/INT8): metric, size, latency b1/bN: -e SPEC -m M1 -m M2",
    "report": "The page of a `tao pipeline` run: report.html + report.md: -r RESULTS_DIR",
    "generate_sample": "Write a small synthetic KITTI detection dataset: -o DIR",
}

AUGMENT = Task(
    name="augment",
    summary="Offline augmentation of KITTI detection data: rotation (box refinement), shear, flip, "
            "translation, hue/saturation, contrast, brightness, blur.",
    worker="cv",
    subcommands={"generate": "Augment every image, write images + adjusted KITTI labels: -e SPEC [-o OUT_DIR]"},
    default_subcommand="generate",
)

MODEL_TASKS = {
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
                "benchmark": "One table across formats (.pth, ONNX FP32/INT8): metric, size, latency: -e SPEC -m M1 -m M2",
                "report": "The page of a `tao pipeline` run: report.html + report.md: -r RESULTS_DIR",
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
        *(Task(
            name=name,
            summary=f"Object detection, {title} (PAN/FPN neck and anchors on a registered backbone; CSPDarknet-tiny "
                    "by default), same data and flags.",
            worker="cv",
            subcommands={**DETECTION_SUBCOMMANDS,
                         "kmeans": "Anchor shapes from the training boxes (IoU k-means), as spec keys: -e SPEC [-n N]"},
        ) for name, title in (("yolo_v4", "YOLOv4"), ("yolo_v4_tiny", "YOLOv4-tiny"))),
        Task(
            name="ssd",
            summary="Object detection, SSD (torchvision's default boxes, matcher, hard negatives) on a registered "
                    "backbone, same data and flags.",
            worker="cv",
            subcommands=DETECTION_SUBCOMMANDS,
        ),
        Task(
            name="faster_rcnn",
            summary="Object detection, Faster R-CNN (torchvision) with an FPN on a registered backbone, same data and "
                    "flags.",
            worker="cv",
            subcommands=DETECTION_SUBCOMMANDS,
        ),
        Task(
            name="unet",
            summary="Semantic segmentation, UNet on a registered backbone (or vanilla_unet): images + PNG label masks.",
            worker="cv",
            subcommands={
                "dataset_convert": "Check every image/mask pair, class pixel frequencies: -d SPEC -o OUT_DIR",
                "train": "Train from a spec: -e SPEC [-r RESULTS_DIR] [key=value ...]",
                "evaluate": "Per-class precision/recall/F1/IoU, mIoU, fwIoU, pixel accuracy: -e SPEC -m MODEL",
                "inference": "Class masks + colour overlays: -e SPEC -m MODEL [-i IMAGE_DIR]",
                "prune": "TAO-style threshold pruning (the output head kept): -m MODEL -o OUT [-pth 0.1] ...",
                "export": "ONNX export with the contract, optional INT8: -m MODEL -o OUT.onnx [--data_type int8]",
                "benchmark": "One table across formats (.pth, ONNX FP32/INT8): mIoU, size, latency: -e SPEC -m M1 -m M2",
                "report": "The page of a `tao pipeline` run: report.html + report.md: -r RESULTS_DIR",
                "generate_sample": "Write a small synthetic segmentation dataset (images + masks): -o DIR",
            },
        ),
        Task(
            name="mask_rcnn",
            summary="Instance segmentation, Mask R-CNN (torchvision) with an FPN on a registered backbone: COCO "
                    "instance JSON.",
            worker="cv",
            subcommands={
                "dataset_convert": "Check the COCO sources (images, sizes, masks), instances per class: -d SPEC -o OUT",
                "train": "Train from a spec: -e SPEC [-r RESULTS_DIR] [key=value ...]",
                "evaluate": "COCO box and mask AP (AP50/75, APs/m/l, AR), per-class AP: -e SPEC -m MODEL",
                "inference": "Images with coloured masks + one JSON per image (RLE masks): -e SPEC -m MODEL [-i DIR]",
                "prune": "TAO-style threshold pruning of the backbone and FPN (heads kept): -m MODEL -o OUT [-pth 0.1]",
                "export": "ONNX export (postprocessing in the graph, batch 1) with the contract: -m MODEL -o OUT.onnx",
                "benchmark": "One table across formats (.pth, ONNX): mask AP, size, latency: -e SPEC -m M1 -m M2",
                "report": "The page of a `tao pipeline` run: report.html + report.md: -r RESULTS_DIR",
                "generate_sample": "Write a small synthetic COCO instance dataset (shapes with masks): -o DIR",
            },
        ),
        AUGMENT,
        Task(
            name="spec",
            summary="Read a spec — ours, or TAO's own (protobuf text, TAO 5 YAML) — and show or convert it.",
            worker="cv",
            subcommands={
                "show": "The resolved spec, and a TAO spec's key-by-key mapping: -e SPEC [--task T] [key=value ...]",
                "convert": "A TAO spec as our YAML, each key commented with its TAO key: -i TAO_SPEC -o OURS.yaml",
            },
        ),
    ]
}

# `tao deploy <task>`: exported models run by the deploy worker (no torch).
DEPLOY_SUBCOMMANDS = {
    "gen_trt_engine": "A TensorRT engine (fp32/fp16/int8) from an exported model: -m MODEL.onnx [--data_type int8]",
    "evaluate": "The deployed model's metrics, as `tao model <task> evaluate`: -e SPEC -m MODEL.onnx|.engine",
    "inference": "The deployed model's results, as `tao model <task> inference`: -e SPEC -m MODEL [-i DIR]",
    "benchmark": "One table across formats (ONNX, TensorRT): metric, size, latency b1/bN: -e SPEC -m M1 -m M2 ...",
}
DEPLOY_TASKS = {name: Task(name, f"{MODEL_TASKS[name].summary} Exported models, no PyTorch.", "deploy",
                           DEPLOY_SUBCOMMANDS) for name in ("classification", "detectnet_v2", "retinanet", "yolo_v4",
                                                   "yolo_v4_tiny", "ssd", "faster_rcnn", "unet", "mask_rcnn")}

# `tao dataset <task>`: the data tools, run by the cv worker as `tao model <task>` runs them.
DATASET_TASKS = {
    "augment": AUGMENT,
    **{name: Task(name, MODEL_TASKS[name].summary, "cv",
                  {sub: MODEL_TASKS[name].subcommands[sub] for sub in ("dataset_convert", "generate_sample")})
       for name in ("detectnet_v2", "retinanet", "yolo_v4", "yolo_v4_tiny", "ssd", "faster_rcnn", "unet",
                    "mask_rcnn")},
}

GROUPS = {"model": MODEL_TASKS, "deploy": DEPLOY_TASKS, "dataset": DATASET_TASKS}
TASKS = MODEL_TASKS  # `tao <task> ...` is short for `tao model <task> ...`

WORKER_MODULES = {"cv": "tao_cv", "deploy": "tao_deploy"}
