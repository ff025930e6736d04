"""A registered classifier as a detector's feature trunk, cut from the backbone's declared `trunk` and
`feature_info` (models/registry.py): a new backbone family declares them where it registers, nothing here changes."""

import torch
from torch import nn

from .registry import get_backbone


def cut_trunk(classifier, backbone, strides):
    """(nn.Sequential of the trunk layers up to the largest of `strides`, [(index, channels)] of the declared
    feature map at each stride, in stride order): the indices name the Sequential's children a detector taps."""
    declared = get_backbone(backbone)
    features = [declared.feature(s) for s in sorted(strides)]
    modules = dict(classifier.named_modules())
    end = declared.trunk.index(features[-1].module)
    kept = nn.Sequential(*(modules[name] for name in declared.trunk[:end + 1]))
    return kept, [(declared.trunk.index(f.module), f.channels) for f in features]


@torch.no_grad()
def blank_pass(model, run, height, width):
    """`run(zeros [1, 3, height, width])` with `model` in evaluation mode (its mode restored): the feature-map
    sizes a detector's anchors or priors are laid on."""
    was_training = model.training
    model.eval()
    try:
        return run(torch.zeros(1, 3, height, width, device=next(model.parameters()).device))
    finally:
        model.train(was_training)


def tapped(trunk, taps, x):
    """The outputs of the trunk's layers at the tapped indices (`cut_trunk`'s), for the input `x`."""
    features = []
    for index, layer in enumerate(trunk):
        x = layer(x)
        if index in taps:
            features.append(x)
    return features
