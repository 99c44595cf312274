"""The multi-layer perceptron in PyTorch (chapter 01)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .._checks import check_bool

__all__ = ["ACTIVATIONS", "MLP", "MLPConfig"]

#: Activation name → PyTorch module class (the same names as :data:`nnanatomy.scratch.ACTIVATIONS`).
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


@dataclass
class MLPConfig:
    in_features: int = 1
    hidden: tuple[int, ...] = field(default_factory=lambda: (64, 64))
    out_features: int = 1
    activation: str = "tanh"
    bias: bool = True
    dropout: float = 0.0  # probability of zeroing a hidden unit in training (0: no Dropout modules)

    def __post_init__(self) -> None:
        self.hidden = tuple(self.hidden)
        for name in ("in_features", "out_features"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MLPConfig.{name} must be a positive int, got {value!r}")
        for i, h in enumerate(self.hidden):
            if isinstance(h, bool) or not isinstance(h, int) or h < 1:
                raise ValueError(f"MLPConfig.hidden[{i}] must be a positive int, got {h!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"MLPConfig.activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        check_bool("MLPConfig.bias", self.bias)
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)):
            raise TypeError(f"MLPConfig.dropout must be a float in [0, 1), got {type(self.dropout).__name__}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"MLPConfig.dropout must be in [0, 1), got {self.dropout}")

    @property
    def sizes(self) -> list[int]:
        """All layer widths, input to output: ``[in_features, *hidden, out_features]``."""
        return [self.in_features, *self.hidden, self.out_features]


class MLP(nn.Module):
    """Linear → activation → ... → Linear, one activation after every hidden layer.

    ``net`` is an ``nn.Sequential``: linear layers at even positions, activations at odd ones,
    so the ``state_dict`` keys are ``net.0.weight``, ``net.0.bias``, ``net.2.weight``, ...
    — the same as :class:`nnanatomy.scratch.MLP`'s. With ``config.dropout > 0`` an
    ``nn.Dropout`` follows every hidden activation (and the linear layers sit at positions
    0, 3, 6, ...): in training it zeroes each unit with that probability and scales the others
    by 1/(1 − p); in eval mode it passes everything through.
    """

    def __init__(self, config: MLPConfig | None = None) -> None:
        super().__init__()
        if config is None:
            config = MLPConfig()
        if not isinstance(config, MLPConfig):
            raise TypeError(f"config must be an MLPConfig, got {type(config).__name__}")
        self.config = config
        sizes = config.sizes
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(d_in, d_out, bias=config.bias))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[config.activation]())
                if config.dropout:
                    layers.append(nn.Dropout(config.dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x ``(..., in_features)`` → ``(..., out_features)``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"MLP expects a torch.Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.config.in_features:
            raise ValueError(f"MLP expects input of shape (..., {self.config.in_features}), got {tuple(x.shape)}")
        return self.net(x)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
