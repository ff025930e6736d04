"""Network registry: one file per family registers its builders by name; `build_classifier` makes one."""

from . import cspdarknet, efficientnet_lite, torchvision_classifiers  # noqa: F401  (registration side effects)
from .registry import build_classifier, get_backbone, list_backbones, register_backbone

__all__ = ["build_classifier", "get_backbone", "list_backbones", "register_backbone"]
