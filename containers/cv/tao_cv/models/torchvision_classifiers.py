"""torchvision classifiers, registered by their torchvision names.

`pretrained: imagenet` fetches torchvision's published weights through our downloader (cache + hash check).
"""

import torchvision

from .registry import register_backbone


def _imagenet_from(weights_enum):
    def load():
        from ..download import fetch_state_dict

        weights = weights_enum.DEFAULT
        return fetch_state_dict(weights.url, sha256_prefix=weights.url.rsplit("-", 1)[-1].split(".")[0])

    return load


def _register(name, builder, weights_enum, takes_dropout):
    def build(num_classes, dropout=0.2):
        kwargs = {"dropout": dropout} if takes_dropout else {}
        return builder(weights=None, num_classes=num_classes, **kwargs)

    register_backbone(name, imagenet_weights=_imagenet_from(weights_enum))(build)


M = torchvision.models
for _name, _builder, _weights, _dropout in [
    ("resnet18", M.resnet18, M.ResNet18_Weights, False),
    ("resnet34", M.resnet34, M.ResNet34_Weights, False),
    ("resnet50", M.resnet50, M.ResNet50_Weights, False),
    ("mobilenet_v2", M.mobilenet_v2, M.MobileNet_V2_Weights, True),
    ("mobilenet_v3_small", M.mobilenet_v3_small, M.MobileNet_V3_Small_Weights, True),
    ("mobilenet_v3_large", M.mobilenet_v3_large, M.MobileNet_V3_Large_Weights, True),
    ("efficientnet_b0", M.efficientnet_b0, M.EfficientNet_B0_Weights, True),
    ("vgg16", M.vgg16, M.VGG16_Weights, True),
]:
    _register(_name, _builder, _weights, _dropout)
