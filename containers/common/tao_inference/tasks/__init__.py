"""The tasks whose models the inference core runs, by name: each one's spec schema and its kind — the module that
reads its data, evaluates and writes inference results (`classification`, `detection`, `segmentation` or
`instance_segmentation`)."""

from dataclasses import dataclass
from types import ModuleType

from ..spec.schemas import (ClassificationSpec, DetectNetV2Spec, FasterRCNNSpec, MaskRCNNSpec, RetinaNetSpec,
                             SSDSpec, UNetSpec, YOLOv4Spec)
from . import classification, detection, instance_segmentation, segmentation


@dataclass(frozen=True)
class InferenceTask:
    name: str
    description: str
    spec_class: type
    kind: ModuleType  # tasks.classification, tasks.detection or tasks.segmentation


TASKS = {task.name: task for task in [
    InferenceTask("classification", "Image classification.", ClassificationSpec, classification),
    InferenceTask("detectnet_v2", "DetectNet_v2 object detection (KITTI labels; VOC/COCO/YOLO converted).",
                  DetectNetV2Spec, detection),
    InferenceTask("retinanet", "RetinaNet object detection (FPN on any registered backbone; KITTI labels, "
                               "VOC/COCO/YOLO converted).", RetinaNetSpec, detection),
    InferenceTask("yolo_v4", "YOLOv4 object detection (PAN neck on a registered backbone; KITTI labels, "
                             "VOC/COCO/YOLO converted).", YOLOv4Spec, detection),
    InferenceTask("yolo_v4_tiny", "YOLOv4-tiny object detection (two scales, CSPDarknet-tiny or any registered "
                                  "backbone).", YOLOv4Spec, detection),
    InferenceTask("ssd", "SSD object detection (default boxes on a registered backbone's maps + extra levels; KITTI "
                         "labels, VOC/COCO/YOLO converted).", SSDSpec, detection),
    InferenceTask("faster_rcnn", "Faster R-CNN object detection (FPN on any registered backbone; KITTI labels, "
                                 "VOC/COCO/YOLO converted).", FasterRCNNSpec, detection),
    InferenceTask("unet", "UNet semantic segmentation (images with PNG label-id masks).", UNetSpec, segmentation),
    InferenceTask("mask_rcnn", "Mask R-CNN instance segmentation (COCO instance JSON: polygons or RLE).", MaskRCNNSpec,
                  instance_segmentation),
]}
