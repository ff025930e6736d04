"""mAP on hand-computed cases; DetectNet_v2 target encoding, decoding and clustering."""

import numpy as np
import pytest
import torch

from tao_cv.engine.detection_metrics import average_precision, coco_map, precision_recall, voc_map
from tao_cv.models.detectnet_v2 import ClusteringSpec, DetectNetV2, TargetEncoding, decode, encode_targets


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
    from tao_cv.models.retinanet import RetinaNetDetector, decode as retina_decode

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
    boxes, scores, labels = retina_decode(logits.numpy(), deltas.numpy(), anchors, model.net.box_coder, 96, 128)
    assert labels.tolist() == [1] and np.allclose(boxes, box.numpy(), atol=1e-3) and scores[0] > 0.99
