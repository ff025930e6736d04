"""Anchor shapes from the training boxes: k-means with 1 - IoU as the distance (YOLOv2's, as TAO's
`yolo_v4 kmeans`), boxes compared by shape only (aligned at a corner)."""

import numpy as np

from ..errors import UserError


def shape_iou(boxes, centres):
    """IoU of (w, h) pairs [N, 2] with cluster shapes [K, 2], corners aligned: [N, K]."""
    inter = np.minimum(boxes[:, None, 0], centres[None, :, 0]) * np.minimum(boxes[:, None, 1], centres[None, :, 1])
    return inter / (boxes[:, 0:1] * boxes[:, 1:2] + (centres[:, 0] * centres[:, 1])[None] - inter)


def iou_kmeans(shapes, k, max_steps=10000, seed=0):
    """`k` anchor shapes [K, 2] of the (w, h) pairs, smallest area first, and their mean best IoU with the boxes.
    Each cluster's shape is the median of its boxes (robust to a few huge ones)."""
    shapes = np.asarray(shapes, np.float64).reshape(-1, 2)
    if len(shapes) < k:
        raise UserError(f"k-means of {k} anchors needs at least {k} training boxes; found {len(shapes)}")
    rng = np.random.default_rng(seed)
    centres = shapes[rng.choice(len(shapes), k, replace=False)]
    assigned = None
    for _ in range(max_steps):
        nearest = shape_iou(shapes, centres).argmax(1)
        if assigned is not None and np.array_equal(nearest, assigned):
            break
        assigned = nearest
        for cluster in range(k):
            members = shapes[assigned == cluster]
            if len(members):
                centres[cluster] = np.median(members, axis=0)
    centres = centres[np.argsort(centres.prod(1))]
    return centres, float(shape_iou(shapes, centres).max(1).mean())
