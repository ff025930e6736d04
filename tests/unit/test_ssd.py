"""SSD: TAO's ssd_config keys as torchvision's default boxes, the numpy default boxes and decoder equal to
torchvision's own, the loss, and the keys it cannot honour refused by name."""

import numpy as np
import pytest
import torch

from tao_inference.errors import UserError
from tao_inference.postprocess import decode_ssd, ssd_default_boxes
from tao_inference.spec.schemas import SSDSpec
from tao_cv.tasks.ssd import ADAPTER, torchvision_ratios


def _model(**model):
    spec = SSDSpec()
    spec.dataset.image_width, spec.dataset.image_height = 96, 64
    spec.model.extra_channels = 16
    for key, value in model.items():
        setattr(spec.model, key, value)
    info = ADAPTER.model_info(spec, ["a", "b"])
    return spec, info, ADAPTER.rebuild(info).eval()


def test_tao_aspect_ratios_become_torchvision_pairs_and_bad_ones_are_refused():
    assert torchvision_ratios([1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]) == [2.0, 3.0]
    assert torchvision_ratios([1.0]) == []
    for bad in ([2.0, 0.5], [1.0, 2.0], [1.0, 2.0, 0.4]):
        with pytest.raises(UserError, match=r"model.aspect_ratios_global .* give 1.0 and each ratio with its reciprocal"):
            torchvision_ratios(bad)
    with pytest.raises(UserError, match="model.two_boxes_for_ar1: false is not supported"):
        _model(two_boxes_for_ar1=False)
    with pytest.raises(UserError, match=r"model.scales \[0.1, 0.5\]: give one more than the levels, at least 4"):
        _model(scales=[0.1, 0.5])


@pytest.mark.parametrize("clip", [False, True])
def test_numpy_default_boxes_and_decoding_equal_torchvisions(clip):
    spec, info, model = _model(clip_boxes=clip, variances=[0.1, 0.1, 0.2, 0.2])
    params = ADAPTER.decoder_params(model, info)
    assert params["box_coder_weights"] == [10.0, 10.0, 5.0, 5.0]
    anchors = ssd_default_boxes(params["default_boxes"], 64, 96)
    assert np.array_equal(anchors, model.anchors().numpy())
    assert len(params["default_boxes"]) == 6  # strides 8, 16, 32 from the backbone and three extra levels
    torch.manual_seed(0)
    with torch.no_grad():
        cls_logits, boxes = model(torch.randn(1, 3, 64, 96))
    cls_logits = cls_logits * 2  # spread the scores so that many classes pass the threshold
    model.net.score_thresh, model.net.nms_thresh, model.net.topk_candidates, model.net.detections_per_img = \
        0.05, 0.45, 3000, 3000  # no cut among equal scores: the same set of detections
    expected = model.net.postprocess_detections({"cls_logits": cls_logits, "bbox_regression": boxes},
                                                [model.anchors()], [(64, 96)])[0]
    got = decode_ssd(cls_logits[0].numpy(), boxes[0].numpy(), anchors, params["box_coder_weights"], 64, 96,
                     0.05, 0.45, 3000, 3000)
    assert len(got[0]) == len(expected["boxes"]) > 5
    assert np.allclose(got[1], expected["scores"].numpy(), atol=1e-5)

    def rows(boxes, labels):  # the same detections; equal scores may come in another order
        table = np.concatenate([np.asarray(labels, np.float32)[:, None], np.round(boxes, 2)], 1)
        return table[np.lexsort(table.T[::-1])]

    # background is torchvision's label 0
    assert np.allclose(rows(got[0], got[2] + 1), rows(expected["boxes"].numpy(), expected["labels"].numpy()), atol=0.02)


def test_the_loss_trains_on_images_with_and_without_boxes():
    spec, info, model = _model(neg_pos_ratio=2.0)
    assert model.net.neg_to_pos_ratio == pytest.approx(2.0)
    model.train()
    targets = [{"boxes": torch.tensor([[10.0, 8.0, 50.0, 40.0]]), "labels": torch.tensor([1])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    loss = ADAPTER.loss(spec, info, model)(model(torch.randn(2, 3, 64, 96)), targets)
    assert torch.isfinite(loss) and loss.requires_grad
    loss.backward()
    assert model.net.head.classification_head.module_list[0].weight.grad.abs().sum() > 0
