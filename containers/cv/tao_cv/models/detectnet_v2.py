"""DetectNet_v2 (TAO's grid detector): a registered backbone cut at stride 16, a coverage head (one map per class:
is an object of this class centred around this cell?) and a bbox head (per class, the cell's distances to the
object's edges). Targets are encoded on the grid; predictions are decoded per class and clustered (DBSCAN or NMS).

The network's outputs are the raw maps, so the exported ONNX holds the same contract: decoding is the torch-free
core's (tao_inference.postprocess.decode_detectnet_v2).
"""

from dataclasses import dataclass

import torch
from torch import nn

from ..engine.distillation import binary_kl
from .registry import build_classifier
from .trunk import cut_trunk

STRIDE = 16


class DetectNetV2(nn.Module):
    def __init__(self, backbone, num_classes, classifier=None):
        super().__init__()
        classifier = classifier if classifier is not None else build_classifier(backbone, 1, 0.0)
        self.backbone, [(_, channels)] = cut_trunk(classifier, backbone, (STRIDE,))
        self.coverage = nn.Conv2d(channels, num_classes, 1)
        self.bbox = nn.Conv2d(channels, 4 * num_classes, 1)
        nn.init.constant_(self.coverage.bias, -4.0)  # start near "nothing here": most cells are background

    def forward(self, images):
        features = self.backbone(images)
        return torch.sigmoid(self.coverage(features)), self.bbox(features)


@dataclass
class TargetEncoding:
    coverage_scale: float = 0.6  # fraction of a box's width/height (around its centre) marked as covered
    bbox_norm: float = 35.0  # edge distances are divided by this (pixels), as TAO's DetectNet_v2 does
    # "peaked": the covered cells' target falls from 1 at the centre cell (a Gaussian of the distance, 0.14 at the
    # covered region's edge), so the cell nearest the centre — whose box is the most accurate — scores highest and the
    # others' duplicates rank below it; "uniform": 1 over the covered region (TAO's, and this toolkit's before 0.3).
    coverage_shape: str = "peaked"


def encode_targets(targets, num_classes, grid_h, grid_w, encoding):
    """Coverage [B, C, h, w] (0/1) and bbox [B, 4C, h, w] targets from per-image boxes (input pixels).
    Smaller boxes are written last, so where objects overlap a cell belongs to the nearer (smaller) one; the cell
    holding a box centre is always covered, so small objects are never lost between cells."""
    batch = len(targets)
    coverage = torch.zeros(batch, num_classes, grid_h, grid_w)
    bbox = torch.zeros(batch, 4 * num_classes, grid_h, grid_w)
    centers_x = (torch.arange(grid_w, dtype=torch.float32) + 0.5) * STRIDE
    centers_y = (torch.arange(grid_h, dtype=torch.float32) + 0.5) * STRIDE
    for b, target in enumerate(targets):
        boxes, labels = target["boxes"].detach().float().cpu(), target["labels"].cpu()
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        for i in torch.argsort(areas, descending=True).tolist():
            x1, y1, x2, y2 = boxes[i].tolist()
            c = int(labels[i])
            cx, cy, half_w, half_h = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * encoding.coverage_scale / 2, (y2 - y1) * encoding.coverage_scale / 2
            cols = ((centers_x >= cx - half_w) & (centers_x <= cx + half_w)).nonzero().flatten()
            rows = ((centers_y >= cy - half_h) & (centers_y <= cy + half_h)).nonzero().flatten()
            center_col, center_row = min(int(cx // STRIDE), grid_w - 1), min(int(cy // STRIDE), grid_h - 1)
            cols = torch.unique(torch.cat([cols, torch.tensor([center_col])]))
            rows = torch.unique(torch.cat([rows, torch.tensor([center_row])]))
            rr, cc = torch.meshgrid(rows, cols, indexing="ij")
            if encoding.coverage_shape == "peaked":
                dx = (centers_x[cc] - cx) / max(half_w, STRIDE / 2)
                dy = (centers_y[rr] - cy) / max(half_h, STRIDE / 2)
                value = torch.exp(-2 * (dx ** 2 + dy ** 2)).clamp(max=1.0)
                value[(rr == center_row) & (cc == center_col)] = 1.0
            else:
                value = 1.0
            coverage[b, c, rr, cc] = value
            px, py = centers_x[cc], centers_y[rr]
            edges = torch.stack([px - x1, py - y1, x2 - px, y2 - py]) / encoding.bbox_norm
            bbox[b, 4 * c:4 * c + 4, rr, cc] = edges
    return coverage, bbox


def per_class_mean(values, weights, num_classes):
    """Mean over classes (those with any weight) of each class's weighted mean of `values` [B, 4C, h, w]: a rare
    class's box channels learn as fast as a frequent one's (normalized over all cells, platelets among ~10x more
    blood cells got a tenth of the gradient and AP 0.01 on BCCD)."""
    per_class = (values * weights).unflatten(1, (num_classes, 4)).sum((0, 2, 3, 4))
    totals = weights.unflatten(1, (num_classes, 4)).sum((0, 2, 3, 4))
    present = totals > 0
    if not present.any():
        return values.sum() * 0.0
    return (per_class[present] / totals[present]).mean()


def detectnet_loss(outputs, targets, encoding, coverage_weight=1.0, bbox_weight=1.0, positive_weight=10.0):
    """Weighted BCE on coverage (object cells count up to `positive_weight` times) + L1 on the bbox of covered
    cells, weighted by their coverage target and averaged per class."""
    coverage, bbox = outputs
    num_classes, grid_h, grid_w = coverage.shape[1:]
    cov_t, bbox_t = (t.to(coverage.device) for t in encode_targets(targets, num_classes, grid_h, grid_w, encoding))
    weight = 1.0 + (positive_weight - 1.0) * cov_t
    cov_loss = nn.functional.binary_cross_entropy(coverage.float().clamp(1e-6, 1 - 1e-6), cov_t, weight=weight)
    mask = cov_t.repeat_interleave(4, dim=1)
    bbox_loss = per_class_mean(nn.functional.l1_loss(bbox.float(), bbox_t, reduction="none"), mask, num_classes)
    return coverage_weight * cov_loss + bbox_weight * bbox_loss


def detectnet_kd_loss(student, teacher, bbox_weight=1.0, positive_weight=10.0):
    """Distillation on the dense outputs, weighted as `detectnet_loss` weights the labels: the coverage maps compared
    as Bernoulli probabilities (cells the teacher covers count `positive_weight` times), the boxes by L1 where the
    teacher's coverage says an object is."""
    (coverage, bbox), (cov_t, bbox_t) = student, teacher
    weight = 1.0 + (positive_weight - 1.0) * cov_t.float()
    cov_loss = (binary_kl(coverage, cov_t) * weight).mean()
    mask = cov_t.float().repeat_interleave(4, dim=1)
    bbox_loss = per_class_mean((bbox.float() - bbox_t.float()).abs(), mask, coverage.shape[1])
    return cov_loss + bbox_weight * bbox_loss
