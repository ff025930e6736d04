"""torchvision classifiers, registered by their torchvision names, with their feature maps declared.

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


def _register(name, builder, weights_enum, takes_dropout, trunk, feature_info):
    def build(num_classes, dropout=0.2):
        kwargs = {"dropout": dropout} if takes_dropout else {}
        return builder(weights=None, num_classes=num_classes, **kwargs)

    register_backbone(name, imagenet_weights=_imagenet_from(weights_enum), trunk=trunk, feature_info=feature_info)(build)


def _features(count):
    """The trunk of the `.features` layout: features.0 ... features.{count - 1}."""
    return tuple(f"features.{i}" for i in range(count))


RESNET_TRUNK = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


def _resnet_features(width):
    """Stride 2 after the stem, then the four stages; `width`: the last stage's channels (512 basic, 2048 bottleneck)."""
    return [("relu", 2, 64), *((f"layer{i + 1}", 4 * 2 ** i, width // 2 ** (3 - i)) for i in range(4))]


# (module, stride, channels): the last trunk layer at each stride
M = torchvision.models
for _name, _builder, _weights, _dropout, _trunk, _feature_info in [
    ("resnet18", M.resnet18, M.ResNet18_Weights, False, RESNET_TRUNK, _resnet_features(512)),
    ("resnet34", M.resnet34, M.ResNet34_Weights, False, RESNET_TRUNK, _resnet_features(512)),
    ("resnet50", M.resnet50, M.ResNet50_Weights, False, RESNET_TRUNK, _resnet_features(2048)),
    ("mobilenet_v2", M.mobilenet_v2, M.MobileNet_V2_Weights, True, _features(19),
     [("features.1", 2, 16), ("features.3", 4, 24), ("features.6", 8, 32), ("features.13", 16, 96),
      ("features.18", 32, 1280)]),
    ("mobilenet_v3_small", M.mobilenet_v3_small, M.MobileNet_V3_Small_Weights, True, _features(13),
     [("features.0", 2, 16), ("features.1", 4, 16), ("features.3", 8, 24), ("features.8", 16, 48),
      ("features.12", 32, 576)]),
    ("mobilenet_v3_large", M.mobilenet_v3_large, M.MobileNet_V3_Large_Weights, True, _features(17),
     [("features.1", 2, 16), ("features.3", 4, 24), ("features.6", 8, 40), ("features.12", 16, 112),
      ("features.16", 32, 960)]),
    ("efficientnet_b0", M.efficientnet_b0, M.EfficientNet_B0_Weights, True, _features(9),
     [("features.1", 2, 16), ("features.2", 4, 24), ("features.3", 8, 40), ("features.5", 16, 112),
      ("features.8", 32, 1280)]),
    ("vgg16", M.vgg16, M.VGG16_Weights, True, _features(31),
     [("features.8", 2, 128), ("features.15", 4, 256), ("features.22", 8, 512), ("features.29", 16, 512),
      ("features.30", 32, 512)]),
]:
    _register(_name, _builder, _weights, _dropout, _trunk, _feature_info)
