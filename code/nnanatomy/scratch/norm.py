"""Batch normalisation over (N, H, W) for every channel, as ``nn.BatchNorm2d``."""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_nonnegative, check_positive_int
from .layers import Layer

__all__ = ["BatchNorm2D"]


class BatchNorm2D(Layer):
    """``y = γ · (x − μ) / √(σ² + ε) + β`` per channel, for ``x`` of shape ``(N, C, H, W)``.

    * Training: μ and σ² are the mean and (biased) variance of the batch over the axes
      ``(0, 2, 3)`` — one number per channel, from ``N·H·W`` values. The running statistics
      are updated as ``running = (1 − momentum)·running + momentum·batch`` (PyTorch's
      convention: ``momentum`` weights the *new* value), with the unbiased variance.
    * Evaluation: the running mean and variance replace the batch statistics, so a sample's
      output no longer depends on the rest of its batch.
    * γ (``weight``) and β (``bias``) are learned: they let the network undo the normalisation
      where a mean of 0 and a variance of 1 is not what the next layer needs.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        self.eps = check_nonnegative("eps", eps)
        self.momentum = check_nonnegative("momentum", momentum)
        if self.momentum > 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.params["weight"] = np.ones(num_features)  # γ
        self.params["bias"] = np.zeros(num_features)  # β
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)
        self.training = True
        self._cache: tuple | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array("x", x, ndim=4)
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2D expects (N, {self.num_features}, H, W), got {x.shape}")
        shape = (1, -1, 1, 1)
        if self.training:
            count = x.shape[0] * x.shape[2] * x.shape[3]
            if count < 2:
                raise ValueError(f"BatchNorm2D needs more than one value per channel in training, got {x.shape}")
            mean = x.mean(axis=(0, 2, 3))  # (C,)
            var = x.var(axis=(0, 2, 3))  # (C,) biased: divides by N·H·W
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * count / (count - 1)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        self._cache = (x_hat, inv_std, self.training)
        return self.params["weight"].reshape(shape) * x_hat + self.params["bias"].reshape(shape)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("BatchNorm2D.backward called before forward")
        x_hat, inv_std, training = self._cache
        grad_out = self._check_grad_out(grad_out, x_hat.shape)
        shape = (1, -1, 1, 1)
        self.grads["bias"] = grad_out.sum(axis=(0, 2, 3))  # ∂L/∂β
        self.grads["weight"] = (grad_out * x_hat).sum(axis=(0, 2, 3))  # ∂L/∂γ
        g = grad_out * self.params["weight"].reshape(shape)  # ∂L/∂x̂
        if not training:  # μ and σ² are constants: a per-channel affine map
            return g * inv_std.reshape(shape)
        # μ and σ² depend on every x of the channel, so each gradient has three parts:
        # direct, through the mean, through the variance.
        mean_g = g.mean(axis=(0, 2, 3)).reshape(shape)
        mean_gx = (g * x_hat).mean(axis=(0, 2, 3)).reshape(shape)
        return inv_std.reshape(shape) * (g - mean_g - x_hat * mean_gx)

    def train(self, mode: bool = True) -> BatchNorm2D:
        self.training = bool(mode)
        return self

    def eval(self) -> BatchNorm2D:
        return self.train(False)

    def __repr__(self) -> str:
        return f"BatchNorm2D({self.num_features}, eps={self.eps}, momentum={self.momentum})"
