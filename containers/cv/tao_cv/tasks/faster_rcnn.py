"""Faster R-CNN (torchvision's) as a detector adapter: detection's data, index and sample (tasks/detection.py) with
the R-CNN shared with Mask R-CNN (tasks/rcnn.py). Its decoder is the torch-free core's
(tao_inference.networks.faster_rcnn): the postprocessing is in the graph."""

from tao_inference.networks import faster_rcnn as network
from tao_inference.tasks import TASKS
from .detection import DetectionAdapter
from .rcnn import TwoStageAdapter


class FasterRCNNAdapter(TwoStageAdapter, DetectionAdapter):
    inference = TASKS["faster_rcnn"]

    def contract_outputs(self, info):
        return (network.OUTPUT_NAMES, *network.contract_outputs(info))


ADAPTER = FasterRCNNAdapter()
