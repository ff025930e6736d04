"""Decoded boxes are clipped to the input frame once, in `predict`, so evaluate scores what inference draws."""

import numpy as np
from PIL import Image

from tao_inference.contract import ModelInfo
from tao_inference.tasks import detection
from tao_inference.tasks.detection import predict


class FixedPredictor:
    info = ModelInfo("detectnet_v2", "resnet18", ("cell",), 32, 48, (0, 0, 0), (1, 1, 1))

    def __call__(self, images):
        return (np.zeros((len(images), 1)),)


def test_boxes_beyond_the_input_frame_are_clipped_to_it(tmp_path):
    Image.new("RGB", (96, 64)).save(tmp_path / "a.jpg")
    sample = {"image": str(tmp_path / "a.jpg"), "objects": [("cell", 10, 10, 40, 40)]}
    decode = lambda outputs: (np.array([[-5, 3, 60, 40], [10, 10, 20, 20]], np.float32),  # noqa: E731
                              np.array([0.9, 0.8], np.float32), np.array([0, 0]))
    predictions, truth, sizes = predict(FixedPredictor(), [sample], decode, batch_size=1)
    np.testing.assert_array_equal(predictions[0]["boxes"], [[0, 3, 48, 32], [10, 10, 20, 20]])
    assert sizes == [(96, 64)] and truth[0]["boxes"].tolist() == [[5, 5, 20, 20]]


def _detections(rows, k=6):
    """One image's padded Faster R-CNN outputs (batch 1) from (x1, y1, x2, y2, score, label) rows."""
    boxes, scores, labels = np.zeros((1, k, 4), np.float32), np.zeros((1, k), np.float32), np.zeros((1, k), np.int64)
    for i, (*box, score, label) in enumerate(rows):
        boxes[0, i], scores[0, i], labels[0, i] = box, score, label
    return [boxes, scores, labels]


def test_faster_rcnn_int8_agreement_matches_detections_not_output_slots():
    info = ModelInfo("faster_rcnn", "resnet18", ("rbc", "wbc"), 64, 64, (0, 0, 0), (1, 1, 1))
    a, b, c = (0, 0, 10, 10, 0.9, 0), (20, 20, 40, 40, 0.8, 1), (40, 0, 60, 20, 0.7, 0)
    fp32 = _detections([a, b, c, (0, 40, 9, 49, 0.2, 0)])  # the last one is under the 0.3 threshold: not counted
    agreement, measure = detection.agreement(None, info, [fp32], [_detections([c, a, b])])
    assert agreement == 1.0 and measure == "detection IoU (same class, box IoU >= 0.5) with FP32"
    shifted_a, relabelled_b = (1, 1, 11, 11, 0.85, 0), (20, 20, 40, 40, 0.8, 0)
    extra = (0, 0, 10, 10, 0.5, 0)  # a second box on a: a is paired once
    agreement, _ = detection.agreement(None, info, [fp32], [_detections([relabelled_b, extra, shifted_a])])
    assert agreement == 1 / (3 + 3 - 1)  # only a pairs (IoU 0.68); b changed class, c vanished
