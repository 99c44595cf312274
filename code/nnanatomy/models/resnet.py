"""ResNet-18 and ResNet-34 (He et al., 2016) as published for ImageNet (appendix A1).

The 7×7 stride-2 stem, a 3×3 max-pool, four stages of *basic blocks* — two 3×3 convolutions
with BatchNorm, added to the block's input — at 64, 128, 256 and 512 channels, the first block of
stages 2–4 halving the resolution (its shortcut a 1×1 stride-2 convolution with BatchNorm), then a
global average pool and one linear classifier. Convolutions have no bias (BatchNorm follows each).

Module names and shapes follow torchvision's ``resnet18``/``resnet34`` (``conv1``, ``bn1``,
``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc`` …), the layout of their published state dicts
(tested against the names and shapes, not against torchvision, which needs a CUDA build here).
ResNet-18 has 11,689,512 parameters, and at 224×224 performs 1.82 billion multiply–accumulates:
the "1.8 GFLOPs" usually quoted for it are MACs.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_int

__all__ = ["BasicBlock", "ResNet", "resnet18", "resnet34"]


class BasicBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``; the shortcut is the identity, or a
    1×1 convolution with BatchNorm where the block changes the resolution or the width.

    ``residual=False`` drops the shortcut — ``relu(bn2(conv2(relu(bn1(conv1(x))))))`` — which is
    the *plain* network He et al. compare with: the same layers, without the addition.
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1, residual: bool = True) -> None:
        super().__init__()
        in_channels, channels = check_int("in_channels", in_channels, 1), check_int("channels", channels, 1)
        stride = check_int("stride", stride, 1)
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be True or False, got {residual!r}")
        self.residual = residual
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if residual and (stride != 1 or in_channels != channels):
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if not self.residual:
            return self.relu(out)
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    """Images ``(B, 3, H, W)`` → class logits ``(B, num_classes)``; ``blocks`` per stage, e.g.
    ``(2, 2, 2, 2)`` for ResNet-18."""

    def __init__(self, blocks: tuple[int, int, int, int] = (2, 2, 2, 2), num_classes: int = 1000) -> None:
        super().__init__()
        if not isinstance(blocks, tuple) or len(blocks) != 4:
            raise ValueError(f"blocks must be a tuple of four block counts, got {blocks!r}")
        blocks = tuple(check_int("blocks", b, 1, 100) for b in blocks)
        num_classes = check_int("num_classes", num_classes, 1)
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, in_channels = (64, 128, 256, 512), 64
        for stage, (width, count) in enumerate(zip(widths, blocks), start=1):
            stride = 1 if stage == 1 else 2
            layers = [BasicBlock(in_channels, width, stride)] + [BasicBlock(width, width) for _ in range(count - 1)]
            setattr(self, f"layer{stage}", nn.Sequential(*layers))
            in_channels = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():  # He initialisation, as the paper and torchvision
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3 or min(x.shape[2:]) < 32:
            raise ValueError(f"ResNet expects images (B, 3, H, W) with H, W >= 32, got {tuple(getattr(x, 'shape', ()))}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, 64, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B, 512, H/32, W/32)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000) -> ResNet:
    """ResNet-18: (2, 2, 2, 2) basic blocks; 11,689,512 parameters with 1,000 classes."""
    return ResNet((2, 2, 2, 2), num_classes)


def resnet34(num_classes: int = 1000) -> ResNet:
    """ResNet-34: (3, 4, 6, 3) basic blocks; 21,797,672 parameters with 1,000 classes."""
    return ResNet((3, 4, 6, 3), num_classes)
