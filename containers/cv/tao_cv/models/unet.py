"""UNet: a decoder on any registered backbone's declared feature maps (strides 2, 4, 8, 16, 32: the skip
connections), or TAO's plain `vanilla_unet` (its own encoder, no pretrained weights). The output is per-class
logits at the input resolution. Plain Conv2d/BatchNorm layers throughout, so pruning, export and MAC counting
work on it as on any network (Torch-Pruning follows the concatenations)."""

import torch
import torch.nn.functional as F
from torch import nn

from .registry import build_classifier
from .trunk import cut_trunk, tapped

STRIDES = (2, 4, 8, 16, 32)
VANILLA = "vanilla_unet"
VANILLA_CHANNELS = (32, 64, 128, 256, 512)  # at strides 2 ... 32 (after the stride-1 stem of 16)


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class VanillaEncoder(nn.Module):
    """TAO's vanilla UNet encoder: two 3x3 convolutions per level, max-pooling between levels."""

    def __init__(self):
        super().__init__()
        self.stem = conv_block(3, 16)
        widths = (16, *VANILLA_CHANNELS)
        self.levels = nn.ModuleList(nn.Sequential(nn.MaxPool2d(2), conv_block(widths[i], widths[i + 1]))
                                    for i in range(len(VANILLA_CHANNELS)))

    def forward(self, x):
        x = self.stem(x)
        features = []
        for level in self.levels:
            x = level(x)
            features.append(x)
        return features


class TrunkEncoder(nn.Module):
    """A registered classifier's trunk, returning its feature maps at strides 2 ... 32."""

    def __init__(self, backbone, classifier=None):
        super().__init__()
        classifier = classifier if classifier is not None else build_classifier(backbone, 1, 0.0)
        self.trunk, taps = cut_trunk(classifier, backbone, STRIDES)
        self.taps = [index for index, _ in taps]
        self.channels = [channels for _, channels in taps]

    def forward(self, x):
        return tapped(self.trunk, self.taps, x)


class UNet(nn.Module):
    def __init__(self, backbone, num_classes, classifier=None, decoder_channels=(128, 64, 48, 32, 16)):
        super().__init__()
        if backbone == VANILLA:
            self.encoder, skips = VanillaEncoder(), list(VANILLA_CHANNELS)
        else:
            self.encoder = TrunkEncoder(backbone, classifier)
            skips = self.encoder.channels
        if len(decoder_channels) != len(STRIDES):
            raise ValueError(f"decoder_channels needs {len(STRIDES)} values (one per stage), got {decoder_channels}")
        blocks, cin = [], skips[-1]
        # from stride 32 up: each stage upsamples x2 and joins the skip at that stride (the last joins none)
        for stage, cout in enumerate(decoder_channels):
            skip = skips[-2 - stage] if stage < len(skips) - 1 else 0
            blocks.append(conv_block(cin + skip, cout))
            cin = cout
        self.decoder = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, num_classes, 1)

    def forward(self, images):
        features = self.encoder(images)
        x = features[-1]
        for stage, block in enumerate(self.decoder):
            skip = features[-2 - stage] if stage < len(features) - 1 else None
            size = skip.shape[-2:] if skip is not None else images.shape[-2:]
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1) if skip is not None else x)
        return self.head(x)
