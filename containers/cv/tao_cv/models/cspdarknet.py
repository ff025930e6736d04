"""CSPDarknet-tiny (YOLOv4-tiny's backbone, Bochkovskiy et al. 2020), written from the paper's description with plain
layers and registered like the other backbones: two stride-2 convolutions, then three cross-stage-partial blocks
each followed by a 2x2 max pool, and a last 3x3 convolution. A block convolves its input, sends half of the channels
through two more convolutions and a 1x1 fusion, and concatenates that with the block's first output.

No pretrained weights exist for it here: it trains from scratch (`model.pretrained` must stay unset)."""

import torch
from torch import nn

from .registry import register_backbone


def conv(in_channels, out_channels, kernel=3, stride=1):
    """Convolution, BatchNorm, LeakyReLU(0.1): darknet's unit."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.LeakyReLU(0.1, inplace=True))


class CSPTinyBlock(nn.Module):
    """out = concat(a, fuse(concat(c2, c1))) with a = conv(x), c1 = conv(second half of a), c2 = conv(c1): 2 x
    `channels` out. The entry convolution is held as its two halves (the same function): the partial path
    starts from the second, and pruning can cut each half on its own."""

    def __init__(self, in_channels, channels):
        super().__init__()
        self.entry_kept, self.entry_split = conv(in_channels, channels // 2), conv(in_channels, channels // 2)
        self.part1 = conv(channels // 2, channels // 2)
        self.part2 = conv(channels // 2, channels // 2)
        self.fuse = conv(channels, channels, kernel=1)

    def forward(self, x):
        half = self.entry_split(x)
        c1 = self.part1(half)
        c2 = self.part2(c1)
        return torch.cat([self.entry_kept(x), half, self.fuse(torch.cat([c2, c1], 1))], 1)


class CSPDarknetTiny(nn.Module):
    def __init__(self, num_classes=1000, dropout=0.0):
        super().__init__()
        self.stem1, self.stem2 = conv(3, 32, stride=2), conv(32, 64, stride=2)
        self.block1, self.pool1 = CSPTinyBlock(64, 64), nn.MaxPool2d(2, 2, ceil_mode=True)
        self.block2, self.pool2 = CSPTinyBlock(128, 128), nn.MaxPool2d(2, 2, ceil_mode=True)
        self.block3, self.pool3 = CSPTinyBlock(256, 256), nn.MaxPool2d(2, 2, ceil_mode=True)
        self.last = conv(512, 512)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(512, num_classes))

    def forward(self, x):
        for name in TRUNK:
            x = getattr(self, name)(x)
        return self.head(x)


TRUNK = ("stem1", "stem2", "block1", "pool1", "block2", "pool2", "block3", "pool3", "last")


@register_backbone("cspdarknet_tiny", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), trunk=TRUNK,
                   feature_info=[("stem1", 2, 32), ("block1", 4, 128), ("block2", 8, 256), ("block3", 16, 512),
                                 ("last", 32, 512)])
def cspdarknet_tiny(num_classes, dropout=0.0):
    return CSPDarknetTiny(num_classes, dropout)
