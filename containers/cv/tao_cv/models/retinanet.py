"""RetinaNet (torchvision's) on any registered backbone with an FPN (P3-P7): the backbone's layers are cut at
strides 8, 16 and 32 (P6, P7 follow). `forward` returns the raw head outputs, so the exported ONNX holds the
whole network; the loss uses torchvision's own RetinaNet pieces (focal loss, anchor matching, box coder) around
it, decoding is the torch-free core's (tao_inference.postprocess.decode_retinanet)."""

from functools import partial

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.retinanet import RetinaNet, RetinaNetHead
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from ..engine.distillation import binary_kl
from .registry import build_classifier
from .trunk import blank_pass, cut_trunk

STRIDES = (8, 16, 32)  # the FPN's inputs (C3-C5)


def anchor_generator(sizes):
    """Three scales per level (2^0, 2^1/3, 2^2/3 of the base size) and three aspect ratios, as in the paper."""
    return AnchorGenerator(tuple((s, round(s * 2 ** (1 / 3)), round(s * 2 ** (2 / 3))) for s in sizes),
                           ((0.5, 1.0, 2.0),) * len(sizes))


class RetinaNetDetector(nn.Module):
    def __init__(self, backbone, num_classes, height, width, classifier=None, fpn_channels=128,
                 anchor_sizes=(16, 32, 64, 128, 256), head_norm="none"):
        super().__init__()
        classifier = classifier if classifier is not None else build_classifier(backbone, 1, 0.0)
        trunk, taps = cut_trunk(classifier, backbone, STRIDES)
        body = BackboneWithFPN(trunk, {str(index): str(level) for level, (index, _) in enumerate(taps)},
                               [channels for _, channels in taps], fpn_channels,
                               extra_blocks=LastLevelP6P7(fpn_channels, fpn_channels))
        anchors = anchor_generator(anchor_sizes)
        norm = partial(nn.GroupNorm, min(32, fpn_channels)) if head_norm == "group" else None
        head = RetinaNetHead(fpn_channels, anchors.num_anchors_per_location()[0], num_classes, norm_layer=norm)
        self.net = RetinaNet(body, num_classes, min_size=min(height, width), max_size=max(height, width),
                             anchor_generator=anchors, head=head)
        self.height, self.width = height, width
        self._anchors = {}  # device -> anchors; they depend on the input size only

    def forward(self, images):
        head = self.net.head(list(self.net.backbone(images).values()))
        return head["cls_logits"], head["bbox_regression"]

    def feature_grids(self):
        """(height, width) of each pyramid level's feature map at this input size: where the anchors sit."""
        return blank_pass(self, lambda x: [tuple(f.shape[-2:]) for f in self.net.backbone(x).values()],
                          self.height, self.width)

    @torch.no_grad()
    def anchors(self, device="cpu"):
        """Anchors [N, 4] (x1, y1, x2, y2, input pixels) in the order of the head outputs, for this input size."""
        key = str(device)
        if key not in self._anchors:
            self._anchors[key] = self._compute_anchors(device)
        return self._anchors[key]

    def _compute_anchors(self, device):
        was_training = self.training
        self.eval()
        images = torch.zeros(1, 3, self.height, self.width, device=device)
        features = list(self.net.backbone(images).values())
        anchors = self.net.anchor_generator(ImageList(images, [(self.height, self.width)]), features)[0]
        self.train(was_training)
        return anchors

    def loss(self, outputs, targets):
        """torchvision's RetinaNet loss (focal + box regression) of `outputs` = self(images)."""
        cls_logits, bbox_regression = outputs
        anchors = self.anchors(cls_logits.device)
        losses = self.net.compute_loss(targets, {"cls_logits": cls_logits, "bbox_regression": bbox_regression},
                                       [anchors] * len(targets))
        return losses["classification"] + losses["bbox_regression"]


def retinanet_kd_loss(student, teacher, temperature):
    """Distillation on the dense head outputs: per anchor and class, the KL of the temperature-softened sigmoid
    scores (x T²), and the box regression by smooth L1 weighted by the teacher's best score at that anchor; both
    divided by the number of anchors the teacher scores above 0.5, as the focal loss divides by the positives."""
    (cls_s, box_s), (cls_t, box_t) = student, teacher
    t = temperature
    probs_t = torch.sigmoid(cls_t.float())
    confident = (probs_t.max(-1).values > 0.5).sum().clamp(min=1)
    cls_loss = binary_kl(torch.sigmoid(cls_s.float() / t), torch.sigmoid(cls_t.float() / t)).sum() * t * t / confident
    weight = probs_t.max(-1).values.unsqueeze(-1)
    box_loss = (torch.nn.functional.smooth_l1_loss(box_s.float(), box_t.float(), reduction="none", beta=1 / 9)
                * weight).sum() / confident
    return cls_loss + box_loss
