"""Task adapters by name (each drives the shared subcommands of tasks/skeleton.py), `augment` (a data tool) and
`spec` (show or convert a spec, ours or TAO's)."""

from . import (augment, classification, detectnet_v2, faster_rcnn, mask_rcnn, retinanet, skeleton, spec_tool, ssd,
               unet, yolo_v4)

ADAPTERS = {adapter.name: adapter for adapter in (classification.ADAPTER, detectnet_v2.ADAPTER, retinanet.ADAPTER,
                                                  yolo_v4.YOLO_V4, yolo_v4.YOLO_V4_TINY, ssd.ADAPTER,
                                                  faster_rcnn.ADAPTER, unet.ADAPTER, mask_rcnn.ADAPTER)}


def build_parser(task, prog=None):
    """The argparse parser of a task's subcommands (`augment` has its own)."""
    if task == "augment":
        return augment.build_parser(prog=prog or "tao augment")
    if task == "spec":
        return spec_tool.build_parser(prog=prog or "tao spec")
    return skeleton.build_parser(ADAPTERS[task], prog=prog)


TASKS = [*ADAPTERS, "augment", "spec"]
