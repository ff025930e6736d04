"""YOLOv4 and YOLOv4-tiny (Bochkovskiy et al. 2020), written from the papers (YOLOv3's anchors and targets, YOLOv4's
PAN neck, grid-sensitivity fix and CIoU loss) on any registered backbone's declared feature maps: strides 8, 16
and 32 with a top-down and a bottom-up path (YOLOv4), or 16 and 32 with the top-down path only (tiny).

`forward` returns the raw predictions of every prior (level by level, cells row-major, then the level's anchors):
[B, N, 5 + C] = (tx, ty, tw, th, objectness, class logits). Box of a prior: centre = (sigmoid(t_xy) x (1 + e) - e / 2
+ cell) x stride with e the level's grid_xy_extend, size = anchor x exp(t_wh). The exported ONNX holds the network; decoding
is the torch-free core's (tao_inference.postprocess.decode_yolo)."""

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import box_iou, complete_box_iou_loss

from .cspdarknet import conv
from .registry import build_classifier
from .trunk import blank_pass, cut_trunk, tapped

STRIDES = {"yolo_v4": (8, 16, 32), "yolo_v4_tiny": (16, 32)}
MAX_LOG_SCALE = 4.0  # exp(t_wh) kept within e^+-4 x the anchor: an untrained head cannot blow a box up or to 0


class YOLOv4Detector(nn.Module):
    def __init__(self, backbone, num_classes, height, width, classifier=None, *, anchors, tiny=False,
                 neck_channels=128, grid_xy_extend=(0.2, 0.1, 0.05)):
        """`anchors`, `grid_xy_extend`: per level, smallest stride first (anchors as (width, height) pairs in input
        pixels)."""
        super().__init__()
        classifier = classifier if classifier is not None else build_classifier(backbone, 1, 0.0)
        strides = STRIDES["yolo_v4_tiny" if tiny else "yolo_v4"]
        if len(anchors) != len(strides) or len(grid_xy_extend) != len(strides):
            raise ValueError(f"{len(strides)} levels of anchors and grid_xy_extend expected")
        self.trunk, taps = cut_trunk(classifier, backbone, strides)
        self.taps = [index for index, _ in taps]
        widths = [neck_channels * 2 ** i for i in range(len(strides))]
        self.lateral = nn.ModuleList(conv(c, w, 1) for (_, c), w in zip(taps, widths))
        # top-down: each level takes the one above it, reduced and upsampled
        self.reduce = nn.ModuleList(conv(widths[i + 1], widths[i], 1) for i in range(len(widths) - 1))
        self.top_down = nn.ModuleList(self._block(2 * w, w) for w in widths[:-1])
        # bottom-up (YOLOv4's PAN): each level takes the one below it, downsampled
        self.tiny = tiny
        if not tiny:
            self.down = nn.ModuleList(conv(widths[i], widths[i + 1], 3, 2) for i in range(len(widths) - 1))
            self.bottom_up = nn.ModuleList(self._block(2 * w, w) for w in widths[1:])
        self.anchors_per_level = [len(a) for a in anchors]
        self.heads = nn.ModuleList(nn.Sequential(conv(w, 2 * w), nn.Conv2d(2 * w, len(a) * (5 + num_classes), 1))
                                   for w, a in zip(widths, anchors))
        for head, count in zip(self.heads, self.anchors_per_level):  # objectness starts near 1 % (few objects)
            head[-1].bias.data.view(count, 5 + num_classes)[:, 4] = -4.6
        self.anchors, self.num_classes = [list(map(list, a)) for a in anchors], num_classes
        self.grid_xy_extend = [float(e) for e in grid_xy_extend]
        self.height, self.width = height, width
        self._priors = {}

    @staticmethod
    def _block(in_channels, channels):
        return nn.Sequential(conv(in_channels, channels, 1), conv(channels, 2 * channels), conv(2 * channels, channels, 1))

    def levels(self, images):
        """The neck's output map per level (smallest stride first)."""
        maps = [lateral(f) for lateral, f in zip(self.lateral, tapped(self.trunk, self.taps, images))]
        for i in range(len(maps) - 2, -1, -1):
            above = F.interpolate(self.reduce[i](maps[i + 1]), size=maps[i].shape[-2:], mode="nearest")
            maps[i] = self.top_down[i](torch.cat([maps[i], above], 1))
        if not self.tiny:
            for i in range(1, len(maps)):
                maps[i] = self.bottom_up[i - 1](torch.cat([self.down[i - 1](maps[i - 1]), maps[i]], 1))
        return maps

    def forward(self, images):
        outputs = []
        for head, level, count in zip(self.heads, self.levels(images), self.anchors_per_level):
            p = head(level)
            b, _, h, w = p.shape
            outputs.append(p.view(b, count, 5 + self.num_classes, h, w).permute(0, 3, 4, 1, 2)
                           .reshape(b, h * w * count, 5 + self.num_classes))
        return torch.cat(outputs, 1)

    def prior_levels(self):
        """The contract's description of the priors: per level its grid, stride (input / grid), anchors and grid
        extension."""
        maps = blank_pass(self, self.levels, self.height, self.width)
        return [{"grid": list(m.shape[-2:]), "stride": [self.height / m.shape[-2], self.width / m.shape[-1]],
                 "anchors": anchors, "grid_xy_extend": e} for m, anchors, e in zip(maps, self.anchors,
                                                                                    self.grid_xy_extend)]

    def priors(self, device):
        """[N, 8]: per prior its cell (x, y), stride (x, y), anchor (w, h), grid extension and level, in the order of
        the outputs."""
        key = str(device)
        if key not in self._priors:
            rows = []
            for number, level in enumerate(self.prior_levels()):
                (gh, gw), (sh, sw) = level["grid"], level["stride"]
                ys, xs = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
                count = len(level["anchors"])
                cells = torch.stack([xs.reshape(-1), ys.reshape(-1)], 1).repeat_interleave(count, 0).float()
                anchors = torch.tensor(level["anchors"], dtype=torch.float32).repeat(gh * gw, 1)
                rows.append(torch.cat([cells, torch.tensor([[sw, sh]]).expand(len(cells), 2), anchors,
                                       torch.full((len(cells), 1), level["grid_xy_extend"]),
                                       torch.full((len(cells), 1), float(number))], 1))
            self._priors[key] = torch.cat(rows).to(device)
        return self._priors[key]

    def decode_boxes(self, raw, priors):
        """Boxes (x1, y1, x2, y2, input pixels) of raw predictions [..., >=4] at their priors."""
        e = priors[:, 6:7]
        centre = (torch.sigmoid(raw[..., :2]) * (1 + e) - e / 2 + priors[:, :2]) * priors[:, 2:4]
        size = priors[:, 4:6] * torch.exp(raw[..., 2:4].clamp(-MAX_LOG_SCALE, MAX_LOG_SCALE))
        return torch.cat([centre - size / 2, centre + size / 2], -1)


def assign(boxes, priors, anchors_per_level, matching_iou):
    """Per ground-truth box the priors that predict it: at every level, the cell holding its centre, with each
    anchor whose shape IoU with the box exceeds `matching_iou`, and always its best anchor over all levels.
    Returns (prior indices, box indices)."""
    if len(boxes) == 0:
        return boxes.new_zeros(0, dtype=torch.long), boxes.new_zeros(0, dtype=torch.long)
    wh = boxes[:, 2:] - boxes[:, :2]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    prior_ids, ious, start = [], [], 0
    levels = priors[:, 7].long()
    for number, count in enumerate(anchors_per_level):
        in_level = torch.nonzero(levels == number).flatten()
        first = priors[in_level[0]]
        grid_w = int(priors[in_level, 0].max()) + 1
        grid_h = int(priors[in_level, 1].max()) + 1
        anchor_wh = priors[in_level[:count], 4:6]
        inter = torch.minimum(wh[:, None], anchor_wh[None]).prod(-1)
        shape_iou = inter / (wh.prod(-1)[:, None] + anchor_wh.prod(-1)[None] - inter)
        cell = (centre / first[2:4]).floor().long()
        cell[:, 0].clamp_(0, grid_w - 1)
        cell[:, 1].clamp_(0, grid_h - 1)
        base = start + (cell[:, 1] * grid_w + cell[:, 0]) * count
        prior_ids.append(base[:, None] + torch.arange(count, device=boxes.device)[None])
        ious.append(shape_iou)
        start += len(in_level)
    prior_ids, ious = torch.cat(prior_ids, 1), torch.cat(ious, 1)
    chosen = ious > matching_iou
    chosen[torch.arange(len(boxes)), ious.argmax(1)] = True
    box_ids = torch.arange(len(boxes), device=boxes.device)[:, None].expand_as(chosen)
    return prior_ids[chosen], box_ids[chosen]


def yolo_loss(model, predictions, targets, *, matching_iou=0.25, loc_weight=1.0, neg_obj_weight=1.0,
              class_weight=1.0, label_smoothing=0.0, ignore_iou=0.5):
    """CIoU box loss on the assigned priors, objectness BCE (positives 1; negatives 0, weighted, except those whose
    box already overlaps a ground truth by `ignore_iou`), class BCE (label smoothing) on the positives; summed
    and divided by the batch size, as YOLOv3's."""
    priors = model.priors(predictions.device)
    raw = predictions.float()
    boxes = model.decode_boxes(raw, priors)
    total = raw.new_zeros(())
    for b, target in enumerate(targets):
        prior_ids, box_ids = assign(target["boxes"], priors, model.anchors_per_level, matching_iou)
        objectness = raw[b, :, 4]
        wanted = torch.zeros_like(objectness)
        wanted[prior_ids] = 1.0
        negative = wanted == 0
        if len(target["boxes"]):
            overlap = box_iou(boxes[b].detach(), target["boxes"]).max(1).values
            negative &= overlap < ignore_iou
        bce = F.binary_cross_entropy_with_logits(objectness, wanted, reduction="none")
        total = total + bce[wanted > 0].sum() + neg_obj_weight * bce[negative].sum()
        if len(prior_ids):
            total = total + loc_weight * complete_box_iou_loss(boxes[b, prior_ids], target["boxes"][box_ids],
                                                               reduction="sum")
            classes = F.one_hot(target["labels"][box_ids], model.num_classes).float()
            classes = classes * (1 - label_smoothing) + label_smoothing / 2
            total = total + class_weight * F.binary_cross_entropy_with_logits(raw[b, prior_ids, 5:], classes,
                                                                               reduction="sum")
    return total / max(1, len(targets))
