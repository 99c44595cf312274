"""Deep MLPs for the stability appendix: depth, initialisation, normalisation and residual
connections as switches, so that one class builds every exhibit of the failure museum and its
repair."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .._checks import check_bool, check_real

from .mlp import ACTIVATIONS

__all__ = ["NORMS", "DeepMLP", "DeepMLPConfig"]

#: Normalisation name → a factory ``width → module`` (group norm: 8 groups of width / 8 features).
NORMS = {
    "none": None,
    "batch": lambda width: nn.BatchNorm1d(width),
    "layer": lambda width: nn.LayerNorm(width),
    "group": lambda width: nn.GroupNorm(8, width),
}

_INITS = ("default", "he", "xavier")


@dataclass
class DeepMLPConfig:
    in_features: int = 64
    width: int = 64
    depth: int = 20  # hidden layers (plain) or residual blocks
    out_features: int = 10
    activation: str = "relu"
    init: str = "default"  # "default" (PyTorch's), "he" (Kaiming normal) or "xavier" (Glorot normal)
    init_scale: float = 1.0  # multiplies the initial weights of the hidden layers
    norm: str = "none"  # after every hidden Linear (plain), before it (residual: pre-norm)
    residual: bool = False  # x + act(Linear(norm(x))) blocks instead of a plain stack

    def __post_init__(self) -> None:
        for name in ("in_features", "width", "depth", "out_features"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DeepMLPConfig.{name} must be a positive int, got {value!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"DeepMLPConfig.activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.init not in _INITS:
            raise ValueError(f"DeepMLPConfig.init must be one of {_INITS}, got {self.init!r}")
        if self.norm not in NORMS:
            raise ValueError(f"DeepMLPConfig.norm must be one of {sorted(NORMS)}, got {self.norm!r}")
        if self.norm == "group" and self.width % 8:
            raise ValueError(f"group norm uses 8 groups: width must be divisible by 8, got {self.width}")
        check_real("DeepMLPConfig.init_scale", self.init_scale, 0.0, low_open=True)
        check_bool("DeepMLPConfig.residual", self.residual)


class ResidualBlock(nn.Module):
    """``x + act(Linear(norm(x)))``: the identity path carries the signal and the gradient past
    the block unchanged; the block only adds a correction."""

    def __init__(self, width: int, activation: str, norm: str) -> None:
        super().__init__()
        self.norm = NORMS[norm](width) if NORMS[norm] else nn.Identity()
        self.linear = nn.Linear(width, width)
        self.act = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.linear(self.norm(x)))


class DeepMLP(nn.Module):
    """``(B, in_features)`` → ``(B, out_features)`` through ``depth`` hidden layers of ``width``.

    Plain: ``Linear(in, width)``, then ``depth`` × (``Linear(width, width)`` [→ norm] → act),
    then ``Linear(width, out)``. Residual: the same input and output layers around ``depth``
    :class:`ResidualBlock`\\ s and a final norm.
    """

    def __init__(self, config: DeepMLPConfig | None = None) -> None:
        super().__init__()
        config = DeepMLPConfig() if config is None else config
        if not isinstance(config, DeepMLPConfig):
            raise TypeError(f"config must be a DeepMLPConfig, got {type(config).__name__}")
        self.config = config
        c = config
        layers: list[nn.Module] = [nn.Linear(c.in_features, c.width)]
        for _ in range(c.depth):
            if c.residual:
                layers.append(ResidualBlock(c.width, c.activation, c.norm))
            else:
                layers.append(nn.Linear(c.width, c.width))
                if NORMS[c.norm]:
                    layers.append(NORMS[c.norm](c.width))
                layers.append(ACTIVATIONS[c.activation]())
        if c.residual and NORMS[c.norm]:
            layers.append(NORMS[c.norm](c.width))
        layers.append(nn.Linear(c.width, c.out_features))
        self.net = nn.Sequential(*layers)
        self._initialise()

    def hidden_linears(self) -> list[nn.Linear]:
        """The ``depth`` width × width layers, input side first."""
        return [m for m in self.net.modules() if isinstance(m, nn.Linear)][1:-1]

    def _initialise(self) -> None:
        c = self.config
        gain = nn.init.calculate_gain(c.activation if c.activation in ("relu", "tanh", "sigmoid") else "linear")
        if c.activation == "sigmoid":
            gain = 4.0  # σ'(0) = 1/4: Glorot's sigmoid weights are 4× his tanh weights
        with torch.no_grad():
            for lin in self.hidden_linears():
                if c.init == "he":
                    nn.init.normal_(lin.weight, std=gain / math.sqrt(lin.in_features))
                    nn.init.zeros_(lin.bias)
                elif c.init == "xavier":
                    nn.init.normal_(lin.weight, std=gain * math.sqrt(2.0 / (lin.in_features + lin.out_features)))
                    nn.init.zeros_(lin.bias)
                lin.weight.mul_(c.init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.config.in_features:
            raise ValueError(f"DeepMLP expects (B, {self.config.in_features}), got {getattr(x, 'shape', type(x).__name__)}")
        return self.net(x)
