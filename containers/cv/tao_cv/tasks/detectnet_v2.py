"""DetectNet_v2 (TAO's grid detector) as a task adapter: model, loss, heads and export contract. Its decoder is
the torch-free core's (tao_inference.networks.detectnet_v2)."""

import dataclasses

from tao_inference.networks import detectnet_v2 as network
from tao_inference.tasks import TASKS
from ..models.detectnet_v2 import DetectNetV2, TargetEncoding, detectnet_kd_loss, detectnet_loss
from .detection import DetectionAdapter


class DetectNetV2Adapter(DetectionAdapter):
    inference = TASKS["detectnet_v2"]

    def network_params(self, spec):
        return {"encoding": dataclasses.asdict(TargetEncoding(spec.model.coverage_scale, spec.model.bbox_norm,
                                                              spec.model.coverage_shape))}

    def network(self, info, classifier):
        return DetectNetV2(info.backbone, info.num_classes, classifier)

    def loss(self, spec, info, model):
        # A model trained before coverage_shape existed had uniform targets: its retrain keeps them.
        encoding = TargetEncoding(**{"coverage_shape": "uniform", **info.network["encoding"]})

        def loss_fn(outputs, targets):
            return detectnet_loss(outputs, targets, encoding, bbox_weight=spec.model.bbox_loss_weight,
                                  positive_weight=spec.model.positive_weight)

        return loss_fn

    def kd_loss(self, spec, info):
        return lambda student, teacher, temperature: detectnet_kd_loss(
            student, teacher, bbox_weight=spec.model.bbox_loss_weight, positive_weight=spec.model.positive_weight)

    def suggested_per_class(self, spec, index, image_sizes):
        return network.suggested_per_class(index["train"], image_sizes, spec.dataset.image_height)

    def heads(self, model):
        return [model.coverage, model.bbox]

    def trained_heads(self, model):
        return ["coverage", "bbox"]

    def decoder_params(self, model, info):
        return network.decoder_params(info)

    def contract_outputs(self, info):
        return (network.OUTPUT_NAMES, *network.contract_outputs(info))


ADAPTER = DetectNetV2Adapter()
