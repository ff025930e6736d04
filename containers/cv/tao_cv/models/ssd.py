"""SSD (torchvision's machinery: default boxes, matcher, box coder, hard-negative mining) on any registered backbone:
its stride 8, 16 and 32 feature maps plus extra stride-2 blocks, one prediction level each. `forward` returns the
raw head outputs, so the exported ONNX holds the whole network; the loss uses torchvision's SSD pieces around it,
decoding is the torch-free core's (tao_inference.postprocess.decode_ssd)."""

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.ssd import SSD, SSDHead
from torchvision.ops import boxes as box_ops

from .registry import build_classifier
from .trunk import blank_pass, cut_trunk, tapped

STRIDES = (8, 16, 32)  # taken from the backbone; the extra blocks continue at 64, 128, ...


def extra_block(in_channels, out_channels):
    """SSD's extra feature layer: a 1x1 bottleneck, then a 3x3 stride-2 convolution."""
    mid = max(out_channels // 2, 8)
    return nn.Sequential(nn.Conv2d(in_channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                         nn.Conv2d(mid, out_channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


class SSDFeatures(nn.Module):
    """The backbone's stride 8/16/32 maps and `extra_levels` maps of extra blocks, as a list."""

    def __init__(self, classifier, backbone, extra_levels, extra_channels):
        super().__init__()
        self.trunk, taps = cut_trunk(classifier, backbone, STRIDES)
        self.taps = [index for index, _ in taps]
        channels = [c for _, c in taps]
        self.extras = nn.ModuleList()
        for _ in range(extra_levels):
            self.extras.append(extra_block(channels[-1], extra_channels))
            channels.append(extra_channels)
        self.out_channels = channels

    def forward(self, x):
        features = tapped(self.trunk, self.taps, x)
        x = features[-1]  # the trunk ends at its last tap
        for block in self.extras:
            x = block(x)
            features.append(x)
        return features


class SSDDetector(nn.Module):
    def __init__(self, backbone, num_classes, height, width, classifier=None, *, scales=(0.05, 0.1, 0.25, 0.4, 0.55,
                 0.7, 0.85), aspect_ratios=(2.0, 3.0), variances=(0.1, 0.1, 0.2, 0.2), clip_boxes=False,
                 extra_channels=128, positive_fraction=0.25):
        super().__init__()
        classifier = classifier if classifier is not None else build_classifier(backbone, 1, 0.0)
        levels = len(scales) - 1
        features = SSDFeatures(classifier, backbone, levels - len(STRIDES), extra_channels)
        boxes = DefaultBoxGenerator([list(aspect_ratios)] * levels, scales=list(scales), clip=clip_boxes)
        head = SSDHead(features.out_channels, boxes.num_anchors_per_location(), num_classes + 1)
        self.net = SSD(features, boxes, (height, width), num_classes + 1, head=head,
                       positive_fraction=positive_fraction)
        self.net.box_coder.weights = tuple(1.0 / v for v in variances)  # TAO's variances are the coder's 1 / weights
        self.height, self.width = height, width
        self._anchors = {}

    def forward(self, images):
        head = self.net.head(self.net.backbone(images))
        return head["cls_logits"], head["bbox_regression"]

    def feature_grids(self):
        return blank_pass(self, lambda x: [tuple(f.shape[-2:]) for f in self.net.backbone(x)], self.height, self.width)

    def default_boxes(self):
        """The contract's description of the default boxes: per level its grid and its (width, height) pairs as
        fractions of the input, in the order of the head outputs (cells row-major, centred at (col + 0.5) / grid)."""
        generator = self.net.anchor_generator
        return [{"grid": list(grid), "wh": (pairs.clamp(0, 1) if generator.clip else pairs).tolist()}
                for grid, pairs in zip(self.feature_grids(), generator._wh_pairs)]

    @torch.no_grad()
    def anchors(self, device="cpu"):
        """Default boxes [N, 4] (x1, y1, x2, y2, input pixels) in the order of the head outputs."""
        key = str(device)
        if key not in self._anchors:
            images = torch.zeros(1, 3, self.height, self.width, device=device)
            features = [torch.zeros(1, 1, *grid, device=device) for grid in self.feature_grids()]
            self._anchors[key] = self.net.anchor_generator(ImageList(images, [(self.height, self.width)]), features)[0]
        return self._anchors[key]

    def loss(self, outputs, targets):
        """torchvision's SSD loss (smooth L1 on matched boxes, cross-entropy with 3:1 hard negatives by default)."""
        cls_logits, bbox_regression = outputs
        anchors = self.anchors(cls_logits.device)
        targets = [{**t, "labels": t["labels"] + 1} for t in targets]  # 0 is the background class
        matched = []
        for target in targets:
            if target["boxes"].numel() == 0:
                matched.append(torch.full((len(anchors),), -1, dtype=torch.int64, device=anchors.device))
            else:
                matched.append(self.net.proposal_matcher(box_ops.box_iou(target["boxes"], anchors)))
        losses = self.net.compute_loss(targets, {"cls_logits": cls_logits, "bbox_regression": bbox_regression},
                                       [anchors] * len(targets), matched)
        return losses["bbox_regression"] + losses["classification"]
