"""Backbones by name (timm-style): a family file registers a builder; the factory looks it up."""

from dataclasses import dataclass
from typing import Callable

from torch import nn

from tao_inference.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Backbone:
    name: str
    # builder(num_classes, dropout) -> nn.Module with freshly initialised weights
    builder: Callable
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    # imagenet_weights() -> state dict (or None when this backbone has no ImageNet weights available)
    imagenet_weights: Callable | None = None


_BACKBONES: dict[str, Backbone] = {}


def register_backbone(name, *, mean=IMAGENET_MEAN, std=IMAGENET_STD, imagenet_weights=None):
    """Decorator: register `builder(num_classes, dropout)` under `name`."""

    def decorate(builder):
        _BACKBONES[name] = Backbone(name, builder, tuple(mean), tuple(std), imagenet_weights)
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
