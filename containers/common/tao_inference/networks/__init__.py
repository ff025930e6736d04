"""Each detector's torch-free half, by name: its decoder (raw outputs -> boxes, from the contract's decoder
parameters and the spec's postprocessing), its ONNX output description, and what INT8 agreement compares: its
confidence map, or (Faster R-CNN, whose graph outputs detections) its detections matched box to box.
The training half (model, loss, heads) is the adapter in tao_cv/tasks/."""

from ..errors import UserError
from . import detectnet_v2, faster_rcnn, retinanet, ssd, yolo_v4

NETWORKS = {"detectnet_v2": detectnet_v2, "retinanet": retinanet, "faster_rcnn": faster_rcnn, "ssd": ssd,
            "yolo_v4": yolo_v4, "yolo_v4_tiny": yolo_v4}


def get(name):
    if name not in NETWORKS:
        raise UserError(f"no decoder for a '{name}' model; detectors: {', '.join(NETWORKS)}")
    return NETWORKS[name]
