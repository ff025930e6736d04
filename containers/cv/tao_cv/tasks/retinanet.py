"""RetinaNet (torchvision) as a task adapter: model, loss, heads and export contract (its anchors included). Its
decoder is the torch-free core's (tao_inference.networks.retinanet)."""

import torch

from tao_inference.errors import UserError
from tao_inference.networks import retinanet as network
from tao_inference.postprocess import anchor_levels
from tao_inference.tasks import TASKS
from ..models.retinanet import RetinaNetDetector, retinanet_kd_loss
from .detection import DetectionAdapter


class RetinaNetAdapter(DetectionAdapter):
    inference = TASKS["retinanet"]

    def network_params(self, spec):
        if len(spec.model.anchor_sizes) != 5:
            raise UserError(f"model.anchor_sizes: {spec.model.anchor_sizes} — give five sizes, one per pyramid level "
                            "P3..P7 (e.g. [16, 32, 64, 128, 256])")
        return {"fpn_channels": spec.model.fpn_channels, "anchor_sizes": list(spec.model.anchor_sizes),
                "head_norm": spec.model.head_norm}

    def network(self, info, classifier):
        n = info.network
        return RetinaNetDetector(info.backbone, info.num_classes, info.input_height, info.input_width, classifier,
                                 n["fpn_channels"], tuple(n["anchor_sizes"]), n["head_norm"])

    def loss(self, spec, info, model):
        return model.loss

    def kd_loss(self, spec, info):
        return retinanet_kd_loss

    def heads(self, model):
        """Layers whose outputs are never pruned: the two output convolutions and, with a GroupNorm head, the tower
        convolutions too (GroupNorm needs its channel count to stay a multiple of its groups)."""
        head = model.net.head
        kept = [head.classification_head.cls_logits, head.regression_head.bbox_reg]
        for branch in (head.classification_head, head.regression_head):
            kept += [m for block in branch.conv if any(isinstance(x, torch.nn.GroupNorm) for x in block.modules())
                     for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
        return kept

    def trained_heads(self, model):
        return ["net.head", "net.backbone.fpn"]

    def decoder_params(self, model, info):
        """The anchors, as the model's own feature-map sizes place them: recorded in the contract at export."""
        return {"anchor_levels": anchor_levels(info.network["anchor_sizes"], model.feature_grids(),
                                               info.input_height, info.input_width)}

    def contract_outputs(self, info):
        return (network.OUTPUT_NAMES, *network.contract_outputs(info))


ADAPTER = RetinaNetAdapter()
