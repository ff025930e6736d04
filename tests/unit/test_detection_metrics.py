"""mAP on hand-computed cases; DetectNet_v2 target encoding, decoding and clustering."""

import dataclasses

import numpy as np
import pytest
import torch

from tao_inference.metrics import average_precision, coco_map, precision_recall, voc_map
from tao_cv.models.detectnet_v2 import DetectNetV2, TargetEncoding, encode_targets
from tao_inference import postprocess
from tao_inference.spec.schemas import ClusteringSpec


def decode(coverage, bbox, encoding, clustering):
    return postprocess.decode_detectnet_v2(coverage, bbox, 16, encoding.bbox_norm,
                                           [dataclasses.asdict(c) for c in clustering])


def arrays(boxes, labels, scores=None):
    out = {"boxes": np.array(boxes, np.float32).reshape(-1, 4), "labels": np.array(labels, np.int64)}
    if scores is not None:
        out["scores"] = np.array(scores, np.float32)
    return out


GT = [arrays([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])]
# 0.9: hits box 1; 0.8: hits nothing; 0.7: hits box 2; 0.6: duplicate of box 1 (a false positive)
PRED = [arrays([[0, 0, 10, 10], [50, 50, 60, 60], [21, 21, 30, 30], [1, 0, 10, 10]], [0, 0, 0, 0], [0.9, 0.8, 0.7, 0.6])]


def test_precision_recall_counts_each_ground_truth_once():
    precision, recall, num_gt = precision_recall(PRED, GT, 0, 0.5)
    assert num_gt == 2
    assert np.allclose(precision, [1, 1 / 2, 2 / 3, 2 / 4]) and np.allclose(recall, [0.5, 0.5, 1, 1])


def test_ap_integrate_and_11_point_by_hand():
    precision, recall, _ = precision_recall(PRED, GT, 0, 0.5)
    # envelope: 1.0 up to recall 0.5, 2/3 up to recall 1.0
    assert average_precision(precision, recall, "integrate") == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # 11 points: t = 0..0.5 (6 points) -> 1.0, t = 0.6..1.0 (5 points) -> 2/3
    assert average_precision(precision, recall, "sample") == pytest.approx((6 + 5 * 2 / 3) / 11)


def test_map_skips_classes_without_ground_truth_and_coco_is_perfect_on_perfect_boxes():
    result = voc_map(PRED, GT, ["a", "b"])
    assert result["per_class"]["b"]["AP"] is None and result["mAP"] == pytest.approx(0.5 + 1 / 3)
    perfect = [arrays(GT[0]["boxes"], GT[0]["labels"], [0.9, 0.8])]
    assert coco_map(perfect, GT, ["a"])["mAP_50_95"] == pytest.approx(1.0)
    assert voc_map(perfect, GT, ["a"], iou_threshold=0.5)["mAP"] == pytest.approx(1.0)


def test_encoded_targets_decode_back_to_the_boxes():
    encoding = TargetEncoding()
    targets = [{"boxes": torch.tensor([[10.0, 20, 50, 60], [70, 70, 100, 120], [3, 3, 9, 9]]), "labels": torch.tensor([0, 1, 1])}]
    coverage, bbox = encode_targets(targets, 2, 8, 8, encoding)
    assert coverage[0, 1].sum() >= 2  # the tiny box still owns the cell holding its centre
    boxes, scores, labels = decode(coverage[0].numpy(), bbox[0].numpy(), encoding, [ClusteringSpec()] * 2)
    order = np.argsort(boxes[:, 0])
    assert np.allclose(boxes[order], [[3, 3, 9, 9], [10, 20, 50, 60], [70, 70, 100, 120]], atol=1e-4)
    assert labels[order].tolist() == [1, 0, 1]


@pytest.mark.parametrize("method", ["dbscan", "nms"])
def test_clustering_merges_candidates_of_one_object(method):
    encoding = TargetEncoding()
    coverage = np.zeros((1, 4, 4), np.float32)
    bbox = np.zeros((4, 4, 4), np.float32)
    coverage[0, 1, 1], coverage[0, 1, 2] = 0.9, 0.6  # two neighbouring cells see one object ...
    for col, cx, x1, x2 in ((1, 24.0, 10, 40), (2, 40.0, 12, 42)):  # ... as [10, 10, 40, 40] and [12, 10, 42, 40]
        bbox[:, 1, col] = np.array([cx - x1, 24 - 10, x2 - cx, 40 - 24]) / encoding.bbox_norm
    boxes, scores, _ = decode(coverage, bbox, encoding, [ClusteringSpec(method=method)])
    assert len(boxes) == 1 and scores[0] == pytest.approx(0.9)
    # DBSCAN: the coverage-weighted mean of the cluster; NMS: the best-covered candidate
    expected = [10.8, 10, 40.8, 40] if method == "dbscan" else [10, 10, 40, 40]
    assert np.allclose(boxes[0], expected, atol=1e-3)
    assert len(decode(coverage, bbox, encoding, [ClusteringSpec(coverage_threshold=0.95)])[0]) == 0


def test_detectnet_outputs_are_stride_16_maps():
    for backbone in ("resnet18", "efficientnet_lite0"):
        coverage, bbox = DetectNetV2(backbone, 3)(torch.zeros(2, 3, 96, 128))
        assert coverage.shape == (2, 3, 6, 8) and bbox.shape == (2, 12, 6, 8)


def test_retinanet_outputs_match_its_anchors_and_decode_back():
    from tao_cv.models.retinanet import RetinaNetDetector

    model = RetinaNetDetector("resnet18", 2, 96, 128, fpn_channels=16).eval()
    cls_logits, regression = model(torch.zeros(1, 3, 96, 128))
    anchors = model.anchors()
    assert cls_logits.shape == (1, len(anchors), 2) and regression.shape == (1, len(anchors), 4)
    box = torch.tensor([[30.0, 20.0, 70.0, 60.0]])
    index = int(torch.argmax(__import__("torchvision").ops.box_iou(box, anchors)))
    logits = torch.full((len(anchors), 2), -10.0)
    logits[index, 1] = 5.0
    deltas = torch.zeros(len(anchors), 4)
    deltas[index] = model.net.box_coder.encode_single(box, anchors[index:index + 1])[0]
    boxes, scores, labels = postprocess.decode_retinanet(logits.numpy(), deltas.numpy(), anchors.numpy(), 96, 128)
    assert labels.tolist() == [1] and np.allclose(boxes, box.numpy(), atol=1e-3) and scores[0] > 0.99


@pytest.mark.parametrize("backbone,height,width,v1_grids_exact", [
    ("resnet18", 100, 150, True), ("efficientnet_lite0", 96, 160, True), ("efficientnet_lite0", 100, 150, False),
    ("mobilenet_v3_small", 64, 64, True)])
def test_numpy_anchors_are_torchvisions(backbone, height, width, v1_grids_exact):
    """The contract's anchors (from the model's feature maps) equal the anchors torchvision's AnchorGenerator
    gives the model; 0.1.0's files (no grids recorded) get ceil-division grids: exact except for TF-padded
    EfficientNet-Lite at sizes not divisible by 32, where the decoder then says to re-export."""
    from tao_cv.models.retinanet import RetinaNetDetector

    sizes = (16, 32, 64, 128, 256)
    model = RetinaNetDetector(backbone, 2, height, width, fpn_channels=8, anchor_sizes=sizes).eval()
    expected = model.anchors().numpy()
    levels = postprocess.anchor_levels(sizes, model.feature_grids(), height, width)
    assert np.array_equal(postprocess.anchors_from_levels(levels), expected)
    assert (model.feature_grids() == postprocess.fpn_grids(height, width)) == v1_grids_exact


def test_numpy_retinanet_decoding_matches_torchvision():
    from torchvision.models.detection._utils import BoxCoder
    from torchvision.ops import batched_nms

    rng = np.random.default_rng(0)
    anchors = np.sort(rng.uniform(0, 120, (500, 4)).astype(np.float32).reshape(500, 2, 2), axis=1).transpose(0, 2, 1).reshape(500, 4)
    anchors = anchors[:, [0, 1, 2, 3]]
    anchors[:, 2:] += 4
    logits = rng.normal(-2, 2, (500, 3)).astype(np.float32)
    deltas = rng.normal(0, 0.3, (500, 4)).astype(np.float32)
    boxes, scores, labels = postprocess.decode_retinanet(logits, deltas, anchors, 96, 128, 0.2, 0.5, 200, 50)
    # torch reference: the 0.1.0 decoder
    t_scores = torch.sigmoid(torch.from_numpy(logits)).flatten()
    keep = torch.nonzero(t_scores > 0.2).flatten()
    t_scores = t_scores[keep]
    t_scores, order = t_scores.topk(200)
    keep = keep[order]
    t_boxes = BoxCoder((1.0, 1.0, 1.0, 1.0)).decode_single(torch.from_numpy(deltas)[keep // 3], torch.from_numpy(anchors)[keep // 3])
    t_boxes[:, 0::2] = t_boxes[:, 0::2].clamp(0, 128)
    t_boxes[:, 1::2] = t_boxes[:, 1::2].clamp(0, 96)
    chosen = batched_nms(t_boxes, t_scores, keep % 3, 0.5)[:50]
    assert np.allclose(boxes, t_boxes[chosen].numpy(), atol=1e-4)
    assert np.allclose(scores, t_scores[chosen].numpy()) and labels.tolist() == (keep % 3)[chosen].tolist()


def test_numpy_nms_matches_torchvision():
    from torchvision.ops import nms

    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100, (300, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (300, 2)).astype(np.float32)], 1)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    for threshold in (0.3, 0.5, 0.7):
        assert postprocess.nms(boxes, scores, threshold).tolist() == \
            nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).tolist()


def test_dbscan_core_points_border_points_and_weights():
    # points on a line at 0, 1, 2 (a chain) and 10 (alone); neighbours within 1.0
    x = np.array([0.0, 1.0, 2.0, 10.0])
    distances = np.abs(x[:, None] - x[None])
    assert postprocess.dbscan(distances, 1.0, 2, np.ones(4)).tolist() == [0, 0, 0, -1]
    assert postprocess.dbscan(distances, 1.0, 1, np.ones(4)).tolist() == [0, 0, 0, 1]
    # weights: the lone point counts as a cluster only when its own weight reaches min_samples
    assert postprocess.dbscan(distances, 1.0, 2.5, np.array([1, 1, 1, 3.0])).tolist() == [0, 0, 0, 1]
    assert postprocess.dbscan(distances, 0.5, 2, np.ones(4)).tolist() == [-1, -1, -1, -1]


def test_peaked_coverage_is_one_at_the_centre_cell_and_falls_off_uniform_is_flat():
    targets = [{"boxes": torch.tensor([[8.0, 8, 120, 120]]), "labels": torch.tensor([0])}]  # centre (64, 64): cell 4
    peaked, _ = encode_targets(targets, 1, 8, 8, TargetEncoding(coverage_scale=0.8))
    uniform, _ = encode_targets(targets, 1, 8, 8, TargetEncoding(coverage_scale=0.8, coverage_shape="uniform"))
    covered = uniform[0, 0] > 0
    assert torch.equal(covered, peaked[0, 0] > 0) and covered.sum() >= 9
    assert set(uniform[0, 0][covered].tolist()) == {1.0}
    row = peaked[0, 0, 4]
    assert row[4] == 1.0 and 0.1 < row[2] < row[3] < 1.0 and row[5] < 1.0  # falls with the distance to the centre


def test_box_loss_weighs_every_class_alike_however_few_its_cells():
    from tao_cv.models.detectnet_v2 import per_class_mean

    errors = torch.zeros(1, 8, 4, 4)
    weights = torch.zeros(1, 8, 4, 4)
    weights[0, :4] = 1.0  # class 0: 16 cells with error 0
    weights[0, 4:, 0, 0] = 1.0  # class 1: one cell with error 2
    errors[0, 4:, 0, 0] = 2.0
    assert per_class_mean(errors, weights, 2) == pytest.approx(1.0)  # (0 + 2) / 2, not 2 / 17
    assert per_class_mean(errors, torch.zeros_like(weights), 2) == 0.0
