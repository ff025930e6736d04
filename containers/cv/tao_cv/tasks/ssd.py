"""SSD (torchvision's machinery) as a detector adapter: TAO's ssd_config keys turned into default boxes and the
box coder, the loss, the heads and the contract (its default boxes included). Its decoder is the torch-free core's
(tao_inference.networks.ssd)."""

import torch

from tao_inference.errors import UserError
from tao_inference.networks import ssd as network
from tao_inference.tasks import TASKS
from ..models.ssd import STRIDES, SSDDetector
from .detection import DetectionAdapter


def torchvision_ratios(ratios):
    """TAO's aspect_ratios_global ([1.0, 2.0, 0.5, 3.0, 1/3]) as DefaultBoxGenerator's ([2.0, 3.0]): each ratio above
    1 stands for itself and its reciprocal, and 1.0 is always there."""
    wide = sorted({round(r, 4) for r in ratios if r > 1.0001})
    narrow = sorted({round(1 / r, 4) for r in ratios if r < 0.9999})
    if not any(abs(r - 1) < 1e-4 for r in ratios) or wide != narrow:
        raise UserError(f"model.aspect_ratios_global {list(ratios)}: give 1.0 and each ratio with its reciprocal "
                        "(e.g. [1.0, 2.0, 0.5, 3.0, 0.3333]): torchvision's default boxes come in such pairs")
    return wide


class SSDAdapter(DetectionAdapter):
    inference = TASKS["ssd"]
    unused_keys = {**DetectionAdapter.unused_keys, "train.distillation.teacher": None}

    def network_params(self, spec):
        m = spec.model
        if not m.two_boxes_for_ar1:
            raise UserError("model.two_boxes_for_ar1: false is not supported (torchvision's default boxes always add "
                            "the second ratio-1 box); remove it or set it to true")
        if len(m.scales) < len(STRIDES) + 1:
            raise UserError(f"model.scales {list(m.scales)}: give one more than the levels, at least "
                            f"{len(STRIDES) + 1} (the backbone gives {len(STRIDES)} levels; more add extra blocks)")
        if len(m.variances) != 4:
            raise UserError(f"model.variances {list(m.variances)}: give four (x, y, w, h), e.g. [0.1, 0.1, 0.2, 0.2]")
        return {"scales": list(m.scales), "aspect_ratios": torchvision_ratios(m.aspect_ratios_global),
                "variances": list(m.variances), "clip_boxes": m.clip_boxes, "extra_channels": m.extra_channels,
                "positive_fraction": 1.0 / (1.0 + m.neg_pos_ratio)}

    def network(self, info, classifier):
        n = info.network
        return SSDDetector(info.backbone, info.num_classes, info.input_height, info.input_width, classifier,
                           scales=tuple(n["scales"]), aspect_ratios=tuple(n["aspect_ratios"]),
                           variances=tuple(n["variances"]), clip_boxes=n["clip_boxes"],
                           extra_channels=n["extra_channels"], positive_fraction=n["positive_fraction"])

    def loss(self, spec, info, model):
        return model.loss

    def kd_loss(self, spec, info):
        raise UserError("train.distillation: ssd does not support distillation; remove train.distillation.teacher")

    def heads(self, model):
        head = model.net.head
        return [m for part in (head.classification_head, head.regression_head) for m in part.modules()
                if isinstance(m, torch.nn.Conv2d)]

    def trained_heads(self, model):
        return ["net.head", "net.backbone.extras"]

    def decoder_params(self, model, info):
        """The default boxes, as the model's own feature-map sizes place them, and the box coder's weights."""
        return {"default_boxes": model.default_boxes(), "box_coder_weights": list(model.net.box_coder.weights)}

    def contract_outputs(self, info):
        return (network.OUTPUT_NAMES, *network.contract_outputs(info))


ADAPTER = SSDAdapter()
