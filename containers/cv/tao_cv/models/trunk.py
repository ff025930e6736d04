"""Any registered classifier as a detector's feature trunk: its feature layers in order, cut where the output
reaches the strides a detector needs. Strides are measured by running the layers on a dummy image, so a new
backbone needs only to expose its layers here."""

import torch
from torch import nn

from tao_inference.errors import UserError

PROBE = 64  # dummy input size; divisible by every stride used (8, 16, 32)


def trunk_modules(classifier):
    """The classifier's feature layers in order (ResNet layout, `.features` layout, or EfficientNet-Lite)."""
    if hasattr(classifier, "layer1"):
        return [classifier.conv1, classifier.bn1, classifier.relu, classifier.maxpool,
                classifier.layer1, classifier.layer2, classifier.layer3, classifier.layer4]
    if hasattr(classifier, "features"):
        return list(classifier.features)
    if hasattr(classifier, "_blocks"):
        return [classifier._stem_pad, classifier._conv_stem, classifier._bn0, classifier.act, *classifier._blocks]
    raise UserError(f"backbone {type(classifier).__name__} has no feature layers this detector knows how to cut")


def cut_trunk(classifier, strides):
    """(nn.Sequential of the layers up to the largest of `strides`, [(index, channels)] of the last layer at each
    stride, in stride order): the indices name the Sequential's children whose outputs a detector taps."""
    kept, last_at, x = [], {}, torch.zeros(1, 3, PROBE, PROBE)
    was_training = classifier.training
    classifier.eval()
    with torch.no_grad():
        for module in trunk_modules(classifier):
            y = module(x)
            stride = PROBE // y.shape[-1]
            if stride > max(strides):
                break
            kept.append(module)
            if stride in strides:
                last_at[stride] = (len(kept) - 1, y.shape[1])
            x = y
    classifier.train(was_training)
    missing = sorted(set(strides) - set(last_at))
    if missing:
        raise UserError(f"backbone {type(classifier).__name__} never reaches output stride(s) {missing}")
    return nn.Sequential(*kept), [last_at[s] for s in sorted(strides)]
