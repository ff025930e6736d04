"""Faster R-CNN and Mask R-CNN (torchvision's) with an FPN (P2-P6) on any registered backbone, cut at its declared
stride 4, 8, 16 and 32 feature maps: one architecture, Mask R-CNN being Faster R-CNN with a mask branch.

Training: `model(images, targets)` returns torchvision's loss dict (proposal and RoI sampling need the targets
inside the forward). Evaluation and export: `model(images)` returns fixed-shape tensors, each image's detections
padded to K = test_detections_per_image — boxes [B, K, 4] (input pixels), scores [B, K] (0 past the detections),
labels [B, K] (class index) and, for Mask R-CNN, masks [B, K, M, M] (probabilities on the box's grid, not pasted):
the whole network and its postprocessing (NMS, RoIAlign) are in the exported graph; pasting the masks is the
torch-free core's (tao_inference.tasks.instance_segmentation). torchvision's resize and normalization are switched
off: the input is already the contract's preprocessed image.
"""

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FasterRCNN, FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNN, MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from .registry import build_classifier
from .trunk import cut_trunk

STRIDES = (4, 8, 16, 32)  # the FPN's inputs (C2-C5); P6 is a max pool of P5


class PreprocessedInput(GeneralizedRCNNTransform):
    """Images come resized and normalized (the contract's preprocessing), so resizing and normalizing are
    identities, and results stay in input pixels with the masks unpasted; batching still pads to a multiple of 32."""

    def normalize(self, image):
        return image

    def resize(self, image, target=None):
        return image, target

    def postprocess(self, result, image_shapes, original_image_sizes):
        return result


class RCNNDetector(nn.Module):
    def __init__(self, backbone, num_classes, height, width, classifier=None, *, masks=False, fpn_channels=128,
                 anchor_sizes=(16, 32, 64, 128, 256), aspect_ratios=(0.5, 1.0, 2.0), mrcnn_resolution=28,
                 fast_rcnn_mlp_head_dim=1024, freeze_bn=True, detections_per_image=100, settings=None):
        super().__init__()
        classifier = classifier if classifier is not None else build_classifier(backbone, 1, 0.0)
        trunk, taps = cut_trunk(classifier, backbone, STRIDES)
        body = BackboneWithFPN(trunk, {str(index): str(level) for level, (index, _) in enumerate(taps)},
                               [channels for _, channels in taps], fpn_channels, extra_blocks=LastLevelMaxPool())
        levels = ["0", "1", "2", "3"]
        common = dict(
            rpn_anchor_generator=AnchorGenerator(tuple((s,) for s in anchor_sizes),
                                                 (tuple(aspect_ratios),) * len(anchor_sizes)),
            box_roi_pool=MultiScaleRoIAlign(levels, output_size=7, sampling_ratio=2),
            box_head=TwoMLPHead(fpn_channels * 7 * 7, fast_rcnn_mlp_head_dim),
            box_predictor=FastRCNNPredictor(fast_rcnn_mlp_head_dim, num_classes + 1),
            box_detections_per_img=detections_per_image, **(settings or {}))
        if masks:
            self.net = MaskRCNN(
                body, None, mask_roi_pool=MultiScaleRoIAlign(levels, output_size=mrcnn_resolution // 2, sampling_ratio=2),
                mask_head=MaskRCNNHeads(fpn_channels, (fpn_channels,) * 4, 1),
                mask_predictor=MaskRCNNPredictor(fpn_channels, fpn_channels, num_classes + 1), **common)
        else:
            self.net = FasterRCNN(body, None, **common)
        self.net.transform = PreprocessedInput(min(height, width), max(height, width), [0.0] * 3, [1.0] * 3)
        self.detections_per_image, self.freeze_bn, self.masks = detections_per_image, freeze_bn, masks

    def train(self, mode=True):
        """With freeze_bn (TAO's), the backbone's BatchNorm layers keep their statistics: detection batches of a
        few images estimate them badly."""
        super().train(mode)
        if self.freeze_bn:
            for module in self.net.backbone.body.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def forward(self, images, targets=None):
        if self.training:
            return self.net(images, [{**t, "labels": t["labels"] + 1} for t in targets])
        k = self.detections_per_image
        padded = []
        for found in self.net(images):
            # concatenating K empty slots and keeping the first K pads in a way the traced graph keeps dynamic
            slots = [torch.cat([found["boxes"], images.new_zeros(k, 4)])[:k],
                     torch.cat([found["scores"], images.new_zeros(k)])[:k],
                     torch.cat([found["labels"] - 1, found["labels"].new_zeros(k)])[:k]]
            if self.masks:
                slots.append(torch.cat([found["masks"][:, 0], images.new_zeros(k, *found["masks"].shape[-2:])])[:k])
            padded.append(slots)
        return tuple(torch.stack(parts) for parts in zip(*padded))


def rcnn_loss(weights):
    """The sum of torchvision's losses (four; five with masks), weighted as TAO's keys say."""

    def loss_fn(losses, targets):
        return sum(losses[name] * weights.get(name, 1.0) for name in losses)

    return loss_fn
