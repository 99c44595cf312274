"""A convolutional classifier: the source's pipeline (chapter 02).

Feature extraction — ``Conv2d → BatchNorm2d → ReLU → MaxPool2d``, one block per entry of
``channels``, then ``AdaptiveAvgPool2d`` — condenses the image into a few numbers per channel.
Classification — ``Flatten → Linear → ReLU → Dropout → Linear`` — widens them (more
capacity), adds a non-linearity, regularises, and maps to one logit per class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .resnet import BasicBlock

__all__ = ["CNNClassifier", "CNNConfig", "DeepCNN", "DeepCNNConfig"]


@dataclass
class CNNConfig:
    in_channels: int = 1
    channels: tuple[int, ...] = field(default_factory=lambda: (32, 64))
    kernel_size: int = 3
    pool_output: int = 1  # AdaptiveAvgPool2d output size: 1 = global average pooling
    hidden: int = 128
    dropout: float = 0.3
    num_classes: int = 10

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)
        ints = {"in_channels": self.in_channels, "kernel_size": self.kernel_size, "pool_output": self.pool_output,
                "hidden": self.hidden, "num_classes": self.num_classes}
        ints.update({f"channels[{i}]": c for i, c in enumerate(self.channels)})
        for name, value in ints.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CNNConfig.{name} must be a positive int, got {value!r}")
        if not self.channels:
            raise ValueError("CNNConfig.channels needs at least one convolution block")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"CNNConfig.kernel_size must be odd (same-size padding), got {self.kernel_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"CNNConfig.dropout must be in [0, 1), got {self.dropout}")


class CNNClassifier(nn.Module):
    """Images ``(B, C, H, W)`` → class logits ``(B, num_classes)``."""

    def __init__(self, config: CNNConfig | None = None) -> None:
        super().__init__()
        config = CNNConfig() if config is None else config
        if not isinstance(config, CNNConfig):
            raise TypeError(f"config must be a CNNConfig, got {type(config).__name__}")
        self.config = config
        blocks: list[nn.Module] = []
        c_in = config.in_channels
        for c_out in config.channels:
            blocks += [
                nn.Conv2d(c_in, c_out, config.kernel_size, padding=config.kernel_size // 2),  # (B, c_out, H, W)
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),  # (B, c_out, H/2, W/2)
            ]
            c_in = c_out
        blocks.append(nn.AdaptiveAvgPool2d(config.pool_output))  # (B, c_out, p, p)
        self.features = nn.Sequential(*blocks)
        flat = c_in * config.pool_output**2
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (B, c_out·p·p)
            nn.Linear(flat, config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.num_classes),  # (B, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"CNNClassifier expects a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(f"CNNClassifier expects (B, {self.config.in_channels}, H, W), got {tuple(x.shape)}")
        min_size = 2 ** len(self.config.channels)
        if min(x.shape[2:]) < min_size:
            raise ValueError(f"images must be at least {min_size}×{min_size} for {len(self.config.channels)} pooling blocks, got {tuple(x.shape[2:])}")
        return self.classifier(self.features(x))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


@dataclass
class DeepCNNConfig:
    """A stack of ``blocks`` basic blocks at one width: depth as a switch, with or without skips."""

    in_channels: int = 1
    channels: int = 16
    blocks: int = 8  # each two 3×3 convolutions: 2·blocks + 1 convolutions in all
    residual: bool = True
    num_classes: int = 10

    def __post_init__(self) -> None:
        for name in ("in_channels", "channels", "blocks", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DeepCNNConfig.{name} must be a positive int, got {value!r}")
        if not isinstance(self.residual, bool):
            raise TypeError(f"DeepCNNConfig.residual must be True or False, got {self.residual!r}")


class DeepCNN(nn.Module):
    """Images ``(B, C, H, W)`` → logits ``(B, num_classes)``: a 3×3 stem (Conv → BN → ReLU) to
    ``channels``, ``blocks`` :class:`~nnanatomy.models.resnet.BasicBlock`\\ s at full resolution
    (residual, or plain: the same layers without the addition), global average pooling and one
    linear layer. He-initialised like ResNet, so that plain and residual differ only in the skip."""

    def __init__(self, config: DeepCNNConfig | None = None) -> None:
        super().__init__()
        config = DeepCNNConfig() if config is None else config
        if not isinstance(config, DeepCNNConfig):
            raise TypeError(f"config must be a DeepCNNConfig, got {type(config).__name__}")
        self.config = config
        c = config.channels
        self.stem = nn.Sequential(nn.Conv2d(config.in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.blocks = nn.Sequential(*[BasicBlock(c, c, residual=config.residual) for _ in range(config.blocks)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, config.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(f"DeepCNN expects (B, {self.config.in_channels}, H, W), got {tuple(getattr(x, 'shape', ()))}")
        x = self.blocks(self.stem(x))  # (B, channels, H, W)
        return self.fc(torch.flatten(self.pool(x), 1))  # (B, classes)
