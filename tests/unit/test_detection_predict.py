"""Decoded boxes are clipped to the input frame once, in `predict`, so evaluate scores what inference draws."""

import numpy as np
from PIL import Image

from tao_inference.contract import ModelInfo
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
