"""Every detector's decoder in numpy — raw network outputs to boxes — with NMS and DBSCAN clustering, so a model
is decoded the same way from a checkpoint, an ONNX file or a TensorRT engine, with no framework installed.
Boxes are (x1, y1, x2, y2) in network-input pixels."""

import math

import numpy as np

EMPTY = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


def iou_matrix(a, b):
    """IoU of every box in `a` [N, 4] with every box in `b` [M, 4]."""
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def nms(boxes, scores, iou_threshold):
    """Indices of the boxes kept, highest score first: each suppresses the later ones overlapping it by more than
    `iou_threshold` (torchvision.ops.nms semantics)."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, order = order[0], order[1:]
        keep.append(best)
        if order.size:
            order = order[iou_matrix(boxes[best:best + 1], boxes[order])[0] <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def batched_nms(boxes, scores, labels, iou_threshold):
    """NMS within each label (boxes of different labels never suppress each other), highest score first."""
    if boxes.size == 0:
        return np.zeros(0, np.int64)
    offsets = labels.astype(boxes.dtype) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def dbscan(distances, eps, min_samples, weights):
    """Cluster labels (-1: noise) from a precomputed distance matrix, as scikit-learn's DBSCAN: a point is a core
    point when the weights of its neighbours (distance <= eps, itself included) sum to `min_samples` or more;
    clusters grow from core points in index order."""
    neighbours = distances <= eps
    core = (neighbours * weights[None, :]).sum(1) >= min_samples
    labels = np.full(len(distances), -1)
    cluster = 0
    for start in range(len(distances)):
        if labels[start] != -1 or not core[start]:
            continue
        stack = [start]
        while stack:
            point = stack.pop()
            if labels[point] != -1:
                continue
            labels[point] = cluster
            if core[point]:
                stack += [int(j) for j in np.nonzero(neighbours[point] & (labels == -1))[0]]
        cluster += 1
    return labels


# ---------------------------------------------------------------- DetectNet_v2

def decode_detectnet_v2(coverage, bbox, stride, bbox_norm, clustering_per_class):
    """Per image: (boxes, scores, labels) from coverage [C, h, w] and bbox [4C, h, w]. `clustering_per_class[c]`
    is a dict: coverage_threshold, method (nms | dbscan), eps, min_samples, nms_iou, minimum_height."""
    num_classes, grid_h, grid_w = coverage.shape
    centers_x = (np.arange(grid_w) + 0.5) * stride
    centers_y = (np.arange(grid_h) + 0.5) * stride
    out_boxes, out_scores, out_labels = [], [], []
    for c in range(num_classes):
        params = clustering_per_class[c]
        rows, cols = np.nonzero(coverage[c] > params["coverage_threshold"])
        if rows.size == 0:
            continue
        scores = coverage[c, rows, cols]
        d = bbox[4 * c:4 * c + 4, rows, cols] * bbox_norm
        px, py = centers_x[cols], centers_y[rows]
        boxes = np.stack([px - d[0], py - d[1], px + d[2], py + d[3]], axis=1)
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])  # an untrained head can invert edges
        if not valid.any():
            continue
        boxes, scores = boxes[valid], scores[valid]
        if params["method"] == "nms":
            keep = nms(boxes.astype(np.float32), scores.astype(np.float32), params["nms_iou"])
            boxes, scores = boxes[keep], scores[keep]
        else:
            labels = dbscan(1.0 - iou_matrix(boxes, boxes), params["eps"], params["min_samples"], scores / scores.max())
            clusters = sorted(set(labels.tolist()) - {-1})
            if not clusters:
                continue
            merged = [(boxes[labels == k] * scores[labels == k, None]).sum(0) / scores[labels == k].sum()
                      for k in clusters]
            boxes, scores = np.array(merged), np.array([scores[labels == k].max() for k in clusters])
        tall = (boxes[:, 3] - boxes[:, 1]) >= params["minimum_height"]
        out_boxes.append(boxes[tall])
        out_scores.append(scores[tall])
        out_labels.append(np.full(int(tall.sum()), c))
    if not out_boxes:
        return EMPTY
    return (np.concatenate(out_boxes).astype(np.float32), np.concatenate(out_scores).astype(np.float32),
            np.concatenate(out_labels).astype(np.int64))


# ---------------------------------------------------------------- RetinaNet

RETINANET_ASPECT_RATIOS = (0.5, 1.0, 2.0)
BOX_CLIP = math.log(1000.0 / 16)  # torchvision's BoxCoder: no box grows more than exp(this) times its anchor


def anchor_scales(base_size):
    """Three scales per level (2^0, 2^1/3, 2^2/3 of the base size), as in the RetinaNet paper."""
    return (base_size, round(base_size * 2 ** (1 / 3)), round(base_size * 2 ** (2 / 3)))


def cell_anchors(scales, aspect_ratios=RETINANET_ASPECT_RATIOS):
    """The anchors of one grid cell centred at 0 [A, 4], in torchvision's AnchorGenerator order and rounding."""
    scales, ratios = np.asarray(scales, np.float32), np.asarray(aspect_ratios, np.float32)
    h_ratios = np.sqrt(ratios)
    w_ratios = np.float32(1) / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
    hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    return np.round(np.stack([-ws, -hs, ws, hs], axis=1) / 2)


def anchor_levels(anchor_sizes, grids, height, width):
    """The contract's anchor description: per pyramid level its grid, stride (input size // grid, torchvision's rule)
    and cell anchors."""
    return [{"grid": [int(gh), int(gw)], "stride": [height // gh, width // gw],
             "cell_anchors": cell_anchors(anchor_scales(size)).tolist()}
            for size, (gh, gw) in zip(anchor_sizes, grids)]


def fpn_grids(height, width, levels=5, first_stride=8):
    """Feature-map sizes of levels P3.. for a backbone whose stride-2 layers pad 'same' (ceil division) — true of
    every registered backbone; used for 0.1.0 contracts, which did not record their grids."""
    grids, h, w = [], math.ceil(height / first_stride), math.ceil(width / first_stride)
    for _ in range(levels):
        grids.append((h, w))
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    return grids


def anchors_from_levels(levels):
    """All anchors [N, 4] in the order of the head outputs: level by level, row-major cells, cell anchors."""
    result = []
    for level in levels:
        (gh, gw), (sh, sw) = level["grid"], level["stride"]
        shift_y, shift_x = np.meshgrid(np.arange(gh, dtype=np.float32) * sh, np.arange(gw, dtype=np.float32) * sw,
                                       indexing="ij")
        shifts = np.stack([shift_x.ravel(), shift_y.ravel()] * 2, axis=1)
        result.append((shifts[:, None, :] + np.asarray(level["cell_anchors"], np.float32)[None]).reshape(-1, 4))
    return np.concatenate(result).astype(np.float32)


def decode_boxes(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
    """torchvision's BoxCoder.decode_single: (dx, dy, dw, dh) / weights against each anchor."""
    deltas = np.asarray(deltas, np.float32) / np.float32(weights)
    widths, heights = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ctr_x, ctr_y = anchors[:, 0] + 0.5 * widths, anchors[:, 1] + 0.5 * heights
    dw, dh = np.minimum(deltas[:, 2], BOX_CLIP), np.minimum(deltas[:, 3], BOX_CLIP)
    pred_x, pred_y = deltas[:, 0] * widths + ctr_x, deltas[:, 1] * heights + ctr_y
    half_w, half_h = 0.5 * np.exp(dw) * widths, 0.5 * np.exp(dh) * heights
    return np.stack([pred_x - half_w, pred_y - half_h, pred_x + half_w, pred_y + half_h], axis=1)


def decode_retinanet(cls_logits, bbox_regression, anchors, height, width, score_threshold=0.05, nms_iou=0.5,
                     top_k=1000, max_detections=300):
    """Per image: sigmoid scores above the threshold, the top k, boxes decoded against the anchors and clipped to
    the input, class-wise NMS — torchvision's RetinaNet postprocessing on [N, C] and [N, 4] raw outputs."""
    logits = np.asarray(cls_logits, np.float32)
    num_classes = logits.shape[1]
    scores = (1.0 / (1.0 + np.exp(-logits))).ravel()
    keep = np.nonzero(scores > score_threshold)[0]
    scores = scores[keep]
    if len(keep) > top_k:
        order = np.argsort(-scores, kind="stable")[:top_k]
        scores, keep = scores[order], keep[order]
    anchor_index, labels = keep // num_classes, keep % num_classes
    boxes = decode_boxes(np.asarray(bbox_regression, np.float32)[anchor_index], anchors[anchor_index])
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    chosen = batched_nms(boxes, scores, labels, nms_iou)[:max_detections]
    return boxes[chosen].astype(np.float32), scores[chosen].astype(np.float32), labels[chosen].astype(np.int64)


def ssd_default_boxes(levels, height, width):
    """SSD's default boxes [N, 4] (x1, y1, x2, y2, input pixels) from the contract's per-level grids and (w, h)
    pairs — torchvision's DefaultBoxGenerator, in the order of the head outputs."""
    result = []
    for level in levels:
        (gh, gw), wh = level["grid"], np.asarray(level["wh"], np.float32)
        cy, cx = np.meshgrid((np.arange(gh, dtype=np.float32) + 0.5) / gh, (np.arange(gw, dtype=np.float32) + 0.5) / gw,
                             indexing="ij")
        centres = np.repeat(np.stack([cx.ravel(), cy.ravel()], 1), len(wh), axis=0)
        sizes = np.tile(wh, (gh * gw, 1))
        scale = np.float32([width, height])
        result.append(np.concatenate([(centres - 0.5 * sizes) * scale, (centres + 0.5 * sizes) * scale], 1))
    return np.concatenate(result).astype(np.float32)


def decode_ssd(cls_logits, bbox_regression, anchors, weights, height, width, score_threshold=0.01, nms_iou=0.45,
               top_k=400, max_detections=200):
    """Per image: softmax over background + classes, per class the scores above the threshold (its top k), boxes
    decoded against the default boxes and clipped, class-wise NMS — torchvision's SSD postprocessing."""
    logits = np.asarray(cls_logits, np.float32)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    boxes = decode_boxes(bbox_regression, anchors, weights)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    kept_boxes, kept_scores, kept_labels = [], [], []
    for label in range(1, probs.shape[1]):
        scores = probs[:, label]
        keep = np.nonzero(scores > score_threshold)[0]
        keep = keep[np.argsort(-scores[keep], kind="stable")[:top_k]]
        kept_boxes.append(boxes[keep])
        kept_scores.append(scores[keep])
        kept_labels.append(np.full(len(keep), label - 1, np.int64))
    boxes, scores, labels = np.concatenate(kept_boxes), np.concatenate(kept_scores), np.concatenate(kept_labels)
    chosen = batched_nms(boxes, scores, labels, nms_iou)[:max_detections]
    return boxes[chosen].astype(np.float32), scores[chosen].astype(np.float32), labels[chosen]


def yolo_priors(levels):
    """[N, 7] per prior: cell (x, y), stride (x, y), anchor (w, h), grid extension, from the contract's per-level
    grids, strides, anchors and grid_xy_extend — in the order of the outputs (level by level, cells row-major, then
    the level's anchors)."""
    rows = []
    for level in levels:
        (gh, gw), (sh, sw), anchors = level["grid"], level["stride"], np.asarray(level["anchors"], np.float32)
        ys, xs = np.meshgrid(np.arange(gh, dtype=np.float32), np.arange(gw, dtype=np.float32), indexing="ij")
        cells = np.repeat(np.stack([xs.ravel(), ys.ravel()], 1), len(anchors), axis=0)
        strides = np.broadcast_to(np.float32([sw, sh]), cells.shape)
        extend = np.full((len(cells), 1), level["grid_xy_extend"], np.float32)
        rows.append(np.concatenate([cells, strides, np.tile(anchors, (gh * gw, 1)), extend], 1))
    return np.concatenate(rows).astype(np.float32)


def yolo_boxes(raw, priors):
    """Boxes (x1, y1, x2, y2, input pixels) of raw predictions [N, >=4] at their priors [N, 7]: centre =
    (sigmoid(t_xy) x (1 + e) - e / 2 + cell) x stride, size = anchor x exp(t_wh clipped to [-4, 4])."""
    e = priors[:, 6:7]
    centre = (1.0 / (1.0 + np.exp(-raw[:, :2])) * (1 + e) - e / 2 + priors[:, :2]) * priors[:, 2:4]
    size = priors[:, 4:6] * np.exp(np.clip(raw[:, 2:4], -4.0, 4.0))
    return np.concatenate([centre - size / 2, centre + size / 2], 1)


def decode_yolo(predictions, priors, height, width, confidence_threshold=0.001, nms_iou=0.5,
                top_k=200, max_detections=200):
    """Per image: score = sigmoid(objectness) x sigmoid(class logit) per prior and class, those above the threshold
    (the top k), boxes decoded at their priors (YOLOv4's grid-sensitive centres) and clipped, class-wise NMS."""
    raw = np.asarray(predictions, np.float32)
    sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    scores = (sigmoid(raw[:, 4:5]) * sigmoid(raw[:, 5:])).ravel()
    keep = np.nonzero(scores > confidence_threshold)[0]
    keep = keep[np.argsort(-scores[keep], kind="stable")[:top_k]]
    index, labels = keep // (raw.shape[1] - 5), keep % (raw.shape[1] - 5)
    boxes = yolo_boxes(raw[index], priors[index])
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    chosen = batched_nms(boxes, scores[keep], labels, nms_iou)[:max_detections]
    return boxes[chosen].astype(np.float32), scores[keep][chosen].astype(np.float32), labels[chosen].astype(np.int64)
