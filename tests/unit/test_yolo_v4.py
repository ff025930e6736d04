"""YOLOv4 / YOLOv4-tiny: priors and decoding equal in numpy and torch, target assignment, IoU k-means, the mosaic,
CSPDarknet-tiny pruned and rebuilt, the loss, and TAO's anchor keys checked."""

import time

import numpy as np
import pytest
import torch
from PIL import Image

from tao_inference.data.anchors import iou_kmeans
from tao_inference.errors import UserError
from tao_inference.postprocess import decode_yolo, yolo_boxes, yolo_priors
from tao_inference.spec.schemas import YOLOv4Spec
from tao_cv.data.detection import mosaic
from tao_cv.models import build_classifier
from tao_cv.models.yolo_v4 import assign
from tao_cv.prune import layer_widths, prune_model, replay_pruning
from tao_cv.tasks.yolo_v4 import YOLO_V4, YOLO_V4_TINY


def _model(adapter, **model):
    spec = YOLOv4Spec()
    spec.dataset.image_width, spec.dataset.image_height = 96, 64
    spec.model.neck_channels = 16
    for key, value in model.items():
        setattr(spec.model, key, value)
    info = adapter.model_info(spec, ["a", "b"])
    return spec, info, adapter.rebuild(info).eval()


@pytest.mark.parametrize("adapter, levels", [(YOLO_V4, 3), (YOLO_V4_TINY, 2)])
def test_numpy_priors_and_boxes_equal_the_models(adapter, levels):
    spec, info, model = _model(adapter)
    params = adapter.decoder_params(model, info)
    assert len(params["prior_levels"]) == levels
    priors = yolo_priors(params["prior_levels"])
    assert np.array_equal(priors, model.priors("cpu")[:, :7].numpy())
    torch.manual_seed(0)
    with torch.no_grad():
        raw = model(torch.randn(1, 3, 64, 96))[0]
    assert raw.shape == (len(priors), 5 + 2)
    assert np.allclose(yolo_boxes(raw.numpy(), priors),
                       model.decode_boxes(raw, model.priors("cpu")).numpy(), atol=1e-3)
    raw[:3, 4], raw[3:, 4] = 8.0, -8.0  # three confident priors: each class of each, clipped to the image
    boxes, scores, labels = decode_yolo(raw.numpy(), priors, 64, 96, 0.001, 1.01, 100, 100)
    assert len(boxes) == 6 and sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
    assert boxes.min() >= 0 and boxes[:, 2].max() <= 96 and boxes[:, 3].max() <= 64


def test_a_box_is_assigned_its_best_anchor_at_the_cell_of_its_centre():
    _, _, model = _model(YOLO_V4, small_anchor_shape=[[8, 8], [12, 12], [16, 16]], box_matching_iou=0.9)
    priors = model.priors("cpu")
    box = torch.tensor([[20.0, 10.0, 32.0, 22.0]])  # 12 x 12, centre (26, 16): stride-8 cell (3, 2)
    prior_ids, box_ids = assign(box, priors, model.anchors_per_level, 0.9)
    assert box_ids.tolist() == [0] and len(prior_ids) == 1
    p = priors[prior_ids[0]]
    assert p[:2].tolist() == [3.0, 2.0] and p[2:4].tolist() == [8.0, 8.0] and p[4:6].tolist() == [12.0, 12.0]
    # a lower matching IoU adds the near anchors too
    assert len(assign(box, priors, model.anchors_per_level, 0.3)[0]) > 1
    assert len(assign(torch.zeros(0, 4), priors, model.anchors_per_level, 0.3)[0]) == 0


def test_the_loss_falls_on_a_fixed_batch():
    spec, info, model = _model(YOLO_V4_TINY)
    model.train()
    torch.manual_seed(0)
    images = torch.randn(2, 3, 64, 96)
    targets = [{"boxes": torch.tensor([[10.0, 8.0, 50.0, 40.0]]), "labels": torch.tensor([1])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    loss_fn = YOLO_V4_TINY.loss(spec, info, model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(15):
        loss = loss_fn(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]


def test_iou_kmeans_finds_the_box_shapes():
    rng = np.random.default_rng(0)
    shapes = np.concatenate([rng.normal(c, 1.0, (50, 2)) for c in ((10, 10), (40, 20), (20, 60))])
    centres, mean_iou = iou_kmeans(shapes, 3)
    assert np.allclose(centres, [[10, 10], [40, 20], [20, 60]], atol=2) and mean_iou > 0.85
    with pytest.raises(UserError, match="needs at least 9 training boxes; found 2"):
        iou_kmeans([[1, 2], [3, 4]], 9)


def test_tao_anchor_keys_are_checked():
    with pytest.raises(UserError, match=r"model.big_anchor_shape: \[\[1.0\]\] — give \(width, height\) pairs"):
        _model(YOLO_V4, big_anchor_shape=[[1.0]])
    spec = YOLOv4Spec()
    spec.dataset.image_width = 100
    with pytest.raises(UserError, match="YOLOv4 needs multiples of 32"):
        YOLO_V4.model_info(spec, ["a"])


def test_the_mosaic_keeps_each_images_boxes_in_its_quadrant(tmp_path):
    samples = []
    for i in range(4):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (40, 20), (60 * i, 0, 0)).save(path)
        samples.append({"image": str(path), "objects": [("a", 0.0, 0.0, 40.0, 20.0), ("b", 10.0, 5.0, 12.0, 6.0)]})
    torch.manual_seed(3)
    image, objects = mosaic(samples, (64, 64), 0.25)
    assert image.size == (64, 64)
    full = [o for o in objects if o[0] == "a"]
    assert len(full) == 4  # each image's full-frame box is its quadrant
    xs = sorted({round(o[1]) for o in full} | {round(o[3]) for o in full})
    assert xs[0] == 0 and xs[-1] == 64 and len(xs) == 3  # the quadrants meet at the centre
    assert all(o[3] - o[1] >= 2 and o[4] - o[2] >= 2 for o in objects)  # slivers under 2 pixels dropped


def test_cspdarknet_tiny_prunes_and_rebuilds_from_its_widths():
    model = build_classifier("cspdarknet_tiny", 3, 0.0).eval()
    example = torch.zeros(1, 3, 64, 64)
    prune_model(model, example, threshold=1.0, granularity=8, min_filters=8)
    widths = layer_widths(model)
    assert widths["block3.entry_split.0"] == 8 and widths["head.3"] == 3
    rebuilt = replay_pruning(build_classifier("cspdarknet_tiny", 3, 0.0), widths, example)
    rebuilt.load_state_dict(model.state_dict())
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)


def test_a_pruned_yolo_v4_rebuilds_from_its_widths_in_seconds():
    # torch-pruning's walk over every group (the heads' too: their outputs are reshaped and concatenated over all
    # priors) took 30 s at 192x192 and grew past 14 GB at 480x352; the replay cuts only the recorded layers.
    spec, info, model = _model(YOLO_V4, backbone="cspdarknet_tiny")
    spec.dataset.image_width = spec.dataset.image_height = 192
    info = YOLO_V4.model_info(spec, ["a", "b"])
    model, example = YOLO_V4.rebuild(info).eval(), torch.zeros(1, 3, 192, 192)
    prune_model(model, example, threshold=1.0, granularity=8, min_filters=8, heads=YOLO_V4.heads(model))
    widths = layer_widths(model)
    assert widths["lateral.0.0"] == 8 and widths["heads.2.1"] == 3 * 7  # cut, and the heads kept whole
    start = time.perf_counter()
    rebuilt = replay_pruning(YOLO_V4.rebuild(info), widths, example)
    assert time.perf_counter() - start < 10
    rebuilt.load_state_dict(model.state_dict())
    images = torch.randn(1, 3, 192, 192)
    torch.testing.assert_close(rebuilt.eval()(images), model(images))
