"""Backbones by name (timm-style): a family file registers a builder with its feature maps declared; the factory
looks it up."""

from dataclasses import dataclass
from typing import Callable

from torch import nn

from tao_inference.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class FeatureInfo:
    """One feature map a detector (or a segmentation decoder) can tap, as timm's `feature_info` declares it."""
    module: str  # the classifier's module (a name in `trunk`) whose output it is: the last one at this stride
    stride: int  # input pixels per feature-map pixel
    channels: int


@dataclass(frozen=True)
class Backbone:
    name: str
    # builder(num_classes, dropout) -> nn.Module with freshly initialised weights
    builder: Callable
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    # imagenet_weights() -> state dict (or None when this backbone has no ImageNet weights available)
    imagenet_weights: Callable | None = None
    # the classifier's feature layers in order (module names): chained, they map an image to its stride-32 features
    trunk: tuple = ()
    feature_info: tuple = ()  # FeatureInfo per stride (2 ... 32)

    def feature(self, stride):
        for info in self.feature_info:
            if info.stride == stride:
                return info
        raise UserError(f"backbone '{self.name}' declares no feature map at stride {stride}; it has "
                        f"{', '.join(str(f.stride) for f in self.feature_info) or 'none'}")


_BACKBONES: dict[str, Backbone] = {}


def register_backbone(name, *, mean=IMAGENET_MEAN, std=IMAGENET_STD, imagenet_weights=None, trunk=(), feature_info=()):
    """Decorator: register `builder(num_classes, dropout)` under `name`, with its `trunk` (feature layers in order)
    and `feature_info` ((module, stride, channels) per stride) — what detectors are cut from."""

    def decorate(builder):
        _BACKBONES[name] = Backbone(name, builder, tuple(mean), tuple(std), imagenet_weights, tuple(trunk),
                                    tuple(FeatureInfo(*f) for f in feature_info))
        return builder

    return decorate


def list_backbones():
    return sorted(_BACKBONES)


def get_backbone(name) -> Backbone:
    if name not in _BACKBONES:
        raise UserError(f"model.backbone '{name}' is not registered; available: {', '.join(list_backbones())}")
    return _BACKBONES[name]


def build_classifier(name, num_classes, dropout=0.2):
    return get_backbone(name).builder(num_classes=num_classes, dropout=dropout)


def classifier_head(model):
    """The layer that produces a classifier's logits: the last Linear (or Conv2d) in module order."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))][-1]
